package smb2

import (
	"bytes"
	"testing"
)

func msgWith(cmd uint16, body []byte) []byte {
	h := header{Command: cmd, MessageID: 7, SessionID: 9, TreeID: 3, Credit: 1}
	m := make([]byte, headerSize+len(body))
	h.put(m)
	copy(m[headerSize:], body)
	return m
}

func TestHeaderRoundTrip(t *testing.T) {
	h := header{CreditCharge: 2, Status: statusPending, Command: cmdRead, Credit: 5,
		Flags: flagServerToRedir | flagSigned, NextCommand: 128, MessageID: 1 << 40, TreeID: 77, SessionID: 1<<63 | 5}
	copy(h.Signature[:], "0123456789abcdef")
	b := make([]byte, headerSize)
	h.put(b)
	g, err := parseHeader(b)
	if err != nil || g != h {
		t.Fatalf("%+v %v", g, err)
	}
	h.Flags |= flagAsyncCommand
	h.TreeID, h.AsyncID = 0, 0x1122334455667788
	h.put(b)
	if g, _ = parseHeader(b); g != h {
		t.Fatalf("async %+v", g)
	}
	for _, bad := range [][]byte{b[:63], append([]byte{0xFD}, b[1:]...)} {
		if _, err := parseHeader(bad); err == nil {
			t.Fatal("accepted bad header")
		}
	}
	b[4] = 63
	if _, err := parseHeader(b); err == nil {
		t.Fatal("accepted StructureSize 63")
	}
}

func TestSplitCompound(t *testing.T) {
	a := msgWith(cmdEcho, []byte{4, 0, 0, 0, 0, 0, 0, 0})
	le.PutUint32(a[20:], uint32(len(a)))
	b := msgWith(cmdEcho, []byte{4, 0, 0, 0})
	msgs, err := splitCompound(append(append([]byte(nil), a...), b...), 8)
	if err != nil || len(msgs) != 2 || !bytes.Equal(msgs[0], a) || !bytes.Equal(msgs[1], b) {
		t.Fatalf("%d %v", len(msgs), err)
	}
	if _, err := splitCompound(append(append([]byte(nil), a...), b...), 1); err == nil {
		t.Fatal("limit not applied")
	}
	le.PutUint32(a[20:], 68)
	if _, err := splitCompound(append(append([]byte(nil), a...), b...), 8); err == nil {
		t.Fatal("unaligned accepted")
	}
	le.PutUint32(a[20:], 4096)
	if _, err := splitCompound(append(append([]byte(nil), a...), b...), 8); err == nil {
		t.Fatal("NextCommand beyond end accepted")
	}
	le.PutUint32(a[20:], 72)
	if _, err := splitCompound(append(append([]byte(nil), a...), 1, 2, 3), 8); err == nil {
		t.Fatal("short tail accepted")
	}
}

// truncations checks that every proper prefix of msg fails to decode
// without panicking.
func truncations(t *testing.T, msg []byte, decode func([]byte) error) {
	t.Helper()
	if err := decode(msg); err != nil {
		t.Fatalf("valid message rejected: %v", err)
	}
	for n := 0; n < len(msg); n++ {
		_ = decode(msg[:n])
	}
	for n := 0; n < headerSize+2 && n < len(msg); n++ {
		if decode(msg[:n]) == nil {
			t.Fatalf("prefix %d accepted", n)
		}
	}
}

