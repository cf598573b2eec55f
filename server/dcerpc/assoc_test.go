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

var (
	otherSyntax   = syntaxID{UUID: guid(0xdeadbeef, 1, 2, [8]byte{3}), Major: 1}
	featureSyntax = syntaxID{UUID: guid(0x6cb71c2c, 0x9812, 0x4540, [8]byte{3}), Major: 1}
)

func TestBindResults(t *testing.T) {
	ts := testSyntax()
	old := ts
	old.Minor = 0
	newer := ts
	newer.Minor = 9
	otherMajor := ts
	otherMajor.Major = 2
	cases := []struct {
		name string
		ctxs []contextElem
		want []contextResult
	}{
		{"ndr", []contextElem{{0, ts, []syntaxID{ndr20Syntax}}},
			[]contextResult{{resultAcceptance, 0, ndr20Syntax}}},
		{"ndr64", []contextElem{{0, ts, []syntaxID{ndr64Syntax}}},
			[]contextResult{{resultAcceptance, 0, ndr64Syntax}}},
		// MS-RPCE 3.3.1.5.6: the server's preferred syntax (NDR64) wins
		// wherever the client lists it.
		{"ndr+ndr64 in one element", []contextElem{{0, ts, []syntaxID{ndr20Syntax, ndr64Syntax}}},
			[]contextResult{{resultAcceptance, 0, ndr64Syntax}}},
		// ... and at most one syntax is accepted per interface: the
		// element proposing the other gets provider_rejection,
		// proposed_transfer_syntaxes_not_supported (what a 64-bit Windows
		// server answers Windows clients, which send them apart).
		{"separate elements", []contextElem{{0, ts, []syntaxID{ndr20Syntax}}, {1, ts, []syntaxID{ndr64Syntax}}},
			[]contextResult{{resultProviderRejection, reasonTransferSyntaxesNS, syntaxID{}}, {resultAcceptance, 0, ndr64Syntax}}},
		{"feature element", []contextElem{{0, ts, []syntaxID{ndr20Syntax}}, {1, ts, []syntaxID{ndr64Syntax}}, {2, ts, []syntaxID{featureSyntax}}},
			[]contextResult{{resultProviderRejection, reasonTransferSyntaxesNS, syntaxID{}}, {resultAcceptance, 0, ndr64Syntax}, {resultNegotiateAck, 0, syntaxID{}}}},
		{"the same syntax twice", []contextElem{{0, ts, []syntaxID{ndr20Syntax}}, {1, ts, []syntaxID{ndr20Syntax}}},
			[]contextResult{{resultAcceptance, 0, ndr20Syntax}, {resultAcceptance, 0, ndr20Syntax}}},
		{"other transfer syntax only", []contextElem{{0, ts, []syntaxID{otherSyntax}}},
			[]contextResult{{resultProviderRejection, reasonTransferSyntaxesNS, syntaxID{}}}},
		{"unknown abstract syntax", []contextElem{{0, otherSyntax, []syntaxID{ndr20Syntax}}, {1, ts, []syntaxID{ndr20Syntax}}},
			[]contextResult{{resultProviderRejection, reasonAbstractSyntaxNS, syntaxID{}}, {resultAcceptance, 0, ndr20Syntax}}},
		{"older minor accepted", []contextElem{{0, old, []syntaxID{ndr20Syntax}}},
			[]contextResult{{resultAcceptance, 0, ndr20Syntax}}},
		{"newer minor refused", []contextElem{{0, newer, []syntaxID{ndr20Syntax}}},
			[]contextResult{{resultProviderRejection, reasonAbstractSyntaxNS, syntaxID{}}}},
		{"other major refused", []contextElem{{0, otherMajor, []syntaxID{ndr20Syntax}}},
			[]contextResult{{resultProviderRejection, reasonAbstractSyntaxNS, syntaxID{}}}},
		{"no transfer syntax", []contextElem{{0, ts, nil}},
			[]contextResult{{resultProviderRejection, reasonTransferSyntaxesNS, syntaxID{}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newTestPipe(t, Config{}, nil)
			write(t, a, buildBind(ptBind, 1, 4280, 4280, c.ctxs))
			p := read(t, a)
			if p.Type != ptBindAck || p.CallID != 1 || p.Flags != pfcFirstFrag|pfcLastFrag {
				t.Fatalf("answer type %d flags %x", p.Type, p.Flags)
			}
			ack := parseBindAck(t, p)
			if len(ack.results) != len(c.want) {
				t.Fatalf("results = %+v", ack.results)
			}
			for i := range c.want {
				if ack.results[i] != c.want[i] {
					t.Errorf("result %d = %+v, want %+v", i, ack.results[i], c.want[i])
				}
			}
			if ack.secAddr != `\PIPE\test` || ack.assocGroup == 0 || ack.maxXmit != 4280 || ack.maxRecv != 4280 {
				t.Errorf("bind_ack = %+v", ack)
			}
		})
	}
}

// With NDR64 disabled the server answers as a 32-bit one: NDR only.
func TestBindNDR64Disabled(t *testing.T) {
	ts := testSyntax()
	a := newTestPipe(t, Config{DisableNDR64: true}, nil)
	write(t, a, buildBind(ptBind, 1, 4280, 4280, []contextElem{{0, ts, []syntaxID{ndr20Syntax}}, {1, ts, []syntaxID{ndr64Syntax}}, {2, ts, []syntaxID{ndr64Syntax, ndr20Syntax}}}))
	ack := parseBindAck(t, read(t, a))
	want := []contextResult{{resultAcceptance, 0, ndr20Syntax}, {resultProviderRejection, reasonTransferSyntaxesNS, syntaxID{}}, {resultAcceptance, 0, ndr20Syntax}}
	for i := range want {
		if ack.results[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, ack.results[i], want[i])
		}
	}
}

