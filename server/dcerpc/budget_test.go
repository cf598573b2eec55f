package dcerpc

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/budget"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// budgetPipes opens n bound pipes sharing one budget of limit bytes, as
// the pipes of one SMB connection do.
func budgetPipes(t *testing.T, n int, limit int64, cfg Config) (*budget.Budget, []*assoc) {
	t.Helper()
	b := budget.New(limit, nil)
	cfg.Logger = quiet()
	s := NewServer(cfg)
	s.Register("test", testInterface(nil))
	var pipes []*assoc
	for i := 0; i < n; i++ {
		p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test", Budget: b})
		if err != nil {
			t.Fatal(err)
		}
		a := p.(*assoc)
		t.Cleanup(func() { a.Close(); <-a.done })
		write(t, a, ndrBind(1))
		if p := read(t, a); p.Type != ptBindAck {
			t.Fatalf("bind answered with type %d", p.Type)
		}
		pipes = append(pipes, a)
	}
	return b, pipes
}

// Unfinished fragmented requests on several pipes of one connection share
// its budget: the one that does not fit gets nca_s_fault_remote_no_memory
// before its stub is kept, and that pipe keeps serving.
func TestReassemblyBudgetSharedByPipes(t *testing.T) {
	b, pipes := budgetPipes(t, 3, 2500, Config{MaxReassembly: 4096})
	frag := make([]byte, 1000)
	write(t, pipes[0], buildRequest(2, pfcFirstFrag, 0, opEcho, frag))
	write(t, pipes[1], buildRequest(2, pfcFirstFrag, 0, opEcho, frag))
	if b.Used() != 2000 {
		t.Fatalf("budget holds %d bytes, want the two stubs (2000)", b.Used())
	}
	// At the limit: 500 more fit exactly.
	write(t, pipes[0], buildRequest(2, 0, 0, opEcho, make([]byte, 500)))
	if b.Used() != 2500 {
		t.Fatalf("budget holds %d bytes at the limit", b.Used())
	}
	// One past it, on the third pipe: refused, nothing kept.
	write(t, pipes[2], buildRequest(2, pfcFirstFrag, 0, opEcho, make([]byte, 1)))
	if p := read(t, pipes[2]); p.Type != ptFault || faultStatus(t, p) != StatusRemoteNoMemory {
		t.Fatalf("over budget: type %d", p.Type)
	}
	if b.Used() != 2500 {
		t.Fatalf("budget holds %d bytes after a refusal", b.Used())
	}
	// A continuation that does not fit ends its call the same way.
	write(t, pipes[1], buildRequest(2, 0, 0, opEcho, make([]byte, 1)))
	if p := read(t, pipes[1]); p.Type != ptFault || faultStatus(t, p) != StatusRemoteNoMemory {
		t.Fatalf("continuation over budget: type %d", p.Type)
	}
	if b.Used() != 1500 {
		t.Fatalf("the refused call's stub was not released: %d", b.Used())
	}
	// The refused pipes keep serving once there is room.
	write(t, pipes[2], buildRequest(3, 3, 0, opEcho, echoStub([]byte("ok"))))
	if out, _ := readResponse(t, pipes[2], 3); string(out) != "ok" {
		t.Fatalf("after the refusal: %q", out)
	}
	for _, a := range pipes {
		a.Close()
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes left in the budget after every pipe closed", b.Used())
	}
}

// Results wait in the budget until read; one that does not fit is
// replaced by nca_s_fault_remote_no_memory, and the pipe goes on.
func TestResultBudget(t *testing.T) {
	b, pipes := budgetPipes(t, 1, 3000, Config{})
	a := pipes[0]
	fill := func(callID uint32, n uint32) {
		write(t, a, buildRequest(callID, 3, 0, opFillOutput, binary.LittleEndian.AppendUint32(nil, n)))
	}
	fill(2, 2000) // about 2024 bytes of output, left unread
	fill(3, 1500) // does not fit beside it
	waitQueued(t, a, 2)
	if out, _ := readResponse(t, a, 2); len(out) != 2000 {
		t.Fatalf("first result %d bytes", len(out))
	}
	if p := read(t, a); p.Type != ptFault || p.CallID != 3 || faultStatus(t, p) != StatusRemoteNoMemory {
		t.Fatalf("second result: type %d call %d", p.Type, p.CallID)
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes held after everything was read", b.Used())
	}
	fill(4, 1500) // fits now
	if out, _ := readResponse(t, a, 4); len(out) != 1500 {
		t.Fatalf("third result %d bytes", len(out))
	}
}

