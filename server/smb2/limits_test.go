package smb2

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

func TestNewServerLimitValidation(t *testing.T) {
	base := func() Config { return Config{Auth: testAuth(), Pipes: &echoPipes{}} }
	bad := map[string]func(*Config){
		"MaxConnections":  func(c *Config) { c.MaxConnections = -1 },
		"MaxCredits":      func(c *Config) { c.MaxCredits = -1 },
		"MaxPendingReads": func(c *Config) { c.MaxPendingReads = -1 },
		"MaxSessions":     func(c *Config) { c.MaxSessions = -1 },
		"MaxOpens":        func(c *Config) { c.MaxOpens = -1 },
		"MaxCompound":     func(c *Config) { c.MaxCompound = -1 },
		"AuthFailAddrs":   func(c *Config) { c.AuthFailAddrs = -1 },
		"ReadTimeout":     func(c *Config) { c.ReadTimeout = -time.Second },
		"AuthFailWindow":  func(c *Config) { c.AuthFailWindow = -time.Second },
	}
	for name, mod := range bad {
		cfg := base()
		mod(&cfg)
		if _, err := NewServer(cfg); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s negative: err %v", name, err)
		}
	}
	cfg := base()
	cfg.MaxCredits = MaxCreditsLimit + 1
	if _, err := NewServer(cfg); err == nil {
		t.Error("MaxCredits above the limit accepted")
	}

	srv, err := NewServer(base())
	if err != nil {
		t.Fatal(err)
	}
	c := srv.cfg
	if c.MaxConnections != DefaultMaxConnections || c.MaxCredits != DefaultMaxCredits ||
		c.MaxPendingReads != DefaultMaxPendingReads || c.MaxSessions != DefaultMaxSessions ||
		c.MaxOpens != DefaultMaxOpens || c.MaxCompound != DefaultMaxCompound ||
		c.IdleTimeout != DefaultIdleTimeout || c.ReadTimeout != DefaultReadTimeout ||
		c.AuthFailLimit != DefaultAuthFailLimit || c.AuthFailWindow != DefaultAuthFailWindow ||
		c.AuthFailAddrs != DefaultAuthFailAddrs {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if srv.throttle == nil || srv.throttle.limit != DefaultAuthFailLimit || srv.throttle.window != DefaultAuthFailWindow {
		t.Fatal("throttle not configured")
	}

	// Negative IdleTimeout and AuthFailLimit disable those limits.
	cfg = base()
	cfg.IdleTimeout = -1
	cfg.AuthFailLimit = -1
	if srv, err = NewServer(cfg); err != nil {
		t.Fatal(err)
	}
	if srv.cfg.IdleTimeout >= 0 || srv.throttle != nil {
		t.Fatal("negative IdleTimeout/AuthFailLimit do not disable")
	}
}

func TestMaxSessions(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxSessions = 2 })
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect302)
	for i := 0; i < 2; i++ {
		r.SessionID, r.SignKey, r.Sign = 0, nil, false
		if st := r.login(testUser, testPassword); st != statusSuccess {
			t.Fatalf("session %d: %08x", i, st)
		}
	}
	r.SessionID, r.SignKey, r.Sign = 0, nil, false
	if st := r.login(testUser, testPassword); st != statusInsufficientResources {
		t.Fatalf("third session: %08x", st)
	}
}

func TestMaxOpens(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxOpens = 2 })
	r, first := setup(t, ts, smbcrypto.Dialect311, "echo")
	if st, _ := r.create("echo"); st != statusSuccess {
		t.Fatalf("second open: %08x", st)
	}
	if st, _ := r.create("echo"); st != statusInsufficientResources {
		t.Fatalf("third open: %08x", st)
	}
	if h, _ := r.call(cmdClose, fileIDBody(first)); h.Status != statusSuccess {
		t.Fatalf("close: %08x", h.Status)
	}
	if st, _ := r.create("echo"); st != statusSuccess {
		t.Fatalf("open after close: %08x", st)
	}
}