func TestDecoders(t *testing.T) {
	neg := msgWith(cmdNegotiate, negotiateBody([]uint16{0x0202, 0x0311}, 0x44, 1, []negotiateContext{preauthCtx(1), idListCtx(ctxEncryption, 1, 2)}))
	truncations(t, neg, func(m []byte) error {
		r, err := decodeNegotiate(m)
		if err == nil {
			_, err = decodeNegotiateContexts(m, r.ContextOffset, r.ContextCount)
		}
		return err
	})
	r, _ := decodeNegotiate(neg)
	if len(r.Dialects) != 2 || r.Dialects[1] != 0x0311 || r.Capabilities != 0x44 || r.SecurityMode != 1 || r.ContextCount != 2 {
		t.Fatalf("negotiate %+v", r)
	}
	ctxs, err := decodeNegotiateContexts(neg, r.ContextOffset, r.ContextCount)
	if err != nil || len(ctxs) != 2 {
		t.Fatal(err)
	}
	pc, err := decodePreauthContext(ctxs[0].Data)
	if err != nil || pc.Hashes[0] != 1 || len(pc.Salt) != 32 {
		t.Fatal("preauth context")
	}
	if ids, err := decodeIDList(ctxs[1].Data); err != nil || len(ids) != 2 || ids[1] != 2 {
		t.Fatal("cipher list")
	}
	if _, err := decodeIDList([]byte{0, 0}); err == nil {
		t.Fatal("empty list accepted")
	}

	ss := msgWith(cmdSessionSetup, sessionSetupBody([]byte("token")))
	truncations(t, ss, func(m []byte) error { _, err := decodeSessionSetup(m); return err })
	if s, _ := decodeSessionSetup(ss); string(s.SecurityBuffer) != "token" {
		t.Fatal("security buffer")
	}

	tc := msgWith(cmdTreeConnect, treeConnectBody(`\\h\IPC$`))
	truncations(t, tc, func(m []byte) error { _, err := decodeTreeConnect(m); return err })
	if p, _ := decodeTreeConnect(tc); p != `\\h\IPC$` {
		t.Fatal(p)
	}

	cr := msgWith(cmdCreate, createBody("wkssvc"))
	truncations(t, cr, func(m []byte) error { _, err := decodeCreate(m); return err })
	if c, _ := decodeCreate(cr); c.Name != "wkssvc" || c.ImpersonationLevel != 2 {
		t.Fatalf("%+v", c)
	}

	id := fileID{1, 2}
	rd := msgWith(cmdRead, readBody(id, 99))
	truncations(t, rd, func(m []byte) error { _, err := decodeRead(m); return err })
	if x, _ := decodeRead(rd); x.Length != 99 || x.FileID != id {
		t.Fatalf("%+v", x)
	}

	wr := msgWith(cmdWrite, writeBody(id, []byte("data")))
	truncations(t, wr, func(m []byte) error { _, err := decodeWrite(m); return err })
	if x, _ := decodeWrite(wr); string(x.Data) != "data" || x.FileID != id {
		t.Fatalf("%+v", x)
	}

	io := msgWith(cmdIoctl, ioctlBody(fsctlPipeTransceive, id, []byte("in"), 10))
	truncations(t, io, func(m []byte) error { _, err := decodeIoctl(m); return err })
	if x, _ := decodeIoctl(io); string(x.Input) != "in" || x.MaxOutputResponse != 10 || x.CtlCode != fsctlPipeTransceive {
		t.Fatalf("%+v", x)
	}

	cl := msgWith(cmdClose, fileIDBody(id))
	truncations(t, cl, func(m []byte) error { _, err := decodeFileIDBody(m); return err })

	q := make([]byte, 40)
	le.PutUint16(q, 41)
	q[2], q[3] = 1, 5
	qi := msgWith(cmdQueryInfo, q)
	truncations(t, qi, func(m []byte) error { _, err := decodeQueryInfo(m); return err })

	s := make([]byte, 32)
	le.PutUint16(s, 33)
	si := msgWith(cmdSetInfo, s)
	truncations(t, si, func(m []byte) error { _, err := decodeSetInfo(m); return err })

	truncations(t, msgWith(cmdEcho, []byte{4, 0, 0, 0}), decodeSimple)

	v := validateBody(1, "0123456789abcdef", 1, []uint16{0x0202, 0x0300})
	if x, err := decodeValidateNegotiateInfo(v); err != nil || len(x.Dialects) != 2 {
		t.Fatal(err)
	}
	for n := range v {
		if _, err := decodeValidateNegotiateInfo(v[:n]); err == nil {
			t.Fatalf("prefix %d accepted", n)
		}
	}

	// Offsets pointing into the header or past the end.
	bad := msgWith(cmdWrite, writeBody(id, []byte("data")))
	le.PutUint16(bad[headerSize+2:], 10)
	if _, err := decodeWrite(bad); err == nil {
		t.Fatal("offset inside header accepted")
	}
	le.PutUint16(bad[headerSize+2:], headerSize+48)
	le.PutUint32(bad[headerSize+4:], 0xFFFFFFFF)
	if _, err := decodeWrite(bad); err == nil {
		t.Fatal("length past the end accepted")
	}
}

func TestNegotiateResponseEncoding(t *testing.T) {
	r := &negotiateResponse{Dialect: 0x0311, SecurityBuffer: []byte("spnego!"),
		Contexts: []negotiateContext{{Type: ctxPreauth, Data: make([]byte, 38)}, {Type: ctxEncryption, Data: []byte{1, 0, 2, 0}}}}
	m := msgWith(cmdNegotiate, r.encode())
	if le.Uint16(m[headerSize:]) != 65 || le.Uint16(m[headerSize+56:]) != 0x80 || string(m[0x80:0x87]) != "spnego!" {
		t.Fatal("layout")
	}
	off := le.Uint32(m[headerSize+60:])
	if off%8 != 0 || off < 0x87 {
		t.Fatalf("context offset %d", off)
	}
	ctxs, err := decodeNegotiateContexts(m, off, le.Uint16(m[headerSize+6:]))
	if err != nil || len(ctxs) != 2 || ctxs[1].Type != ctxEncryption || !bytes.Equal(ctxs[1].Data, []byte{1, 0, 2, 0}) {
		t.Fatalf("%+v %v", ctxs, err)
	}
}

