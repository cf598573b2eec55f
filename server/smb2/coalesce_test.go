package smb2

import (
	"fmt"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/smbraw"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
	"github.com/wkssvcd/wkssvcd/wkssvc"
)

// sendTogether sends msgs (built by r) in one write to the socket, each in
// its own transport message, sealed first when r encrypts.
func (r *rawClient) sendTogether(msgs ...[]byte) {
	r.t.Helper()
	var b []byte
	for _, m := range msgs {
		if r.Encrypt {
			var err error
			if m, err = r.Seal(m); err != nil {
				r.t.Fatal(err)
			}
		}
		b = append(b, 0, byte(len(m)>>16), byte(len(m)>>8), byte(len(m)))
		b = append(b, m...)
	}
	if err := r.WriteRaw(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// recvMsg returns the next response message, decrypted when sealed, and
// checks its signature when the session signs.
func (r *rawClient) recvMsg() (header, []byte) {
	r.t.Helper()
	m, err := r.ReadMessage()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	h, err := parseHeader(m)
	if err != nil {
		r.t.Fatalf("response header: %v", err)
	}
	if !r.Encrypt && h.Flags&flagAsyncCommand == 0 && h.NextCommand == 0 && !smbcrypto.Verify(r.SignAlg, r.SignKey, m) {
		r.t.Fatalf("response %d (%d) not signed", h.MessageID, h.Command)
	}
	return h, m
}

// setupEnc is setup with an encrypting session when sealed.
func setupEnc(t *testing.T, ts *testServer, pipe string, sealed bool) (*rawClient, fileID) {
	t.Helper()
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect311)
	if st, err := r.Login(testUser, testPassword, sealed); err != nil || st != statusSuccess {
		t.Fatalf("login: %08x %v", st, err)
	}
	if st, err := r.TreeConnect("IPC$"); err != nil || st != statusSuccess {
		t.Fatalf("tree connect: %08x %v", st, err)
	}
	st, id, err := r.Create(pipe)
	if err != nil || st != statusSuccess {
		t.Fatalf("create: %08x %v", st, err)
	}
	return r, getFileID(id[:])
}

// Requests that arrive together are read with one read and answered with
// one write, each response its own transport message (signed or sealed on
// its own), correct and in order: a pipe WRITE and its READ, two
// TRANSCEIVEs, and (as before) a compounded WRITE and READ.
func TestPipelinedAnsweredInOneWrite(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		name := "signed"
		if sealed {
			name = "sealed"
		}
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, nil)
			r, id := setupEnc(t, ts, "tryecho", sealed)
			// exchange sends msgs together, expects one response each, in
			// order, from one server read and one server write, and
			// returns them.
			exchange := func(what string, frames int, msgs ...[]byte) [][]byte {
				t.Helper()
				time.Sleep(10 * time.Millisecond) // the server waits for input
				w0, r0, x0 := ts.tap.writes.Load(), ts.tap.reads.Load(), ts.tap.serverTransforms.Load()
				r.sendTogether(msgs...)
				var got [][]byte
				for i := range frames {
					h, m := r.recvMsg()
					if h.Status != statusSuccess || h.Flags&flagAsyncCommand != 0 {
						t.Fatalf("%s: response %d: status %08x flags %x", what, i, h.Status, h.Flags)
					}
					got = append(got, m)
				}
				if n := ts.tap.writes.Load() - w0; n != 1 {
					t.Errorf("%s: answered with %d writes, want 1", what, n)
				}
				if n := ts.tap.reads.Load() - r0; n != 1 {
					t.Errorf("%s: read with %d reads, want 1", what, n)
				}
				if n := ts.tap.serverTransforms.Load() - x0; sealed && n != int64(frames) {
					t.Errorf("%s: %d encrypted messages, want %d", what, n, frames)
				}
				return got
			}
			for i := range 3 {
				data := []byte(fmt.Sprintf("call %d", i))
				w := r.build(cmdWrite, writeBody(id, data))
				rd := r.build(cmdRead, readBody(id, 100))
				got := exchange("WRITE+READ", 2, w, rd)
				hw, _ := parseHeader(got[0])
				hr, _ := parseHeader(got[1])
				if hw.Command != cmdWrite || hw.MessageID != le.Uint64(w[24:]) || hr.Command != cmdRead || hr.MessageID != le.Uint64(rd[24:]) {
					t.Fatalf("WRITE+READ: responses %d/%d, %d/%d", hw.Command, hw.MessageID, hr.Command, hr.MessageID)
				}
				if d := readData(got[1]); string(d) != "echo:"+string(data) {
					t.Fatalf("READ data %q", d)
				}
			}
			t1 := r.build(cmdIoctl, ioctlBody(fsctlPipeTransceive, id, []byte("one"), 100))
			t2 := r.build(cmdIoctl, ioctlBody(fsctlPipeTransceive, id, []byte("two"), 100))
			got := exchange("TRANSCEIVE pair", 2, t1, t2)
			for i, want := range []string{"echo:one", "echo:two"} {
				h, _ := parseHeader(got[i])
				if h.Command != cmdIoctl || string(ioctlOutput(got[i])) != want {
					t.Fatalf("TRANSCEIVE %d: command %d output %q", i, h.Command, ioctlOutput(got[i]))
				}
			}
			// A compound: one message in, one out.
			ones := fileID{^uint64(0), ^uint64(0)}
			w := r.build(cmdWrite, writeBody(id, []byte("chained")))
			for len(w)%8 != 0 {
				w = append(w, 0)
			}
			le.PutUint32(w[20:], uint32(len(w)))
			rd := r.build(cmdRead, readBody(ones, 100))
			rd[16] |= byte(flagRelated)
			if !sealed {
				smbcrypto.Sign(r.SignAlg, r.SignKey, w)
				smbcrypto.Sign(r.SignAlg, r.SignKey, rd)
			}
			got = exchange("compound", 1, append(w, rd...))
			msgs, err := splitCompound(got[0], 4)
			if err != nil || len(msgs) != 2 || string(readData(msgs[1])) != "echo:chained" {
				t.Fatalf("compound: %d responses, %v", len(msgs), err)
			}
			for i, m := range msgs {
				if !sealed && !smbcrypto.Verify(r.SignAlg, r.SignKey, m) {
					t.Fatalf("compound: response %d not signed", i)
				}
			}
		})
	}
}

