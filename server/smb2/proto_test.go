package smb2

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ntlm"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

func TestAsyncReadCancel(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect302, "silent")

	// READ with nothing queued: interim STATUS_PENDING, unsigned, credits.
	readMID := r.MsgID
	r.writeFrame(r.build(cmdRead, readBody(id, 1024)))
	b, err := r.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := parseHeader(b)
	if h.Status != statusPending || h.Flags&flagAsyncCommand == 0 || h.AsyncID == 0 || h.Credit == 0 || h.Flags&flagSigned != 0 || h.MessageID != readMID {
		t.Fatalf("interim %+v", h)
	}
	if le.Uint16(b[headerSize:]) != 9 {
		t.Fatal("interim without error body")
	}
	// CANCEL by AsyncId, signed like every request of the session: the
	// READ completes with STATUS_CANCELLED.
	ch := header{Command: cmdCancel, Flags: flagAsyncCommand, AsyncID: h.AsyncID, SessionID: r.SessionID}
	m := r.signedCancel(ch)
	r.writeFrame(m)
	b, err = r.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := parseHeader(b)
	if f.Status != statusCancelled || f.AsyncID != h.AsyncID || f.MessageID != readMID || f.Credit != 0 {
		t.Fatalf("final %+v", f)
	}
	if f.Flags&flagSigned == 0 || !smbcrypto.Verify(r.SignAlg, r.SignKey, b) {
		t.Fatal("final response not signed")
	}

	// CANCEL by MessageId.
	readMID = r.MsgID
	r.writeFrame(r.build(cmdRead, readBody(id, 1024)))
	b, _ = r.readFrame()
	if h, _ = parseHeader(b); h.Status != statusPending {
		t.Fatalf("interim %+v", h)
	}
	ch = header{Command: cmdCancel, MessageID: readMID, SessionID: r.SessionID}
	r.writeFrame(r.signedCancel(ch))
	if f, _ = r.recv(); f.Status != statusCancelled || f.MessageID != readMID {
		t.Fatalf("final %+v", f)
	}

	// CLOSE completes a pending READ.
	readMID = r.MsgID
	r.writeFrame(r.build(cmdRead, readBody(id, 1024)))
	b, _ = r.readFrame()
	if h, _ = parseHeader(b); h.Status != statusPending {
		t.Fatalf("interim %+v", h)
	}
	r.writeFrame(r.build(cmdClose, fileIDBody(id)))
	seen := map[uint16]uint32{}
	for len(seen) < 2 {
		h, _ := r.recv()
		seen[h.Command] = h.Status
	}
	if seen[cmdClose] != statusSuccess || seen[cmdRead] == statusSuccess {
		t.Fatalf("close with pending read: %v", seen)
	}
}

func TestMaxPendingReads(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxPendingReads = 2 })
	r, id := setup(t, ts, smbcrypto.Dialect210, "silent")
	for i := 0; i < 2; i++ {
		r.writeFrame(r.build(cmdRead, readBody(id, 100)))
		b, _ := r.readFrame()
		if h, _ := parseHeader(b); h.Status != statusPending {
			t.Fatalf("read %d: %08x", i, h.Status)
		}
	}
	if h, _ := r.call(cmdRead, readBody(id, 100)); h.Status != statusInsufficientResources {
		t.Fatalf("third read: %08x", h.Status)
	}
}

func TestMessageBoundaries(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect311, "big")
	if h, _ := r.call(cmdWrite, writeBody(id, []byte("abcd"))); h.Status != statusSuccess {
		t.Fatalf("write %08x", h.Status)
	}
	h, resp := r.call(cmdRead, readBody(id, 5))
	if h.Status != statusBufferOverflow || string(readData(resp)) != "abcda" {
		t.Fatalf("short read %08x %q", h.Status, readData(resp))
	}
	if le.Uint32(resp[headerSize+8:]) != 0 {
		t.Fatal("DataRemaining not 0")
	}
	h, resp = r.call(cmdRead, readBody(id, 100))
	if h.Status != statusSuccess || string(readData(resp)) != "bcdabcd" {
		t.Fatalf("rest %08x %q", h.Status, readData(resp))
	}
	// TRANSCEIVE with a short MaxOutputResponse, then READ for the rest.
	h, resp = r.call(cmdIoctl, ioctlBody(fsctlPipeTransceive, id, []byte("xyz"), 4))
	if h.Status != statusBufferOverflow || string(ioctlOutput(resp)) != "xyzx" {
		t.Fatalf("transceive %08x %q", h.Status, ioctlOutput(resp))
	}
	if off := le.Uint32(resp[headerSize+32:]); off%8 != 0 || le.Uint32(resp[headerSize+28:]) != 0 {
		t.Fatal("bad ioctl response layout")
	}
	h, resp = r.call(cmdRead, readBody(id, 100))
	if h.Status != statusSuccess || string(readData(resp)) != "yzxyz" {
		t.Fatalf("rest %08x %q", h.Status, readData(resp))
	}
}

