package smb2

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
	msntlm "github.com/oiweiwei/go-msrpc/ssp/ntlm"
	"github.com/oiweiwei/go-msrpc/ssp/spnego"

	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// rawClient speaks SMB2 message by message so tests can exercise the
// rules that real clients never break.
type rawClient struct {
	t         *testing.T
	c         net.Conn
	msgID     uint64
	sessionID uint64
	treeID    uint32
	dialect   uint16
	signKey   []byte
	signAlg   uint16
	gmac      bool // offer AES-GMAC signing at 3.1.1
	negAlg    uint16
	appKey    []byte
	// exportedKey and finalPreauth are kept to derive cipher keys.
	exportedKey, finalPreauth []byte
	preauth                   []byte
	sign                      bool
	sessionFlags              uint16 // of the last successful SESSION_SETUP
}

func dialRaw(t *testing.T, ts *testServer) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c}
}

func (r *rawClient) writeFrame(b []byte) {
	r.t.Helper()
	f := make([]byte, 4+len(b))
	f[1], f[2], f[3] = byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
	copy(f[4:], b)
	r.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write(f); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// readFrame returns the next transport message, or an error when the
// server closed the connection.
func (r *rawClient) readFrame() ([]byte, error) {
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [4]byte
	if _, err := io.ReadFull(r.c, h[:]); err != nil {
		return nil, err
	}
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	b := make([]byte, n)
	_, err := io.ReadFull(r.c, b)
	return b, err
}

// expectClosed asserts the server ends the connection.
func (r *rawClient) expectClosed() {
	r.t.Helper()
	for {
		_, err := r.readFrame()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatal("connection still open")
		}
		return
	}
}

// build returns a request message with the next MessageId.
func (r *rawClient) build(cmd uint16, body []byte) []byte {
	h := header{Command: cmd, CreditCharge: 1, Credit: 64, MessageID: r.msgID, SessionID: r.sessionID, TreeID: r.treeID}
	r.msgID++
	m := make([]byte, headerSize+len(body))
	if r.sign && r.signKey != nil {
		h.Flags |= flagSigned
	}
	h.put(m)
	copy(m[headerSize:], body)
	if r.sign && r.signKey != nil {
		smbcrypto.Sign(r.signAlg, r.signKey, m)
	}
	return m
}

// call sends one request and returns the final response (interim
// STATUS_PENDING responses are skipped).
func (r *rawClient) call(cmd uint16, body []byte) (header, []byte) {
	r.t.Helper()
	r.writeFrame(r.build(cmd, body))
	return r.recv()
}

func (r *rawClient) recv() (header, []byte) {
	r.t.Helper()
	for {
		b, err := r.readFrame()
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		h, err := parseHeader(b)
		if err != nil {
			r.t.Fatalf("response header: %v", err)
		}
		if h.Status == statusPending && h.Flags&flagAsyncCommand != 0 {
			continue
		}
		return h, b
	}
}

func negotiateBody(dialects []uint16, caps uint32, secMode uint16, contexts []negotiateContext) []byte {
	n := 36 + 2*len(dialects)
	b := make([]byte, n)
	le.PutUint16(b, 36)
	le.PutUint16(b[2:], uint16(len(dialects)))
	le.PutUint16(b[4:], secMode)
	le.PutUint32(b[8:], caps)
	copy(b[12:28], "0123456789abcdef")
	for i, d := range dialects {
		le.PutUint16(b[36+2*i:], d)
	}
	if len(contexts) > 0 {
		off := (headerSize + n + 7) &^ 7
		b = append(b, make([]byte, off-headerSize-n)...)
		le.PutUint32(b[28:], uint32(off))
		le.PutUint16(b[32:], uint16(len(contexts)))
		for i, c := range contexts {
			if i > 0 {
				for len(b)%8 != 0 {
					b = append(b, 0)
				}
			}
			h := make([]byte, 8)
			le.PutUint16(h, c.Type)
			le.PutUint16(h[2:], uint16(len(c.Data)))
			b = append(append(b, h...), c.Data...)
		}
	}
	return b
}

func preauthCtx(hash uint16) negotiateContext {
	d := make([]byte, 6+32)
	le.PutUint16(d, 1)
	le.PutUint16(d[2:], 32)
	le.PutUint16(d[4:], hash)
	return negotiateContext{Type: ctxPreauth, Data: d}
}