// A Windows client whose NDR context was refused in favour of NDR64 asks
// for NDR again in an alter_context (MS-RPCE <106>); it gets it, and both
// contexts then serve calls in their own syntax.
func TestAlterContextRenegotiatesNDR(t *testing.T) {
	ts := testSyntax()
	a := newTestPipe(t, Config{}, nil)
	write(t, a, buildBind(ptBind, 1, 4280, 4280, []contextElem{{0, ts, []syntaxID{ndr20Syntax}}, {1, ts, []syntaxID{ndr64Syntax}}}))
	if ack := parseBindAck(t, read(t, a)); ack.results[1].Transfer != ndr64Syntax {
		t.Fatalf("bind: %+v", ack.results)
	}
	write(t, a, buildBind(ptAlterContext, 2, 4280, 4280, []contextElem{{0, ts, []syntaxID{ndr20Syntax}}}))
	p := read(t, a)
	if p.Type != ptAlterContextResp {
		t.Fatalf("type %d", p.Type)
	}
	if ack := parseBindAck(t, p); ack.results[0] != (contextResult{resultAcceptance, 0, ndr20Syntax}) {
		t.Fatalf("alter_context: %+v", ack.results)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.contexts[1].ndr64 || a.contexts[0].ndr64 || a.contexts[0].iface == nil {
		t.Fatalf("contexts %+v", a.contexts)
	}
}

// Calls on an NDR64 context are answered; MS-RPCE 2.2.5 makes NDR64
// little-endian only, so a big-endian one is a protocol error.
func TestNDR64Calls(t *testing.T) {
	ts := testSyntax()
	a := newTestPipe(t, Config{}, nil)
	write(t, a, buildBind(ptBind, 1, 4280, 4280, []contextElem{{0, ts, []syntaxID{ndr64Syntax}}}))
	if ack := parseBindAck(t, read(t, a)); ack.results[0].Transfer != ndr64Syntax {
		t.Fatalf("bind: %+v", ack.results)
	}
	write(t, a, buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("ndr64"))))
	p := read(t, a)
	if p.Type != ptResponse {
		t.Fatalf("type %d, fault 0x%08x", p.Type, faultStatus(t, p))
	}
	if !bytes.HasSuffix(p.body, []byte("ndr64")) {
		t.Fatalf("response %x", p.body)
	}
	write(t, a, bigEndian(buildRequest(3, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub([]byte("x")))))
	if p := read(t, a); p.Type != ptFault || faultStatus(t, p) != StatusProtocolError {
		t.Fatalf("big-endian NDR64: type %d", p.Type)
	}
}