func TestResponseEncoders(t *testing.T) {
	if b := errorBody(); len(b) != 9 || le.Uint16(b) != 9 {
		t.Fatal("error body")
	}
	if b := encodeReadResponse([]byte("xy")); le.Uint16(b) != 17 || b[2] != 0x50 || le.Uint32(b[4:]) != 2 || string(b[16:]) != "xy" {
		t.Fatal("read response")
	}
	if b := encodeWriteResponse(5); len(b) != 16 || le.Uint16(b) != 17 || le.Uint32(b[4:]) != 5 {
		t.Fatal("write response")
	}
	if b := encodeCreateResponse(fileID{3, 4}); len(b) != 89 || le.Uint16(b) != 89 || getFileID(b[64:]) != (fileID{3, 4}) {
		t.Fatal("create response")
	}
	if b := encodeCloseResponse(); len(b) != 60 || le.Uint16(b) != 60 {
		t.Fatal("close response")
	}
	if b := encodeTreeConnectResponse(shareTypePipe, shareFlagNoCache, 0, treeMaximalAccess); len(b) != 16 || b[2] != 2 {
		t.Fatal("tree connect response")
	}
	if b := encodeSessionSetupResponse(sessionFlagIsNull, []byte("t")); le.Uint16(b[2:]) != 2 || le.Uint16(b[4:]) != 0x48 || string(b[8:]) != "t" {
		t.Fatal("session setup response")
	}
	b := encodeIoctlResponse(fsctlPipeTransceive, fileID{1, 1}, []byte("out"))
	if le.Uint16(b) != 49 || le.Uint32(b[32:]) != 0x70 || le.Uint32(b[36:]) != 3 || string(b[48:]) != "out" {
		t.Fatal("ioctl response")
	}
}

func TestSMB1NegotiateParse(t *testing.T) {
	d, err := smb1Negotiate(smb1NegotiateFrame("NT LM 0.12", "SMB 2.???"))
	if err != nil || len(d) != 2 || d[1] != "SMB 2.???" {
		t.Fatalf("%q %v", d, err)
	}
	f := smb1NegotiateFrame("NT LM 0.12")
	if _, err := smb1Negotiate(f[:len(f)-1]); err == nil {
		t.Fatal("truncated accepted")
	}
	f[35] = 3
	if _, err := smb1Negotiate(f); err == nil {
		t.Fatal("bad buffer format accepted")
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{`wkssvc`: "wkssvc", `\PIPE\WksSvc`: "wkssvc", `pipe\lsarpc`: "lsarpc", `\srvsvc`: "srvsvc"} {
		if got := canonicalPipe(in); got != want {
			t.Errorf("%q -> %q", in, got)
		}
	}
	for in, want := range map[string]string{`\\host\IPC$`: "IPC$", `\\1.2.3.4\ipc$`: "ipc$"} {
		if got, ok := shareName(in); !ok || got != want {
			t.Errorf("%q -> %q", in, got)
		}
	}
	for _, in := range []string{`IPC$`, `\\host`, `\\host\`, `\\host\a\b`} {
		if _, ok := shareName(in); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestRelatedChainFromSessionSetup runs a related chain that creates its
// own SessionId, TreeId and FileId.
func TestRelatedChainFromSessionSetup(t *testing.T) {
	var out [][]byte
	runSessionInput(t, sessionSeeds()[0], &out)
	if len(out) != 2 {
		t.Fatalf("%d frames", len(out))
	}
	msgs, err := splitCompound(out[1], 16)
	if err != nil || len(msgs) != 8 {
		t.Fatalf("%d responses %v", len(msgs), err)
	}
	want := []uint32{statusSuccess, statusSuccess, statusSuccess, statusSuccess, statusBufferOverflow, statusSuccess, statusSuccess, statusSuccess}
	for i, m := range msgs {
		h, _ := parseHeader(m)
		if h.Status != want[i] {
			t.Errorf("response %d (command %d): %08x", i, h.Command, h.Status)
		}
		if h.SessionID == 0 || (i > 0 && h.TreeID == 0) {
			t.Errorf("response %d: ids %+v", i, h)
		}
	}
	if got := string(readData(msgs[5])); got != "ho:abc" {
		t.Errorf("second read %q", got)
	}
	if got := string(ioctlOutput(msgs[6])); got != "echo:q" {
		t.Errorf("transceive %q", got)
	}
}
