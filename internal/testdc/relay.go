package testdc

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Relay forwards TCP connections from a port of its own on the
// controller's address to one of the controller's ports, and can cut the
// controller off (fault injection) without stopping samba: Cut resets
// every relayed connection and makes new ones fail until Restore. Pointing
// a client at Port instead of the real port lets a test drop the
// controller in the middle of a protocol exchange in microseconds.
type Relay struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Relay starts a relay to port of the controller; the test's cleanup
// closes it.
func (dc *DC) Relay(t testing.TB, port int) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(dc.Addr, "0"))
	if err != nil {
		t.Fatalf("testdc: relay: %v", err)
	}
	r := &Relay{ln: ln, target: net.JoinHostPort(dc.Addr, strconv.Itoa(port)), conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

// Port is the port the relay listens on.
func (r *Relay) Port() int { return r.ln.Addr().(*net.TCPAddr).Port }

// Cut resets every relayed connection and refuses new ones (they are
// accepted and reset at once) until Restore.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
	for c := range r.conns {
		reset(c)
	}
	clear(r.conns)
}

// Restore relays new connections again.
func (r *Relay) Restore() {
	r.mu.Lock()
	r.cut = false
	r.mu.Unlock()
}

// reset closes c with an RST, as a vanished peer or a firewall would.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (r *Relay) close() {
	r.ln.Close()
	r.Cut()
	r.wg.Wait()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.cut {
			r.mu.Unlock()
			reset(c)
			continue
		}
		r.mu.Unlock()
		up, err := net.Dial("tcp", r.target)
		if err != nil {
			reset(c)
			continue
		}
		r.mu.Lock()
		if r.cut {
			r.mu.Unlock()
			reset(c)
			reset(up)
			continue
		}
		r.conns[c] = struct{}{}
		r.conns[up] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(c, up)
		go r.pipe(up, c)
	}
}

// pipe copies src to dst; when either side ends, both are closed.
func (r *Relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	_, err := io.Copy(dst, src)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		reset(dst)
	} else {
		dst.Close()
	}
	src.Close()
	r.mu.Lock()
	delete(r.conns, src)
	delete(r.conns, dst)
	r.mu.Unlock()
}