func TestBindFragmentSizes(t *testing.T) {
	cases := []struct {
		xmit, recv uint16
		cfg        int
		want       uint16 // 0: bind_nak
	}{
		{4280, 4280, 0, 4280},
		{4096, 4096, 0, 4096}, // go-msrpc
		{5840, 5840, 0, 4280},
		{5840, 2000, 0, 2000},
		{65535, 65535, 8192, 8192},
		{4283, 4283, 0, 4280},
		{1000, 4280, 0, 0},
	}
	for _, c := range cases {
		a := newTestPipe(t, Config{MaxFragment: c.cfg}, nil)
		write(t, a, buildBind(ptBind, 1, c.xmit, c.recv, []contextElem{{0, testSyntax(), []syntaxID{ndr20Syntax}}}))
		p := read(t, a)
		if c.want == 0 {
			if p.Type != ptBindNak {
				t.Errorf("%d/%d: type %d, want bind_nak", c.xmit, c.recv, p.Type)
			}
			continue
		}
		ack := parseBindAck(t, p)
		if ack.maxXmit != c.want || ack.maxRecv != c.want {
			t.Errorf("%d/%d: negotiated %d/%d, want %d", c.xmit, c.recv, ack.maxXmit, ack.maxRecv, c.want)
		}
	}
}

func TestBindAssocGroupEcho(t *testing.T) {
	a := newTestPipe(t, Config{}, nil)
	b := ndrBind(1)
	binary.LittleEndian.PutUint32(b[20:], 0x55)
	write(t, a, b)
	if ack := parseBindAck(t, read(t, a)); ack.assocGroup != 0x55 {
		t.Fatalf("assoc_group_id = %x", ack.assocGroup)
	}
}

func TestBindWithAuthRefused(t *testing.T) {
	a := newTestPipe(t, Config{}, nil)
	b := ndrBind(1)
	b = append(b, 10, 2, 0, 0, 1, 0, 0, 0) // sec_trailer: NTLM, connect level
	b = append(b, []byte("NTLMSSP\x00")...)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(b)))
	binary.LittleEndian.PutUint16(b[10:], 8)
	write(t, a, b)
	p := read(t, a)
	if p.Type != ptBindNak || binary.LittleEndian.Uint16(p.body) != nakAuthTypeNotRecognized {
		t.Fatalf("answer type %d body %x", p.Type, p.body)
	}
	// The association stays usable for a bind without auth.
	write(t, a, ndrBind(2))
	if p := read(t, a); p.Type != ptBindAck {
		t.Fatalf("second bind answered with %d", p.Type)
	}
}

func TestSecondBindIsFatal(t *testing.T) {
	a := bound(t, Config{}, nil)
	if err := a.Write(context.Background(), ndrBind(2)); !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("second bind: %v", err)
	}
	if p := read(t, a); p.Type != ptBindNak {
		t.Fatalf("second bind answered with %d", p.Type)
	}
	if _, err := a.ReadMessage(context.Background()); !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("after the nak: %v", err)
	}
	if err := a.Write(context.Background(), ndrBind(3)); !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("write after failure: %v", err)
	}
}

