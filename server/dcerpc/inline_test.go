package dcerpc

import (
	"bytes"
	"context"
	"testing"

	"github.com/wkssvcd/wkssvcd/server/budget"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// inlinePipe is a bound test pipe whose echo calls may run inline.
func inlinePipe(t *testing.T, cfg Config, h *handlerHooks, fast func(context.Context, uint16, []byte) ([]byte, bool)) (*assoc, *Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	s := NewServer(cfg)
	iface := testInterface(h)
	iface.Inline = func(c Call) bool { return c.Opnum == opEcho && c.NDR20LittleEndian }
	iface.Fast = fast
	s.Register("test", iface)
	p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test", Identity: ipc.Identity{User: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	a := p.(*assoc)
	t.Cleanup(func() {
		a.Close()
		<-a.done
	})
	write(t, a, ndrBind(1))
	if p := read(t, a); p.Type != ptBindAck {
		t.Fatalf("bind answered with type %d", p.Type)
	}
	return a, s
}

// tryQueued returns the next queued message without waiting.
func tryQueued(t *testing.T, a *assoc) ([]byte, bool) {
	t.Helper()
	m, ok, err := a.TryReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return m, ok
}

// An inline call is answered by the time Write returns, without a worker
// goroutine.
func TestInlineCallAnsweredBeforeWriteReturns(t *testing.T) {
	a, _ := inlinePipe(t, Config{}, nil, nil)
	for id := uint32(2); id < 20; id++ {
		write(t, a, buildRequest(id, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("hello"))))
		m, ok := tryQueued(t, a)
		if !ok {
			t.Fatalf("call %d: no response queued when Write returned", id)
		}
		p, err := parsePDU(m)
		if err != nil || p.Type != ptResponse || p.CallID != id || !bytes.HasSuffix(m, []byte("hello")) {
			t.Fatalf("call %d: % x (%v)", id, m, err)
		}
	}
	a.mu.Lock()
	workers := a.workers
	a.mu.Unlock()
	if workers != 0 {
		t.Fatalf("%d worker goroutines started for inline calls only", workers)
	}
	// A call that may not run inline starts the worker and is answered
	// by it.
	write(t, a, buildRequest(30, pfcFirstFrag|pfcLastFrag, 0, opIdentity, nil))
	if got, _ := readResponse(t, a, 30); string(got) != "bob|ncacn_np" {
		t.Fatalf("identity %q", got)
	}
}

// The input buffer of Write is the caller's: a call that goes to the
// worker has its stub copied before Write returns.
func TestQueuedCallDoesNotKeepWriteBuffer(t *testing.T) {
	h := &handlerHooks{blockStarted: make(chan struct{}, 1)}
	a, _ := inlinePipe(t, Config{}, h, nil)
	write(t, a, buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, opBlock, nil))
	<-h.blockStarted
	buf := buildRequest(3, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("kept")))
	write(t, a, buf)
	clear(buf) // the transport reuses its buffer
	write(t, a, buildSimple(ptCoCancel, 2))
	if p := read(t, a); p.Type != ptFault || p.CallID != 2 {
		t.Fatalf("cancelled call: type %d call %d", p.Type, p.CallID)
	}
	if got, _ := readResponse(t, a, 3); string(got) != "kept" {
		t.Fatalf("queued call answered %q", got)
	}
}

// An inline call waits its turn: while a call runs on the worker, the
// next one is queued behind it, so responses keep the request order.
func TestInlineCallKeepsOrder(t *testing.T) {
	h := &handlerHooks{blockStarted: make(chan struct{}, 1)}
	a, _ := inlinePipe(t, Config{}, h, nil)
	write(t, a, buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, opBlock, nil))
	<-h.blockStarted
	write(t, a, buildRequest(3, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("x"))))
	if m, ok := tryQueued(t, a); ok {
		t.Fatalf("inline call ran ahead of a running one: % x", m)
	}
	write(t, a, buildSimple(ptCoCancel, 2))
	if p := read(t, a); p.CallID != 2 {
		t.Fatalf("first response is for call %d", p.CallID)
	}
	if got, _ := readResponse(t, a, 3); string(got) != "x" {
		t.Fatalf("echo %q", got)
	}
	// Output the client has not read yet also keeps a call off the
	// inline path: it is answered after that output.
	write(t, a, buildRequest(4, pfcFirstFrag|pfcLastFrag, 0, opIdentity, nil))
	write(t, a, buildRequest(5, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("y"))))
	if got, _ := readResponse(t, a, 4); string(got) != "bob|ncacn_np" {
		t.Fatalf("identity %q", got)
	}
	if got, _ := readResponse(t, a, 5); string(got) != "y" {
		t.Fatalf("echo %q", got)
	}
}