func TestMiscCommands(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect300, "echo")

	q := make([]byte, 40)
	le.PutUint16(q, 41)
	q[2], q[3] = infoFile, fileStandardInformation
	le.PutUint32(q[4:], 100)
	putFileID(q[24:], id)
	h, resp := r.call(cmdQueryInfo, q)
	if h.Status != statusSuccess || le.Uint32(resp[headerSize+4:]) != 24 {
		t.Fatalf("query info %08x", h.Status)
	}
	out := resp[headerSize+8 : headerSize+32]
	if le.Uint64(out) != 4096 || le.Uint32(out[16:]) != 1 || out[20] != 1 || out[21] != 0 {
		t.Fatalf("standard info % x", out)
	}
	le.PutUint32(q[4:], 10)
	if h, _ = r.call(cmdQueryInfo, q); h.Status != statusBufferTooSmall {
		t.Fatalf("small query info %08x", h.Status)
	}
	q[3] = 4
	le.PutUint32(q[4:], 100)
	if h, _ = r.call(cmdQueryInfo, q); h.Status != statusNotSupported {
		t.Fatalf("basic info %08x", h.Status)
	}

	s := make([]byte, 33)
	le.PutUint16(s, 33)
	putFileID(s[16:], id)
	if h, _ = r.call(cmdSetInfo, s); h.Status != statusNotSupported {
		t.Fatalf("set info %08x", h.Status)
	}
	if h, _ = r.call(cmdFlush, fileIDBody(id)); h.Status != statusSuccess {
		t.Fatalf("flush %08x", h.Status)
	}
	e := []byte{4, 0, 0, 0}
	if h, _ = r.call(cmdEcho, e); h.Status != statusSuccess {
		t.Fatalf("echo %08x", h.Status)
	}
	ones := fileID{^uint64(0), ^uint64(0)}
	if h, _ = r.call(cmdIoctl, ioctlBody(fsctlDFSGetReferrals, ones, []byte{4, 0}, 1000)); h.Status != statusFSDriverRequired {
		t.Fatalf("dfs %08x", h.Status)
	}
	if h, _ = r.call(cmdIoctl, ioctlBody(0x00090000, id, nil, 1000)); h.Status != statusInvalidDeviceRequest {
		t.Fatalf("unknown fsctl %08x", h.Status)
	}
	wait := func(name string) []byte {
		n := utf16le(name)
		b := make([]byte, 14+len(n))
		le.PutUint32(b[8:], uint32(len(n)))
		copy(b[14:], n)
		return b
	}
	if h, _ = r.call(cmdIoctl, ioctlBody(fsctlPipeWait, ones, wait("echo"), 0)); h.Status != statusSuccess {
		t.Fatalf("pipe wait %08x", h.Status)
	}
	if h, _ = r.call(cmdIoctl, ioctlBody(fsctlPipeWait, ones, wait("nosuch"), 0)); h.Status != statusObjectNameNotFound {
		t.Fatalf("pipe wait unknown %08x", h.Status)
	}
	if h, _ = r.call(cmdLock, make([]byte, 48)); h.Status != statusNotSupported {
		t.Fatalf("lock %08x", h.Status)
	}
	if h, _ = r.call(cmdClose, fileIDBody(id)); h.Status != statusSuccess {
		t.Fatalf("close %08x", h.Status)
	}
	if h, _ = r.call(cmdRead, readBody(id, 10)); h.Status != statusFileClosed {
		t.Fatalf("read after close %08x", h.Status)
	}
	if st, _ := r.create("nosuch"); st != statusObjectNameNotFound {
		t.Fatalf("unknown pipe %08x", st)
	}
	if h, _ = r.call(cmdTreeDisconnect, e); h.Status != statusSuccess {
		t.Fatalf("tree disconnect %08x", h.Status)
	}
	if st, _ := r.create("echo"); st != statusNetworkNameDeleted {
		t.Fatalf("create after tree disconnect %08x", st)
	}
	if st := r.treeConnect("C$"); st != statusBadNetworkName {
		t.Fatalf("C$ %08x", st)
	}
	if h, _ = r.call(cmdLogoff, e); h.Status != statusSuccess || h.Flags&flagSigned == 0 {
		t.Fatalf("logoff %+v", h)
	}
	r.Sign = false
	if h, _ = r.call(cmdEcho, e); h.Status != statusSuccess {
		t.Fatalf("echo after logoff %08x", h.Status)
	}
	if st := r.treeConnect("IPC$"); st != statusUserSessionDeleted {
		t.Fatalf("tree connect after logoff %08x", st)
	}
}

