package dcerpc

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/midl/uuid"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// The test interface and its opnums.
var testUUID = uuid.UUID{TimeLow: 0x12345678, TimeMid: 0x1234, TimeHiAndVersion: 0xabcd,
	ClockSeqHiAndReserved: 0xef, ClockSeqLow: 0x00, Node: [6]byte{1, 2, 3, 4, 5, 6}}

const (
	opEcho       = 0 // request: uint32 n, n bytes; response: the n bytes
	opPanic      = 1
	opBlock      = 2 // waits for its context to end
	opNotImpl    = 3 // returns msrpc.ErrNotImplemented
	opNil        = 4 // returns nil, nil like an opnum not used on the wire
	opIdentity   = 5 // response: the caller's user name bytes
	opFail       = 6 // returns an operation and an error
	opFillOutput = 7 // request: uint32 n; response: n bytes of 0xAB
)

// testOp is an operation whose response is raw bytes.
type testOp struct{ out []byte }

func (o *testOp) OpNum() int                                            { return 0 }
func (o *testOp) OpName() string                                        { return "test" }
func (o *testOp) MarshalNDRRequest(context.Context, ndr.Writer) error   { return nil }
func (o *testOp) UnmarshalNDRRequest(context.Context, ndr.Reader) error { return nil }
func (o *testOp) UnmarshalNDRResponse(context.Context, ndr.Reader) error {
	return nil
}
func (o *testOp) MarshalNDRResponse(_ context.Context, w ndr.Writer) error {
	for _, b := range o.out {
		if err := w.WriteData(b); err != nil {
			return err
		}
	}
	return nil
}

// blockStarted, when set by a test, receives a value as opBlock starts.
type handlerHooks struct {
	blockStarted chan struct{}
	blockEnded   chan error
}