func TestAlterContext(t *testing.T) {
	a := bound(t, Config{}, nil)
	write(t, a, buildRequest(2, 3, 1, opEcho, echoStub([]byte("x"))))
	if st := faultStatus(t, read(t, a)); st != StatusUnknownIf {
		t.Fatalf("context 1 before alter_context: 0x%x", st)
	}
	write(t, a, buildBind(ptAlterContext, 3, 4280, 4280, []contextElem{{1, testSyntax(), []syntaxID{ndr20Syntax}}}))
	p := read(t, a)
	if p.Type != ptAlterContextResp {
		t.Fatalf("alter_context answered with %d", p.Type)
	}
	ack := parseBindAck(t, p)
	if ack.secAddr != "" || len(ack.results) != 1 || ack.results[0].Result != resultAcceptance || ack.maxXmit != 4280 {
		t.Fatalf("alter_context_resp = %+v", ack)
	}
	write(t, a, buildRequest(4, 3, 1, opEcho, echoStub([]byte("x"))))
	if out, _ := readResponse(t, a, 4); string(out) != "x" {
		t.Fatalf("echo on context 1 = %q", out)
	}
}

func TestAlterContextBeforeBind(t *testing.T) {
	a := newTestPipe(t, Config{}, nil)
	err := a.Write(context.Background(), buildBind(ptAlterContext, 1, 4280, 4280, nil))
	if !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("alter_context before bind: %v", err)
	}
	if st := faultStatus(t, read(t, a)); st != StatusProtocolError {
		t.Fatalf("status 0x%x", st)
	}
}

func TestRequestResponseAndIdentity(t *testing.T) {
	a := bound(t, Config{}, nil)
	write(t, a, buildRequest(2, 3, 0, opIdentity, nil))
	out, frags := readResponse(t, a, 2)
	if string(out) != "bob|ncacn_np" || frags != 1 {
		t.Fatalf("identity = %q in %d fragments", out, frags)
	}
}

