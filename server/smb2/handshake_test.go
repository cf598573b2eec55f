package smb2

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
	msntlm "github.com/oiweiwei/go-msrpc/ssp/ntlm"
	"github.com/oiweiwei/go-msrpc/ssp/spnego"

	"github.com/wkssvcd/wkssvcd/internal/logsafe"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// recordingHandler keeps every record as one line of text.
type recordingHandler struct {
	mu    sync.Mutex
	lines []string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.mu.Lock()
	h.lines = append(h.lines, b.String())
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// matching returns the recorded lines containing sub.
func (h *recordingHandler) matching(sub string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, l := range h.lines {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// keepAlive is a NetBIOS session keep-alive (RFC 1002 4.3.7).
var keepAlive = []byte{0x85, 0, 0, 0}

// MaxConnsPerAddr: at the limit every connection of the address works, one
// past it is closed before anything is read, and another address is not
// affected.
func TestMaxConnsPerAddr(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnsPerAddr = 2 })
	var held []*rawClient
	for i := 0; i < 2; i++ {
		r := dialRawFrom(t, ts, "127.0.0.1")
		r.negotiate(smbcrypto.Dialect311)
		held = append(held, r)
	}
	extra := dialRawFrom(t, ts, "127.0.0.1")
	extra.expectClosed()
	other := dialRawFrom(t, ts, "127.0.0.2")
	other.negotiate(smbcrypto.Dialect311)
	if st := other.login(testUser, testPassword); st != statusSuccess {
		t.Fatalf("other address: %08x", st)
	}
	// The held connections still work, and closing one frees its slot.
	for _, r := range held {
		if h, _ := r.call(cmdEcho, []byte{4, 0, 0, 0}); h.Status != statusSuccess {
			t.Fatalf("echo: %08x", h.Status)
		}
	}
	held[0].Conn.Close()
	for i := 0; ; i++ {
		r := dialRawFrom(t, ts, "127.0.0.1")
		r.writeFrame(r.build(cmdNegotiate, negotiateBody([]uint16{0x0210}, 0, 1, nil)))
		if _, err := r.readFrame(); err == nil {
			break
		}
		if i > 50 {
			t.Fatal("the freed slot is not reused")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A connection must establish a session within HandshakeTimeout: a silent
// one, one that only negotiated and one that keeps sending keep-alives
// are all closed then; one with a session stays.
func TestHandshakeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := startServer(t, func(c *Config) { c.HandshakeTimeout = timeout })
	start := time.Now()
	silent := dialRaw(t, ts)
	negotiated := dialRaw(t, ts)
	negotiated.negotiate(smbcrypto.Dialect311)
	chatty := dialRaw(t, ts)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := chatty.Conn.Write(keepAlive); err != nil {
					return
				}
			}
		}
	}()
	authed := dialRaw(t, ts)
	authed.negotiate(smbcrypto.Dialect311)
	if st := authed.login(testUser, testPassword); st != statusSuccess {
		t.Fatal(st)
	}
	for _, r := range []*rawClient{silent, negotiated, chatty} {
		r.expectClosed()
	}
	if d := time.Since(start); d < timeout || d > timeout+2*time.Second {
		t.Errorf("closed after %v, want about %v", d, timeout)
	}
	time.Sleep(timeout)
	if h, _ := authed.call(cmdEcho, []byte{4, 0, 0, 0}); h.Status != statusSuccess {
		t.Fatalf("authenticated connection: %08x", h.Status)
	}
}

// Keep-alives do not count as activity for IdleTimeout.
func TestKeepAlivesDoNotResetIdle(t *testing.T) {
	const idle = 300 * time.Millisecond
	ts := startServer(t, func(c *Config) { c.IdleTimeout = idle })
	r, _ := setup(t, ts, smbcrypto.Dialect311, "echo")
	start := time.Now()
	go func() {
		for i := 0; i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
			if _, err := r.Conn.Write(keepAlive); err != nil {
				return
			}
		}
	}()
	r.expectClosed()
	if d := time.Since(start); d > idle+2*time.Second {
		t.Fatalf("closed after %v although idle for %v", d, idle)
	}
}

// Refused connections are logged once per interval and reason; the next
// line counts the refusals not logged.
func TestRefusalLogsRateLimited(t *testing.T) {
	clock := newFakeClock()
	rec := &recordingHandler{}
	ts := startServerHook(t, func(c *Config) {
		c.MaxConnections = 1
		c.Logger = slog.New(rec)
	}, func(s *Server) { s.refusals = logsafe.NewLimiter(refusalLogInterval, 8, clock.Now) })
	first := dialRaw(t, ts)
	first.negotiate(smbcrypto.Dialect311)
	for i := 0; i < 20; i++ {
		dialRaw(t, ts).expectClosed()
	}
	if n := len(rec.matching("connection refused")); n != 1 {
		t.Fatalf("%d refusal lines for 20 refusals, want 1", n)
	}
	clock.Advance(refusalLogInterval)
	dialRaw(t, ts).expectClosed()
	got := rec.matching("connection refused")
	if len(got) != 2 || !strings.Contains(got[1], "refusals_not_logged=19") || !strings.Contains(got[1], "reason=limit") {
		t.Fatalf("refusal lines: %q", got)
	}
}

