package smb2

import (
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/smbraw"
	"github.com/wkssvcd/wkssvcd/server/budget"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// logonCharge is what setup's session and tree connect hold.
const logonCharge = sessionCharge + treeCharge

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
	// connection; each connection's session and tree connect logonCharge.
	if b.Used() != logonCharge+2*openCharge || ts.srv.buffered.Used() != 2*logonCharge+3*openCharge {
		t.Fatalf("used %d of the connection's, %d of the server's", b.Used(), ts.srv.buffered.Used())
	}
	rest := 10000 - logonCharge - 2*openCharge
	if !b.TryReserve(rest) || ts.srv.buffered.Used() != 10000+logonCharge+openCharge || b.TryReserve(1) {
		t.Fatal("the connection budget is not nested in the server's")
	}
	b.Release(rest)
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
	if n := ts.srv.buffered.Used(); n != 250+openCharge+logonCharge {
		t.Fatalf("remainder of 250 bytes charged as %d", n)
	}
	if h, _ := r.call(cmdRead, readBody(id, 100)); h.Status != statusBufferOverflow {
		t.Fatalf("second read: %08x", h.Status)
	}
	if n := ts.srv.buffered.Used(); n != 150+openCharge+logonCharge {
		t.Fatalf("remainder of 150 bytes charged as %d", n)
	}
	if h, _ := r.call(cmdClose, fileIDBody(id)); h.Status != statusSuccess {
		t.Fatal(h.Status)
	}
	if n := ts.srv.buffered.Used(); n != logonCharge {
		t.Fatalf("%d bytes charged after close", n)
	}
}

// An open pipe holds openCharge of its connection's budget until it is
// closed: at the limit a CREATE succeeds, one past it fails with
// STATUS_INSUFFICIENT_RESOURCES, and a CLOSE gives the room back.
func TestOpenCharged(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnBuffered = logonCharge + 3*openCharge })
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
	ts := startServer(t, func(c *Config) { c.MaxConnBuffered = logonCharge + openCharge + pendingReadCharge })
	r, id := setup(t, ts, smbcrypto.Dialect311, "silent")
	r.writeFrame(r.build(cmdRead, readBody(id, 100)))
	b, _ := r.readFrame()
	interim, _ := parseHeader(b)
	if interim.Status != statusPending {
		t.Fatalf("read at the limit: %08x", interim.Status)
	}
	if used := ts.srv.buffered.Used(); used != logonCharge+openCharge+pendingReadCharge {
		t.Fatalf("a session, a tree, an open and a pending read hold %d bytes, want %d", used, logonCharge+openCharge+pendingReadCharge)
	}
	if h, _ := r.call(cmdRead, readBody(id, 100)); h.Status != statusInsufficientResources {
		t.Fatalf("read past the limit: %08x", h.Status)
	}
	// The CLOSE ends the pending READ: the READ's completion
	// (STATUS_CANCELLED) and the CLOSE's answer come in either order.
	r.writeFrame(r.build(cmdClose, fileIDBody(id)))
	for {
		h, _ := r.recv()
		if h.Command == cmdRead {
			continue
		}
		if h.Command != cmdClose || h.Status != statusSuccess {
			t.Fatalf("close: command %d, %08x", h.Command, h.Status)
		}
		break
	}
	waitFor(t, func() bool { return ts.srv.buffered.Used() == logonCharge })
}

// Sessions and tree connects hold sessionCharge and treeCharge of the
// connection's budget: at the limit they are made, one past it they are
// refused with STATUS_INSUFFICIENT_RESOURCES, and LOGOFF, TREE_DISCONNECT
// and the end of the connection give the room back.
func TestSessionsAndTreesCharged(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnBuffered = 2*sessionCharge + treeCharge })
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect311)
	used := func(want int64) {
		t.Helper()
		if n := ts.srv.buffered.Used(); n != want {
			t.Fatalf("budget holds %d bytes, want %d", n, want)
		}
	}
	if st, err := r.LoginAnonymous(); err != nil || st != statusSuccess {
		t.Fatalf("first session: %08x %v", st, err)
	}
	first := r.SessionID
	if st := r.treeConnect("IPC$"); st != statusSuccess {
		t.Fatalf("tree connect: %08x", st)
	}
	r.SessionID = 0
	if st, err := r.LoginAnonymous(); err != nil || st != statusSuccess {
		t.Fatalf("second session, at the limit: %08x %v", st, err)
	}
	used(2*sessionCharge + treeCharge)
	if st := r.treeConnect("IPC$"); st != statusInsufficientResources {
		t.Fatalf("tree connect past the limit: %08x", st)
	}
	second := r.SessionID
	r.SessionID = 0
	if st, _, _, err := r.SessionSetup(0, smbraw.NTLMNegotiate()); err != nil || st != statusInsufficientResources {
		t.Fatalf("third session past the limit: %08x %v", st, err)
	}
	r.SessionID = second
	if h, _ := r.call(cmdLogoff, []byte{4, 0, 0, 0}); h.Status != statusSuccess {
		t.Fatalf("logoff: %08x", h.Status)
	}
	used(sessionCharge + treeCharge)
	r.SessionID = first
	if st := r.treeConnect("IPC$"); st != statusSuccess {
		t.Fatalf("tree connect after the logoff: %08x", st)
	}
	used(sessionCharge + 2*treeCharge)
	if h, _ := r.call(cmdTreeDisconnect, []byte{4, 0, 0, 0}); h.Status != statusSuccess {
		t.Fatalf("tree disconnect: %08x", h.Status)
	}
	used(sessionCharge + treeCharge)
	r.Conn.Close()
	waitFor(t, func() bool { return ts.srv.buffered.Used() == 0 })
}