func validateBody(caps uint32, guid string, secMode uint16, dialects []uint16) []byte {
	b := make([]byte, 24+2*len(dialects))
	le.PutUint32(b, caps)
	copy(b[4:20], guid)
	le.PutUint16(b[20:], secMode)
	le.PutUint16(b[22:], uint16(len(dialects)))
	for i, d := range dialects {
		le.PutUint16(b[24+2*i:], d)
	}
	return b
}

func TestValidateNegotiateInfo(t *testing.T) {
	ts := startServer(t, nil)
	ones := fileID{^uint64(0), ^uint64(0)}
	r, _ := setup(t, ts, smbcrypto.Dialect302, "echo")
	in := validateBody(capEncryption, "0123456789abcdef", 1, []uint16{smbcrypto.Dialect302})
	if h, _ := r.call(cmdIoctl, ioctlBody(fsctlValidateNegotiateInfo, fileID{1, 2}, in, 24)); h.Status != statusInvalidParameter {
		t.Fatalf("not all-ones FileId: %08x", h.Status)
	}
	h, resp := r.call(cmdIoctl, ioctlBody(fsctlValidateNegotiateInfo, ones, in, 24))
	if h.Status != statusSuccess || h.Flags&flagSigned == 0 {
		t.Fatalf("validate %+v", h)
	}
	out := ioctlOutput(resp)
	if len(out) != 24 || le.Uint32(out) != capLargeMTU|capEncryption || !bytes.Equal(out[4:20], ts.srv.cfg.ServerGUID[:]) ||
		le.Uint16(out[20:]) != secModeSigningEnabled|secModeSigningRequired || le.Uint16(out[22:]) != smbcrypto.Dialect302 {
		t.Fatalf("validate output % x", out)
	}
	// A mismatch disconnects.
	bad := validateBody(0, "0123456789abcdef", 1, []uint16{smbcrypto.Dialect302})
	r.writeFrame(r.build(cmdIoctl, ioctlBody(fsctlValidateNegotiateInfo, ones, bad, 24)))
	r.expectClosed()

	// At 3.1.1 it disconnects.
	r, _ = setup(t, ts, smbcrypto.Dialect311, "echo")
	r.writeFrame(r.build(cmdIoctl, ioctlBody(fsctlValidateNegotiateInfo, ones, in, 24)))
	r.expectClosed()
}

func TestSigningRules(t *testing.T) {
	ts := startServer(t, nil)
	r, _ := setup(t, ts, smbcrypto.Dialect210, "echo")
	e := []byte{4, 0, 0, 0}
	// A bad signature.
	m := r.build(cmdFlush, fileIDBody(fileID{}))
	m[50] ^= 1
	r.writeFrame(m)
	if h, _ := r.recv(); h.Status != statusAccessDenied {
		t.Fatalf("bad signature: %08x", h.Status)
	}
	// Unsigned while signing is required.
	r.Sign = false
	if h, _ := r.call(cmdEcho, e); h.Status != statusAccessDenied {
		t.Fatalf("unsigned: %08x", h.Status)
	}
	// 3.1.1: an unsigned TREE_CONNECT disconnects.
	r = dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect311)
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatal(st)
	}
	r.Sign = false
	r.writeFrame(r.build(cmdTreeConnect, treeConnectBody(`\\x\IPC$`)))
	r.expectClosed()
}

func TestGMACSigning(t *testing.T) {
	ts := startServer(t, nil)
	r := dialRaw(t, ts)
	r.OfferGMAC = true
	r.negotiate(smbcrypto.Dialect311)
	if r.NegAlg != smbcrypto.SigningAESGMAC {
		t.Fatalf("signing algorithm %d", r.NegAlg)
	}
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatal(st)
	}
	if st := r.treeConnect("IPC$"); st != statusSuccess {
		t.Fatalf("tree connect %08x", st)
	}
	r.writeFrame(r.build(cmdEcho, []byte{4, 0, 0, 0}))
	b, err := r.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	if !smbcrypto.Verify(smbcrypto.SigningAESGMAC, r.SignKey, b) {
		t.Fatal("echo response not GMAC-signed")
	}
}

func TestReauthentication(t *testing.T) {
	ts := startServer(t, nil)
	for _, d := range []uint16{smbcrypto.Dialect210, smbcrypto.Dialect311} {
		r, id := setup(t, ts, d, "echo")
		if st := r.login(testUser, testPassword); st != statusSuccess {
			t.Fatalf("re-auth %08x", st)
		}
		if h, _ := r.call(cmdWrite, writeBody(id, []byte("after"))); h.Status != statusSuccess {
			t.Fatalf("write after re-auth %08x", h.Status)
		}
		if st := r.login(testUser, "bad"); st != statusLogonFailure {
			t.Fatalf("failed re-auth %08x", st)
		}
		r.Sign = false
		if h, _ := r.call(cmdWrite, writeBody(id, []byte("x"))); h.Status != statusUserSessionDeleted {
			t.Fatalf("after failed re-auth %08x", h.Status)
		}
	}
}