// echoChain is a compound of n ECHO requests.
func echoChain(r *rawClient, n int) []byte {
	var out []byte
	for i := 0; i < n; i++ {
		m := r.build(cmdEcho, []byte{4, 0, 0, 0})
		if i < n-1 {
			m = append(m, make([]byte, (8-len(m)%8)%8)...)
			le.PutUint32(m[20:], uint32(len(m)))
		}
		out = append(out, m...)
	}
	return out
}

func TestMaxCompound(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxCompound = 2; c.SigningOptional = true })
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect210)
	r.writeFrame(echoChain(r, 2))
	b, err := r.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	if msgs, err := splitCompound(b, 8); err != nil || len(msgs) != 2 {
		t.Fatalf("chain of 2: %d responses, %v", len(msgs), err)
	}
	r.writeFrame(echoChain(r, 3))
	r.expectClosed()
}

func TestMaxCreditsBoundsWindow(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxCredits = 8; c.SigningOptional = true })
	r := dialRaw(t, ts)
	// The client asks for 64 credits (rawClient.build) and gets 8.
	if h, _ := r.negotiate(smbcrypto.Dialect210); h.Credit != 8 {
		t.Fatalf("granted %d credits, want 8", h.Credit)
	}
	// MessageIds 1..8 are usable; 9 lies outside the window.
	r.MsgID = 9
	r.writeFrame(r.build(cmdEcho, []byte{4, 0, 0, 0}))
	r.expectClosed()

	r = dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect210)
	r.MsgID = 8
	if h, _ := r.call(cmdEcho, []byte{4, 0, 0, 0}); h.Status != statusSuccess {
		t.Fatalf("last id in the window: %08x", h.Status)
	}
}

func TestReadTimeoutDropsStalledFrame(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ReadTimeout = 100 * time.Millisecond })
	for _, partial := range [][]byte{
		{0},                                 // one byte of the length
		{0, 0, 0, 100, 0xFE, 'S', 'M', 'B'}, // half a message
	} {
		r := dialRaw(t, ts)
		if _, err := r.Conn.Write(partial); err != nil {
			t.Fatal(err)
		}
		r.expectClosed()
	}
	// The server still serves.
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect311)
}

// A client that sends requests but never reads the responses is dropped
// once a response write has been blocked for ReadTimeout.
func TestReadTimeoutDropsNonReadingClient(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ReadTimeout = 100 * time.Millisecond })
	r, id := setup(t, ts, smbcrypto.Dialect210, "big")
	if tc, ok := r.Conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	data := make([]byte, 20000)
	for i := 0; ; i++ {
		var frames []byte
		for _, m := range [][]byte{r.build(cmdWrite, writeBody(id, data)), r.build(cmdRead, readBody(id, 65536))} {
			frames = append(frames, 0, byte(len(m)>>16), byte(len(m)>>8), byte(len(m)))
			frames = append(frames, m...)
		}
		r.Conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := r.Conn.Write(frames); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept a client that reads nothing")
			}
			break
		}
		if i > 100000 {
			t.Fatal("the server kept a client that reads nothing")
		}
	}
}

func TestIdleTimeoutClosesSession(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.IdleTimeout = 100 * time.Millisecond })
	r, _ := setup(t, ts, smbcrypto.Dialect311, "echo")
	r.expectClosed()
}

// fakeClock is a settable time source.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingHandler counts warning records.
type countingHandler struct {
	warns atomic.Int64
	msgs  chan string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		h.warns.Add(1)
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(" " + a.String())
			return true
		})
		select {
		case h.msgs <- b.String():
		default:
		}
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// fail records one failed logon from a, as a failed exchange step does.
func (t *authThrottle) fail(a net.Addr) {
	if t.begin(a) {
		t.end(a, true)
	}
}

// tracked is the number of addresses in the table.
func (t *authThrottle) tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.addrs)
}

func tcpAddr(s string) net.Addr {
	ap := netip.MustParseAddrPort(s)
	return &net.TCPAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
}

