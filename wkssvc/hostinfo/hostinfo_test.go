package hostinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// utmpFile writes a utmp file with util-linux's utmpdump -r, a writer
// nobody here wrote, from its text form.
func utmpFile(t *testing.T, text string) string {
	t.Helper()
	tool, err := exec.LookPath("utmpdump")
	if err != nil {
		t.Fatalf("utmpdump (util-linux) not installed: %v", err)
	}
	path := filepath.Join(t.TempDir(), "utmp")
	cmd := exec.Command(tool, "-r")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("utmpdump -r: %v", err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadUtmp(t *testing.T) {
	path := utmpFile(t, strings.Join([]string{
		"[2] [00000] [~~  ] [reboot  ] [~           ] [6.1.0               ] [0.0.0.0        ] [2024-05-01T09:00:00,000000+00:00]",
		"[6] [00555] [tty1] [LOGIN   ] [tty1        ] [                    ] [0.0.0.0        ] [2024-05-01T09:00:01,000000+00:00]",
		"[7] [01234] [ts/0] [alice   ] [pts/0       ] [10.1.2.3            ] [10.1.2.3       ] [2024-05-01T10:20:30,123456+00:00]",
		"[8] [01300] [ts/1] [        ] [pts/1       ] [                    ] [0.0.0.0        ] [2024-05-01T10:21:00,000000+00:00]",
		"[7] [01400] [tty2] [bob     ] [tty2        ] [                    ] [0.0.0.0        ] [2024-05-01T11:00:00,000000+00:00]",
	}, "\n")+"\n")
	logins, err := ReadUtmp(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != 2 {
		t.Fatalf("logins %+v", logins)
	}
	a := logins[0]
	want := time.Date(2024, 5, 1, 10, 20, 30, 123456000, time.UTC)
	if a.User != "alice" || a.Line != "pts/0" || a.Host != "10.1.2.3" || a.PID != 1234 || !a.Time.Equal(want) {
		t.Errorf("first login %+v", a)
	}
	if logins[1].User != "bob" || logins[1].Line != "tty2" {
		t.Errorf("second login %+v", logins[1])
	}
	if a.Key() == logins[1].Key() {
		t.Error("two logins share a key")
	}
	// util-linux's who agrees on what the file holds.
	out, err := exec.Command("who", path).Output()
	if err != nil || !strings.Contains(string(out), "alice") || !strings.Contains(string(out), "bob") {
		t.Errorf("who %s: %v %s", path, err, out)
	}
	if l, err := ReadUtmp(filepath.Join(t.TempDir(), "none")); err != nil || l != nil {
		t.Errorf("missing file: %v %v", l, err)
	}
	// Truncated and garbage input never panics.
	data, _ := os.ReadFile(path)
	if got := ParseUtmp(data[:len(data)-1]); len(got) != 1 {
		t.Errorf("truncated: %d logins", len(got))
	}
}

func TestParseCIFSStats(t *testing.T) {
	const text = `Resources in use
CIFS Session: 2
Share (unique mount targets): 3
SMB Request/Response Buffer: 1 Pool size: 5
SMB Small Req/Resp Buffer: 1 Pool size: 30
Total Large 10 Small 15 Allocations
Operations (MIDs): 0

1 session 2 share reconnects
Total vfs operations: 21 maximum at one time: 2

Max requests in flight: 2
1) \\fs1\share
SMBs: 19
Bytes read: 1000  Bytes written: 200
Negotiates: 1 sent 0 failed
Reads: 4 sent 0 failed
Writes: 2 sent 0 failed
2) \\fs2\other
SMBs: 6
Bytes read: 24  Bytes written: 8
Reads: 1 sent 0 failed
Writes: 1 sent 0 failed
`
	s := ParseCIFSStats([]byte(text))
	want := CIFSStats{Present: true, Sessions: 2, Shares: 3, Reconnects: 3, SMBs: 25, Reads: 5, Writes: 3, BytesRead: 1024, BytesWritten: 208}
	if s != want {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
	if s, err := ReadCIFSStats(filepath.Join(t.TempDir(), "none")); err != nil || s.Present {
		t.Errorf("missing file: %+v %v", s, err)
	}
	if s := ParseCIFSStats([]byte("SMBs:\nReads: x\n1 session\n")); s.SMBs != 0 || s.Reads != 0 {
		t.Errorf("garbage: %+v", s)
	}
}

func TestInterfacesListLoopback(t *testing.T) {
	ifs, err := Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Loopback {
			if i.MACString() != "000000000000" || len(i.Addrs) == 0 {
				t.Errorf("loopback %+v %s", i, i.MACString())
			}
			return
		}
	}
	t.Fatalf("no loopback interface with an address among %+v", ifs)
}
