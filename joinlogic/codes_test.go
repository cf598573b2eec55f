package joinlogic

import (
	"errors"
	"fmt"
	"testing"
)

// Every code the methods return has its MS-ERREF name and text: the
// server's logs, the wkst client and the tests print them from here.
func TestCodesHaveMSERREFNames(t *testing.T) {
	for c, name := range map[Code]string{
		NERR_Success:                "NERR_Success",
		ERROR_INVALID_FUNCTION:      "ERROR_INVALID_FUNCTION",
		ERROR_ACCESS_DENIED:         "ERROR_ACCESS_DENIED",
		ERROR_INVALID_LEVEL:         "ERROR_INVALID_LEVEL",
		ERROR_MORE_DATA:             "ERROR_MORE_DATA",
		ERROR_NOT_FOUND:             "ERROR_NOT_FOUND",
		NERR_BufTooSmall:            "NERR_BufTooSmall",
		NERR_UseNotFound:            "NERR_UseNotFound",
		NERR_SetupNotJoined:         "NERR_SetupNotJoined",
		NERR_DefaultJoinRequired:    "NERR_DefaultJoinRequired",
		DNS_ERROR_INVALID_NAME_CHAR: "DNS_ERROR_INVALID_NAME_CHAR",
		RPC_S_CALL_IN_PROGRESS:      "RPC_S_CALL_IN_PROGRESS",
		RPC_E_REMOTE_DISABLED:       "RPC_E_REMOTE_DISABLED",
	} {
		if c.String() != name || c.Text() == "" {
			t.Errorf("0x%08X: %q %q, want %s", uint32(c), c.String(), c.Text(), name)
		}
	}
	for _, c := range []Code{ERROR_FILE_NOT_FOUND, ERROR_NOT_ENOUGH_MEMORY, ERROR_GEN_FAILURE, ERROR_NOT_SUPPORTED,
		ERROR_DUP_NAME, ERROR_REDIR_PAUSED, ERROR_INVALID_PASSWORD, ERROR_INVALID_PARAMETER, ERROR_CALL_NOT_IMPLEMENTED,
		ERROR_INVALID_NAME, ERROR_INVALID_FLAGS, ERROR_INVALID_DOMAINNAME, ERROR_CANCELLED, ERROR_PASSWORD_RESTRICTION,
		ERROR_LOGON_FAILURE, ERROR_NONE_MAPPED, ERROR_INVALID_DOMAIN_ROLE, ERROR_NO_SUCH_DOMAIN, ERROR_INTERNAL_ERROR,
		ERROR_TIMEOUT, RPC_S_PROTSEQ_NOT_SUPPORTED, NERR_InvalidAPI, NERR_UserExists, NERR_InvalidComputer,
		NERR_SetupAlreadyJoined, NERR_SetupDomainController, NERR_InvalidWorkgroupName, ERROR_OPEN_FILES,
		ERROR_DEVICE_IN_USE, DNS_ERROR_NON_RFC_NAME} {
		if c.String() == fmt.Sprintf("0x%08X", uint32(c)) || c.Text() == "" {
			t.Errorf("0x%08X has no MS-ERREF name", uint32(c))
		}
	}
	if got := Code(0xDEADBEEF).String(); got != "0xDEADBEEF" {
		t.Errorf("unknown code: %q", got)
	}
	if err := fmt.Errorf("x: %w", ERROR_ACCESS_DENIED); !errors.Is(err, ERROR_ACCESS_DENIED) || err.Error() != "x: ERROR_ACCESS_DENIED" {
		t.Errorf("as an error: %v", err)
	}
}
