package e2e

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/smbprobe"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// The limits of docs/limits.md at their boundary against the real daemon
// binary, through a raw SMB client: each flag set to a small N, N served,
// N+1 refused the way the table says, the connection or daemon serving on.

// echoChain is n compounded ECHO requests (MS-SMB2 3.2.4.1.4: each but the
// last padded to 8 bytes and pointing at the next).
func echoChain(c *smbprobe.Client, n int) []byte {
	var out []byte
	for i := 0; i < n; i++ {
		m := c.Build(smbprobe.CmdEcho, []byte{4, 0, 0, 0})
		if i < n-1 {
			m = append(m, make([]byte, (8-len(m)%8)%8)...)
			binary.LittleEndian.PutUint32(m[20:], uint32(len(m)))
		}
		out = append(out, m...)
	}
	return out
}

// responsesIn counts the compounded responses of a message.
func responsesIn(m []byte) int {
	n := 0
	for len(m) >= 64 {
		n++
		next := binary.LittleEndian.Uint32(m[20:])
		if next == 0 || int(next) > len(m) {
			break
		}
		m = m[next:]
	}
	return n
}

// stillServes checks that c answers an ECHO.
func stillServes(t *testing.T, c *smbprobe.Client, what string) {
	t.Helper()
	if h, _, err := c.Call(smbprobe.CmdEcho, []byte{4, 0, 0, 0}); err != nil || h.Status != smbprobe.StatusSuccess {
		t.Fatalf("%s: ECHO: %08x %v", what, h.Status, err)
	}
}

// --max-compound 2: a chain of two ECHOs is answered, three disconnect.
func TestLimitMaxCompoundBoundary(t *testing.T) {
	d := startDaemon(t, "--max-compound", "2")
	c := probe(t, d)
	if err := c.WriteFrame(echoChain(c, 2)); err != nil {
		t.Fatal(err)
	}
	m, err := c.ReadMessage()
	if err != nil || responsesIn(m) != 2 {
		t.Fatalf("chain of 2 (the limit): %d responses, %v", responsesIn(m), err)
	}
	if err := c.WriteFrame(echoChain(c, 3)); err != nil {
		t.Fatal(err)
	}
	if !c.Closed(5 * time.Second) {
		t.Fatal("a chain of 3 (one past the limit) did not disconnect")
	}
	stillServes(t, probe(t, d), "new connection")
}

// --max-credits 8: the NEGOTIATE grants 8 credits; MessageId 8 (the last
// of the window 1..8) is served, 9 disconnects (MS-SMB2 3.3.5.2.3).
func TestLimitMaxCreditsBoundary(t *testing.T) {
	d := startDaemon(t, "--max-credits", "8")
	for _, tc := range []struct {
		id     uint64
		served bool
	}{{8, true}, {9, false}} {
		c, err := smbprobe.Dial(d.addr, testnet.Probe())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if st, err := c.Negotiate(0x0311, 0x0002); err != nil || st != smbprobe.StatusSuccess {
			t.Fatalf("negotiate: %08x %v", st, err)
		}
		if h, err := smbprobe.ParseHeader(c.NegotiateResponse); err != nil || h.Credit != 8 {
			t.Fatalf("NEGOTIATE granted %d credits, want 8 (%v)", h.Credit, err)
		}
		c.MsgID = tc.id
		if !tc.served {
			c.WriteFrame(c.Build(smbprobe.CmdEcho, []byte{4, 0, 0, 0}))
			if !c.Closed(5 * time.Second) {
				t.Fatalf("MessageId %d (outside the window) did not disconnect", tc.id)
			}
			continue
		}
		stillServes(t, c, "MessageId 8, the last of the window")
	}
}