func TestSigningOptional(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.SigningOptional = true })
	r := dialRaw(t, ts)
	_, resp := r.negotiate(smbcrypto.Dialect300)
	if le.Uint16(resp[headerSize+2:]) != secModeSigningEnabled {
		t.Fatalf("security mode %x", le.Uint16(resp[headerSize+2:]))
	}
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatal(st)
	}
	r.Sign = false
	h, _ := r.call(cmdEcho, []byte{4, 0, 0, 0})
	if h.Status != statusSuccess || h.Flags&flagSigned != 0 {
		t.Fatalf("unsigned echo %+v", h)
	}
}

func TestLogonFailure(t *testing.T) {
	ts := startServer(t, nil)
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect311)
	if st := r.login(testUser, "nope"); st != statusLogonFailure {
		t.Fatalf("status %08x", st)
	}
	if st := r.treeConnect("IPC$"); st != statusUserSessionDeleted {
		t.Fatalf("after failure %08x", st)
	}
	// Binding is refused.
	b := sessionSetupBody([]byte{1, 2, 3})
	b[2] = sessionFlagBinding
	r.SessionID = 0
	if h, _ := r.call(cmdSessionSetup, b); h.Status != statusRequestNotAccepted {
		t.Fatalf("binding %08x", h.Status)
	}
}

// A failed logon is one warning naming the user and domain the client
// gave, its address and the reason, and never the password or a hash; a
// logon names the dialect as people write it.
func TestLogonLogLines(t *testing.T) {
	var buf syncBuf
	ts := startServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	for _, tc := range []struct{ user, pass, reason, level string }{
		{testUser, "Wr0ng-Pass", "wrong password", "level=WARN"},
		// A name nobody has is chosen by whoever connects: info level,
		// rate-limited (TestUnknownUserLinesRateLimited).
		{"mallory", "Wr0ng-Pass", "unknown user", "level=INFO"},
	} {
		r := dialRaw(t, ts)
		r.negotiate(smbcrypto.Dialect311)
		if st := r.login(tc.user, tc.pass); st != statusLogonFailure {
			t.Fatalf("status %08x", st)
		}
		r.Conn.Close()
		line := waitLogLine(t, &buf, "user="+tc.user)
		for _, want := range []string{tc.level, `msg="logon failed"`, "domain=" + testDomain, `reason="` + tc.reason + `"`, "remote=127.0.0.1:"} {
			if !strings.Contains(line, want) {
				t.Errorf("log line %q lacks %q", line, want)
			}
		}
		hash := ntlm.NTHash(tc.pass)
		if strings.Contains(buf.String(), tc.pass) || strings.Contains(strings.ToLower(buf.String()), fmt.Sprintf("%x", hash)) {
			t.Errorf("the log shows the password or its hash:\n%s", buf.String())
		}
	}
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect311)
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatalf("status %08x", st)
	}
	if line := waitLogLine(t, &buf, "session established"); !strings.Contains(line, "dialect=3.1.1") {
		t.Errorf("dialect not written as 3.1.1: %q", line)
	}
}

// waitLogLine waits for a line of buf containing sub.
func waitLogLine(t *testing.T, buf *syncBuf, sub string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, sub) {
				return l
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line with %q:\n%s", sub, buf.String())
	return ""
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDialectName(t *testing.T) {
	for d, want := range map[uint16]string{0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1", 0x02ff: "0x02ff"} {
		if got := dialectName(d); got != want {
			t.Errorf("%#x: %q, want %q", d, got, want)
		}
	}
}

func TestAnonymousSession(t *testing.T) {
	ts := startServer(t, nil)
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect302)
	// Raw NTLMSSP: NEGOTIATE, then an anonymous AUTHENTICATE.
	neg := make([]byte, 32)
	copy(neg, "NTLMSSP\x00")
	le.PutUint32(neg[8:], 1)
	le.PutUint32(neg[12:], 0x00000001|0x00000200|0x00080000|0x00000800)
	h, resp := r.call(cmdSessionSetup, sessionSetupBody(neg))
	if h.Status != statusMoreProcessingRequired {
		t.Fatalf("leg 1: %08x", h.Status)
	}
	r.SessionID = h.SessionID
	_ = resp
	auth := make([]byte, 72)
	copy(auth, "NTLMSSP\x00")
	le.PutUint32(auth[8:], 3)
	for _, off := range []int{12, 20, 28, 36, 44, 52} {
		le.PutUint32(auth[off+4:], 72)
	}
	le.PutUint32(auth[60:], 0x00000001|0x00000200|0x00080000|0x00000800)
	h, _ = r.call(cmdSessionSetup, sessionSetupBody(auth))
	if h.Status != statusSuccess {
		t.Fatalf("anonymous logon refused by an authenticator that allows it: %08x", h.Status)
	}
	if h.Flags&flagSigned != 0 {
		t.Fatal("anonymous session setup signed")
	}
	if st := r.treeConnect("IPC$"); st != statusSuccess {
		t.Fatalf("tree connect %08x", st)
	}
	if st, _ := r.create("echo"); st != statusSuccess {
		t.Fatalf("create %08x", st)
	}
	info := ts.pipes.lastOpen()
	if !info.Identity.Anonymous || info.SessionKey != nil {
		t.Fatalf("open info %+v", info)
	}
	if st, _ := r.create("silent"); st != statusAccessDenied {
		t.Fatalf("denied pipe %08x", st)
	}
}

