package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// callError is a non-zero Win32 result of a completed RPC call.
type callError struct {
	Op   string // method name, e.g. "NetrJoinDomain3"
	Code uint32 // Win32 / NERR value returned by the server
}

func (e *callError) Error() string {
	// The names and texts are MS-ERREF's, from the table the server uses.
	c := joinlogic.Code(e.Code)
	text := c.Text()
	if text == "" {
		return fmt.Sprintf("%s failed: 0x%08X (unknown Win32 code)", e.Op, e.Code)
	}
	msg := fmt.Sprintf("%s failed: %s (0x%08X): %s", e.Op, c, e.Code, strings.TrimSuffix(text, "."))
	if domainOp(e.Op) && domainCode(c) {
		// The code alone rarely says why a DC refused or could not be
		// reached; the server knows.
		msg += "; the server's log has the cause (wkssvcd logs it at info level: journalctl -u wkssvcd)"
	}
	return msg
}

// domainCode reports the codes a domain controller's answer (or its
// absence) produces, as opposed to the caller's own mistakes.
func domainCode(c joinlogic.Code) bool {
	switch c {
	case joinlogic.ERROR_LOGON_FAILURE, joinlogic.ERROR_NO_SUCH_DOMAIN, joinlogic.ERROR_INVALID_DOMAIN_ROLE,
		joinlogic.ERROR_ACCESS_DENIED, joinlogic.ERROR_FILE_NOT_FOUND, joinlogic.ERROR_NONE_MAPPED,
		joinlogic.NERR_UserExists, joinlogic.ERROR_GEN_FAILURE, joinlogic.ERROR_INTERNAL_ERROR,
		joinlogic.ERROR_TIMEOUT, joinlogic.ERROR_PASSWORD_RESTRICTION, joinlogic.NERR_SetupDomainController:
		return true
	}
	return false
}

// domainOp reports the methods whose failures come from the domain: the
// server logs their cause (the DC it found, the transport, the DC's
// answer) and the caller sees only the code.
func domainOp(op string) bool {
	for _, p := range []string{"NetrJoinDomain", "NetrUnjoinDomain", "NetrRenameMachineInDomain", "NetrValidateName"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

// usageError marks errors in the command line; they exit with status 2.
type usageError struct {
	msg string
	cmd string // the command whose usage to show; "" for the overview
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func cmdUsagef(cmd, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), cmd: cmd}
}

// Exit status (wkst --help).
const (
	exitOK        = 0
	exitServer    = 1 // the server answered with a Win32 error
	exitUsage     = 2
	exitTransport = 3 // unreachable, logon refused, RPC failure
	exitInterrupt = 130
)

// exitCode maps an error to the process status: 0 success, 1 the server
// returned a Win32 error, 2 usage, 130 interrupted, 3 anything else: the
// server could not be reached, refused the logon, or the call broke.
func exitCode(err error) int {
	var ue *usageError
	var ce *callError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce):
		return exitServer
	case errors.As(err, new(*fileError)):
		return exitServer // the file said no, as a server would
	case errors.Is(err, errInterrupted):
		return exitInterrupt
	default:
		return exitTransport
	}
}

// errInterrupted ends a prompt cut short by Ctrl-C.
var errInterrupted = errors.New("interrupted")