// --max-sessions 2: two sessions on one connection, the third
// SESSION_SETUP is refused with STATUS_INSUFFICIENT_RESOURCES; the
// connection and its sessions stay.
func TestLimitMaxSessionsBoundary(t *testing.T) {
	d := startDaemon(t, "--max-sessions", "2")
	c := probe(t, d)
	var sids []uint64
	for i := 0; i < 2; i++ {
		c.SessionID = 0
		if st, err := c.LoginAnonymous(); err != nil || st != smbprobe.StatusSuccess {
			t.Fatalf("session %d (within the limit): %08x %v", i+1, st, err)
		}
		sids = append(sids, c.SessionID)
	}
	c.SessionID = 0
	if st, _, _, err := c.SessionSetup(0, smbprobe.NTLMNegotiate()); err != nil || st != smbprobe.StatusInsufficientResources {
		t.Fatalf("third session: %08x %v, want STATUS_INSUFFICIENT_RESOURCES", st, err)
	}
	for _, sid := range sids {
		c.SessionID = sid
		if st, err := c.TreeConnect("IPC$"); err != nil || st != smbprobe.StatusSuccess {
			t.Fatalf("session %#x after the refusal: %08x %v", sid, st, err)
		}
	}
}

// --max-pending-logons 2: two unfinished security exchanges proceed, a
// third is refused with STATUS_INSUFFICIENT_RESOURCES; finishing one
// frees its slot.
func TestLimitMaxPendingLogonsBoundary(t *testing.T) {
	d := startDaemon(t, "--max-pending-logons", "2")
	c := probe(t, d)
	var pending []uint64
	for i := 0; i < 2; i++ {
		st, sid, _, err := c.SessionSetup(0, smbprobe.NTLMNegotiate())
		if err != nil || st != smbprobe.StatusMoreProcessingRequired {
			t.Fatalf("exchange %d (within the limit): %08x %v", i+1, st, err)
		}
		pending = append(pending, sid)
	}
	if st, _, _, err := c.SessionSetup(0, smbprobe.NTLMNegotiate()); err != nil || st != smbprobe.StatusInsufficientResources {
		t.Fatalf("third exchange: %08x %v, want STATUS_INSUFFICIENT_RESOURCES", st, err)
	}
	if st, _, _, err := c.SessionSetup(pending[0], smbprobe.NTLMAnonymousAuthenticate("", 0)); err != nil || st != smbprobe.StatusSuccess {
		t.Fatalf("finishing the first exchange: %08x %v", st, err)
	}
	if st, _, _, err := c.SessionSetup(0, smbprobe.NTLMNegotiate()); err != nil || st != smbprobe.StatusMoreProcessingRequired {
		t.Fatalf("an exchange after one finished: %08x %v", st, err)
	}
}

// --max-logon-token 3000: an anonymous NTLM AUTHENTICATE padded to exactly
// 3000 bytes logs on; one of 3001 bytes is refused with
// STATUS_INVALID_PARAMETER before NTLM sees it, and is not a failed logon.
func TestLimitMaxLogonTokenBoundary(t *testing.T) {
	const limit = 3000
	d := startDaemon(t, "--max-logon-token", "3000", "--auth-fail-limit", "1")
	base := len(smbprobe.NTLMAnonymousAuthenticate("", 0))
	for _, tc := range []struct {
		size int
		want uint32
	}{{limit + 1, smbprobe.StatusInvalidParameter}, {limit, smbprobe.StatusSuccess}} {
		c := probe(t, d)
		st, sid, _, err := c.SessionSetup(0, smbprobe.NTLMNegotiate())
		if err != nil || st != smbprobe.StatusMoreProcessingRequired {
			t.Fatalf("first leg: %08x %v", st, err)
		}
		tok := smbprobe.NTLMAnonymousAuthenticate("", tc.size-base)
		if len(tok) != tc.size {
			t.Fatalf("token of %d bytes, want %d", len(tok), tc.size)
		}
		if st, _, _, err := c.SessionSetup(sid, tok); err != nil || st != tc.want {
			t.Errorf("%d-byte token (limit %d): %08x %v, want %08x", tc.size, limit, st, err, tc.want)
		}
	}
	if strings.Contains(d.Output(), "session setups refused after repeated logon failures") {
		t.Error("the oversized token counted as a failed logon")
	}
}