func TestAuthThrottleRules(t *testing.T) {
	clock := newFakeClock()
	h := &countingHandler{msgs: make(chan string, 16)}
	th := newAuthThrottle(3, time.Minute, 100, slog.New(h))
	th.now = clock.Now
	a, b := tcpAddr("192.0.2.1:1000"), tcpAddr("192.0.2.2:1000")

	for i := 0; i < 2; i++ {
		th.fail(a)
		if th.blocked(a) {
			t.Fatalf("blocked after %d failures", i+1)
		}
	}
	th.fail(a)
	if !th.blocked(a) {
		t.Fatal("not blocked after the limit")
	}
	if !th.blocked(tcpAddr("192.0.2.1:2000")) {
		t.Fatal("another port of the same address not blocked")
	}
	if th.blocked(b) {
		t.Fatal("another address blocked")
	}
	// More failures while blocked neither extend the block nor warn again.
	th.fail(a)
	th.fail(a)
	if n := h.warns.Load(); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	msg := <-h.msgs
	if !strings.Contains(msg, "192.0.2.1") {
		t.Fatalf("warning without the address: %q", msg)
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if !th.blocked(a) {
		t.Fatal("unblocked before the window passed")
	}
	clock.Advance(time.Nanosecond)
	if th.blocked(a) {
		t.Fatal("still blocked after the window")
	}
	// A fresh window: the limit applies again, with one more warning.
	th.fail(a)
	th.fail(a)
	if th.blocked(a) {
		t.Fatal("blocked too early in the new window")
	}
	th.fail(a)
	if !th.blocked(a) || h.warns.Load() != 2 {
		t.Fatalf("second window: blocked %v warnings %d", th.blocked(a), h.warns.Load())
	}

	// Failures spread over more than a window never block.
	th.fail(b)
	th.fail(b)
	clock.Advance(time.Minute)
	th.fail(b)
	if th.blocked(b) {
		t.Fatal("failures of an old window counted")
	}
}

// Steps running in parallel count against the limit, so concurrent
// connections cannot evaluate more guesses than the limit per window.
func TestAuthThrottleInflight(t *testing.T) {
	clock := newFakeClock()
	th := newAuthThrottle(3, time.Minute, 100, slog.New(slog.DiscardHandler))
	th.now = clock.Now
	a := tcpAddr("192.0.2.7:1")
	th.fail(a)
	if !th.begin(a) || !th.begin(a) {
		t.Fatal("steps under the limit refused")
	}
	if th.begin(a) {
		t.Fatal("a third parallel step allowed with one failure recorded")
	}
	if th.blocked(a) {
		t.Fatal("running steps block the address")
	}
	th.end(a, false)
	if !th.begin(a) {
		t.Fatal("a finished step did not free its place")
	}
	th.end(a, true)
	th.end(a, true)
	if !th.blocked(a) {
		t.Fatal("three failures do not block")
	}
	// Without a failure on record, parallel logons are not limited: a
	// busy client opening many sessions at once is not a guesser.
	c := tcpAddr("192.0.2.9:1")
	for i := 0; i < 50; i++ {
		if !th.begin(c) {
			t.Fatalf("parallel step %d refused for an address with no failures", i)
		}
	}
	for i := 0; i < 50; i++ {
		th.end(c, false)
	}
	// A success with no failures on record leaves nothing behind.
	b := tcpAddr("192.0.2.8:1")
	if !th.begin(b) {
		t.Fatal("fresh address refused")
	}
	th.end(b, false)
	if th.tracked() != 1 {
		t.Fatalf("%d addresses tracked, want 1", th.tracked())
	}
}

func TestAuthThrottleIPv6Prefix(t *testing.T) {
	clock := newFakeClock()
	th := newAuthThrottle(2, time.Minute, 100, slog.New(slog.DiscardHandler))
	th.now = clock.Now
	th.fail(tcpAddr("[2001:db8:1:2::1]:445"))
	th.fail(tcpAddr("[2001:db8:1:2::ffff]:445"))
	if !th.blocked(tcpAddr("[2001:db8:1:2:3:4:5:6]:1")) {
		t.Fatal("same /64 not blocked")
	}
	if th.blocked(tcpAddr("[2001:db8:1:3::1]:1")) {
		t.Fatal("other /64 blocked")
	}
	// IPv4-mapped addresses count as IPv4.
	th.fail(tcpAddr("[::ffff:192.0.2.9]:1"))
	th.fail(tcpAddr("192.0.2.9:2"))
	if !th.blocked(tcpAddr("192.0.2.9:3")) {
		t.Fatal("mapped address counted apart")
	}
	// Addresses without an IP are never throttled.
	var unix net.Addr = &net.UnixAddr{Name: "@x", Net: "unix"}
	th.fail(unix)
	th.fail(unix)
	if th.blocked(unix) || th.blocked(nil) {
		t.Fatal("non-IP address throttled")
	}
	var nilThrottle *authThrottle
	nilThrottle.fail(unix)
	if nilThrottle.blocked(tcpAddr("192.0.2.9:3")) {
		t.Fatal("disabled throttle blocks")
	}
}

func TestAuthThrottleBoundedMemory(t *testing.T) {
	clock := newFakeClock()
	th := newAuthThrottle(2, time.Minute, 4, slog.New(slog.DiscardHandler))
	th.now = clock.Now
	blocked := tcpAddr("198.51.100.1:1")
	th.fail(blocked)
	th.fail(blocked)
	for i := 2; i < 200; i++ {
		clock.Advance(time.Millisecond)
		th.fail(tcpAddr("198.51.100." + strconv.Itoa(i) + ":1"))
		if n := th.tracked(); n > 4 {
			t.Fatalf("%d addresses tracked, cap 4", n)
		}
	}
	// Unblocked entries are evicted before blocked ones.
	if !th.blocked(blocked) {
		t.Fatal("blocked address evicted while unblocked ones remained")
	}
	// Expired entries are evicted first.
	clock.Advance(2 * time.Minute)
	th.fail(tcpAddr("203.0.113.1:1"))
	if n := th.tracked(); n != 1 {
		t.Fatalf("%d addresses tracked after expiry, want 1", n)
	}
	// A table full of blocked entries still takes new addresses.
	th = newAuthThrottle(1, time.Minute, 2, slog.New(slog.DiscardHandler))
	th.now = clock.Now
	for i := 1; i <= 3; i++ {
		th.fail(tcpAddr("203.0.113." + strconv.Itoa(i) + ":1"))
	}
	if th.tracked() != 2 || !th.blocked(tcpAddr("203.0.113.3:1")) {
		t.Fatal("newest blocked address not tracked")
	}
}

// countingAuth counts the exchanges the server starts.
type countingAuth struct {
	ipc.Authenticator
	n atomic.Int64
}

func (a *countingAuth) NewExchange() ipc.AuthExchange {
	a.n.Add(1)
	return a.Authenticator.NewExchange()
}

func dialRawFrom(t *testing.T, ts *testServer, local string) *rawClient {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", ts.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newRawClient(t, c)
}

func TestAuthFailureThrottling(t *testing.T) {
	clock := newFakeClock()
	auth := &countingAuth{Authenticator: testAuth()}
	ts := startServerHook(t, func(c *Config) {
		c.Auth = auth
		c.AuthFailLimit = 3
		c.AuthFailWindow = time.Minute
	}, func(s *Server) { s.throttle.now = clock.Now })

	attacker := dialRawFrom(t, ts, "127.0.0.1")
	attacker.negotiate(smbcrypto.Dialect311)
	login := func(r *rawClient, pw string) uint32 {
		r.SessionID, r.SignKey, r.Sign = 0, nil, false
		return r.login(testUser, pw)
	}
	for i := 0; i < 3; i++ {
		if st := login(attacker, "wrong"); st != statusLogonFailure {
			t.Fatalf("failure %d: %08x", i+1, st)
		}
	}
	// Refused even with the right password, without an exchange.
	before := auth.n.Load()
	if st := login(attacker, testPassword); st != statusLogonFailure {
		t.Fatalf("4th attempt with the right password: %08x", st)
	}
	// A new connection from the same address is refused too.
	again := dialRawFrom(t, ts, "127.0.0.1")
	again.negotiate(smbcrypto.Dialect210)
	if st := login(again, testPassword); st != statusLogonFailure {
		t.Fatalf("new connection, same address: %08x", st)
	}
	if auth.n.Load() != before {
		t.Fatal("the Authenticator was consulted for a blocked address")
	}
	// Another address logs on, and its success does not unblock the first.
	other := dialRawFrom(t, ts, "127.0.0.2")
	other.negotiate(smbcrypto.Dialect311)
	if st := login(other, testPassword); st != statusSuccess {
		t.Fatalf("other address: %08x", st)
	}
	if st := login(attacker, testPassword); st != statusLogonFailure {
		t.Fatalf("after another address's success: %08x", st)
	}
	// The connection of the blocked address stays usable.
	if h, _ := attacker.call(cmdEcho, []byte{4, 0, 0, 0}); h.Status != statusSuccess {
		t.Fatalf("echo: %08x", h.Status)
	}
	// After the window the right password is accepted again.
	clock.Advance(time.Minute)
	if st := login(attacker, testPassword); st != statusSuccess {
		t.Fatalf("after the window: %08x", st)
	}
}

func TestAuthFailureThrottlingDisabled(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AuthFailLimit = -1 })
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect302)
	for i := 0; i < DefaultAuthFailLimit+2; i++ {
		r.SessionID = 0
		if st := r.login(testUser, "wrong"); st != statusLogonFailure {
			t.Fatalf("failure %d: %08x", i, st)
		}
	}
	r.SessionID = 0
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatalf("right password: %08x", st)
	}
}

