package smb2

import (
	"encoding/binary"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/wkssvcd/wkssvcd/internal/logsafe"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// anonymousAuthenticate is an NTLM AUTHENTICATE_MESSAGE of an anonymous
// logon that claims domain (MS-NLMP 3.2.5.1.2).
func anonymousAuthenticate(domain string) []byte {
	u := utf16.Encode([]rune(domain))
	d := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(d[2*i:], c)
	}
	b := make([]byte, 64)
	copy(b, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(b[8:], 3)
	field := func(at, n, off int) {
		binary.LittleEndian.PutUint16(b[at:], uint16(n))
		binary.LittleEndian.PutUint16(b[at+2:], uint16(n))
		binary.LittleEndian.PutUint32(b[at+4:], uint32(off))
	}
	field(12, 0, 64)
	field(20, 0, 64)
	field(28, len(d), 64)
	for _, at := range []int{36, 44, 52} {
		field(at, 0, 64+len(d))
	}
	binary.LittleEndian.PutUint32(b[60:], 0x00000001|0x00000800|0x00000200)
	return append(b, d...)
}

func ntlmNegotiate() []byte {
	b := make([]byte, 32)
	copy(b, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(b[8:], 1)
	binary.LittleEndian.PutUint32(b[12:], 0x00000001|0x00000004|0x00000200|0x00080000|0x20000000|0x80000000)
	return b
}

// A client-chosen string (here a 20,000-character domain name of an
// anonymous logon) is cut in the log line, which says how long it was.
func TestLogLinesCutClientStrings(t *testing.T) {
	rec := &recordingHandler{}
	ts := startServer(t, func(c *Config) { c.Logger = slog.New(rec) })
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect311)
	domain := strings.Repeat("D", 20000)
	h, _ := r.call(cmdSessionSetup, sessionSetupBody(ntlmNegotiate()))
	if h.Status != statusMoreProcessingRequired {
		t.Fatalf("leg 1: %08x", h.Status)
	}
	r.SessionID = h.SessionID
	if h, _ := r.call(cmdSessionSetup, sessionSetupBody(anonymousAuthenticate(domain))); h.Status != statusSuccess {
		t.Fatalf("anonymous logon: %08x", h.Status)
	}
	lines := rec.matching("session established")
	if len(lines) != 1 {
		t.Fatalf("%d session lines", len(lines))
	}
	if n := len(lines[0]); n > 2*logsafe.MaxText+200 {
		t.Fatalf("a %d-byte log line for a %d-character domain", n, len(domain))
	}
	if !strings.Contains(lines[0], "20000 bytes in all") {
		t.Fatalf("the line does not say how long the name was: %q", lines[0])
	}
}

// Logons naming unknown users are logged at info level, once a minute
// per address, with the number not logged.
func TestUnknownUserLinesRateLimited(t *testing.T) {
	clock := newFakeClock()
	rec := &recordingHandler{}
	ts := startServerHook(t, func(c *Config) {
		c.Logger = slog.New(rec)
		c.AuthFailLimit = -1
	}, func(s *Server) { s.unknownUsers = logsafe.NewLimiter(refusalLogInterval, 16, clock.Now) })
	logon := func(local, user string) {
		r := dialRawFrom(t, ts, local)
		r.negotiate(smbcrypto.Dialect311)
		if st := r.login(user, "x"); st != statusLogonFailure {
			t.Fatalf("status %08x", st)
		}
		r.Conn.Close()
	}
	for i := 0; i < 5; i++ {
		logon("127.0.0.1", "nobody"+string(rune('a'+i)))
	}
	logon("127.0.0.2", "someone")
	waitFor(t, func() bool { return len(rec.matching("unknown user")) >= 2 })
	time.Sleep(50 * time.Millisecond)
	got := rec.matching("unknown user")
	if len(got) != 2 {
		t.Fatalf("%d unknown-user lines, want one per address:\n%s", len(got), strings.Join(got, "\n"))
	}
	for _, l := range got {
		if !strings.HasPrefix(l, "INFO ") {
			t.Errorf("not at info level: %q", l)
		}
	}
	clock.Advance(refusalLogInterval)
	logon("127.0.0.1", "again")
	waitFor(t, func() bool { return len(rec.matching("unknown user")) == 3 })
	if last := rec.matching("unknown user")[2]; !strings.Contains(last, "unknown_users_not_logged=4") || !strings.Contains(last, "user=again") {
		t.Fatalf("line after the interval: %q", last)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met")
}