// --max-opens 2: two pipes open, the third CREATE is refused with
// STATUS_INSUFFICIENT_RESOURCES, a CLOSE frees a slot.
func TestLimitMaxOpensBoundary(t *testing.T) {
	d := startDaemon(t, "--max-opens", "2")
	c := probe(t, d)
	anonymousIPC(t, c)
	var ids []smbprobe.FileID
	for i := 0; i < 2; i++ {
		st, id, err := c.Create("wkssvc")
		if err != nil || st != smbprobe.StatusSuccess {
			t.Fatalf("open %d (within the limit): %08x %v", i+1, st, err)
		}
		ids = append(ids, id)
	}
	if st, _, err := c.Create("wkssvc"); err != nil || st != smbprobe.StatusInsufficientResources {
		t.Fatalf("third open: %08x %v, want STATUS_INSUFFICIENT_RESOURCES", st, err)
	}
	closeBody := make([]byte, 24)
	closeBody[0] = 24
	copy(closeBody[8:], ids[0][:])
	if h, _, err := c.Call(smbprobe.CmdClose, closeBody); err != nil || h.Status != smbprobe.StatusSuccess {
		t.Fatalf("close: %08x %v", h.Status, err)
	}
	if st, _, err := c.Create("wkssvc"); err != nil || st != smbprobe.StatusSuccess {
		t.Fatalf("open after a close: %08x %v", st, err)
	}
}

// --max-pending-reads 2: two READs of empty pipes wait (STATUS_PENDING),
// the third is refused with STATUS_INSUFFICIENT_RESOURCES; the connection
// keeps serving.
func TestLimitMaxPendingReadsBoundary(t *testing.T) {
	d := startDaemon(t, "--max-pending-reads", "2")
	c := probe(t, d)
	anonymousIPC(t, c)
	var pipes []smbprobe.FileID
	for i := 0; i < 3; i++ {
		pipes = append(pipes, boundPipe(t, c))
	}
	for i, id := range pipes[:2] {
		if err := c.WriteFrame(c.Build(smbprobe.CmdRead, smbprobe.ReadBody(id, 4280))); err != nil {
			t.Fatal(err)
		}
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if h, _ := smbprobe.ParseHeader(m); h.Status != smbprobe.StatusPending {
			t.Fatalf("read %d (within the limit): %08x, want STATUS_PENDING", i+1, h.Status)
		}
	}
	if h, _, err := c.Call(smbprobe.CmdRead, smbprobe.ReadBody(pipes[2], 4280)); err != nil || h.Status != smbprobe.StatusInsufficientResources {
		t.Fatalf("third waiting read: %08x %v, want STATUS_INSUFFICIENT_RESOURCES", h.Status, err)
	}
	stillServes(t, c, "after the refused read")
}

// getInfoStub is a NetrWkstaGetInfo level 100 request stub (NDR) whose
// ServerName (ignored by the server, MS-WKST 3.2.4.1) makes it exactly
// size bytes; size must be 20 plus a multiple of 4.
func getInfoStub(size int) []byte {
	chars := (size - 20) / 2 // UTF-16 units, the terminating NUL included
	w := binary.LittleEndian
	b := w.AppendUint32(nil, 0x00020000) // unique pointer
	b = w.AppendUint32(b, uint32(chars)) // max_count
	b = w.AppendUint32(b, 0)             // offset
	b = w.AppendUint32(b, uint32(chars)) // actual_count
	for i := 0; i < chars-1; i++ {
		b = w.AppendUint16(b, 'A')
	}
	b = w.AppendUint16(b, 0)
	return w.AppendUint32(b, 100) // Level
}

