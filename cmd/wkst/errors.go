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
	return fmt.Sprintf("%s failed: %s (0x%08X): %s", e.Op, c, e.Code, strings.TrimSuffix(text, "."))
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