func TestNegotiateErrors(t *testing.T) {
	ts := startServer(t, nil)
	neg := func(dialects []uint16, ctxs ...negotiateContext) (header, []byte) {
		r := dialRaw(t, ts)
		r.writeFrame(r.build(cmdNegotiate, negotiateBody(dialects, 0, 1, ctxs)))
		return r.recv()
	}
	if h, _ := neg(nil); h.Status != statusInvalidParameter {
		t.Errorf("no dialects: %08x", h.Status)
	}
	if h, _ := neg([]uint16{0x0222}); h.Status != statusNotSupported {
		t.Errorf("no common dialect: %08x", h.Status)
	}
	if h, _ := neg([]uint16{0x0311}); h.Status != statusInvalidParameter {
		t.Errorf("no preauth: %08x", h.Status)
	}
	if h, _ := neg([]uint16{0x0311}, preauthCtx(7)); h.Status != statusNoPreauthOverlap {
		t.Errorf("no SHA-512: %08x", h.Status)
	}
	if h, _ := neg([]uint16{0x0311}, preauthCtx(1), idListCtx(ctxEncryption, 1), idListCtx(ctxEncryption, 2)); h.Status != statusInvalidParameter {
		t.Errorf("two encryption contexts: %08x", h.Status)
	}
	if h, _ := neg([]uint16{0x0311}, preauthCtx(1), preauthCtx(1)); h.Status != statusInvalidParameter {
		t.Errorf("two preauth contexts: %08x", h.Status)
	}
	// No common cipher: the ENCRYPTION context is omitted; GMAC chosen.
	h, resp := neg([]uint16{0x0202, 0x0311}, preauthCtx(1), idListCtx(ctxEncryption, 9), idListCtx(ctxSigning, 1, 2))
	if h.Status != statusSuccess {
		t.Fatalf("3.1.1: %08x", h.Status)
	}
	ctxs, err := decodeNegotiateContexts(resp, le.Uint32(resp[headerSize+60:]), le.Uint16(resp[headerSize+6:]))
	if err != nil || len(ctxs) != 2 || ctxs[0].Type != ctxPreauth || ctxs[1].Type != ctxSigning || le.Uint16(ctxs[1].Data[2:]) != smbcrypto.SigningAESGMAC {
		t.Fatalf("contexts %+v %v", ctxs, err)
	}
	if off := le.Uint16(resp[headerSize+56:]); off != 0x80 {
		t.Fatalf("security buffer offset %x", off)
	}
	// A signed NEGOTIATE.
	r := dialRaw(t, ts)
	m := r.build(cmdNegotiate, negotiateBody([]uint16{0x0210}, 0, 1, nil))
	m[16] |= byte(flagSigned)
	r.writeFrame(m)
	if h, _ := r.recv(); h.Status != statusInvalidParameter {
		t.Errorf("signed negotiate: %08x", h.Status)
	}
	// A second NEGOTIATE disconnects.
	r = dialRaw(t, ts)
	r.negotiate(0x0210)
	r.writeFrame(r.build(cmdNegotiate, negotiateBody([]uint16{0x0210}, 0, 1, nil)))
	r.expectClosed()
	// A request before NEGOTIATE disconnects.
	r = dialRaw(t, ts)
	r.writeFrame(r.build(cmdEcho, []byte{4, 0, 0, 0}))
	r.expectClosed()
}

func TestNegotiateDialects(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MinDialect, c.MaxDialect = 0x0210, 0x0302 })
	r := dialRaw(t, ts)
	r.writeFrame(r.build(cmdNegotiate, negotiateBody([]uint16{0x0202, 0x0210, 0x0300, 0x0302, 0x0311}, capEncryption, 1, []negotiateContext{preauthCtx(1)})))
	h, resp := r.recv()
	if h.Status != statusSuccess || le.Uint16(resp[headerSize+4:]) != 0x0302 || h.Credit == 0 {
		t.Fatalf("dialect %x", le.Uint16(resp[headerSize+4:]))
	}
	if caps := le.Uint32(resp[headerSize+24:]); caps != capLargeMTU|capEncryption {
		t.Fatalf("caps %x", caps)
	}
	if le.Uint32(resp[headerSize+28:]) != 65536 || le.Uint32(resp[headerSize+32:]) != 65536 || le.Uint32(resp[headerSize+36:]) != 65536 {
		t.Fatal("max sizes")
	}
}