func TestMultiFragmentRequestAndResponse(t *testing.T) {
	a := bound(t, Config{}, nil)
	payload := make([]byte, 10000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	stub := echoStub(payload)
	// Three fragments, written in odd pieces to exercise partial-PDU
	// buffering.
	var stream []byte
	stream = append(stream, buildRequest(2, pfcFirstFrag, 0, opEcho, stub[:4000])...)
	stream = append(stream, buildRequest(2, 0, 0, opEcho, stub[4000:8000])...)
	stream = append(stream, buildRequest(2, pfcLastFrag, 0, opEcho, stub[8000:])...)
	for len(stream) > 0 {
		n := min(777, len(stream))
		write(t, a, stream[:n])
		stream = stream[n:]
	}
	out, frags := readResponse(t, a, 2)
	if !bytes.Equal(out, payload) {
		t.Fatalf("echo mismatch: %d bytes", len(out))
	}
	// 10000 bytes in 4256-byte fragments (4280 - 24).
	if frags != 3 {
		t.Fatalf("response in %d fragments", frags)
	}
}

func TestResponseFragmentsWithSmallFrag(t *testing.T) {
	a := newTestPipe(t, Config{}, nil)
	write(t, a, buildBind(ptBind, 1, 2048, 2048, []contextElem{{0, testSyntax(), []syntaxID{ndr20Syntax}}}))
	read(t, a)
	write(t, a, buildRequest(2, 3, 0, opFillOutput, binary.LittleEndian.AppendUint32(nil, 5000)))
	var total int
	for frag := 0; ; frag++ {
		p := read(t, a)
		if len(p.body)+headerLen > 2048 {
			t.Fatalf("fragment of %d bytes exceeds 2048", len(p.body)+headerLen)
		}
		hint := int(binary.LittleEndian.Uint32(p.body))
		if hint != 5000-total {
			t.Fatalf("fragment %d alloc_hint %d, want %d", frag, hint, 5000-total)
		}
		total += len(p.body) - 8
		if p.Flags&pfcLastFrag != 0 {
			break
		}
	}
	if total != 5000 {
		t.Fatalf("total %d", total)
	}
}

func TestEmptyResponse(t *testing.T) {
	a := bound(t, Config{}, nil)
	write(t, a, buildRequest(2, 3, 0, opEcho, echoStub(nil)))
	out, frags := readResponse(t, a, 2)
	if len(out) != 0 || frags != 1 {
		t.Fatalf("empty echo = %d bytes in %d fragments", len(out), frags)
	}
}

func TestReassemblyCap(t *testing.T) {
	a := bound(t, Config{MaxReassembly: 100}, nil)
	write(t, a, buildRequest(2, pfcFirstFrag, 0, opEcho, make([]byte, 60)))
	write(t, a, buildRequest(2, 0, 0, opEcho, make([]byte, 60)))
	// The fault comes at once, before the last fragment (MS-RPCE 3.3.3.5.8).
	p := read(t, a)
	if p.CallID != 2 || faultStatus(t, p) != StatusInputTooLarge {
		t.Fatalf("over-size request: call %d", p.CallID)
	}
	// The rest of the call is dropped; the next call works.
	write(t, a, buildRequest(2, pfcLastFrag, 0, opEcho, make([]byte, 10)))
	write(t, a, buildRequest(3, 3, 0, opEcho, echoStub([]byte("ok"))))
	if out, _ := readResponse(t, a, 3); string(out) != "ok" {
		t.Fatalf("after cap: %q", out)
	}
	// A single over-size fragment.
	write(t, a, buildRequest(4, 3, 0, opEcho, make([]byte, 101)))
	if p := read(t, a); faultStatus(t, p) != StatusInputTooLarge {
		t.Fatal("single over-size fragment")
	}
}

func TestFaults(t *testing.T) {
	a := bound(t, Config{}, nil)
	cases := []struct {
		name   string
		ctxID  uint16
		opnum  uint16
		stub   []byte
		status uint32
		dne    bool
	}{
		{"opnum not used on the wire", 0, opNil, nil, StatusOpRangeError, true},
		{"unknown opnum", 0, 200, nil, StatusOpRangeError, true},
		{"not implemented", 0, opNotImpl, nil, StatusOpRangeError, true},
		{"unknown context", 9, opEcho, nil, StatusUnknownIf, true},
		{"bad stub", 0, opEcho, []byte{1, 2}, StatusBadStubData, true},
		{"panic", 0, opPanic, nil, StatusFaultUnspec, false},
		{"handler error", 0, opFail, nil, StatusFaultUnspec, false},
	}
	for i, c := range cases {
		id := uint32(10 + i)
		write(t, a, buildRequest(id, 3, c.ctxID, c.opnum, c.stub))
		p := read(t, a)
		if p.CallID != id {
			t.Fatalf("%s: call_id %d", c.name, p.CallID)
		}
		if st := faultStatus(t, p); st != c.status {
			t.Errorf("%s: status 0x%08x, want 0x%08x", c.name, st, c.status)
		}
		if (p.Flags&pfcDidNotExecute != 0) != c.dne {
			t.Errorf("%s: flags 0x%x", c.name, p.Flags)
		}
	}
	// The association survives all of them.
	write(t, a, buildRequest(100, 3, 0, opEcho, echoStub([]byte("alive"))))
	if out, _ := readResponse(t, a, 100); string(out) != "alive" {
		t.Fatalf("after faults: %q", out)
	}
}

func TestRequestBeforeBind(t *testing.T) {
	a := newTestPipe(t, Config{}, nil)
	write(t, a, buildRequest(1, 3, 0, opEcho, echoStub(nil)))
	if st := faultStatus(t, read(t, a)); st != StatusUnknownIf {
		t.Fatalf("status 0x%x", st)
	}
}

func TestCallIDOrder(t *testing.T) {
	a := bound(t, Config{}, nil)
	write(t, a, buildRequest(5, 3, 0, opEcho, echoStub([]byte("a"))))
	readResponse(t, a, 5)
	write(t, a, buildRequest(3, 3, 0, opEcho, echoStub([]byte("b"))))
	p := read(t, a)
	if p.CallID != 3 || faultStatus(t, p) != StatusProtocolError {
		t.Fatalf("out-of-order call_id answered for %d", p.CallID)
	}
	write(t, a, buildRequest(5, 3, 0, opEcho, echoStub([]byte("c"))))
	if st := faultStatus(t, read(t, a)); st != StatusProtocolError {
		t.Fatalf("repeated call_id: 0x%x", st)
	}
	// A late continuation of an old call is dropped silently
	// (MS-RPCE 3.3.3.5.6); a far older one is a protocol error.
	write(t, a, buildRequest(4, pfcLastFrag, 0, opEcho, []byte{1}))
	write(t, a, buildRequest(6, 3, 0, opEcho, echoStub([]byte("d"))))
	if out, _ := readResponse(t, a, 6); string(out) != "d" {
		t.Fatalf("after late fragment: %q", out)
	}
}

func TestInterleavedFragments(t *testing.T) {
	a := bound(t, Config{}, nil)
	stub := echoStub([]byte("abcdef"))
	write(t, a, buildRequest(2, pfcFirstFrag, 0, opEcho, stub[:4]))
	// A new first fragment before the last one: the old call fails.
	write(t, a, buildRequest(3, 3, 0, opEcho, stub))
	p := read(t, a)
	if p.CallID != 2 || faultStatus(t, p) != StatusProtocolError {
		t.Fatalf("abandoned call %d", p.CallID)
	}
	if out, _ := readResponse(t, a, 3); string(out) != "abcdef" {
		t.Fatalf("new call: %q", out)
	}
	// A continuation of another call while one is being reassembled.
	write(t, a, buildRequest(4, pfcFirstFrag, 0, opEcho, stub[:4]))
	write(t, a, buildRequest(9, pfcLastFrag, 0, opEcho, stub[4:]))
	if p := read(t, a); p.CallID != 4 || faultStatus(t, p) != StatusProtocolError {
		t.Fatalf("interleaved continuation answered for %d", p.CallID)
	}
}

func TestRequestWithAuthVerifier(t *testing.T) {
	a := bound(t, Config{}, nil)
	b := buildRequest(2, 3, 0, opEcho, echoStub(nil))
	b = append(b, 10, 6, 0, 0, 0, 0, 0, 0)
	b = append(b, make([]byte, 16)...)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(b)))
	binary.LittleEndian.PutUint16(b[10:], 16)
	write(t, a, b)
	if st := faultStatus(t, read(t, a)); st != StatusProtocolError {
		t.Fatalf("status 0x%x", st)
	}
}