// A request with nothing complete behind it is answered at once: alone,
// followed by half a message, by a keep-alive, or by a CANCEL (which has
// no response).
func TestLoneRequestAnsweredAtOnce(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect311, "tryecho")
	r.Timeout = 2 * time.Second // a response held back fails the read
	frame := func(m []byte) []byte {
		return append([]byte{0, byte(len(m) >> 16), byte(len(m) >> 8), byte(len(m))}, m...)
	}
	echo := []byte{4, 0, 0, 0}
	check := func(what string, cmd uint16) {
		t.Helper()
		h, _ := r.recvMsg()
		if h.Command != cmd || h.Status != statusSuccess {
			t.Fatalf("%s: response %d %08x", what, h.Command, h.Status)
		}
	}
	r.sendTogether(r.build(cmdEcho, echo))
	check("alone", cmdEcho)

	// Half of the next message: the first response must not wait for the
	// rest.
	rd := frame(r.build(cmdRead, readBody(id, 100)))
	b := append(frame(r.build(cmdWrite, writeBody(id, []byte("x")))), rd[:20]...)
	if err := r.WriteRaw(b); err != nil {
		t.Fatal(err)
	}
	check("before half a message", cmdWrite)
	if err := r.WriteRaw(rd[20:]); err != nil {
		t.Fatal(err)
	}
	check("completed message", cmdRead)

	// A keep-alive is a whole message without a response.
	if err := r.WriteRaw(append(frame(r.build(cmdEcho, echo)), 0x85, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	check("before a keep-alive", cmdEcho)

	// So is a CANCEL (of nothing).
	r.sendTogether(r.build(cmdEcho, echo), r.Cancel(0, 999, true))
	check("before a CANCEL", cmdEcho)
}

// A client pipelining many requests gets every response, in order, and
// the server never holds more than coalesceFrames of them, nor more than
// one pooled buffer's worth, before writing.
func TestPipelinedFloodBounded(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect311, "tryecho")
	ts.tap.recordSizes.Store(true)
	const n = 200
	var msgs [][]byte
	for range n / 2 {
		msgs = append(msgs, r.build(cmdEcho, []byte{4, 0, 0, 0}))
	}
	for i := range n / 4 {
		msgs = append(msgs, r.build(cmdWrite, writeBody(id, []byte(fmt.Sprint(i)))), r.build(cmdRead, readBody(id, 100)))
	}
	before := len(ts.tap.serverWrites())
	r.sendTogether(msgs...)
	for i, m := range msgs {
		h, resp := r.recvMsg()
		if h.Status != statusSuccess || h.MessageID != le.Uint64(m[24:]) {
			t.Fatalf("response %d: MessageId %d status %08x, want %d", i, h.MessageID, h.Status, le.Uint64(m[24:]))
		}
		if h.Command == cmdRead {
			if d := string(readData(resp)); d != fmt.Sprintf("echo:%d", (i-n/2)/2) {
				t.Fatalf("response %d: %q", i, d)
			}
		}
	}
	writes := ts.tap.serverWrites()[before:]
	frames, most := 0, 0
	for _, w := range writes {
		if w.frames > coalesceFrames {
			t.Errorf("a write of %d bytes carries %d responses, more than %d", w.bytes, w.frames, coalesceFrames)
		}
		if w.bytes > pooledFrame {
			t.Errorf("a write of %d bytes, more than the queue's %d", w.bytes, pooledFrame)
		}
		frames += w.frames
		most = max(most, w.frames)
	}
	if frames != n {
		t.Errorf("%d responses written, want %d", frames, n)
	}
	if most < 2 {
		t.Errorf("%d responses in %d writes: nothing coalesced", n, len(writes))
	}
	t.Logf("%d responses in %d writes, at most %d in one", n, len(writes), most)
}

