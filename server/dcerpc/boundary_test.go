package dcerpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// TestReassemblyCapBoundary: with MaxReassembly = 100, a request whose stub
// is exactly 100 bytes is served, whether it comes in one fragment or in
// two; one byte more is refused with a fault (MS-RPCE 3.3.3.5.4), in one
// fragment or in two, and the association keeps serving.
func TestReassemblyCapBoundary(t *testing.T) {
	a := bound(t, Config{MaxReassembly: 100}, nil)
	payload := bytes.Repeat([]byte{0x5A}, 96)
	stub := echoStub(payload) // 4 + 96 = 100 bytes: at the cap
	if len(stub) != 100 {
		t.Fatalf("stub %d bytes", len(stub))
	}
	echoed := func(callID uint32) {
		t.Helper()
		out, _ := readResponse(t, a, callID)
		if !bytes.Equal(out, payload) {
			t.Fatalf("call %d at the cap: got %d bytes, want the 96-byte payload", callID, len(out))
		}
	}
	refused := func(callID uint32) {
		t.Helper()
		p := read(t, a)
		if p.CallID != callID || faultStatus(t, p) != StatusInputTooLarge {
			t.Fatalf("call %d over the cap: type %d call %d", callID, p.Type, p.CallID)
		}
	}
	// One fragment of 100 bytes, then of 101.
	write(t, a, buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, opEcho, stub))
	echoed(2)
	write(t, a, buildRequest(3, pfcFirstFrag|pfcLastFrag, 0, opEcho, append(append([]byte(nil), stub...), 0)))
	refused(3)
	// Two fragments adding up to 100, then to 101.
	write(t, a, buildRequest(4, pfcFirstFrag, 0, opEcho, stub[:60]))
	write(t, a, buildRequest(4, pfcLastFrag, 0, opEcho, stub[60:]))
	echoed(4)
	write(t, a, buildRequest(5, pfcFirstFrag, 0, opEcho, stub[:60]))
	write(t, a, buildRequest(5, 0, 0, opEcho, append(append([]byte(nil), stub[60:]...), 0)))
	refused(5)
	write(t, a, buildRequest(5, pfcLastFrag, 0, opEcho, []byte{0}))
	// The association still serves at the cap.
	write(t, a, buildRequest(6, pfcFirstFrag|pfcLastFrag, 0, opEcho, stub))
	echoed(6)
}

// TestPresentationContextBoundary: one interface on the pipe allows 4000
// presentation contexts per association. 4000, set up by a bind and
// alter_contexts, are all accepted and usable; one more is refused with a
// fault, and the association keeps serving the contexts it has.
func TestPresentationContextBoundary(t *testing.T) {
	a := newTestPipe(t, Config{}, nil)
	const batch = 80 // 80 context elements keep a PDU under the smallest fragment size
	elems := func(from, n int) []contextElem {
		out := make([]contextElem, n)
		for i := range out {
			out[i] = contextElem{ID: uint16(from + i), Abstract: testSyntax(), Transfers: []syntaxID{ndr20Syntax}}
		}
		return out
	}
	callID := uint32(1)
	for from := 0; from < maxContextsPerInterface; from += batch {
		ptype, want := uint8(ptAlterContext), uint8(ptAlterContextResp)
		if from == 0 {
			ptype, want = ptBind, ptBindAck
		}
		write(t, a, buildBind(ptype, callID, 4280, 4280, elems(from, batch)))
		if p := read(t, a); p.Type != want {
			t.Fatalf("contexts %d..%d: PDU type %d, want %d", from, from+batch-1, p.Type, want)
		}
		callID++
	}
	// The 4001st context.
	write(t, a, buildBind(ptAlterContext, callID, 4280, 4280, elems(maxContextsPerInterface, 1)))
	if p := read(t, a); p.Type != ptFault {
		t.Fatalf("context %d: PDU type %d, want a fault", maxContextsPerInterface+1, p.Type)
	}
	// The first and the 4000th still work.
	for _, ctx := range []uint16{0, maxContextsPerInterface - 1} {
		callID++
		write(t, a, buildRequest(callID, pfcFirstFrag|pfcLastFrag, ctx, opEcho, echoStub([]byte("ok"))))
		if out, _ := readResponse(t, a, callID); string(out) != "ok" {
			t.Fatalf("context %d after the refusal: %q", ctx, out)
		}
	}
}

// TestMaxQueuedBoundary: with MaxQueued = 2, a WRITE is taken while one
// response waits to be read, refused with ipc.ErrPipeBusy once two wait,
// and taken again as soon as one is read.
func TestMaxQueuedBoundary(t *testing.T) {
	a := bound(t, Config{MaxQueued: 2}, nil)
	small := func(id uint32) []byte {
		return buildRequest(id, pfcFirstFrag|pfcLastFrag, 0, opFillOutput, binary.LittleEndian.AppendUint32(nil, 10))
	}
	waitQueued := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			a.mu.Lock()
			q := len(a.outq)
			a.mu.Unlock()
			if q == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d responses queued, want %d", q, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := a.Write(context.Background(), small(2)); err != nil {
		t.Fatal(err)
	}
	waitQueued(1)
	if err := a.Write(context.Background(), small(3)); err != nil {
		t.Fatalf("write with one response queued (limit 2): %v", err)
	}
	waitQueued(2)
	if err := a.Write(context.Background(), small(4)); !errors.Is(err, ipc.ErrPipeBusy) {
		t.Fatalf("write with two responses queued (limit 2): %v, want ErrPipeBusy", err)
	}
	read(t, a)
	if err := a.Write(context.Background(), small(4)); err != nil {
		t.Fatalf("write after reading one: %v", err)
	}
}

// TestFragmentSizeBoundary: fragment sizes at the edges of 1432..65535
// (MS-RPCE 3.3.3.5.1: a client must accept at least 1432 bytes). A client
// offering exactly 1432 is bound at 1432, one byte less gets bind_nak; a
// configured MaxFragment below 1432 or above 65535 is clamped to it
// (rounded down to a multiple of 8).
func TestFragmentSizeBoundary(t *testing.T) {
	for _, c := range []struct {
		xmit, recv uint16
		cfg        int
		want       uint16 // 0: bind_nak
	}{
		{1432, 1432, 0, 1432},
		{1431, 4280, 0, 0},
		{4280, 1431, 0, 0},
		{4280, 4280, 1431, 1432},
		{65535, 65535, 65535, 65528},
		{65535, 65535, 65536, 65528},
	} {
		a := newTestPipe(t, Config{MaxFragment: c.cfg}, nil)
		write(t, a, buildBind(ptBind, 1, c.xmit, c.recv, []contextElem{{0, testSyntax(), []syntaxID{ndr20Syntax}}}))
		p := read(t, a)
		if c.want == 0 {
			if p.Type != ptBindNak {
				t.Errorf("client %d/%d: type %d, want bind_nak", c.xmit, c.recv, p.Type)
			}
			continue
		}
		if p.Type != ptBindAck {
			t.Errorf("client %d/%d, MaxFragment %d: type %d, want bind_ack", c.xmit, c.recv, c.cfg, p.Type)
			continue
		}
		if ack := parseBindAck(t, p); ack.maxXmit != c.want || ack.maxRecv != c.want {
			t.Errorf("client %d/%d, MaxFragment %d: negotiated %d/%d, want %d", c.xmit, c.recv, c.cfg, ack.maxXmit, ack.maxRecv, c.want)
		}
	}
}