func smb1NegotiateFrame(dialects ...string) []byte {
	var d []byte
	for _, s := range dialects {
		d = append(append(append(d, 2), s...), 0)
	}
	m := make([]byte, 35, 35+len(d))
	copy(m, protoSMB1[:])
	m[4] = 0x72
	le.PutUint16(m[33:], uint16(len(d)))
	return append(m, d...)
}

func TestSMB1Negotiate(t *testing.T) {
	ts := startServer(t, nil)
	r := dialRaw(t, ts)
	r.writeFrame(smb1NegotiateFrame("NT LM 0.12", "SMB 2.002", "SMB 2.???"))
	h, resp := r.recv()
	if h.MessageID != 0 || h.Credit == 0 || le.Uint16(resp[headerSize+4:]) != dialectWildcard {
		t.Fatalf("wildcard response %+v %x", h, le.Uint16(resp[headerSize+4:]))
	}
	r.MsgID = 1
	r.negotiate(0x0302)
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatalf("login %08x", st)
	}

	r = dialRaw(t, ts)
	r.writeFrame(smb1NegotiateFrame("NT LM 0.12", "SMB 2.002"))
	h, resp = r.recv()
	if le.Uint16(resp[headerSize+4:]) != 0x0202 {
		t.Fatalf("2.0.2 response %x", le.Uint16(resp[headerSize+4:]))
	}
	r.MsgID, r.Dialect = 1, 0x0202
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatalf("login %08x", st)
	}

	r = dialRaw(t, ts)
	r.writeFrame(smb1NegotiateFrame("NT LM 0.12"))
	r.expectClosed()
}

func TestCompound(t *testing.T) {
	ts := startServer(t, nil)
	r, _ := setup(t, ts, smbcrypto.Dialect302, "echo")
	ones := fileID{^uint64(0), ^uint64(0)}
	// Related: CREATE, WRITE, READ, CLOSE on the FileId CREATE makes.
	bodies := [][]byte{createBody("echo"), writeBody(ones, []byte("chained")), readBody(ones, 100), fileIDBody(ones)}
	cmds := []uint16{cmdCreate, cmdWrite, cmdRead, cmdClose}
	var chain []byte
	for i, b := range bodies {
		m := r.build(cmds[i], b)
		if i > 0 {
			m[16] |= byte(flagRelated)
			le.PutUint64(m[40:], ^uint64(0))
			le.PutUint32(m[36:], ^uint32(0))
		}
		if i < len(bodies)-1 {
			for len(m)%8 != 0 {
				m = append(m, 0)
			}
			le.PutUint32(m[20:], uint32(len(m)))
		}
		smbcrypto.Sign(r.SignAlg, r.SignKey, m)
		chain = append(chain, m...)
	}
	r.writeFrame(chain)
	b, err := r.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := splitCompound(b, 10)
	if err != nil || len(msgs) != 4 {
		t.Fatalf("responses %d %v", len(msgs), err)
	}
	for i, m := range msgs {
		h, _ := parseHeader(m)
		if h.Status != statusSuccess || h.Command != cmds[i] || (i > 0) != (h.Flags&flagRelated != 0) {
			t.Fatalf("response %d: %+v", i, h)
		}
		if h.SessionID != r.SessionID || !smbcrypto.Verify(r.SignAlg, r.SignKey, m) {
			t.Fatalf("response %d not signed for the session", i)
		}
		if i > 0 && len(msgs[i-1])%8 != 0 {
			t.Fatal("unaligned element")
		}
	}
	if got := readData(msgs[2]); string(got) != "echo:chained" {
		t.Fatalf("read %q", got)
	}
	// Related without a previous FileId.
	chain = nil
	for i, cmd := range []uint16{cmdEcho, cmdFlush} {
		body := []byte{4, 0, 0, 0}
		if cmd == cmdFlush {
			body = fileIDBody(ones)
		}
		m := r.build(cmd, body)
		if i == 0 {
			m = append(m, 0, 0, 0, 0)
			le.PutUint32(m[20:], uint32(len(m)))
		} else {
			m[16] |= byte(flagRelated)
		}
		smbcrypto.Sign(r.SignAlg, r.SignKey, m)
		chain = append(chain, m...)
	}
	r.writeFrame(chain)
	b, _ = r.readFrame()
	msgs, _ = splitCompound(b, 10)
	if len(msgs) != 2 {
		t.Fatalf("responses %d", len(msgs))
	}
	if h, _ := parseHeader(msgs[1]); h.Status != statusInvalidHandle {
		t.Fatalf("flush without FileId: %08x", h.Status)
	}
	// Unaligned NextCommand disconnects.
	m1 := r.build(cmdEcho, []byte{4, 0, 0, 0, 0})
	le.PutUint32(m1[20:], uint32(len(m1)))
	r.writeFrame(append(m1, r.build(cmdEcho, []byte{4, 0, 0, 0})...))
	r.expectClosed()
}