// --max-rpc-request 1024: a NetrWkstaGetInfo whose stub is exactly 1024
// bytes is answered, in one fragment and in two; the same stub with one
// byte more gets the fault 0x00000005 (MS-RPCE 3.3.3.5.4), both ways, and
// the pipe serves the next call.
func TestLimitMaxRPCRequestBoundary(t *testing.T) {
	const limit = 1024
	d := startDaemon(t, "--max-rpc-request", "1024")
	c := probe(t, d)
	anonymousIPC(t, c)
	id := boundPipe(t, c)
	stub := getInfoStub(limit)
	if len(stub) != limit {
		t.Fatalf("stub of %d bytes", len(stub))
	}
	call := func(callID uint32, stub []byte, split bool) []byte {
		t.Helper()
		first, last := uint8(smbprobe.FlagFirstFrag), uint8(smbprobe.FlagLastFrag)
		if !split {
			if st, err := c.Write(id, smbprobe.Request(callID, first|last, 0, uint32(len(stub)), stub)); err != nil || st != smbprobe.StatusSuccess {
				t.Fatalf("write: %08x %v", st, err)
			}
		} else {
			h := len(stub) / 2
			if st, err := c.Write(id, smbprobe.Request(callID, first, 0, uint32(len(stub)), stub[:h])); err != nil || st != smbprobe.StatusSuccess {
				t.Fatalf("write: %08x %v", st, err)
			}
			if st, err := c.Write(id, smbprobe.Request(callID, last, 0, uint32(len(stub)-h), stub[h:])); err != nil || st != smbprobe.StatusSuccess {
				t.Fatalf("write: %08x %v", st, err)
			}
		}
		st, pdu, err := c.Read(id, 4280)
		if err != nil || st != smbprobe.StatusSuccess {
			t.Fatalf("read: %08x %v", st, err)
		}
		return pdu
	}
	callID := uint32(2)
	for _, split := range []bool{false, true} {
		if pdu := call(callID, stub, split); smbprobe.PDUType(pdu) != smbprobe.PtypeResponse {
			t.Errorf("%d-byte stub (the limit, split %v): PDU type %d, fault %#x", limit, split, smbprobe.PDUType(pdu), smbprobe.FaultStatus(pdu))
		}
		callID++
		over := append(append([]byte(nil), stub...), 0)
		if pdu := call(callID, over, split); smbprobe.PDUType(pdu) != smbprobe.PtypeFault || smbprobe.FaultStatus(pdu) != 0x00000005 {
			t.Errorf("%d-byte stub (one past the limit, split %v): PDU type %d, fault %#x, want fault 0x5", limit+1, split, smbprobe.PDUType(pdu), smbprobe.FaultStatus(pdu))
		}
		callID++
	}
	if pdu := call(callID, stub, false); smbprobe.PDUType(pdu) != smbprobe.PtypeResponse {
		t.Errorf("the pipe after the refusals: PDU type %d", smbprobe.PDUType(pdu))
	}
}

// --max-rpc-queue 2: with one response queued on a pipe a WRITE is taken,
// with two it is refused with STATUS_INSUFFICIENT_RESOURCES, and once one
// is read a WRITE is taken again.
func TestLimitMaxRPCQueueBoundary(t *testing.T) {
	d := startDaemon(t, "--max-rpc-queue", "2")
	c := probe(t, d)
	anonymousIPC(t, c)
	id := boundPipe(t, c)
	req := func(callID uint32) []byte {
		return smbprobe.Request(callID, smbprobe.FlagFirstFrag|smbprobe.FlagLastFrag, 0, 0, getInfoStub(24))
	}
	for i := uint32(0); i < 2; i++ {
		if st, err := c.Write(id, req(2+i)); err != nil || st != smbprobe.StatusSuccess {
			t.Fatalf("write with %d responses queued (limit 2): %08x %v", i, st, err)
		}
		time.Sleep(300 * time.Millisecond) // the call runs and queues its response
	}
	if st, err := c.Write(id, req(4)); err != nil || st != smbprobe.StatusInsufficientResources {
		t.Fatalf("write with 2 responses queued (limit 2): %08x %v, want STATUS_INSUFFICIENT_RESOURCES", st, err)
	}
	if st, pdu, err := c.Read(id, 4280); err != nil || st != smbprobe.StatusSuccess || smbprobe.PDUType(pdu) != smbprobe.PtypeResponse {
		t.Fatalf("reading a queued response: %08x %v", st, err)
	}
	if st, err := c.Write(id, req(5)); err != nil || st != smbprobe.StatusSuccess {
		t.Fatalf("write after reading one: %08x %v", st, err)
	}
}