func TestGarbage(t *testing.T) {
	cases := map[string][]byte{
		"version":      {4, 0, ptBind, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0},
		"short frag":   {5, 0, 0, 3, 0x10, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0},
		"zero frag":    make([]byte, 32),
		"response pdu": buildSimple(ptResponse, 1),
		"bind_ack pdu": buildSimple(ptBindAck, 1),
		"text":         []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	}
	for name, g := range cases {
		t.Run(name, func(t *testing.T) {
			a := newTestPipe(t, Config{}, nil)
			err := a.Write(context.Background(), g)
			if !errors.Is(err, ipc.ErrPipeClosed) {
				t.Fatalf("Write: %v", err)
			}
			// Whatever was answered, the pipe then reports closed.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for {
				m, err := a.ReadMessage(ctx)
				if errors.Is(err, ipc.ErrPipeClosed) {
					break
				}
				if err != nil {
					t.Fatalf("ReadMessage: %v", err)
				}
				if _, err := parsePDU(m); err != nil {
					t.Fatalf("answer does not parse: %v", err)
				}
			}
		})
	}
}

func TestTruncatedPDUWaits(t *testing.T) {
	a := bound(t, Config{}, nil)
	b := buildRequest(2, 3, 0, opEcho, echoStub([]byte("hi")))
	write(t, a, b[:10])
	write(t, a, b[10:20])
	write(t, a, b[20:])
	if out, _ := readResponse(t, a, 2); string(out) != "hi" {
		t.Fatalf("echo %q", out)
	}
	// A partial PDU left at Close is discarded without an answer.
	write(t, a, b[:5])
	a.Close()
	if _, err := a.ReadMessage(context.Background()); !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestCloseWhileCallInFlight(t *testing.T) {
	h := &handlerHooks{blockStarted: make(chan struct{}, 1), blockEnded: make(chan error, 1)}
	a := bound(t, Config{}, h)
	write(t, a, buildRequest(2, 3, 0, opBlock, nil))
	<-h.blockStarted
	readDone := make(chan error, 1)
	go func() {
		_, err := a.ReadMessage(context.Background())
		readDone <- err
	}()
	a.Close()
	if err := <-h.blockEnded; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler context: %v", err)
	}
	if err := <-readDone; !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("pending ReadMessage: %v", err)
	}
	<-a.done // the worker goroutine ends
	if err := a.Write(context.Background(), []byte{5}); !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

