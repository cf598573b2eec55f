package hostinfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// DefaultUtmp is where glibc keeps the current logins.
const DefaultUtmp = "/var/run/utmp"

// Login is one USER_PROCESS record of utmp: a user logged on at a
// terminal or remotely (utmp(5)).
type Login struct {
	User string    // ut_user
	Line string    // ut_line: the terminal, "pts/0"
	Host string    // ut_host: the remote host for remote logins
	PID  int32     // ut_pid
	Time time.Time // ut_tv: when the login began
}

// Key identifies the login for as long as it lasts.
func (l Login) Key() string {
	return fmt.Sprintf("utmp:%s:%d:%d", l.Line, l.PID, l.Time.UnixMicro())
}

// The glibc utmp record on 64-bit Linux (x86_64, aarch64, ...): 384
// bytes, ut_tv as two 32-bit fields (utmp(5), bits/utmp.h).
const (
	utmpRecordLen = 384
	utUserProcess = 7
	offType       = 0
	offPID        = 4
	offLine       = 8
	lineLen       = 32
	offUser       = 44
	userLen       = 32
	offHost       = 76
	hostLen       = 256
	offTvSec      = 340
	offTvUsec     = 344
	maxUtmpBytes  = 16 << 20
)

// ReadUtmp returns the logins recorded in the utmp file at path (the
// USER_PROCESS records), in file order. A missing file has no logins.
func ReadUtmp(path string) ([]Login, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUtmpBytes))
	if err != nil {
		return nil, fmt.Errorf("hostinfo: reading %s: %w", path, err)
	}
	return ParseUtmp(data), nil
}

// ParseUtmp decodes utmp records; a trailing partial record is ignored.
func ParseUtmp(data []byte) []Login {
	var out []Login
	for len(data) >= utmpRecordLen {
		r := data[:utmpRecordLen]
		data = data[utmpRecordLen:]
		if int16(binary.LittleEndian.Uint16(r[offType:])) != utUserProcess {
			continue
		}
		l := Login{
			User: cstring(r[offUser : offUser+userLen]),
			Line: cstring(r[offLine : offLine+lineLen]),
			Host: cstring(r[offHost : offHost+hostLen]),
			PID:  int32(binary.LittleEndian.Uint32(r[offPID:])),
			Time: time.Unix(int64(int32(binary.LittleEndian.Uint32(r[offTvSec:]))),
				int64(int32(binary.LittleEndian.Uint32(r[offTvUsec:])))*1000).UTC(),
		}
		if l.User == "" {
			continue
		}
		out = append(out, l)
	}
	return out
}

// cstring is the NUL-terminated string at the start of b.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