func TestCredits(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.SigningOptional = true })
	r := dialRaw(t, ts)
	r.negotiate(0x0210)
	e := []byte{4, 0, 0, 0}
	// Reusing a MessageId disconnects.
	r.call(cmdEcho, e)
	r.MsgID--
	r.writeFrame(r.build(cmdEcho, e))
	r.expectClosed()
	// A MessageId beyond the granted window disconnects.
	r = dialRaw(t, ts)
	r.negotiate(0x0210)
	r.MsgID += 10000
	r.writeFrame(r.build(cmdEcho, e))
	r.expectClosed()
	// Out-of-order ids within the window are fine.
	r = dialRaw(t, ts)
	h, _ := r.negotiate(0x0210)
	if h.Credit < 3 {
		t.Fatalf("granted %d", h.Credit)
	}
	r.MsgID = 2
	r.writeFrame(r.build(cmdEcho, e))
	r.recv()
	r.MsgID = 1
	r.writeFrame(r.build(cmdEcho, e))
	r.recv()
	r.MsgID = 3
	if h, _ := r.call(cmdEcho, e); h.Status != statusSuccess {
		t.Fatal(h.Status)
	}
}

func TestCreditWindow(t *testing.T) {
	w := newCreditWindow(8)
	if !w.consume(0, 1) || w.consume(0, 1) {
		t.Fatal("id 0")
	}
	if g := w.grant(100); g != 8 {
		t.Fatalf("grant %d", g)
	}
	if !w.consume(3, 2) || w.consume(4, 1) || w.consume(8, 2) || !w.consume(1, 2) {
		t.Fatal("consume")
	}
	if w.low != 5 || w.outstanding() != 4 {
		t.Fatalf("low %d outstanding %d", w.low, w.outstanding())
	}
	if g := w.grant(0); g != 1 {
		t.Fatalf("grant 0 -> %d", g)
	}
	for id := uint64(5); id < w.high; id++ {
		w.consume(id, 1)
	}
	if g := w.grant(0); g != 1 || w.outstanding() != 1 {
		t.Fatal("never zero credits")
	}
	if w.consume(^uint64(0), 2) {
		t.Fatal("overflow")
	}
}

func TestRobustness(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ReadTimeout = 200 * time.Millisecond })
	good, id := setup(t, ts, smbcrypto.Dialect311, "echo")
	check := func() {
		t.Helper()
		if h, _ := good.call(cmdWrite, writeBody(id, []byte("still"))); h.Status != statusSuccess {
			t.Fatalf("good connection broken: %08x", h.Status)
		}
		if _, resp := good.call(cmdRead, readBody(id, 100)); string(readData(resp)) != "echo:still" {
			t.Fatal("good connection broken")
		}
	}
	raw := func(b []byte) {
		t.Helper()
		c, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(b)
		r := newRawClient(t, c)
		r.expectClosed()
		check()
	}
	raw([]byte("GET / HTTP/1.0\r\n\r\n"))                      // garbage
	raw([]byte{0, 0, 0, 100, 0xFE, 'S', 'M', 'B'})             // truncated frame
	raw([]byte{0, 0xFF, 0xFF, 0xFF})                           // oversized frame
	raw([]byte{0, 0, 0, 8, 0xFE, 'S', 'M', 'B', 0, 0, 0, 0})   // shorter than a header
	raw([]byte{0x85, 0, 0, 0, 0, 0, 0, 4, 'x', 'x', 'x', 'x'}) // keep-alive, then garbage
	// Keep-alives are ignored.
	r := dialRaw(t, ts)
	r.Conn.Write([]byte{0x85, 0, 0, 0})
	r.negotiate(0x0210)
	// Unknown command disconnects.
	m := r.build(0x0099, []byte{4, 0, 0, 0})
	r.writeFrame(m)
	r.expectClosed()
	check()
}