// firstLeg sends the first SESSION_SETUP leg of a new session (SPNEGO
// with an NTLM NEGOTIATE) and returns the status and the session id.
func (r *rawClient) firstLeg() (uint32, uint64) {
	r.t.Helper()
	ctx := gssapi.NewSecurityContext(context.Background(),
		gssapi.WithMechanismFactory(spnego.Mechanism{}),
		gssapi.WithMechanismFactory(msntlm.Mechanism{}, msntlm.NewConfig()),
		gssapi.WithCredential(credential.NewFromPassword(testUser, testPassword, credential.Domain(testDomain))),
	)
	tok, err := gssapi.InitSecurityContext(ctx, &gssapi.Token{})
	if err != nil {
		r.t.Fatal(err)
	}
	saved := r.SessionID
	r.SessionID = 0
	h, _ := r.call(cmdSessionSetup, sessionSetupBody(tok.Payload))
	r.SessionID = saved
	return h.Status, h.SessionID
}

// logoff ends session sid.
func (r *rawClient) logoff(sid uint64) uint32 {
	r.t.Helper()
	saved := r.SessionID
	r.SessionID = sid
	h, _ := r.call(cmdLogoff, []byte{4, 0, 0, 0})
	r.SessionID = saved
	return h.Status
}

// MaxPendingLogons: at the limit every exchange proceeds, one past it is
// refused; LOGOFF of an unfinished exchange frees its slot.
func TestMaxPendingLogons(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxPendingLogons = 2 })
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect311)
	var ids []uint64
	for i := 0; i < 2; i++ {
		st, id := r.firstLeg()
		if st != statusMoreProcessingRequired {
			t.Fatalf("exchange %d: %08x", i+1, st)
		}
		ids = append(ids, id)
	}
	if st, _ := r.firstLeg(); st != statusInsufficientResources {
		t.Fatalf("exchange past the limit: %08x", st)
	}
	// Another connection has its own budget.
	other := dialRaw(t, ts)
	other.negotiate(smbcrypto.Dialect311)
	if st := other.login(testUser, testPassword); st != statusSuccess {
		t.Fatalf("other connection: %08x", st)
	}
	if st := r.logoff(ids[0]); st != statusSuccess {
		t.Fatalf("logoff: %08x", st)
	}
	if st, _ := r.firstLeg(); st != statusMoreProcessingRequired {
		t.Fatalf("exchange after logoff: %08x", st)
	}
}

// An unfinished exchange is dropped HandshakeTimeout after it began and
// counts as a failed logon; so do the ones a closed connection leaves.
func TestPendingLogonExpires(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := startServer(t, func(c *Config) {
		c.HandshakeTimeout = timeout
		c.AuthFailLimit = 2
		c.AuthFailWindow = time.Hour
	})
	// An authenticated connection is not closed by the handshake timeout,
	// but its unfinished exchanges are dropped.
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect311)
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatal(st)
	}
	st, sid := r.firstLeg()
	if st != statusMoreProcessingRequired {
		t.Fatal(st)
	}
	time.Sleep(timeout + 200*time.Millisecond)
	if st := r.logoff(sid); st != statusUserSessionDeleted {
		t.Fatalf("expired exchange still there: %08x", st)
	}
	if h, _ := r.call(cmdEcho, []byte{4, 0, 0, 0}); h.Status != statusSuccess {
		t.Fatalf("the connection suffered: %08x", h.Status)
	}
	// A second abandoned exchange, left with its connection, reaches the
	// limit of 2: the address is now refused.
	gone := dialRaw(t, ts)
	gone.negotiate(smbcrypto.Dialect311)
	if st, _ := gone.firstLeg(); st != statusMoreProcessingRequired {
		t.Fatal(st)
	}
	gone.Conn.Close()
	var last uint32
	for i := 0; i < 50; i++ {
		n := dialRaw(t, ts)
		n.negotiate(smbcrypto.Dialect311)
		if last = n.login(testUser, testPassword); last == statusLogonFailure {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("abandoned exchanges did not count as failures: %08x", last)
}

// MaxTokenSize: a security buffer of exactly the limit reaches the
// Authenticator, one byte more is refused before it.
func TestMaxTokenSize(t *testing.T) {
	ctx := gssapi.NewSecurityContext(context.Background(),
		gssapi.WithMechanismFactory(spnego.Mechanism{}),
		gssapi.WithMechanismFactory(msntlm.Mechanism{}, msntlm.NewConfig()),
		gssapi.WithCredential(credential.NewFromPassword(testUser, testPassword, credential.Domain(testDomain))),
	)
	tok, err := gssapi.InitSecurityContext(ctx, &gssapi.Token{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(tok.Payload)
	for _, tc := range []struct {
		max     int
		want    uint32
		reached bool
	}{
		{n, statusMoreProcessingRequired, true},
		{n - 1, statusInvalidParameter, false},
	} {
		auth := &countingAuth{Authenticator: testAuth()}
		ts := startServer(t, func(c *Config) { c.MaxTokenSize = tc.max; c.Auth = auth })
		r := dialRaw(t, ts)
		r.negotiate(smbcrypto.Dialect311)
		h, _ := r.call(cmdSessionSetup, sessionSetupBody(tok.Payload))
		if h.Status != tc.want || (auth.n.Load() > 0) != tc.reached {
			t.Errorf("%d-byte token, limit %d: %08x, authenticator consulted %v", n, tc.max, h.Status, auth.n.Load() > 0)
		}
	}
}
