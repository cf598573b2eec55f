package joinlogic

import (
	"context"
	"errors"
	"fmt"
)

// Code is a Win32 / network-management result code as MS-ERREF 2.2 defines
// it. The join methods of MS-WKST return these values directly.
//
// Code implements error so that Directory implementations can return (or
// wrap with %w) the exact code a failure must surface as. Success is never a
// meaningful error value.
type Code uint32

// Result codes returned by the methods of this package (values from
// MS-ERREF 2.2).
const (
	NERR_Success                Code = 0x00000000
	ERROR_FILE_NOT_FOUND        Code = 0x00000002
	ERROR_ACCESS_DENIED         Code = 0x00000005
	ERROR_NOT_ENOUGH_MEMORY     Code = 0x00000008
	ERROR_GEN_FAILURE           Code = 0x0000001F
	ERROR_NOT_SUPPORTED         Code = 0x00000032
	ERROR_DUP_NAME              Code = 0x00000034
	ERROR_INVALID_PASSWORD      Code = 0x00000056
	ERROR_INVALID_PARAMETER     Code = 0x00000057
	ERROR_INVALID_NAME          Code = 0x0000007B
	ERROR_INVALID_FLAGS         Code = 0x000003EC
	ERROR_INVALID_DOMAINNAME    Code = 0x000004BC
	ERROR_CANCELLED             Code = 0x000004C7
	ERROR_PASSWORD_RESTRICTION  Code = 0x0000052D
	ERROR_LOGON_FAILURE         Code = 0x0000052E
	ERROR_NONE_MAPPED           Code = 0x00000534
	ERROR_INVALID_DOMAIN_ROLE   Code = 0x0000054A
	ERROR_NO_SUCH_DOMAIN        Code = 0x0000054B
	ERROR_INTERNAL_ERROR        Code = 0x0000054F
	ERROR_TIMEOUT               Code = 0x000005B4
	RPC_S_PROTSEQ_NOT_SUPPORTED Code = 0x000006A7
	RPC_S_CALL_IN_PROGRESS      Code = 0x000006FF
	NERR_UserExists             Code = 0x000008B0
	NERR_InvalidComputer        Code = 0x0000092F
	NERR_SetupAlreadyJoined     Code = 0x00000A83
	NERR_SetupNotJoined         Code = 0x00000A84
	NERR_SetupDomainController  Code = 0x00000A85
	NERR_InvalidWorkgroupName   Code = 0x00000A87
	DNS_ERROR_NON_RFC_NAME      Code = 0x00002554
	DNS_ERROR_INVALID_NAME_CHAR Code = 0x00002558
	RPC_E_REMOTE_DISABLED       Code = 0x8001011C
)

var codeNames = map[Code]string{
	NERR_Success:                "NERR_Success",
	ERROR_FILE_NOT_FOUND:        "ERROR_FILE_NOT_FOUND",
	ERROR_ACCESS_DENIED:         "ERROR_ACCESS_DENIED",
	ERROR_NOT_ENOUGH_MEMORY:     "ERROR_NOT_ENOUGH_MEMORY",
	ERROR_GEN_FAILURE:           "ERROR_GEN_FAILURE",
	ERROR_NOT_SUPPORTED:         "ERROR_NOT_SUPPORTED",
	ERROR_DUP_NAME:              "ERROR_DUP_NAME",
	ERROR_INVALID_PASSWORD:      "ERROR_INVALID_PASSWORD",
	ERROR_INVALID_PARAMETER:     "ERROR_INVALID_PARAMETER",
	ERROR_INVALID_NAME:          "ERROR_INVALID_NAME",
	ERROR_INVALID_FLAGS:         "ERROR_INVALID_FLAGS",
	ERROR_INVALID_DOMAINNAME:    "ERROR_INVALID_DOMAINNAME",
	ERROR_CANCELLED:             "ERROR_CANCELLED",
	ERROR_PASSWORD_RESTRICTION:  "ERROR_PASSWORD_RESTRICTION",
	ERROR_LOGON_FAILURE:         "ERROR_LOGON_FAILURE",
	ERROR_NONE_MAPPED:           "ERROR_NONE_MAPPED",
	ERROR_INVALID_DOMAIN_ROLE:   "ERROR_INVALID_DOMAIN_ROLE",
	ERROR_NO_SUCH_DOMAIN:        "ERROR_NO_SUCH_DOMAIN",
	ERROR_INTERNAL_ERROR:        "ERROR_INTERNAL_ERROR",
	ERROR_TIMEOUT:               "ERROR_TIMEOUT",
	RPC_S_PROTSEQ_NOT_SUPPORTED: "RPC_S_PROTSEQ_NOT_SUPPORTED",
	RPC_S_CALL_IN_PROGRESS:      "RPC_S_CALL_IN_PROGRESS",
	NERR_UserExists:             "NERR_UserExists",
	NERR_InvalidComputer:        "NERR_InvalidComputer",
	NERR_SetupAlreadyJoined:     "NERR_SetupAlreadyJoined",
	NERR_SetupNotJoined:         "NERR_SetupNotJoined",
	NERR_SetupDomainController:  "NERR_SetupDomainController",
	NERR_InvalidWorkgroupName:   "NERR_InvalidWorkgroupName",
	DNS_ERROR_NON_RFC_NAME:      "DNS_ERROR_NON_RFC_NAME",
	DNS_ERROR_INVALID_NAME_CHAR: "DNS_ERROR_INVALID_NAME_CHAR",
	RPC_E_REMOTE_DISABLED:       "RPC_E_REMOTE_DISABLED",
}

// String returns the MS-ERREF symbolic name, or the hexadecimal value for a
// code this package does not name.
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("0x%08X", uint32(c))
}

// Error makes Code usable as an error value.
func (c Code) Error() string { return c.String() }

// codeOf maps an error returned by a Directory or a Store to the code the
// current step returns: a Code found in the chain wins; context
// cancellation and deadlines map to ERROR_CANCELLED and ERROR_TIMEOUT;
// anything else becomes fallback.
func codeOf(err error, fallback Code) Code {
	if err == nil {
		return NERR_Success
	}
	var c Code
	if errors.As(err, &c) && c != NERR_Success {
		return c
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ERROR_TIMEOUT
	case errors.Is(err, context.Canceled):
		return ERROR_CANCELLED
	}
	return fallback
}
