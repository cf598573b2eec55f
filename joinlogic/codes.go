package joinlogic

import (
	"context"
	"errors"
	"fmt"

	"github.com/oiweiwei/go-msrpc/msrpc/erref/hresult"
	"github.com/oiweiwei/go-msrpc/msrpc/erref/win32"
)

// Code is a Win32 / network-management result code as MS-ERREF 2.2 defines
// it. The methods of MS-WKST return these values directly; the server, the
// wkst client and the tests all name them through this one type.
//
// Code implements error so that Directory implementations can return (or
// wrap with %w) the exact code a failure must surface as. Success is never a
// meaningful error value.
type Code uint32

// Result codes of the MS-WKST methods (values from MS-ERREF 2.2, 2.1 for
// the HRESULT). Their names and texts come from go-msrpc's generated
// MS-ERREF tables (String, Text), so this list holds identifiers only.
const (
	NERR_Success                Code = 0x00000000
	ERROR_INVALID_FUNCTION      Code = 0x00000001
	ERROR_FILE_NOT_FOUND        Code = 0x00000002
	ERROR_ACCESS_DENIED         Code = 0x00000005
	ERROR_NOT_ENOUGH_MEMORY     Code = 0x00000008
	ERROR_GEN_FAILURE           Code = 0x0000001F
	ERROR_NOT_SUPPORTED         Code = 0x00000032
	ERROR_DUP_NAME              Code = 0x00000034
	ERROR_REDIR_PAUSED          Code = 0x00000048
	ERROR_INVALID_PASSWORD      Code = 0x00000056
	ERROR_INVALID_PARAMETER     Code = 0x00000057
	ERROR_CALL_NOT_IMPLEMENTED  Code = 0x00000078
	ERROR_INVALID_NAME          Code = 0x0000007B
	ERROR_INVALID_LEVEL         Code = 0x0000007C
	ERROR_MORE_DATA             Code = 0x000000EA
	ERROR_INVALID_FLAGS         Code = 0x000003EC
	ERROR_NOT_FOUND             Code = 0x00000490
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
	NERR_BufTooSmall            Code = 0x0000084B
	NERR_InvalidAPI             Code = 0x0000085E
	NERR_GroupNotFound          Code = 0x000008AC
	NERR_UserExists             Code = 0x000008B0
	NERR_UseNotFound            Code = 0x000008CA
	NERR_InvalidComputer        Code = 0x0000092F
	NERR_SetupAlreadyJoined     Code = 0x00000A83
	NERR_SetupNotJoined         Code = 0x00000A84
	NERR_SetupDomainController  Code = 0x00000A85
	NERR_DefaultJoinRequired    Code = 0x00000A86
	NERR_InvalidWorkgroupName   Code = 0x00000A87
	// MS-WKST 3.2.4.6 and 3.2.4.9 print these two as 0x00002401 and
	// 0x00002404: their decimal values (2401, 2404) written as hex. The
	// codes are NERR_OpenFiles and NERR_DevInUse of MS-ERREF.
	ERROR_OPEN_FILES            Code = 2401
	ERROR_DEVICE_IN_USE         Code = 2404
	DNS_ERROR_NON_RFC_NAME      Code = 0x00002554
	DNS_ERROR_INVALID_NAME_CHAR Code = 0x00002558
	RPC_E_REMOTE_DISABLED       Code = 0x8001011C
)

// erref looks c up in go-msrpc's MS-ERREF tables: Win32 codes (2.2),
// then HRESULTs (2.1) such as RPC_E_REMOTE_DISABLED.
func (c Code) erref() (name, text string, ok bool) {
	if c == NERR_Success {
		return "NERR_Success", "The operation completed successfully.", true
	}
	var we *win32.Error
	if errors.As(win32.FromCode(uint32(c)), &we) && we.Name != "" {
		return we.Name, we.Details, true
	}
	var he *hresult.Error
	if errors.As(hresult.FromCode(uint32(c)), &he) && he.Name != "" {
		return he.Name, he.Details, true
	}
	return "", "", false
}

// String returns the MS-ERREF symbolic name, or the hexadecimal value for a
// code MS-ERREF does not name.
func (c Code) String() string {
	if n, _, ok := c.erref(); ok {
		return n
	}
	return fmt.Sprintf("0x%08X", uint32(c))
}

// Text returns the MS-ERREF description of c, or "" for an unknown code.
func (c Code) Text() string {
	_, t, _ := c.erref()
	return t
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