// Input that does not fit is refused whole: Write returns ErrPipeBusy and
// the budget is unchanged; the pipe takes input again once there is room.
func TestInputBudget(t *testing.T) {
	b, pipes := budgetPipes(t, 2, 1000, Config{})
	half := buildRequest(2, 3, 0, opEcho, echoStub(make([]byte, 900)))
	// A partial PDU is held (charged) until the rest arrives.
	if err := pipes[0].Write(context.Background(), half[:800]); err != nil {
		t.Fatal(err)
	}
	if b.Used() != 800 {
		t.Fatalf("partial PDU: budget %d", b.Used())
	}
	other := buildRequest(2, 3, 0, opEcho, echoStub(make([]byte, 900)))
	if err := pipes[1].Write(context.Background(), other[:201]); !errors.Is(err, ipc.ErrPipeBusy) {
		t.Fatalf("input beyond the budget: %v", err)
	}
	// At the limit it is taken.
	if err := pipes[1].Write(context.Background(), other[:200]); err != nil {
		t.Fatalf("input at the budget: %v", err)
	}
	if b.Used() != 1000 {
		t.Fatalf("budget %d at the limit", b.Used())
	}
	pipes[1].Close()
	if b.Used() != 800 {
		t.Fatalf("refused input was charged: %d", b.Used())
	}
	write(t, pipes[0], half[800:])
	if out, _ := readResponse(t, pipes[0], 2); len(out) != 900 {
		t.Fatalf("echo %d bytes", len(out))
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes left after the call was answered and read", b.Used())
	}
}

// A first fragment whose alloc_hint announces more than MaxReassembly is
// refused at once, before any stub is kept.
func TestAllocHintOverLimit(t *testing.T) {
	b, pipes := budgetPipes(t, 1, 1<<20, Config{MaxReassembly: 100})
	a := pipes[0]
	w := &writer{}
	w.start(ptRequest, pfcFirstFrag, 2)
	w.u32(101) // alloc_hint
	w.u16(0)
	w.u16(opEcho)
	w.b = append(w.b, make([]byte, 10)...)
	write(t, a, w.finish())
	if p := read(t, a); p.Type != ptFault || faultStatus(t, p) != StatusInputTooLarge {
		t.Fatalf("alloc_hint over the limit: type %d", p.Type)
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes kept", b.Used())
	}
	// alloc_hint exactly at the limit is accepted.
	w = &writer{}
	w.start(ptRequest, pfcFirstFrag, 3)
	w.u32(100)
	w.u16(0)
	w.u16(opEcho)
	w.b = append(w.b, echoStub(make([]byte, 6))...)
	write(t, a, w.finish())
	if b.Used() != 10 {
		t.Fatalf("first fragment at the limit not kept: %d", b.Used())
	}
}

// waitQueued waits until n output messages are queued on a.
func waitQueued(t *testing.T, a *assoc, n int) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		a.mu.Lock()
		q := len(a.outq)
		a.mu.Unlock()
		if q >= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%d messages never queued", n)
}

// An open pipe costs no goroutine while it is idle: a worker runs only
// while calls or output wait, and ends when the queue is empty.
func TestIdlePipesHaveNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	_, pipes := budgetPipes(t, 200, 1<<20, Config{})
	waitGoroutines := func(max int) int {
		n := 0
		for i := 0; i < 200; i++ {
			if n = runtime.NumGoroutine(); n <= max {
				return n
			}
			time.Sleep(5 * time.Millisecond)
		}
		return n
	}
	if n := waitGoroutines(before + 5); n > before+5 {
		t.Fatalf("%d goroutines for 200 idle pipes (%d before)", n, before)
	}
	// A call starts a worker, which ends once the answer is queued.
	write(t, pipes[0], buildRequest(2, 3, 0, opEcho, echoStub([]byte("x"))))
	if out, _ := readResponse(t, pipes[0], 2); string(out) != "x" {
		t.Fatalf("echo %q", out)
	}
	if n := waitGoroutines(before + 5); n > before+5 {
		t.Fatalf("%d goroutines after the call (%d before)", n, before)
	}
}