// --max-conn-buffered and --max-buffered at the byte: a session with its
// tree connect (2,112 bytes), five open pipes (2,048 bytes each) and four
// unfinished 10,000-byte requests fill 52,352 bytes exactly (54,464 with
// the second connection's session); one more byte of input is refused whole with
// STATUS_INSUFFICIENT_RESOURCES and the connection keeps serving. With
// --max-buffered the bytes are split over two connections: the limit is
// shared, and both are refused the next byte.
func TestLimitBufferedBoundary(t *testing.T) {
	frag := smbprobe.Request(2, smbprobe.FlagFirstFrag, 0, 16000, make([]byte, 10000))
	fill := func(t *testing.T, c *smbprobe.Client, pipes, frags int) []smbprobe.FileID {
		t.Helper()
		var ids []smbprobe.FileID
		for i := 0; i < pipes; i++ {
			ids = append(ids, boundPipe(t, c))
		}
		for i := 0; i < frags; i++ {
			if st, err := c.Write(ids[i], frag); err != nil || st != smbprobe.StatusSuccess {
				t.Fatalf("fragment %d (within the limit): %08x %v", i+1, st, err)
			}
		}
		return ids
	}
	oneByteMore := func(t *testing.T, c *smbprobe.Client, id smbprobe.FileID, what string) {
		t.Helper()
		if st, err := c.Write(id, []byte{5}); err != nil || st != smbprobe.StatusInsufficientResources {
			t.Errorf("%s: one byte past the limit: %08x %v, want STATUS_INSUFFICIENT_RESOURCES", what, st, err)
		}
		stillServes(t, c, what)
	}
	t.Run("max-conn-buffered", func(t *testing.T) {
		d := startDaemon(t, "--max-conn-buffered", "52352", "--max-rpc-request", "16384")
		c := probe(t, d)
		anonymousIPC(t, c)
		ids := fill(t, c, 5, 4)
		oneByteMore(t, c, ids[4], "the full connection")
		getInfo(t, dialRetry(t), "client from another address")
	})
	t.Run("max-buffered", func(t *testing.T) {
		d := startDaemon(t, "--max-buffered", "54464", "--max-rpc-request", "16384")
		a := probe(t, d)
		anonymousIPC(t, a)
		aIDs := fill(t, a, 3, 3)
		b := probeFrom(t, d, testnet.Probe2())
		anonymousIPC(t, b)
		bIDs := fill(t, b, 2, 1)
		oneByteMore(t, b, bIDs[1], "the second connection")
		oneByteMore(t, a, aIDs[2], "the first connection")
	})
}