// A READ that goes async while more requests are buffered: its interim
// response is queued with what follows, and its final response still
// comes after the interim one.
func TestPipelinedAsyncOrder(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect311, "slow")
	w := r.build(cmdWrite, writeBody(id, []byte("later")))
	rd := r.build(cmdRead, readBody(id, 100))
	e := r.build(cmdEcho, []byte{4, 0, 0, 0})
	r.sendTogether(w, rd, e)
	var order []string
	for len(order) < 4 {
		h, m := r.recvMsg()
		switch {
		case h.Command == cmdWrite && h.Status == statusSuccess:
			order = append(order, "write")
		case h.Command == cmdRead && h.Status == statusPending:
			order = append(order, "interim")
		case h.Command == cmdRead && h.Status == statusSuccess && string(readData(m)) == "echo:later":
			order = append(order, "read")
		case h.Command == cmdEcho && h.Status == statusSuccess:
			order = append(order, "echo")
		default:
			t.Fatalf("unexpected response %d %08x", h.Command, h.Status)
		}
	}
	if fmt.Sprint(order) != "[write interim echo read]" {
		t.Fatalf("order %v", order)
	}
}

// With the RPC runtime and wkssvc behind the pipe, as the daemon composes
// them: NetrWkstaGetInfo level 100 runs on the connection's goroutine when
// its WRITE (or TRANSCEIVE) arrives, so a pipelined WRITE and READ, and two
// pipelined TRANSCEIVEs, are each answered with one write.
func TestPipelinedRPCCallsOneWrite(t *testing.T) {
	rpc := dcerpc.NewServer(dcerpc.Config{})
	rpc.Register("wkssvc", wkssvc.Interfaces(wkssvc.New(wkssvc.Config{Names: ipc.StaticNames{NetBIOS: "TESTSRV"}}))...)
	ts := startServer(t, func(c *Config) { c.Pipes = rpc })
	r, id := setup(t, ts, smbcrypto.Dialect311, "wkssvc")
	if h, _ := r.call(cmdWrite, writeBody(id, smbraw.Bind(1, smbraw.WkssvcSyntax))); h.Status != statusSuccess {
		t.Fatalf("bind write %08x", h.Status)
	}
	if h, resp := r.call(cmdRead, readBody(id, 4280)); h.Status != statusSuccess || smbraw.PDUType(readData(resp)) != smbraw.PtypeBindAck {
		t.Fatalf("bind %08x", h.Status)
	}
	// NetrWkstaGetInfo (opnum 0): no server name, level 100.
	getInfo := func(callID uint32) []byte {
		return smbraw.Request(callID, smbraw.FlagFirstFrag|smbraw.FlagLastFrag, 0, 8, []byte{0, 0, 0, 0, 100, 0, 0, 0})
	}
	checkPDU := func(what string, pdu []byte, callID uint32) {
		t.Helper()
		if smbraw.PDUType(pdu) != smbraw.PtypeResponse || le.Uint32(pdu[12:]) != callID {
			t.Fatalf("%s: PDU type %d call %d, want a response to call %d", what, smbraw.PDUType(pdu), le.Uint32(pdu[12:]), callID)
		}
		if rc := le.Uint32(pdu[len(pdu)-4:]); rc != 0 {
			t.Fatalf("%s: return code %d", what, rc)
		}
	}
	pipelined := func(what string, msgs ...[]byte) [][]byte {
		t.Helper()
		time.Sleep(10 * time.Millisecond)
		w0 := ts.tap.writes.Load()
		r.sendTogether(msgs...)
		var got [][]byte
		for range msgs {
			h, m := r.recvMsg()
			if h.Status != statusSuccess || h.Flags&flagAsyncCommand != 0 {
				t.Fatalf("%s: %d %08x flags %x", what, h.Command, h.Status, h.Flags)
			}
			got = append(got, m)
		}
		if n := ts.tap.writes.Load() - w0; n != 1 {
			t.Errorf("%s: answered with %d writes, want 1", what, n)
		}
		return got
	}
	got := pipelined("WRITE+READ", r.build(cmdWrite, writeBody(id, getInfo(2))), r.build(cmdRead, readBody(id, 4280)))
	checkPDU("WRITE+READ", readData(got[1]), 2)
	got = pipelined("TRANSCEIVE pair",
		r.build(cmdIoctl, ioctlBody(fsctlPipeTransceive, id, getInfo(3), 4280)),
		r.build(cmdIoctl, ioctlBody(fsctlPipeTransceive, id, getInfo(4), 4280)))
	checkPDU("TRANSCEIVE 1", ioctlOutput(got[0]), 3)
	checkPDU("TRANSCEIVE 2", ioctlOutput(got[1]), 4)
}
