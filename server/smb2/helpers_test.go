package smb2

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/ntlm"
)

const (
	testUser     = "alice"
	testPassword = "Secret123!"
	testDomain   = "TESTDOM"
)

// echoPipes serves test pipes:
//   - "echo": every Write queues one message "echo:" + data
//   - "big": every Write queues data repeated three times
//   - "slow": like echo, but the answer is queued 20 ms later (async READ)
//   - "silent": never answers (reads pend until cancelled or closed)
//   - "tryecho": like echo, and implements ipc.MessageTryReader
//
// It records the OpenInfo of every open.
type echoPipes struct {
	mu      sync.Mutex
	opens   []ipc.OpenInfo
	lastTry *tryEchoPipe
}

func (h *echoPipes) HasPipe(name string) bool {
	return name == "echo" || name == "big" || name == "silent" || name == "slow" || name == "tryecho"
}

func (h *echoPipes) OpenPipe(ctx context.Context, info ipc.OpenInfo) (ipc.Pipe, error) {
	if !h.HasPipe(info.Pipe) {
		return nil, ipc.ErrNoSuchPipe
	}
	if info.Pipe == "silent" && info.Identity.Anonymous {
		return nil, ipc.ErrAccessDenied
	}
	h.mu.Lock()
	h.opens = append(h.opens, info)
	h.mu.Unlock()
	if info.Pipe == "tryecho" {
		p := &tryEchoPipe{echoPipe: echoPipe{kind: "echo", out: make(chan []byte, 16), closed: make(chan struct{})}}
		h.mu.Lock()
		h.lastTry = p
		h.mu.Unlock()
		return p, nil
	}
	return &echoPipe{kind: info.Pipe, out: make(chan []byte, 16), closed: make(chan struct{})}, nil
}

func (h *echoPipes) lastOpen() ipc.OpenInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.opens) == 0 {
		return ipc.OpenInfo{}
	}
	return h.opens[len(h.opens)-1]
}

type echoPipe struct {
	kind   string
	out    chan []byte
	once   sync.Once
	closed chan struct{}
}

func (p *echoPipe) Write(ctx context.Context, b []byte) error {
	select {
	case <-p.closed:
		return ipc.ErrPipeClosed
	default:
	}
	var msg []byte
	switch p.kind {
	case "echo":
		msg = append([]byte("echo:"), b...)
	case "slow":
		msg = append([]byte("echo:"), b...)
		go func() {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-p.closed:
				return
			}
			select {
			case p.out <- msg:
			default:
			}
		}()
		return nil
	case "big":
		msg = bytes.Repeat(b, 3)
	default:
		return nil
	}
	select {
	case p.out <- msg:
		return nil
	default:
		return ipc.ErrPipeBusy
	}
}

func (p *echoPipe) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case m := <-p.out:
		return m, nil
	case <-p.closed:
		return nil, ipc.ErrPipeClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tryEchoPipe is an echo pipe that can be read without waiting; it counts
// the messages taken that way.
type tryEchoPipe struct {
	echoPipe
	taken atomic.Int64
}

var _ ipc.MessageTryReader = (*tryEchoPipe)(nil)

func (p *tryEchoPipe) TryReadMessage() ([]byte, bool, error) {
	select {
	case m := <-p.out:
		p.taken.Add(1)
		return m, true, nil
	default:
	}
	select {
	case <-p.closed:
		return nil, false, ipc.ErrPipeClosed
	default:
		return nil, false, nil
	}
}

func (p *echoPipe) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

func testAuth() ipc.Authenticator {
	return ntlm.NewAuthenticator(ntlm.Config{
		NetBIOSComputer: "TESTSRV",
		NetBIOSDomain:   testDomain,
		DNSComputer:     "testsrv.test.example",
		DNSDomain:       "test.example",
		Accounts:        ntlm.StaticAccounts{{Name: testUser, NTHash: ntlm.NTHash(testPassword), Admin: true}},
		AllowAnonymous:  true,
	})
}

type testServer struct {
	srv   *Server
	pipes *echoPipes
	addr  *net.TCPAddr
	tap   *tapListener
	done  chan error
}

// startServer runs a server on 127.0.0.1:0 and shuts it down at the end of
// the test, checking that no goroutine outlives it.
func startServer(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	return startServerHook(t, mod, nil)
}