// Inline calls count against MaxDecodes like every other: without a free
// slot the call goes to the worker, which waits for one.
func TestInlineCallNeedsDecodeSlot(t *testing.T) {
	h := &handlerHooks{blockStarted: make(chan struct{}, 1)}
	a, s := inlinePipe(t, Config{MaxDecodes: 1}, h, nil)
	other, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b := other.(*assoc)
	defer func() { b.Close(); <-b.done }()
	write(t, b, ndrBind(1))
	read(t, b)
	write(t, b, buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, opBlock, nil)) // holds the only slot
	<-h.blockStarted
	write(t, a, buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("z"))))
	if m, ok := tryQueued(t, a); ok {
		t.Fatalf("inline call ran without a decode slot: % x", m)
	}
	write(t, b, buildSimple(ptCoCancel, 2))
	read(t, b)
	if got, _ := readResponse(t, a, 2); string(got) != "z" {
		t.Fatalf("echo %q", got)
	}
}

// The fast handler is offered NDR 2.0 little-endian calls first; what it
// declines, and what panics in it, is answered as without it.
func TestFastHandler(t *testing.T) {
	var offered []uint16
	fast := func(ctx context.Context, opnum uint16, stub []byte) ([]byte, bool) {
		offered = append(offered, opnum)
		switch {
		case opnum == opEcho && bytes.HasSuffix(stub, []byte("fast")):
			if info, ok := ipc.FromContext(ctx); !ok || info.Identity.User != "bob" {
				t.Error("fast handler without the caller's identity")
			}
			return []byte("served fast"), true
		case opnum == opEcho && bytes.HasSuffix(stub, []byte("boom")):
			panic("fast handler failure")
		}
		return nil, false
	}
	a, _ := inlinePipe(t, Config{}, nil, fast)
	write(t, a, buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("fast"))))
	if got, _ := readResponse(t, a, 2); string(got) != "served fast" {
		t.Fatalf("fast: %q", got)
	}
	write(t, a, buildRequest(3, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("slow"))))
	if got, _ := readResponse(t, a, 3); string(got) != "slow" {
		t.Fatalf("declined: %q", got)
	}
	write(t, a, buildRequest(4, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("boom"))))
	if st := faultStatus(t, read(t, a)); st != StatusFaultUnspec {
		t.Fatalf("panic: fault %#x", st)
	}
	// A big-endian call is not offered.
	be := buildRequest(5, pfcFirstFrag|pfcLastFrag, 0, opEcho, []byte{0, 0, 0, 4, 'f', 'a', 's', 't'})
	be[4] = 0 // drep: big-endian integers
	be[8], be[9] = be[9], be[8]
	be[12], be[13], be[14], be[15] = be[15], be[14], be[13], be[12]
	be[16], be[17], be[18], be[19] = be[19], be[18], be[17], be[16]
	n := len(offered)
	write(t, a, be)
	if got, _ := readResponse(t, a, 5); string(got) != "fast" {
		t.Fatalf("big-endian: %q", got)
	}
	if len(offered) != n {
		t.Fatal("a big-endian call was offered to the fast handler")
	}
}

// Calls answered inline give back everything they charged to the
// connection's budget: their stub, their queue entry and, once read,
// their response.
func TestInlineCallsReleaseBudget(t *testing.T) {
	b := budget.New(1<<20, nil)
	s := NewServer(Config{Logger: quiet()})
	iface := testInterface(nil)
	iface.Inline = func(c Call) bool { return c.Opnum == opEcho }
	s.Register("test", iface)
	p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test", Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	a := p.(*assoc)
	t.Cleanup(func() { a.Close(); <-a.done })
	write(t, a, ndrBind(1))
	read(t, a)
	base := b.Used()
	for id := uint32(2); id < 50; id++ {
		write(t, a, buildRequest(id, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("hello"))))
		if _, ok := tryQueued(t, a); !ok {
			t.Fatalf("call %d not answered inline", id)
		}
		if b.Used() != base {
			t.Fatalf("call %d: budget holds %d bytes after its answer was read, %d before", id, b.Used(), base)
		}
	}
}
