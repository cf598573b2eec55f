package smb2

import (
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// cancelMsg builds a CANCEL request with header h, signed with the
// client's key when sign is set.
func (r *rawClient) cancelMsg(h header, sign bool) []byte {
	m := make([]byte, headerSize+4)
	if sign {
		h.Flags |= flagSigned
	}
	h.put(m)
	le.PutUint16(m[headerSize:], 4)
	if sign {
		smbcrypto.Sign(r.SignAlg, r.SignKey, m)
	}
	return m
}

// signedCancel is cancelMsg signed.
func (r *rawClient) signedCancel(h header) []byte { return r.cancelMsg(h, true) }

// expectSilence checks that nothing arrives within d.
func (r *rawClient) expectSilence(d time.Duration) {
	r.t.Helper()
	r.Conn.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	if n, err := r.Conn.Read(b[:]); n > 0 || err == nil {
		r.t.Fatal("unexpected response")
	}
}

// MS-SMB2 3.3.5.16 with 3.3.5.2.4: a CANCEL on a session that signs is
// verified before it acts. Unsigned or wrongly signed, it is dropped and
// the pending READ stays pending; correctly signed, it cancels.
func TestCancelVerifiedFirst(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect311, "silent")
	readMID := r.MsgID
	r.writeFrame(r.build(cmdRead, readBody(id, 1024)))
	b, err := r.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	interim, _ := parseHeader(b)
	if interim.Status != statusPending {
		t.Fatalf("interim %+v", interim)
	}
	byAsync := header{Command: cmdCancel, Flags: flagAsyncCommand, AsyncID: interim.AsyncID, SessionID: r.SessionID}
	byMID := header{Command: cmdCancel, MessageID: readMID, SessionID: r.SessionID}
	forged := r.signedCancel(byAsync)
	forged[headerSize-1] ^= 1 // the last signature byte
	for _, m := range [][]byte{
		r.cancelMsg(byAsync, false),
		r.cancelMsg(byMID, false),
		forged,
		r.cancelMsg(header{Command: cmdCancel, Flags: flagAsyncCommand, AsyncID: interim.AsyncID}, false), // no session
	} {
		r.writeFrame(m)
	}
	r.expectSilence(300 * time.Millisecond)
	r.writeFrame(r.signedCancel(byMID))
	if f, _ := r.recv(); f.Status != statusCancelled || f.MessageID != readMID {
		t.Fatalf("signed cancel: %+v", f)
	}
}

// An unsigned SESSION_SETUP on an established session that must sign is
// refused (MS-SMB2 3.3.5.2.4) before any authentication: the session
// survives, even when the token is garbage.
func TestUnsignedReauthRefused(t *testing.T) {
	ts := startServer(t, nil)
	for _, d := range []uint16{smbcrypto.Dialect210, smbcrypto.Dialect311} {
		r, id := setup(t, ts, d, "echo")
		r.Sign = false
		for _, tok := range [][]byte{{0xde, 0xad}, nil} {
			if h, _ := r.call(cmdSessionSetup, sessionSetupBody(tok)); h.Status != statusAccessDenied {
				t.Fatalf("%04x: unsigned re-authentication: %08x", d, h.Status)
			}
		}
		r.Sign = true
		if h, _ := r.call(cmdWrite, writeBody(id, []byte("still here"))); h.Status != statusSuccess {
			t.Fatalf("%04x: the session did not survive: %08x", d, h.Status)
		}
		// A signed re-authentication still works.
		if st := r.login(testUser, testPassword); st != statusSuccess {
			t.Fatalf("%04x: signed re-authentication: %08x", d, st)
		}
	}
}

// encryptedClient is a 3.1.1 client that negotiated cipherID and logged
// on; send and recv encrypt and decrypt with the session's keys.
type encryptedClient struct {
	*rawClient
	send func([]byte)
	recv func() (header, []byte)
}

func dialEncrypted(t *testing.T, ts *testServer, cipherID uint16) *encryptedClient {
	t.Helper()
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
	keys := r.cipherKeys(t, cipherID)
	enc, _ := smbcrypto.NewAEAD(cipherID, keys.Decryption) // client to server
	dec, _ := smbcrypto.NewAEAD(cipherID, keys.Encryption) // server to client
	nonces, _ := smbcrypto.NewNonceSource(enc.NonceSize())
	ec := &encryptedClient{rawClient: r}
	ec.send = func(m []byte) {
		n, _ := nonces.Next()
		r.writeFrame(smbcrypto.Encrypt(enc, n, r.SessionID, m))
	}
	ec.recv = func() (header, []byte) {
		t.Helper()
		for {
			b, err := r.readFrame()
			if err != nil {
				t.Fatal(err)
			}
			if [4]byte(b[:4]) != protoTransform {
				h, _ := parseHeader(b)
				return h, b // plaintext: the caller checks
			}
			p, err := smbcrypto.Decrypt(dec, b)
			if err != nil {
				t.Fatal(err)
			}
			h, _ := parseHeader(p)
			if h.Status == statusPending && h.Flags&flagAsyncCommand != 0 {
				continue
			}
			return h, p
		}
	}
	return ec
}

