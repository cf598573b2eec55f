package main

import (
	"errors"
	"fmt"
)

// win32Codes names the Win32/NERR results that MS-WKST methods return
// (MS-WKST 3.2.4, MS-ERREF 2.2).
var win32Codes = map[uint32]struct{ name, text string }{
	0x00000000: {"NERR_Success", "the operation completed successfully"},
	0x00000002: {"ERROR_FILE_NOT_FOUND", "the object was not found"},
	0x00000005: {"ERROR_ACCESS_DENIED", "access is denied"},
	0x00000008: {"ERROR_NOT_ENOUGH_MEMORY", "not enough memory"},
	0x00000032: {"ERROR_NOT_SUPPORTED", "the request is not supported"},
	0x00000034: {"ERROR_DUP_NAME", "a duplicate name exists on the network"},
	0x00000056: {"ERROR_INVALID_PASSWORD", "the specified network password is not correct"},
	0x00000057: {"ERROR_INVALID_PARAMETER", "the parameter is incorrect"},
	0x00000078: {"ERROR_CALL_NOT_IMPLEMENTED", "the call is not implemented"},
	0x0000007B: {"ERROR_INVALID_NAME", "the name syntax is incorrect"},
	0x0000007C: {"ERROR_INVALID_LEVEL", "the information level is invalid"},
	0x000000EA: {"ERROR_MORE_DATA", "more data is available"},
	0x000003EC: {"ERROR_INVALID_FLAGS", "invalid flags"},
	0x00000490: {"ERROR_NOT_FOUND", "element not found"},
	0x000004BC: {"ERROR_INVALID_DOMAINNAME", "the domain name is invalid"},
	0x0000052D: {"ERROR_PASSWORD_RESTRICTION", "the password does not meet the domain's requirements"},
	0x0000052E: {"ERROR_LOGON_FAILURE", "unknown user name or bad password"},
	0x00000534: {"ERROR_NONE_MAPPED", "the account was not found"},
	0x0000054A: {"ERROR_INVALID_DOMAIN_ROLE", "validation of the named domain controller failed"},
	0x0000054B: {"ERROR_NO_SUCH_DOMAIN", "the domain does not exist or could not be contacted"},
	0x000006A7: {"RPC_S_PROTSEQ_NOT_SUPPORTED", "the RPC protocol sequence is not supported"},
	0x000006D1: {"RPC_S_PROCNUM_OUT_OF_RANGE", "the procedure number is out of range"},
	0x000006FF: {"RPC_S_CALL_IN_PROGRESS", "a remote procedure call is already in progress"},
	0x0000084B: {"NERR_BufTooSmall", "the buffer is too small"},
	0x0000085E: {"NERR_InvalidAPI", "the requested API is not supported on the remote server"},
	0x000008B0: {"NERR_UserExists", "the account already exists"},
	0x000008CA: {"NERR_UseNotFound", "the connection cannot be found"},
	0x0000092F: {"NERR_InvalidComputer", "the computer name is invalid"},
	0x00000A83: {"NERR_SetupAlreadyJoined", "this computer is already joined to a domain"},
	0x00000A84: {"NERR_SetupNotJoined", "this computer is not currently joined to a domain"},
	0x00000A85: {"NERR_SetupDomainController", "this computer is a domain controller"},
	0x00000A86: {"NERR_DefaultJoinRequired", "the destination domain controller does not support creating machine accounts in OUs"},
	0x00000A87: {"NERR_InvalidWorkgroupName", "the specified workgroup name is invalid"},
	0x00002401: {"ERROR_OPEN_FILES", "there are open files or requests pending"},
	0x00002404: {"ERROR_DEVICE_IN_USE", "the device is in use"},
}

// callError is a non-zero Win32 result of a completed RPC call.
type callError struct {
	Op   string // method name, e.g. "NetrJoinDomain3"
	Code uint32 // Win32 / NERR value returned by the server
}

func (e *callError) Error() string {
	c, ok := win32Codes[e.Code]
	if !ok {
		return fmt.Sprintf("%s failed: 0x%08X (unknown Win32 code)", e.Op, e.Code)
	}
	return fmt.Sprintf("%s failed: %s (0x%08X): %s", e.Op, c.name, e.Code, c.text)
}

// usageError marks errors in the command line; they exit with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the process status: 0 success, 2 usage, 1
// everything else (Win32 failures, transport and authentication errors).
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}
