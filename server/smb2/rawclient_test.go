package smb2

import (
	"errors"
	"net"
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/smbraw"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// rawClient is the raw SMB2 client of internal/smbraw with the test's
// conveniences: every transport failure fails the test, and responses are
// parsed with this package's header decoder.
type rawClient struct {
	*smbraw.Client
	t *testing.T
}

func newRawClient(t *testing.T, c net.Conn) *rawClient {
	cl := smbraw.New(c)
	cl.Domain = testDomain
	cl.ClientGUID = [16]byte([]byte("0123456789abcdef"))
	return &rawClient{Client: cl, t: t}
}

func dialRaw(t *testing.T, ts *testServer) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newRawClient(t, c)
}

func (r *rawClient) writeFrame(b []byte) {
	r.t.Helper()
	if err := r.WriteFrame(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// readFrame returns the next transport message, or an error when the
// server closed the connection.
func (r *rawClient) readFrame() ([]byte, error) { return r.ReadFrame() }

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

// build returns a request message with the next MessageId, signed once
// the session has a key and r.Sign is set.
func (r *rawClient) build(cmd uint16, body []byte) []byte { return r.Build(cmd, body) }

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

// negotiate runs an SMB2 NEGOTIATE offering exactly dialect (at 3.1.1
// with AES-128-GCM, and AES-GMAC signing when r.OfferGMAC is set).
func (r *rawClient) negotiate(dialect uint16) (header, []byte) {
	r.t.Helper()
	st, err := r.Negotiate(dialect, smbcrypto.AES128GCM)
	if err != nil {
		r.t.Fatalf("negotiate: %v", err)
	}
	if st != statusSuccess {
		r.t.Fatalf("negotiate: %08x", st)
	}
	resp := r.NegotiateResponse
	h, err := parseHeader(resp)
	if err != nil {
		r.t.Fatal(err)
	}
	return h, resp
}

func sessionSetupBody(token []byte) []byte { return smbraw.SessionSetupBody(token) }

// login authenticates with go-msrpc's SPNEGO/NTLM initiator and derives
// the client's keys (a re-authentication once it has them, keeping them).
// It returns the final status; a final response that is not signed as it
// must be fails the test.
func (r *rawClient) login(user, password string) uint32 {
	r.t.Helper()
	st, err := r.Login(user, password, false)
	if err != nil {
		r.t.Fatalf("login: %v", err)
	}
	return st
}

func utf16le(s string) []byte { return smbraw.UTF16LE(s) }

func treeConnectBody(path string) []byte { return smbraw.TreeConnectBody(path) }

func (r *rawClient) treeConnect(share string) uint32 {
	r.t.Helper()
	h, _ := r.call(cmdTreeConnect, treeConnectBody(`\\testsrv\`+share))
	if h.Status == statusSuccess {
		r.TreeID = h.TreeID
	}
	return h.Status
}

func createBody(name string) []byte { return smbraw.CreateBody(name) }

func (r *rawClient) create(name string) (uint32, fileID) {
	r.t.Helper()
	h, resp := r.call(cmdCreate, createBody(name))
	if h.Status != statusSuccess {
		return h.Status, fileID{}
	}
	return h.Status, getFileID(resp[headerSize+64:])
}

func rawID(id fileID) smbraw.FileID {
	var b smbraw.FileID
	putFileID(b[:], id)
	return b
}

func writeBody(id fileID, data []byte) []byte { return smbraw.WriteBody(rawID(id), data) }

func readBody(id fileID, length uint32) []byte { return smbraw.ReadBody(rawID(id), length) }

func fileIDBody(id fileID) []byte {
	b := make([]byte, 24)
	le.PutUint16(b, 24)
	putFileID(b[8:], id)
	return b
}

func ioctlBody(ctl uint32, id fileID, in []byte, maxOut uint32) []byte {
	return smbraw.IoctlBody(ctl, rawID(id), in, maxOut)
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