func testHandle(h *handlerHooks) msrpc.ServerHandle {
	return func(ctx context.Context, opnum int, r ndr.Reader) (msrpc.Operation, error) {
		switch opnum {
		case opEcho:
			var n uint32
			if err := r.ReadData(&n); err != nil {
				return nil, err
			}
			if uint64(n) > 8<<20 {
				return nil, errors.New("echo: too long")
			}
			out := make([]byte, 0, n)
			for i := uint32(0); i < n; i++ {
				var b uint8
				if err := r.ReadData(&b); err != nil {
					return nil, err
				}
				out = append(out, b)
			}
			return &testOp{out: out}, nil
		case opPanic:
			panic("handler failure")
		case opBlock:
			if h != nil && h.blockStarted != nil {
				h.blockStarted <- struct{}{}
			}
			<-ctx.Done()
			if h != nil && h.blockEnded != nil {
				h.blockEnded <- ctx.Err()
			}
			return &testOp{}, ctx.Err()
		case opNotImpl:
			return &testOp{}, msrpc.ErrNotImplemented
		case opNil:
			return nil, nil
		case opIdentity:
			info, ok := ipc.FromContext(ctx)
			if !ok {
				return &testOp{out: []byte("?")}, nil
			}
			return &testOp{out: []byte(info.Identity.User + "|" + ProtocolSequence(ctx))}, nil
		case opFail:
			return &testOp{}, errors.New("backend down")
		case opFillOutput:
			var n uint32
			if err := r.ReadData(&n); err != nil {
				return nil, err
			}
			if n > 1<<20 {
				n = 1 << 20
			}
			out := make([]byte, n)
			for i := range out {
				out[i] = 0xAB
			}
			return &testOp{out: out}, nil
		}
		return nil, nil
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testInterface(h *handlerHooks) Interface {
	return Interface{Name: "test", UUID: testUUID, VersionMajor: 1, VersionMinor: 2, Handle: testHandle(h)}
}

func newTestPipe(t testing.TB, cfg Config, h *handlerHooks) *assoc {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	s := NewServer(cfg)
	s.Register("test", testInterface(h))
	p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test", Identity: ipc.Identity{User: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	a := p.(*assoc)
	t.Cleanup(func() {
		a.Close()
		<-a.done
	})
	return a
}

func testSyntax() syntaxID {
	i := testInterface(nil)
	return i.syntax()
}

// Client-side PDU builders (little-endian).

func buildBind(ptype uint8, callID uint32, xmit, recv uint16, ctxs []contextElem) []byte {
	w := &writer{}
	w.start(ptype, pfcFirstFrag|pfcLastFrag, callID)
	w.u16(xmit)
	w.u16(recv)
	w.u32(0)
	w.u8(uint8(len(ctxs)))
	w.u8(0)
	w.u16(0)
	for _, c := range ctxs {
		w.u16(c.ID)
		w.u8(uint8(len(c.Transfers)))
		w.u8(0)
		w.syntax(c.Abstract)
		for _, t := range c.Transfers {
			w.syntax(t)
		}
	}
	return w.finish()
}

func ndrBind(callID uint32) []byte {
	return buildBind(ptBind, callID, 4280, 4280, []contextElem{{ID: 0, Abstract: testSyntax(), Transfers: []syntaxID{ndr20Syntax}}})
}

func buildRequest(callID uint32, flags uint8, ctxID, opnum uint16, stub []byte) []byte {
	w := &writer{}
	w.start(ptRequest, flags, callID)
	w.u32(uint32(len(stub)))
	w.u16(ctxID)
	w.u16(opnum)
	w.b = append(w.b, stub...)
	return w.finish()
}

func echoStub(payload []byte) []byte {
	s := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
	return append(s, payload...)
}

func buildSimple(ptype uint8, callID uint32) []byte {
	w := &writer{}
	w.start(ptype, pfcFirstFrag|pfcLastFrag, callID)
	return w.finish()
}

// read returns the next message, failing the test if none arrives (a
// hang guard, not a timing assertion).
func read(t testing.TB, a *assoc) *pdu {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := a.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	p, err := parsePDU(m)
	if err != nil {
		t.Fatalf("server sent a malformed PDU: %v", err)
	}
	return p
}

func write(t testing.TB, a *assoc, b []byte) {
	t.Helper()
	if err := a.Write(context.Background(), b); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// bindAck is a parsed bind_ack / alter_context_resp.
type bindAck struct {
	maxXmit, maxRecv uint16
	assocGroup       uint32
	secAddr          string
	results          []contextResult
}

func parseBindAck(t testing.TB, p *pdu) bindAck {
	t.Helper()
	r := &reader{b: p.body, o: binary.LittleEndian}
	var a bindAck
	a.maxXmit, a.maxRecv, a.assocGroup = r.u16(), r.u16(), r.u32()
	n := int(r.u16())
	if n > 0 {
		s := r.take(n)
		if s != nil {
			a.secAddr = string(s[:len(s)-1])
		}
	}
	// Align to 4 relative to the PDU start.
	for (headerLen+r.off)%4 != 0 {
		r.take(1)
	}
	cnt := int(r.u8())
	r.take(3)
	for i := 0; i < cnt; i++ {
		var c contextResult
		c.Result, c.Reason = r.u16(), r.u16()
		c.Transfer = r.syntax()
		a.results = append(a.results, c)
	}
	if r.err != nil {
		t.Fatalf("bind_ack does not parse: %x", p.body)
	}
	return a
}

func faultStatus(t testing.TB, p *pdu) uint32 {
	t.Helper()
	if p.Type != ptFault {
		t.Fatalf("got PDU type %d, want fault", p.Type)
	}
	if len(p.body) != faultLen-headerLen {
		t.Fatalf("fault body is %d bytes", len(p.body))
	}
	return binary.LittleEndian.Uint32(p.body[8:])
}

func bound(t testing.TB, cfg Config, h *handlerHooks) *assoc {
	t.Helper()
	a := newTestPipe(t, cfg, h)
	write(t, a, ndrBind(1))
	if p := read(t, a); p.Type != ptBindAck {
		t.Fatalf("bind answered with type %d", p.Type)
	}
	return a
}

// readResponse reassembles a response and checks fragment flags and
// alloc_hint on the way.
func readResponse(t testing.TB, a *assoc, callID uint32) ([]byte, int) {
	t.Helper()
	var stub []byte
	frags := 0
	for {
		p := read(t, a)
		if p.Type != ptResponse {
			if p.Type == ptFault {
				t.Fatalf("call %d: fault 0x%08x", callID, faultStatus(t, p))
			}
			t.Fatalf("call %d: PDU type %d", callID, p.Type)
		}
		if p.CallID != callID {
			t.Fatalf("response call_id %d, want %d", p.CallID, callID)
		}
		if (p.Flags&pfcFirstFrag != 0) != (frags == 0) {
			t.Fatalf("fragment %d has flags 0x%x", frags, p.Flags)
		}
		hint := binary.LittleEndian.Uint32(p.body[0:])
		part := p.body[8:]
		frags++
		stub = append(stub, part...)
		if p.Flags&pfcLastFrag != 0 {
			if int(hint) != len(part) {
				t.Fatalf("last fragment alloc_hint %d, carries %d", hint, len(part))
			}
			return stub, frags
		}
		if int(hint) <= len(part) {
			t.Fatalf("non-last fragment alloc_hint %d, carries %d", hint, len(part))
		}
	}
}