func idListCtx(typ uint16, ids ...uint16) negotiateContext {
	d := make([]byte, 2+2*len(ids))
	le.PutUint16(d, uint16(len(ids)))
	for i, id := range ids {
		le.PutUint16(d[2+2*i:], id)
	}
	return negotiateContext{Type: typ, Data: d}
}

// negotiate runs an SMB2 NEGOTIATE offering exactly dialect.
func (r *rawClient) negotiate(dialect uint16) (header, []byte) {
	r.t.Helper()
	var ctxs []negotiateContext
	if dialect == smbcrypto.Dialect311 {
		ctxs = []negotiateContext{preauthCtx(hashSHA512), idListCtx(ctxEncryption, smbcrypto.AES128GCM)}
		if r.gmac {
			ctxs = append(ctxs, idListCtx(ctxSigning, smbcrypto.SigningAESGMAC, smbcrypto.SigningAESCMAC))
		}
	}
	req := r.build(cmdNegotiate, negotiateBody([]uint16{dialect}, capEncryption, 1, ctxs))
	r.writeFrame(req)
	h, resp := r.recv()
	if h.Status != statusSuccess {
		r.t.Fatalf("negotiate: %08x", h.Status)
	}
	r.dialect = le.Uint16(resp[headerSize+4:])
	r.negAlg = smbcrypto.SigningAESCMAC
	if r.dialect == smbcrypto.Dialect311 {
		r.preauth = smbcrypto.PreauthHash(smbcrypto.PreauthHash(make([]byte, 64), req), resp)
		ctxs, err := decodeNegotiateContexts(resp, le.Uint32(resp[headerSize+60:]), le.Uint16(resp[headerSize+6:]))
		if err != nil {
			r.t.Fatal(err)
		}
		for _, c := range ctxs {
			if c.Type == ctxSigning {
				r.negAlg = le.Uint16(c.Data[2:])
			}
		}
	}
	return h, resp
}

func sessionSetupBody(token []byte) []byte {
	b := make([]byte, 24+len(token))
	le.PutUint16(b, 25)
	b[3] = 1
	le.PutUint16(b[12:], headerSize+24)
	le.PutUint16(b[14:], uint16(len(token)))
	copy(b[24:], token)
	return b
}

