package smb2

import (
	"testing"

	"github.com/wkssvcd/wkssvcd/server/budget"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// The pipes of one connection share its budget (MaxConnBuffered), nested
// in the server's (MaxBuffered); another connection has its own.
func TestConnBudgetSharedAndNested(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnBuffered = 10000; c.MaxBuffered = 50000 })
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
	if b.Limit() != 10000 || ts.srv.buffered.Limit() != 50000 {
		t.Fatalf("limits %d and %d", b.Limit(), ts.srv.buffered.Limit())
	}
	// Each open pipe holds openCharge: two here, one on the other
	// connection.
	if b.Used() != 2*openCharge || ts.srv.buffered.Used() != 3*openCharge {
		t.Fatalf("used %d of the connection's, %d of the server's", b.Used(), ts.srv.buffered.Used())
	}
	if !b.TryReserve(10000-2*openCharge) || ts.srv.buffered.Used() != 10000+openCharge || b.TryReserve(1) {
		t.Fatal("the connection budget is not nested in the server's")
	}
	b.Release(10000 - 2*openCharge)
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
	if n := ts.srv.buffered.Used(); n != 250+openCharge {
		t.Fatalf("remainder of 250 bytes charged as %d", n)
	}
	if h, _ := r.call(cmdRead, readBody(id, 100)); h.Status != statusBufferOverflow {
		t.Fatalf("second read: %08x", h.Status)
	}
	if n := ts.srv.buffered.Used(); n != 150+openCharge {
		t.Fatalf("remainder of 150 bytes charged as %d", n)
	}
	if h, _ := r.call(cmdClose, fileIDBody(id)); h.Status != statusSuccess {
		t.Fatal(h.Status)
	}
	if n := ts.srv.buffered.Used(); n != 0 {
		t.Fatalf("%d bytes charged after close", n)
	}
}

// An open pipe holds openCharge of its connection's budget until it is
// closed: at the limit a CREATE succeeds, one past it fails with
// STATUS_INSUFFICIENT_RESOURCES, and a CLOSE gives the room back.
func TestOpenCharged(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnBuffered = 3 * openCharge })
	r, first := setup(t, ts, smbcrypto.Dialect311, "echo")
	for i := 0; i < 2; i++ {
		if st, _ := r.create("echo"); st != statusSuccess {
			t.Fatalf("open %d at the limit: %08x", i+2, st)
		}
	}
	if st, _ := r.create("echo"); st != statusInsufficientResources {
		t.Fatalf("open past the limit: %08x", st)
	}
	if h, _ := r.call(cmdClose, fileIDBody(first)); h.Status != statusSuccess {
		t.Fatal(h.Status)
	}
	if st, _ := r.create("echo"); st != statusSuccess {
		t.Fatalf("open after a close: %08x", st)
	}
	r.Conn.Close()
	waitFor(t, func() bool { return ts.srv.buffered.Used() == 0 })
}

// A READ that waits for pipe data holds pendingReadCharge of the
// connection's budget until it completes: one that does not fit is
// refused with STATUS_INSUFFICIENT_RESOURCES, and a completed one gives
// its room back.
func TestPendingReadCharged(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnBuffered = openCharge + pendingReadCharge })
	r, id := setup(t, ts, smbcrypto.Dialect311, "silent")
	r.writeFrame(r.build(cmdRead, readBody(id, 100)))
	b, _ := r.readFrame()
	interim, _ := parseHeader(b)
	if interim.Status != statusPending {
		t.Fatalf("read at the limit: %08x", interim.Status)
	}
	if used := ts.srv.buffered.Used(); used != openCharge+pendingReadCharge {
		t.Fatalf("an open and a pending read hold %d bytes, want %d", used, openCharge+pendingReadCharge)
	}
	if h, _ := r.call(cmdRead, readBody(id, 100)); h.Status != statusInsufficientResources {
		t.Fatalf("read past the limit: %08x", h.Status)
	}
	if h, _ := r.call(cmdClose, fileIDBody(id)); h.Status != statusSuccess {
		t.Fatalf("close: %08x", h.Status)
	}
	waitFor(t, func() bool { return ts.srv.buffered.Used() == 0 })
}