func TestCoCancel(t *testing.T) {
	h := &handlerHooks{blockStarted: make(chan struct{}, 1), blockEnded: make(chan error, 1)}
	a := bound(t, Config{}, h)
	write(t, a, buildRequest(2, 3, 0, opBlock, nil))
	<-h.blockStarted
	write(t, a, buildSimple(ptCoCancel, 2))
	<-h.blockEnded
	if st := faultStatus(t, read(t, a)); st != StatusFaultCancel {
		t.Fatalf("cancelled call: 0x%x", st)
	}
}

func TestOrphaned(t *testing.T) {
	h := &handlerHooks{blockStarted: make(chan struct{}, 1), blockEnded: make(chan error, 1)}
	a := bound(t, Config{}, h)
	write(t, a, buildRequest(2, 3, 0, opBlock, nil))
	<-h.blockStarted
	write(t, a, buildSimple(ptOrphaned, 2))
	<-h.blockEnded
	// No answer for the orphaned call: the next answer is call 3's.
	write(t, a, buildRequest(3, 3, 0, opEcho, echoStub([]byte("next"))))
	if out, _ := readResponse(t, a, 3); string(out) != "next" {
		t.Fatalf("after orphaned: %q", out)
	}
	// Orphaning a call still being reassembled drops it.
	write(t, a, buildRequest(4, pfcFirstFrag, 0, opEcho, []byte{1, 0, 0, 0}))
	write(t, a, buildSimple(ptOrphaned, 4))
	write(t, a, buildRequest(4, pfcLastFrag, 0, opEcho, []byte{7}))
	write(t, a, buildRequest(5, 3, 0, opEcho, echoStub([]byte("z"))))
	if out, _ := readResponse(t, a, 5); string(out) != "z" {
		t.Fatalf("after orphaned reassembly: %q", out)
	}
	// Auth3 and co_cancel for unknown calls are ignored.
	write(t, a, buildSimple(ptAuth3, 6))
	write(t, a, buildSimple(ptCoCancel, 77))
	write(t, a, buildRequest(6, 3, 0, opEcho, echoStub([]byte("y"))))
	if out, _ := readResponse(t, a, 6); string(out) != "y" {
		t.Fatalf("after auth3: %q", out)
	}
}

func TestPipeBusy(t *testing.T) {
	a := bound(t, Config{MaxQueued: 2}, nil)
	var busy bool
	for id := uint32(2); id < 50; id++ {
		err := a.Write(context.Background(), buildRequest(id, 3, 0, opFillOutput, binary.LittleEndian.AppendUint32(nil, 20000)))
		if errors.Is(err, ipc.ErrPipeBusy) {
			busy = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !busy {
		t.Fatal("Write never reported ErrPipeBusy")
	}
	// Draining the output lets the queued calls complete.
	readResponse(t, a, 2)
}

func TestOpenPipeAndHasPipe(t *testing.T) {
	s := NewServer(Config{Logger: quiet()})
	s.Register(`\PIPE\Test`, testInterface(nil))
	if !s.HasPipe("test") || !s.HasPipe(`PIPE\TEST`) || s.HasPipe("other") {
		t.Fatal("HasPipe")
	}
	if _, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "other"}); !errors.Is(err, ipc.ErrNoSuchPipe) {
		t.Fatalf("unknown pipe: %v", err)
	}
	p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: `\pipe\test`})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.ReadMessage(ctx); !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("ReadMessage after Close: %v", err)
	}
}

func TestReadMessageContext(t *testing.T) {
	a := newTestPipe(t, Config{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.ReadMessage(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadMessage: %v", err)
	}
}