// startServerHook is startServer with a hook that sees the Server before
// it starts serving.
func startServerHook(t testing.TB, mod func(*Config), hook func(*Server)) *testServer {
	t.Helper()
	before := runtime.NumGoroutine()
	pipes := &echoPipes{}
	cfg := Config{Auth: testAuth(), Pipes: pipes}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tap := &tapListener{Listener: ln}
	ts := &testServer{srv: srv, pipes: pipes, addr: ln.Addr().(*net.TCPAddr), tap: tap, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(tap) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-ts.done; err != ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
		checkGoroutines(t, before)
	})
	return ts
}

// checkGoroutines waits for the goroutine count to settle back to at most
// before, then reports the leftover stacks of this package.
func checkGoroutines(t testing.TB, before int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "server/smb2.") && !strings.Contains(g, "_test.go") {
			t.Errorf("leaked goroutine:\n%s", g)
		}
	}
}

// tapListener counts transport messages that carry a TRANSFORM header in
// each direction, and the server's Read and Write calls on its
// connections (each one system call on a TCP socket).
type tapListener struct {
	net.Listener
	clientTransforms, serverTransforms atomic.Int64
	reads, writes                      atomic.Int64

	recordSizes atomic.Bool // record writeSizes
	mu          sync.Mutex
	writeSizes  []tapWrite // every server Write while recording
}

// tapWrite is one Write of the server: its size and the transport
// messages it carries.
type tapWrite struct{ bytes, frames int }

// serverWrites returns the server's Write calls recorded so far.
func (l *tapListener) serverWrites() []tapWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]tapWrite(nil), l.writeSizes...)
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, l: l}, nil
}

type tapConn struct {
	net.Conn
	l  *tapListener
	in streamTap // the server reads in any pieces, so the stream is parsed
}

var transformMarker = []byte{0xFD, 'S', 'M', 'B'}

func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.l.reads.Add(1) // reads that returned data: one per wake-up
	}
	c.l.clientTransforms.Add(int64(c.in.feed(b[:n])))
	return n, err
}

// streamTap follows the Direct TCP framing (MS-SMB2 2.1) of a byte stream
// read in arbitrary pieces and counts the messages that start with a
// TRANSFORM header.
type streamTap struct {
	head []byte // transport header and protocol id of the current frame
	rest int    // bytes of the current frame still to skip
}

func (t *streamTap) feed(b []byte) (transforms int) {
	for len(b) > 0 {
		if t.rest > 0 {
			n := min(t.rest, len(b))
			t.rest -= n
			b = b[n:]
			continue
		}
		size := -1 // unknown until the transport header is complete
		want := 4
		if len(t.head) >= 4 {
			size = int(t.head[1])<<16 | int(t.head[2])<<8 | int(t.head[3])
			want = 4 + min(size, 4)
		}
		n := min(want-len(t.head), len(b))
		t.head = append(t.head, b[:n]...)
		b = b[n:]
		if len(t.head) < want || size < 0 && len(t.head) == 4 && t.head[1]|t.head[2]|t.head[3] != 0 {
			continue // more of the header, or the protocol id, to come
		}
		size = int(t.head[1])<<16 | int(t.head[2])<<8 | int(t.head[3])
		if len(t.head) == 8 && bytes.Equal(t.head[4:8], transformMarker) {
			transforms++
		}
		t.rest = size - (len(t.head) - 4)
		t.head = t.head[:0]
	}
	return transforms
}

func (c *tapConn) Write(b []byte) (int, error) {
	// Frames written together are counted one by one.
	frames := 0
	for f := b; len(f) >= 8; {
		if bytes.Equal(f[4:8], transformMarker) {
			c.l.serverTransforms.Add(1)
		}
		frames++
		n := 4 + (int(f[1])<<16 | int(f[2])<<8 | int(f[3]))
		if n > len(f) {
			break
		}
		f = f[n:]
	}
	if c.l.recordSizes.Load() {
		c.l.mu.Lock()
		c.l.writeSizes = append(c.l.writeSizes, tapWrite{len(b), frames})
		c.l.mu.Unlock()
	}
	c.l.writes.Add(1)
	return c.Conn.Write(b)
}