// --read-timeout 1s: the second half of a message 250 ms after the first
// is read and answered; a half left for the timeout closes the connection.
func TestLimitReadTimeoutBoundary(t *testing.T) {
	d := startDaemon(t, "--read-timeout", "1s")
	c := probe(t, d)
	msg := c.Build(smbprobe.CmdEcho, []byte{4, 0, 0, 0})
	frame := append([]byte{0, 0, 0, byte(len(msg))}, msg...)
	half := len(frame) / 2
	if err := c.WriteRaw(frame[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	if err := c.WriteRaw(frame[half:]); err != nil {
		t.Fatal(err)
	}
	if h, _, err := c.Recv(); err != nil || h.Status != smbprobe.StatusSuccess {
		t.Fatalf("a message completed within the timeout: %08x %v", h.Status, err)
	}
	msg = c.Build(smbprobe.CmdEcho, []byte{4, 0, 0, 0})
	frame = append([]byte{0, 0, 0, byte(len(msg))}, msg...)
	if err := c.WriteRaw(frame[:half]); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if !c.Closed(5 * time.Second) {
		t.Fatal("half a message left for the timeout did not close the connection")
	}
	if el := time.Since(start); el < 700*time.Millisecond {
		t.Errorf("closed after %v, before the 1s timeout", el)
	}
}

// --idle-timeout 1s, the other side of the boundary: an ECHO every 250 ms
// keeps a connection open for 3 s (TestLimitIdleTimeout shows silence
// closing it).
func TestLimitIdleTimeoutActivityKeeps(t *testing.T) {
	d := startDaemon(t, "--idle-timeout", "1s")
	c := probe(t, d)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		stillServes(t, c, "an active connection past the idle timeout")
	}
}

// --auth-fail-addrs: with limit 2, three addresses fail once each, then
// the first fails again. With room for 3 addresses its record was kept,
// so it is now blocked; with room for 2 the third address evicted it (the
// oldest unblocked record), so its count restarted and it still logs on.
func TestLimitAuthFailAddrsBoundary(t *testing.T) {
	fail := func(t *testing.T, d *daemon, from string) {
		t.Helper()
		c := probeFrom(t, d, from)
		if st, err := c.Login(adminUser, "wrong-password", false); err != nil || st != smbprobe.StatusLogonFailure {
			t.Fatalf("wrong password from %s: %08x %v", from, st, err)
		}
	}
	a, b, third := testnet.Probe(), testnet.Probe2(), testnet.Peer()
	for _, tc := range []struct {
		addrs   string
		blocked bool
	}{{"3", true}, {"2", false}} {
		t.Run("addrs="+tc.addrs, func(t *testing.T) {
			d := startDaemon(t, "--auth-fail-limit", "2", "--auth-fail-window", "1m", "--auth-fail-addrs", tc.addrs)
			fail(t, d, a)
			fail(t, d, b)
			fail(t, d, third)
			fail(t, d, a)
			st, err := probeFrom(t, d, a).Login(adminUser, adminPass, false)
			if err != nil {
				t.Fatal(err)
			}
			if blocked := st == smbprobe.StatusLogonFailure; blocked != tc.blocked {
				t.Errorf("--auth-fail-addrs %s: right password from %s after its second failure: %08x (blocked %v, want %v)",
					tc.addrs, a, st, blocked, tc.blocked)
			}
		})
	}
}

// Fixed bounds against the daemon: a session holds 64 tree connects, the
// 65th is refused with STATUS_INSUFFICIENT_RESOURCES; a transport frame of
// 65,844 bytes (the largest transfer size plus 256 bytes of header and the
// transform header) is read and answered, one byte more disconnects.
func TestLimitFixedBoundsBoundary(t *testing.T) {
	d := startDaemon(t)
	t.Run("tree connects", func(t *testing.T) {
		c := probe(t, d)
		if st, err := c.LoginAnonymous(); err != nil || st != smbprobe.StatusSuccess {
			t.Fatalf("anonymous logon: %08x %v", st, err)
		}
		for i := 1; i <= 64; i++ {
			if st, err := c.TreeConnect("IPC$"); err != nil || st != smbprobe.StatusSuccess {
				t.Fatalf("tree connect %d (within the bound): %08x %v", i, st, err)
			}
		}
		if st, err := c.TreeConnect("IPC$"); err != nil || st != smbprobe.StatusInsufficientResources {
			t.Fatalf("tree connect 65: %08x %v, want STATUS_INSUFFICIENT_RESOURCES", st, err)
		}
		stillServes(t, c, "after the refused tree connect")
	})
	t.Run("frame size", func(t *testing.T) {
		const limit = 65536 + 256 + 52
		c := probe(t, d)
		anonymousIPC(t, c)
		st, id, err := c.Create("wkssvc")
		if err != nil || st != smbprobe.StatusSuccess {
			t.Fatalf("create: %08x %v", st, err)
		}
		write := func(n int) []byte {
			body := smbprobe.WriteBody(id, make([]byte, 1024))
			return c.Build(smbprobe.CmdWrite, append(body, make([]byte, n-64-len(body))...))
		}
		if err := c.WriteFrame(write(limit)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Recv(); err != nil {
			t.Fatalf("a frame of %d bytes (the bound) was not answered: %v", limit, err)
		}
		if err := c.WriteFrame(write(limit + 1)); err != nil {
			t.Fatal(err)
		}
		if !c.Closed(5 * time.Second) {
			t.Fatalf("a frame of %d bytes (one past the bound) did not disconnect", limit+1)
		}
	})
}
