package dcerpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestParseHeaderAndBody(t *testing.T) {
	b := buildRequest(7, pfcFirstFrag|pfcLastFrag, 3, 9, []byte{1, 2, 3})
	p, err := parsePDU(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != ptRequest || p.CallID != 7 || int(p.FragLength) != len(b) || p.hasAuth {
		t.Fatalf("header = %+v", p.header)
	}
	q, err := parseRequest(p)
	if err != nil {
		t.Fatal(err)
	}
	if q.ContextID != 3 || q.Opnum != 9 || q.AllocHint != 3 || !bytes.Equal(q.Stub, []byte{1, 2, 3}) {
		t.Fatalf("request = %+v", q)
	}
}

func TestParseRequestObjectUUID(t *testing.T) {
	w := &writer{}
	w.start(ptRequest, pfcFirstFrag|pfcLastFrag|pfcObjectUUID, 1)
	w.u32(0)
	w.u16(0)
	w.u16(2)
	w.b = append(w.b, bytes.Repeat([]byte{0xEE}, 16)...)
	w.b = append(w.b, 0x42)
	p, err := parsePDU(w.finish())
	if err != nil {
		t.Fatal(err)
	}
	q, err := parseRequest(p)
	if err != nil {
		t.Fatal(err)
	}
	if q.Object[0] != 0xEE || !bytes.Equal(q.Stub, []byte{0x42}) {
		t.Fatalf("request = %+v", q)
	}
	// Object UUID flag without the UUID bytes.
	w = &writer{}
	w.start(ptRequest, pfcFirstFrag|pfcLastFrag|pfcObjectUUID, 1)
	w.u32(0)
	w.u32(0)
	p, _ = parsePDU(w.finish())
	if _, err := parseRequest(p); !errors.Is(err, errMalformed) {
		t.Fatalf("short object UUID: %v", err)
	}
}

func TestParseBigEndianHeader(t *testing.T) {
	b := buildSimple(ptCoCancel, 0x01020304)
	// Re-encode the header big-endian.
	b[4] = 0x00
	binary.BigEndian.PutUint16(b[8:], uint16(len(b)))
	binary.BigEndian.PutUint32(b[12:], 0x01020304)
	if n, ok := peekFragLength(b); !ok || n != len(b) {
		t.Fatalf("peekFragLength = %d %v", n, ok)
	}
	p, err := parsePDU(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.CallID != 0x01020304 {
		t.Fatalf("call_id = %x", p.CallID)
	}
}

func TestParseMalformed(t *testing.T) {
	good := buildRequest(1, 3, 0, 0, []byte{1, 2, 3, 4})
	cases := map[string][]byte{
		"short":        good[:10],
		"length":       good[:len(good)-1],
		"version":      append([]byte{4}, good[1:]...),
		"minor":        append([]byte{5, 9}, good[2:]...),
		"auth too big": func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint16(b[10:], 200); return b }(),
	}
	for name, b := range cases {
		if _, err := parsePDU(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A request body shorter than its fixed part.
	w := &writer{}
	w.start(ptRequest, 3, 1)
	w.u16(0)
	p, err := parsePDU(w.finish())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseRequest(p); !errors.Is(err, errMalformed) {
		t.Errorf("short request: %v", err)
	}
}

func TestParseAuthVerifier(t *testing.T) {
	w := &writer{}
	w.start(ptBind, 3, 1)
	w.b = append(w.b, make([]byte, 12)...)              // body
	w.b = append(w.b, 10, 2, 0, 0, 0, 0, 0, 0)          // sec_trailer: NTLM
	w.b = append(w.b, []byte("NTLMSSP\x00\x01\x00")...) // token
	b := w.finish()
	binary.LittleEndian.PutUint16(b[10:], 10)
	p, err := parsePDU(b)
	if err != nil {
		t.Fatal(err)
	}
	if !p.hasAuth || p.authType != 10 || len(p.body) != 12 {
		t.Fatalf("auth = %v %d body %d", p.hasAuth, p.authType, len(p.body))
	}
}

func TestBindRoundTrip(t *testing.T) {
	ctxs := []contextElem{
		{ID: 0, Abstract: testSyntax(), Transfers: []syntaxID{ndr20Syntax, ndr64Syntax}},
		{ID: 1, Abstract: testSyntax(), Transfers: []syntaxID{{UUID: guid(0x6cb71c2c, 0x9812, 0x4540, [8]byte{3}), Major: 1}}},
	}
	p, err := parsePDU(buildBind(ptBind, 2, 4280, 5840, ctxs))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseBind(p)
	if err != nil {
		t.Fatal(err)
	}
	if b.MaxXmitFrag != 4280 || b.MaxRecvFrag != 5840 || len(b.Contexts) != 2 {
		t.Fatalf("bind = %+v", b)
	}
	if b.Contexts[0].Transfers[1] != ndr64Syntax || !b.Contexts[1].Transfers[0].isBindFeature() {
		t.Fatalf("contexts = %+v", b.Contexts)
	}
	// Truncated in the transfer syntaxes.
	raw := buildBind(ptBind, 2, 4280, 4280, ctxs)
	raw = raw[:len(raw)-5]
	binary.LittleEndian.PutUint16(raw[8:], uint16(len(raw)))
	p, _ = parsePDU(raw)
	if _, err := parseBind(p); !errors.Is(err, errMalformed) {
		t.Fatalf("truncated bind: %v", err)
	}
}

func TestSyntaxString(t *testing.T) {
	if s := ndr20Syntax.String(); s != "8a885d04-1ceb-11c9-9fe8-08002b104860 v2.0" {
		t.Fatalf("NDR syntax = %s", s)
	}
}

func TestEncodeBindAckLayout(t *testing.T) {
	b := encodeBindAck(ptBindAck, 1, 4280, 0x1234, `\PIPE\wkssvc`, []contextResult{{Result: resultAcceptance, Transfer: ndr20Syntax}})
	p, err := parsePDU(b)
	if err != nil {
		t.Fatal(err)
	}
	a := parseBindAck(t, p)
	if a.maxXmit != 4280 || a.maxRecv != 4280 || a.assocGroup != 0x1234 || a.secAddr != `\PIPE\wkssvc` {
		t.Fatalf("bind_ack = %+v", a)
	}
	if len(a.results) != 1 || a.results[0].Transfer != ndr20Syntax {
		t.Fatalf("results = %+v", a.results)
	}
	// sec_addr "\PIPE\wkssvc\0" is 13 bytes at offset 26; the result list
	// starts 4-aligned at 40.
	if b[40] != 1 {
		t.Fatalf("result count at offset 40 = %d", b[40])
	}
	// alter_context_resp: empty sec_addr, result list at 28.
	b = encodeBindAck(ptAlterContextResp, 1, 4280, 1, "", nil)
	if len(b) != 32 || b[28] != 0 {
		t.Fatalf("alter_context_resp = %x", b)
	}
}

func TestEncodeBindNakAndFault(t *testing.T) {
	b := encodeBindNak(3, nakAuthTypeNotRecognized)
	p, err := parsePDU(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != ptBindNak || binary.LittleEndian.Uint16(p.body) != 8 || p.body[2] != 1 || p.body[3] != 5 {
		t.Fatalf("bind_nak = %x", b)
	}
	f := encodeFault(9, pfcDidNotExecute, 4, StatusUnknownIf)
	p, err = parsePDU(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != faultLen || faultStatus(t, p) != StatusUnknownIf || p.Flags != pfcFirstFrag|pfcLastFrag|pfcDidNotExecute ||
		binary.LittleEndian.Uint16(p.body[4:]) != 4 {
		t.Fatalf("fault = %x", f)
	}
}

func TestEncodeResponse(t *testing.T) {
	b := encodeResponse(5, pfcFirstFrag, 100, 2, []byte{9, 9})
	p, err := parsePDU(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != ptResponse || p.Flags != pfcFirstFrag || binary.LittleEndian.Uint32(p.body) != 100 ||
		binary.LittleEndian.Uint16(p.body[4:]) != 2 || !bytes.Equal(p.body[8:], []byte{9, 9}) {
		t.Fatalf("response = %x", b)
	}
}