// login authenticates with go-msrpc's SPNEGO/NTLM initiator and derives
// the client's keys. It returns the final status.
func (r *rawClient) login(user, password string) uint32 {
	r.t.Helper()
	ctx := gssapi.NewSecurityContext(context.Background(),
		gssapi.WithMechanismFactory(spnego.Mechanism{}),
		gssapi.WithMechanismFactory(msntlm.Mechanism{}, msntlm.NewConfig()),
		gssapi.WithCredential(credential.NewFromPassword(user, password, credential.Domain(testDomain))),
	)
	tok, err := gssapi.InitSecurityContext(ctx, &gssapi.Token{})
	if err != nil {
		r.t.Fatal(err)
	}
	reauth := r.signKey != nil
	preauth := r.preauth
	for leg := 0; leg < 4; leg++ {
		req := r.build(cmdSessionSetup, sessionSetupBody(tok.Payload))
		if preauth != nil {
			preauth = smbcrypto.PreauthHash(preauth, req)
		}
		r.writeFrame(req)
		h, resp := r.recv()
		r.sessionID = h.SessionID
		switch h.Status {
		case statusMoreProcessingRequired:
			if preauth != nil {
				preauth = smbcrypto.PreauthHash(preauth, resp)
			}
			off, n := le.Uint16(resp[headerSize+4:]), le.Uint16(resp[headerSize+6:])
			if tok, err = gssapi.InitSecurityContext(ctx, &gssapi.Token{Payload: resp[off : off+n]}); err != nil {
				r.t.Fatal(err)
			}
		case statusSuccess:
			r.sessionFlags = le.Uint16(resp[headerSize+2:])
			if reauth {
				// Keys stay those of the first authentication.
				if h.Flags&flagSigned == 0 || !smbcrypto.Verify(r.signAlg, r.signKey, resp) {
					r.t.Fatalf("re-authentication response not signed with the session's key")
				}
				return h.Status
			}
			v, _ := gssapi.GetAttribute(ctx, gssapi.AttributeSessionKey)
			key, _ := v.([]byte)
			sk := make([]byte, 16)
			copy(sk, key)
			keys := smbcrypto.DeriveSessionKeys(r.dialect, sk, key, preauth, 0)
			r.exportedKey, r.finalPreauth = key, preauth
			r.signKey, r.appKey = keys.Signing, keys.Application
			r.signAlg = r.negAlg
			if r.dialect < smbcrypto.Dialect300 {
				r.signAlg = smbcrypto.SigningHMACSHA256
			}
			if h.Flags&flagSigned == 0 || !smbcrypto.Verify(r.signAlg, r.signKey, resp) {
				r.t.Fatalf("final session setup response not signed correctly")
			}
			r.sign = true
			return h.Status
		default:
			return h.Status
		}
	}
	r.t.Fatal("session setup did not finish")
	return 0
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func treeConnectBody(path string) []byte {
	p := utf16le(path)
	b := make([]byte, 8+len(p))
	le.PutUint16(b, 9)
	le.PutUint16(b[4:], headerSize+8)
	le.PutUint16(b[6:], uint16(len(p)))
	copy(b[8:], p)
	return b
}

func (r *rawClient) treeConnect(share string) uint32 {
	r.t.Helper()
	h, _ := r.call(cmdTreeConnect, treeConnectBody(`\\testsrv\`+share))
	if h.Status == statusSuccess {
		r.treeID = h.TreeID
	}
	return h.Status
}

func createBody(name string) []byte {
	n := utf16le(name)
	b := make([]byte, 56+max(len(n), 1))
	le.PutUint16(b, 57)
	le.PutUint32(b[4:], 2)           // impersonation
	le.PutUint32(b[24:], 0x0012019F) // access
	le.PutUint32(b[36:], 1)          // FILE_OPEN
	le.PutUint16(b[44:], headerSize+56)
	le.PutUint16(b[46:], uint16(len(n)))
	copy(b[56:], n)
	return b
}

func (r *rawClient) create(name string) (uint32, fileID) {
	r.t.Helper()
	h, resp := r.call(cmdCreate, createBody(name))
	if h.Status != statusSuccess {
		return h.Status, fileID{}
	}
	return h.Status, getFileID(resp[headerSize+64:])
}

func writeBody(id fileID, data []byte) []byte {
	b := make([]byte, 48+len(data))
	le.PutUint16(b, 49)
	le.PutUint16(b[2:], headerSize+48)
	le.PutUint32(b[4:], uint32(len(data)))
	putFileID(b[16:], id)
	copy(b[48:], data)
	return b
}

func readBody(id fileID, length uint32) []byte {
	b := make([]byte, 49)
	le.PutUint16(b, 49)
	le.PutUint32(b[4:], length)
	putFileID(b[16:], id)
	return b
}

func fileIDBody(id fileID) []byte {
	b := make([]byte, 24)
	le.PutUint16(b, 24)
	putFileID(b[8:], id)
	return b
}

func ioctlBody(ctl uint32, id fileID, in []byte, maxOut uint32) []byte {
	b := make([]byte, 56+len(in))
	le.PutUint16(b, 57)
	le.PutUint32(b[4:], ctl)
	putFileID(b[8:], id)
	if len(in) > 0 {
		le.PutUint32(b[24:], headerSize+56)
	}
	le.PutUint32(b[28:], uint32(len(in)))
	le.PutUint32(b[44:], maxOut)
	le.PutUint32(b[48:], ioctlIsFSCTL)
	copy(b[56:], in)
	return b
}

func readData(resp []byte) []byte {
	off := int(resp[headerSize+2])
	n := int(le.Uint32(resp[headerSize+4:]))
	return resp[off : off+n]
}

func ioctlOutput(resp []byte) []byte {
	off := int(le.Uint32(resp[headerSize+32:]))
	n := int(le.Uint32(resp[headerSize+36:]))
	return resp[off : off+n]
}

// setup negotiates dialect, logs in, connects IPC$ and opens pipe.
func setup(t *testing.T, ts *testServer, dialect uint16, pipe string) (*rawClient, fileID) {
	t.Helper()
	r := dialRaw(t, ts)
	r.negotiate(dialect)
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatalf("login: %08x", st)
	}
	if st := r.treeConnect("IPC$"); st != statusSuccess {
		t.Fatalf("tree connect: %08x", st)
	}
	st, id := r.create(pipe)
	if st != statusSuccess {
		t.Fatalf("create: %08x", st)
	}
	return r, id
}