// A write carrying more PDUs than the work queue takes is refused whole:
// MaxQueued requests in one write are taken, one more is not, and nothing
// of the refused write is kept.
func TestWriteBoundedByQueue(t *testing.T) {
	b, pipes := budgetPipes(t, 1, 1<<20, Config{MaxQueued: 4})
	a := pipes[0]
	batch := func(first uint32, n int) []byte {
		var p []byte
		for i := 0; i < n; i++ {
			p = append(p, buildRequest(first+uint32(i), 3, 0, opEcho, echoStub([]byte("x")))...)
		}
		return p
	}
	if err := a.Write(context.Background(), batch(2, 5)); !errors.Is(err, ipc.ErrPipeBusy) {
		t.Fatalf("five requests in one write (limit 4): %v, want ErrPipeBusy", err)
	}
	if b.Used() != 0 {
		t.Fatalf("the refused write left %d bytes charged", b.Used())
	}
	write(t, a, batch(2, 4))
	for id := uint32(2); id < 6; id++ {
		if out, _ := readResponse(t, a, id); string(out) != "x" {
			t.Fatalf("call %d: %q", id, out)
		}
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes held after every response was read", b.Used())
	}
}

// Every queued call costs entryCharge besides its stub, and so does every
// queued output message besides its bytes; all of it leaves the budget
// when the pipe closes.
func TestQueueEntriesCharged(t *testing.T) {
	b, pipes := budgetPipes(t, 1, 1<<20, Config{})
	a := pipes[0]
	write(t, a, buildRequest(2, 3, 0, opBlock, nil)) // runs and waits
	waitRunning := func() {
		for i := 0; i < 1000; i++ {
			a.mu.Lock()
			r := a.running != nil
			a.mu.Unlock()
			if r {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Fatal("the blocking call never ran")
	}
	waitRunning()
	stub := echoStub([]byte("x"))
	for id := uint32(3); id < 6; id++ {
		write(t, a, buildRequest(id, 3, 0, opEcho, stub))
	}
	if want := int64(3 * (entryCharge + len(stub))); b.Used() != want {
		t.Fatalf("three queued calls hold %d bytes, want %d", b.Used(), want)
	}
	a.Close()
	<-a.done
	if b.Used() != 0 {
		t.Fatalf("%d bytes held after Close", b.Used())
	}

	// A response waiting to be read: its bytes and one entry.
	_, pipes = budgetPipes(t, 1, 1<<20, Config{})
	a = pipes[0]
	b2 := a.budget.(*budget.Budget)
	write(t, a, buildRequest(2, 3, 0, opEcho, stub))
	waitQueued(t, a, 1)
	a.mu.Lock()
	m := a.outq[0]
	a.mu.Unlock()
	if want := int64(len(m) + entryCharge); b2.Used() != want {
		t.Fatalf("a queued response holds %d bytes, want %d", b2.Used(), want)
	}
	read(t, a)
	if b2.Used() != 0 {
		t.Fatalf("%d bytes held after the response was read", b2.Used())
	}
}

// Entries are charged even past the limit; while the budget is over it,
// every write is refused whole, and taken again once bytes are released.
func TestWriteRefusedWhileOverBudget(t *testing.T) {
	b, pipes := budgetPipes(t, 1, 1000, Config{})
	a := pipes[0]
	b.Charge(1001)
	req := buildRequest(2, 3, 0, opEcho, echoStub([]byte("x")))
	if err := a.Write(context.Background(), req); !errors.Is(err, ipc.ErrPipeBusy) {
		t.Fatalf("write over the budget: %v, want ErrPipeBusy", err)
	}
	// At the limit the write is taken; its call does not fit and gets
	// the fault.
	b.Release(1)
	write(t, a, req)
	if p := read(t, a); p.Type != ptFault || faultStatus(t, p) != StatusRemoteNoMemory {
		t.Fatalf("write at the limit: type %d", p.Type)
	}
	b.Release(1000)
	write(t, a, buildRequest(3, 3, 0, opEcho, echoStub([]byte("x"))))
	if out, _ := readResponse(t, a, 3); string(out) != "x" {
		t.Fatalf("after the release: %q", out)
	}
}
