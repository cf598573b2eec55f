package hostinfo

import (
	"os/exec"
	"strings"
	"testing"
)

// FuzzParseUtmp: any bytes decode to logins without a panic, and only
// USER_PROCESS records with a user name come out.
func FuzzParseUtmp(f *testing.F) {
	if tool, err := exec.LookPath("utmpdump"); err == nil {
		cmd := exec.Command(tool, "-r")
		cmd.Stdin = strings.NewReader("[7] [01234] [ts/0] [alice   ] [pts/0       ] [10.1.2.3            ] [10.1.2.3       ] [2024-05-01T10:20:30,123456+00:00]\n")
		if out, err := cmd.Output(); err == nil {
			f.Add(out)
			f.Add(append(out, out[:100]...))
		}
	}
	f.Add(make([]byte, utmpRecordLen))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range ParseUtmp(data) {
			if l.User == "" || len(l.User) > userLen || len(l.Line) > lineLen || len(l.Host) > hostLen {
				t.Fatalf("login %+v", l)
			}
		}
		if n := len(ParseUtmp(data)); n > len(data)/utmpRecordLen {
			t.Fatalf("%d logins from %d bytes", n, len(data))
		}
	})
}

// FuzzParseCIFSStats: any text parses without a panic.
func FuzzParseCIFSStats(f *testing.F) {
	f.Add([]byte("CIFS Session: 2\nShare (unique mount targets): 3\n1 session 2 share reconnects\nSMBs: 19\nBytes read: 1000  Bytes written: 200\nReads: 4 sent 0 failed\n"))
	f.Add([]byte("SMBs: 18446744073709551615\nSMBs: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if s := ParseCIFSStats(data); !s.Present {
			t.Fatal("not present")
		}
	})
}
