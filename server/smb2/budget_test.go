package smb2

import (
	"testing"

	"github.com/wkssvcd/wkssvcd/server/budget"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// The pipes of one connection share its budget (MaxConnBuffered), nested
// in the server's (MaxBuffered); another connection has its own.
func TestConnBudgetSharedAndNested(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnBuffered = 1000; c.MaxBuffered = 5000 })
	r, _ := setup(t, ts, smbcrypto.Dialect311, "echo")
	first := ts.pipes.lastOpen().Budget
	if st, _ := r.create("echo"); st != statusSuccess {
		t.Fatal(st)
	}
	if ts.pipes.lastOpen().Budget != first {
		t.Fatal("two pipes of one connection have different budgets")
	}
	setup(t, ts, smbcrypto.Dialect311, "echo")
	other := ts.pipes.lastOpen().Budget
	if other == first || other == nil {
		t.Fatal("two connections share a budget")
	}
	b := first.(*budget.Budget)
	if b.Limit() != 1000 || ts.srv.buffered.Limit() != 5000 {
		t.Fatalf("limits %d and %d", b.Limit(), ts.srv.buffered.Limit())
	}
	if !b.TryReserve(1000) || ts.srv.buffered.Used() != 1000 || b.TryReserve(1) {
		t.Fatal("the connection budget is not nested in the server's")
	}
	b.Release(1000)
}

// The rest of a message a short READ leaves behind is held in the
// connection's budget until it is read or the open closes.
func TestRemainderCharged(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect311, "big")
	if h, _ := r.call(cmdWrite, writeBody(id, make([]byte, 100))); h.Status != statusSuccess {
		t.Fatal(h.Status)
	}
	if h, _ := r.call(cmdRead, readBody(id, 50)); h.Status != statusBufferOverflow {
		t.Fatalf("short read: %08x", h.Status)
	}
	if n := ts.srv.buffered.Used(); n != 250 {
		t.Fatalf("remainder of 250 bytes charged as %d", n)
	}
	if h, _ := r.call(cmdRead, readBody(id, 100)); h.Status != statusBufferOverflow {
		t.Fatalf("second read: %08x", h.Status)
	}
	if n := ts.srv.buffered.Used(); n != 150 {
		t.Fatalf("remainder of 150 bytes charged as %d", n)
	}
	if h, _ := r.call(cmdClose, fileIDBody(id)); h.Status != statusSuccess {
		t.Fatal(h.Status)
	}
	if n := ts.srv.buffered.Used(); n != 0 {
		t.Fatalf("%d bytes charged after close", n)
	}
}