// RequireEncryption (MS-SMB2 3.3.5.5, 3.3.5.5.3, 3.3.5.2.9): clients that
// cannot encrypt are refused at SESSION_SETUP; sessions carry
// SMB2_SESSION_FLAG_ENCRYPT_DATA; a plaintext request, signed or not, is
// refused and does not harm the session.
func TestRequireEncryption(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.RequireEncryption = true })
	// Dialect 2.1 and 3.1.1 without a cipher cannot encrypt.
	for _, d := range []uint16{smbcrypto.Dialect210, smbcrypto.Dialect311} {
		r := dialRaw(t, ts)
		if d == smbcrypto.Dialect311 {
			req := r.build(cmdNegotiate, negotiateBody([]uint16{d}, 0, 1, []negotiateContext{preauthCtx(1)}))
			r.writeFrame(req)
			_, resp := r.recv()
			r.Dialect = d
			r.Preauth = smbcrypto.PreauthHash(smbcrypto.PreauthHash(make([]byte, 64), req), resp)
			r.NegAlg = smbcrypto.SigningAESCMAC
		} else {
			r.negotiate(d)
		}
		if st := r.login(testUser, testPassword); st != statusAccessDenied {
			t.Fatalf("%04x without encryption: %08x", d, st)
		}
	}
	ec := dialEncrypted(t, ts, smbcrypto.AES128GCM)
	if ec.SessionFlags&sessionFlagEncryptData == 0 {
		t.Fatalf("session flags %#x lack ENCRYPT_DATA", ec.SessionFlags)
	}
	// Plaintext, signed: refused.
	ec.Sign = true
	if h, _ := ec.call(cmdTreeConnect, treeConnectBody(`\\x\IPC$`)); h.Status != statusAccessDenied {
		t.Fatalf("signed plaintext tree connect: %08x", h.Status)
	}
	if h, _ := ec.call(cmdEcho, []byte{4, 0, 0, 0}); h.Status != statusAccessDenied {
		t.Fatalf("signed plaintext echo: %08x", h.Status)
	}
	// Plaintext, unsigned SESSION_SETUP with a garbage token: refused, the
	// session survives.
	ec.Sign = false
	if h, _ := ec.call(cmdSessionSetup, sessionSetupBody([]byte{1, 2, 3})); h.Status != statusAccessDenied {
		t.Fatalf("unsigned plaintext re-authentication: %08x", h.Status)
	}
	ec.send(ec.build(cmdTreeConnect, treeConnectBody(`\\x\IPC$`)))
	h, _ := ec.recv()
	if h.Status != statusSuccess {
		t.Fatalf("encrypted tree connect: %08x", h.Status)
	}
	ec.TreeID = h.TreeID
	ec.send(ec.build(cmdCreate, createBody("echo")))
	h, resp := ec.recv()
	if h.Status != statusSuccess {
		t.Fatalf("encrypted create: %08x", h.Status)
	}
	id := getFileID(resp[headerSize+64:])
	ec.Sign = true
	if h, _ := ec.call(cmdWrite, writeBody(id, []byte("x"))); h.Status != statusAccessDenied {
		t.Fatalf("signed plaintext write: %08x", h.Status)
	}
	ec.Sign = false
	ec.send(ec.build(cmdWrite, writeBody(id, []byte("x"))))
	if h, _ := ec.recv(); h.Status != statusSuccess {
		t.Fatalf("encrypted write: %08x", h.Status)
	}
}

// Without RequireEncryption a client that can encrypt still chooses: a
// signed plaintext request of its session is served.
func TestEncryptionOptionalByDefault(t *testing.T) {
	ts := startServer(t, nil)
	ec := dialEncrypted(t, ts, smbcrypto.AES128GCM)
	if ec.SessionFlags&sessionFlagEncryptData != 0 {
		t.Fatal("ENCRYPT_DATA set without RequireEncryption")
	}
	if st := ec.treeConnect("IPC$"); st != statusSuccess {
		t.Fatalf("signed plaintext tree connect: %08x", st)
	}
}