// strAddr is a net.Addr that is not a TCP address.
type strAddr string

func (a strAddr) Network() string { return "x" }
func (a strAddr) String() string  { return string(a) }

func FuzzThrottleKey(f *testing.F) {
	f.Add([]byte{192, 0, 2, 1}, "192.0.2.1:445")
	f.Add([]byte(net.ParseIP("2001:db8::1")), "[2001:db8::1%eth0]:1")
	f.Add([]byte{}, "")
	f.Add([]byte{1, 2, 3}, "[::ffff:1.2.3.4]:0")
	f.Fuzz(func(t *testing.T, ip []byte, s string) {
		for _, a := range []net.Addr{&net.TCPAddr{IP: ip}, strAddr(s)} {
			k, ok := throttleKey(a)
			if !ok {
				continue
			}
			if k.Zone() != "" || k.Is4In6() {
				t.Fatalf("key %v not canonical", k)
			}
			if k.Is6() {
				if p, _ := k.Prefix(64); p.Addr() != k {
					t.Fatalf("IPv6 key %v not a /64", k)
				}
			}
		}
	})
}

// FuzzAuthThrottle drives the throttle with arbitrary operation sequences
// and checks that the table stays bounded and the accounting consistent.
func FuzzAuthThrottle(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x10, 0x10, 0x10, 0x11, 0x12, 0xF0, 0x10})
	f.Fuzz(func(t *testing.T, ops []byte) {
		clock := newFakeClock()
		th := newAuthThrottle(3, time.Minute, 4, slog.New(slog.DiscardHandler))
		th.now = clock.Now
		open := map[string]int{}
		for _, op := range ops {
			addr := "192.0.2." + strconv.Itoa(int(op&0x0F)) + ":1"
			a := tcpAddr(addr)
			switch op >> 4 & 3 {
			case 0:
				if th.begin(a) {
					open[addr]++
				}
			case 1:
				if open[addr] > 0 {
					open[addr]--
					th.end(a, op&0x40 != 0)
				}
			case 2:
				th.fail(a)
			case 3:
				clock.Advance(time.Duration(op&0x0F) * 10 * time.Second)
			}
			if th.tracked() > 4 {
				t.Fatalf("%d addresses tracked", th.tracked())
			}
			th.mu.Lock()
			for k, fl := range th.addrs {
				if fl.inflight < 0 || fl.count < 0 {
					th.mu.Unlock()
					t.Fatalf("%v: %+v", k, fl)
				}
			}
			th.mu.Unlock()
		}
	})
}