func TestConnectionLimits(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnections = 1; c.IdleTimeout = 300 * time.Millisecond })
	r := dialRaw(t, ts)
	r.negotiate(0x0210)
	second := dialRaw(t, ts)
	second.expectClosed()
	// The idle connection is closed by the server.
	r.expectClosed()
	// Then a new connection is accepted again.
	for i := 0; ; i++ {
		r = dialRaw(t, ts)
		r.writeFrame(r.build(cmdNegotiate, negotiateBody([]uint16{0x0210}, 0, 1, nil)))
		if _, err := r.readFrame(); err == nil {
			break
		}
		if i > 50 {
			t.Fatal("server does not accept again")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEncryptedRaw(t *testing.T) {
	ts := startServer(t, nil)
	for _, cipherID := range []uint16{smbcrypto.AES128GCM, smbcrypto.AES256CCM} {
		r := dialRaw(t, ts)
		req := r.build(cmdNegotiate, negotiateBody([]uint16{0x0311}, 0, 1, []negotiateContext{preauthCtx(1), idListCtx(ctxEncryption, cipherID)}))
		r.writeFrame(req)
		_, resp := r.recv()
		r.Dialect = smbcrypto.Dialect311
		r.Preauth = smbcrypto.PreauthHash(smbcrypto.PreauthHash(make([]byte, 64), req), resp)
		r.NegAlg = smbcrypto.SigningAESCMAC
		if st := r.login(testUser, testPassword); st != statusSuccess {
			t.Fatal(st)
		}
		// Recompute the cipher keys the way the client would.
		keys := r.cipherKeys(t, cipherID)
		enc, _ := smbcrypto.NewAEAD(cipherID, keys.Decryption) // client to server
		dec, _ := smbcrypto.NewAEAD(cipherID, keys.Encryption) // server to client
		nonces, _ := smbcrypto.NewNonceSource(enc.NonceSize())
		r.Sign = false
		send := func(m []byte) {
			n, _ := nonces.Next()
			r.writeFrame(smbcrypto.Encrypt(enc, n, r.SessionID, m))
		}
		recv := func() []byte {
			b, err := r.readFrame()
			if err != nil {
				t.Fatal(err)
			}
			if [4]byte(b[:4]) != protoTransform {
				t.Fatal("response not encrypted")
			}
			p, err := smbcrypto.Decrypt(dec, b)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		send(r.build(cmdTreeConnect, treeConnectBody(`\\x\IPC$`)))
		h, _ := parseHeader(recv())
		if h.Status != statusSuccess || h.Flags&flagSigned != 0 {
			t.Fatalf("encrypted tree connect %+v", h)
		}
		r.TreeID = h.TreeID
		// An encrypted related compound, including a READ that pends.
		ones := fileID{^uint64(0), ^uint64(0)}
		var chain []byte
		bodies := [][]byte{createBody("silent"), readBody(ones, 10)}
		for i, b := range bodies {
			m := r.build([]uint16{cmdCreate, cmdRead}[i], b)
			if i == 0 {
				for len(m)%8 != 0 {
					m = append(m, 0)
				}
				le.PutUint32(m[20:], uint32(len(m)))
			} else {
				m[16] |= byte(flagRelated)
			}
			chain = append(chain, m...)
		}
		send(chain)
		msgs, err := splitCompound(recv(), 4)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("chain %v", err)
		}
		h0, _ := parseHeader(msgs[0])
		h1, _ := parseHeader(msgs[1])
		if h0.Status != statusSuccess || h1.Status != statusPending || h1.Flags&flagAsyncCommand == 0 {
			t.Fatalf("chain %+v %+v", h0, h1)
		}
		id := getFileID(msgs[0][headerSize+64:])
		send(r.build(cmdClose, fileIDBody(id)))
		seen := map[uint16]uint32{}
		for len(seen) < 2 {
			h, _ := parseHeader(recv())
			seen[h.Command] = h.Status
		}
		if seen[cmdClose] != statusSuccess {
			t.Fatalf("close %v", seen)
		}
		// A transform for an unknown session disconnects.
		n, _ := nonces.Next()
		r.writeFrame(smbcrypto.Encrypt(enc, n, r.SessionID+1, r.build(cmdEcho, []byte{4, 0, 0, 0})))
		r.expectClosed()
	}
}

func (r *rawClient) cipherKeys(t *testing.T, cipherID uint16) smbcrypto.SessionKeys {
	t.Helper()
	if r.ExportedKey == nil {
		t.Fatal("no session key")
	}
	return smbcrypto.DeriveSessionKeys(r.Dialect, r.ExportedKey[:16], r.ExportedKey, r.FinalPreauth, cipherID)
}

func TestShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	pipes := &echoPipes{}
	srv, err := NewServer(Config{Auth: testAuth(), Pipes: pipes})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ts := &testServer{srv: srv, pipes: pipes, addr: ln.Addr().(*net.TCPAddr)}
	r, id := setup(t, ts, smbcrypto.Dialect311, "silent")
	r.writeFrame(r.build(cmdRead, readBody(id, 10)))
	if b, _ := r.readFrame(); b == nil {
		t.Fatal("no interim")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
	r.expectClosed()
	if err := srv.Serve(ln); err != ErrServerClosed {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	checkGoroutines(t, before)
	if _, err := NewServer(Config{}); err == nil {
		t.Fatal("NewServer without Auth and Pipes")
	}
	if _, err := NewServer(Config{Auth: testAuth(), Pipes: pipes, MinDialect: 0x0311, MaxDialect: 0x0202}); err == nil {
		t.Fatal("inverted dialect range accepted")
	}
}
