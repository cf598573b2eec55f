package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/ndr"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"

	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/ntlm"
	"github.com/wkssvcd/wkssvcd/server/spnego"
)

// The accounts of the authenticated-RPC tests.
const (
	rpcUser = "alice"
	rpcPass = "Secret123!"
)

func rpcAuthenticator(logger *slog.Logger) *spnego.Acceptor {
	mech := ntlm.NewMechanism(ntlm.Config{
		NetBIOSComputer: "wkhost", NetBIOSDomain: "wkhost", DNSComputer: "wkhost.example.test",
		Accounts: ntlm.StaticAccounts{{Name: rpcUser, NTHash: ntlm.NTHash(rpcPass), Admin: true}},
	})
	return spnego.New(spnego.Config{Mechanisms: []spnego.Mechanism{mech}, Logger: logger})
}

// logBuffer collects a test server's log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// authServer listens for ncacn_ip_tcp connections served with RPC-level
// authentication and returns the address and the log.
func authServer(t *testing.T, cfg Config) (string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Auth == nil {
		cfg.Auth = rpcAuthenticator(cfg.Logger)
	}
	s := NewServer(cfg)
	s.Register("test", testInterface(nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.ServeConn(ctx, c, ipc.OpenInfo{Pipe: "test", Identity: ipc.Identity{User: "smbuser"}})
			}()
		}
	}()
	return ln.Addr().String(), logs
}

// echoCall is the client side of opEcho.
type echoCall struct{ in, out []byte }

func (o *echoCall) OpNum() int     { return opEcho }
func (o *echoCall) OpName() string { return "echo" }
func (o *echoCall) MarshalNDRRequest(_ context.Context, w ndr.Writer) error {
	if err := w.WriteData(uint32(len(o.in))); err != nil {
		return err
	}
	for _, b := range o.in {
		if err := w.WriteData(b); err != nil {
			return err
		}
	}
	return nil
}
func (o *echoCall) UnmarshalNDRRequest(context.Context, ndr.Reader) error { return nil }
func (o *echoCall) MarshalNDRResponse(context.Context, ndr.Writer) error  { return nil }
func (o *echoCall) UnmarshalNDRResponse(_ context.Context, r ndr.Reader) error {
	o.out = make([]byte, len(o.in))
	for i := range o.out {
		if err := r.ReadData(&o.out[i]); err != nil {
			return err
		}
	}
	return nil
}

// identityCall is the client side of opIdentity; want sizes the answer.
type identityCall struct {
	want string
	out  []byte
}

func (o *identityCall) OpNum() int                                            { return opIdentity }
func (o *identityCall) OpName() string                                        { return "identity" }
func (o *identityCall) MarshalNDRRequest(context.Context, ndr.Writer) error   { return nil }
func (o *identityCall) UnmarshalNDRRequest(context.Context, ndr.Reader) error { return nil }
func (o *identityCall) MarshalNDRResponse(context.Context, ndr.Writer) error  { return nil }
func (o *identityCall) UnmarshalNDRResponse(_ context.Context, r ndr.Reader) error {
	o.out = make([]byte, len(o.want))
	for i := range o.out {
		if err := r.ReadData(&o.out[i]); err != nil {
			return err
		}
	}
	return nil
}

// tamperDialer corrupts one byte of the n-th write on its connections
// (0 disables), at off from the end of that write.
type tamperDialer struct {
	n, off int
	writes atomic.Int32
}

type tamperConn struct {
	net.Conn
	d *tamperDialer
}

func (c *tamperConn) Write(p []byte) (int, error) {
	if c.d.n > 0 && int(c.d.writes.Add(1)) == c.d.n && len(p) > c.d.off {
		p = bytes.Clone(p)
		p[len(p)-1-c.d.off] ^= 0x01
	}
	return c.Conn.Write(p)
}

func (d *tamperDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tamperConn{Conn: c, d: d}, nil
}

type rpcClientOpts struct {
	spnego     bool
	level      msrpc.SecurityOption
	noHdrSign  bool
	password   string
	fragment   int
	tamper     *tamperDialer
	dialTimout time.Duration
}

// bindClient dials addr and binds the test interface with go-msrpc's NTLM
// (or SPNEGO+NTLM) initiator at the given level.
func bindClient(t *testing.T, addr string, o rpcClientOpts) (msrpc.Conn, error) {
	t.Helper()
	if o.password == "" {
		o.password = rpcPass
	}
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	opts := []msrpc.Option{msrpc.WithTimeout(10 * time.Second)}
	if o.tamper != nil {
		opts = append(opts, msrpc.WithDialer(o.tamper))
	}
	if o.fragment > 0 {
		opts = append(opts, msrpc.WithFragmentSize(o.fragment))
	}
	cc, err := msrpc.Dial(ctx, "ncacn_ip_tcp:"+host+"["+port+"]", opts...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { cc.Close(context.Background()) })
	gopts := []gssapi.ContextOption{gssapi.WithCredential(credential.NewFromPassword(rpcUser, o.password, credential.Domain("WKHOST")))}
	if o.spnego {
		gopts = append(gopts, gssapi.WithMechanismFactory(ssp.SPNEGO))
	}
	gopts = append(gopts, gssapi.WithMechanismFactory(ssp.NTLM))
	sctx := gssapi.NewSecurityContext(ctx, gopts...)
	i := testInterface(nil)
	bopts := []msrpc.Option{o.level, msrpc.WithAbstractSyntax(&msrpc.SyntaxID{IfUUID: &i.UUID, IfVersionMajor: 1, IfVersionMinor: 2})}
	if o.noHdrSign {
		bopts = append(bopts, msrpc.NoHeaderSign())
	}
	return cc.Bind(sctx, bopts...)
}

// TestAuthenticatedRPC: go-msrpc binds with NTLM and SPNEGO(NTLM) at the
// connect, integrity and privacy levels, with and without header
// signing; calls run as the RPC-level identity, and requests and
// responses of several fragments are signed or sealed fragment by
// fragment.
func TestAuthenticatedRPC(t *testing.T) {
	addr, logs := authServer(t, Config{})
	levels := []struct {
		name string
		opt  msrpc.SecurityOption
	}{{"connect", msrpc.WithConnect()}, {"integrity", msrpc.WithSign()}, {"privacy", msrpc.WithSeal()}}
	for _, useSPNEGO := range []bool{false, true} {
		for _, lv := range levels {
			for _, noHdr := range []bool{false, true} {
				name := fmt.Sprintf("spnego=%v/%s/noheadersign=%v", useSPNEGO, lv.name, noHdr)
				t.Run(name, func(t *testing.T) {
					conn, err := bindClient(t, addr, rpcClientOpts{spnego: useSPNEGO, level: lv.opt, noHdrSign: noHdr})
					if err != nil {
						t.Fatalf("bind: %v\n%s", err, logs)
					}
					ctx := context.Background()
					want := rpcUser + "|" + ProtseqTCP
					id := &identityCall{want: want}
					if err := conn.Invoke(ctx, id); err != nil || string(id.out) != want {
						t.Fatalf("identity: %q, %v\n%s", id.out, err, logs)
					}
					// A request and a response of several fragments each.
					for _, n := range []int{0, 1, 15, 17, 9000} {
						in := bytes.Repeat([]byte{byte(n), 0x5a}, n/2+n%2)[:n]
						e := &echoCall{in: in}
						if err := conn.Invoke(ctx, e); err != nil || !bytes.Equal(e.out, in) {
							t.Fatalf("echo %d bytes: %v (equal %v)\n%s", n, err, bytes.Equal(e.out, in), logs)
						}
					}
				})
			}
		}
	}
	if !strings.Contains(logs.String(), "dcerpc: RPC-level logon") || !strings.Contains(logs.String(), "user="+rpcUser) {
		t.Errorf("no logon line in the log:\n%s", logs)
	}
}

// TestAuthenticatedRPCWrongPassword: a bad password fails the context;
// the call is refused with access denied, never run as the pipe's caller.
func TestAuthenticatedRPCWrongPassword(t *testing.T) {
	addr, logs := authServer(t, Config{})
	for _, useSPNEGO := range []bool{false, true} {
		conn, err := bindClient(t, addr, rpcClientOpts{spnego: useSPNEGO, level: msrpc.WithSign(), password: "wrong"})
		if err == nil {
			id := &identityCall{want: "smbuser|" + ProtseqTCP}
			err = conn.Invoke(context.Background(), id)
			if err == nil {
				t.Fatalf("spnego=%v: a call ran with a failed security context: %q", useSPNEGO, id.out)
			}
		}
		t.Logf("spnego=%v: %v", useSPNEGO, err)
	}
	if !strings.Contains(logs.String(), "RPC-level logon failed") {
		t.Errorf("the failure is not logged:\n%s", logs)
	}
}

// TestAuthenticatedRPCTampered: a request whose stub or verifier was
// changed in transit is refused and the association closed, at both
// protecting levels.
func TestAuthenticatedRPCTampered(t *testing.T) {
	for _, lv := range []msrpc.SecurityOption{msrpc.WithSign(), msrpc.WithSeal()} {
		for _, off := range []int{0, 20, 40} { // verifier, sec_trailer/pad region, stub
			addr, logs := authServer(t, Config{})
			// Writes: bind, auth3, then the request.
			d := &tamperDialer{n: 3, off: off}
			conn, err := bindClient(t, addr, rpcClientOpts{level: lv, tamper: d})
			if err != nil {
				t.Fatalf("bind: %v", err)
			}
			e := &echoCall{in: bytes.Repeat([]byte("x"), 64)}
			if err := conn.Invoke(context.Background(), e); err == nil {
				t.Fatalf("offset %d: a tampered request was answered: %q", off, e.out)
			}
			if !strings.Contains(logs.String(), "failed its security check") && !strings.Contains(logs.String(), "sec_trailer does not match") {
				t.Errorf("offset %d: not refused for its verifier:\n%s", off, logs)
			}
		}
	}
}

// TestRPCAuthRefusedWithoutAuthenticator keeps the old behaviour: with no
// Auth, a bind with a verifier gets bind_nak.
func TestRPCAuthRefusedWithoutAuthenticator(t *testing.T) {
	a := newTestPipe(t, Config{}, nil)
	b := ndrBind(1)
	b = withAuthTrailer(b, secTrailer{Type: ipc.RPCAuthNTLM, Level: levelIntegrity, ContextID: 1}, []byte("NTLMSSP\x00"))
	write(t, a, b)
	p := read(t, a)
	if p.Type != ptBindNak {
		t.Fatalf("got PDU type %d, want bind_nak", p.Type)
	}
}

// withAuthTrailer appends a sec_trailer and token to a client PDU.
func withAuthTrailer(msg []byte, tr secTrailer, token []byte) []byte {
	s := &security{authType: tr.Type, level: tr.Level, contextID: tr.ContextID}
	return withAuth(msg, s, token)
}

// ntlmInitiator is go-msrpc's raw NTLM initiator.
type ntlmInitiator struct{ ctx context.Context }

func newNTLMInitiator() *ntlmInitiator {
	return &ntlmInitiator{ctx: gssapi.NewSecurityContext(context.Background(),
		gssapi.WithMechanismFactory(ssp.NTLM),
		gssapi.WithCredential(credential.NewFromPassword(rpcUser, rpcPass, credential.Domain("WKHOST"))),
		gssapi.WithRequest(gssapi.DCEStyle))}
}

func (c *ntlmInitiator) step(in []byte) ([]byte, error) {
	tok, err := gssapi.InitSecurityContext(c.ctx, &gssapi.Token{Payload: in})
	if err != nil {
		return nil, err
	}
	return tok.Payload, nil
}

// establishNTLM binds a with an NTLM security context at level (bind
// with NEGOTIATE, rpc_auth_3 with AUTHENTICATE) and reports whether it
// was established.
func establishNTLM(t testing.TB, a *assoc, level uint8) bool {
	t.Helper()
	cl := newNTLMInitiator()
	neg, err := cl.step(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := secTrailer{Type: ipc.RPCAuthNTLM, Level: level, ContextID: 77}
	write(t, a, withAuthTrailer(ndrBind(1), tr, neg))
	p := read(t, a)
	if p.Type != ptBindAck || !p.hasAuth {
		t.Fatalf("bind answered with PDU type %d, auth %v", p.Type, p.hasAuth)
	}
	auth, err := cl.step(p.authValue)
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{}
	w.start(ptAuth3, pfcFirstFrag|pfcLastFrag, 2)
	w.u32(0)
	write(t, a, withAuthTrailer(w.finish(), tr, auth))
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sec != nil && a.sec.done
}

// TestRawNTLMLegs drives the legs by hand: the identity of calls is the
// RPC-level one, a request without a verifier or naming another context
// is refused, and so is everything on a failed context.
func TestRawNTLMLegs(t *testing.T) {
	a := newTestPipe(t, Config{Auth: rpcAuthenticator(quiet())}, nil)
	if !establishNTLM(t, a, levelConnect) {
		t.Fatal("not established")
	}
	// At the connect level requests carry no verifier.
	write(t, a, buildRequest(3, 3, 0, opIdentity, nil))
	if stub, _ := readResponse(t, a, 3); string(stub) != rpcUser+"|"+ProtseqNamedPipe {
		t.Fatalf("identity %q", stub)
	}
	// A second bind-time context is not offered: another context id is
	// refused in an alter_context.
	b := buildBind(ptAlterContext, 4, 4280, 4280, []contextElem{{ID: 1, Abstract: testSyntax(), Transfers: []syntaxID{ndr20Syntax}}})
	write(t, a, withAuthTrailer(b, secTrailer{Type: ipc.RPCAuthNTLM, Level: levelConnect, ContextID: 78}, []byte("NTLMSSP\x00\x01")))
	if p := read(t, a); faultStatus(t, p) != statusAccessDenied {
		t.Fatal("alter_context for a second security context was not refused")
	}

	// Integrity: a request without a verifier is refused and closes the
	// association.
	a = newTestPipe(t, Config{Auth: rpcAuthenticator(quiet())}, nil)
	if !establishNTLM(t, a, levelIntegrity) {
		t.Fatal("not established")
	}
	if err := a.Write(context.Background(), buildRequest(3, 3, 0, opIdentity, nil)); !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("Write: %v, want the association closed", err)
	}
	if p := read(t, a); faultStatus(t, p) != statusAccessDenied {
		t.Fatal("unsigned request on an integrity context was not refused")
	}

	// A failed rpc_auth_3: calls are refused, never run as the pipe's
	// caller.
	a = newTestPipe(t, Config{Auth: rpcAuthenticator(quiet())}, nil)
	tr := secTrailer{Type: ipc.RPCAuthNTLM, Level: levelConnect, ContextID: 5}
	neg, _ := newNTLMInitiator().step(nil)
	write(t, a, withAuthTrailer(ndrBind(1), tr, neg))
	read(t, a)
	w := &writer{}
	w.start(ptAuth3, pfcFirstFrag|pfcLastFrag, 2)
	w.u32(0)
	write(t, a, withAuthTrailer(w.finish(), tr, []byte("NTLMSSP\x00\x03\x00\x00\x00garbage")))
	write(t, a, buildRequest(3, 3, 0, opIdentity, nil))
	if p := read(t, a); faultStatus(t, p) != statusAccessDenied {
		t.Fatal("a call on a failed context was not refused")
	}
}

// FuzzAuthenticatedAssociation feeds arbitrary bytes to an association
// with an established NTLM context (integrity or privacy): nothing
// panics, every answer is a well-formed PDU, and a request whose
// verifier does not check is never executed.
func FuzzAuthenticatedAssociation(f *testing.F) {
	seeds := pduSeeds()
	tr := secTrailer{Type: ipc.RPCAuthNTLM, Level: levelIntegrity, ContextID: 77}
	for i := 2; i < len(seeds); i++ {
		f.Add(seeds[i], uint8(levelIntegrity))
		f.Add(withAuthTrailer(seeds[i], tr, bytes.Repeat([]byte{1}, 16)), uint8(levelPrivacy))
	}
	f.Fuzz(func(t *testing.T, data []byte, level uint8) {
		if level != levelPrivacy {
			level = levelIntegrity
		}
		var ran atomic.Int32
		h := testHandle(nil)
		s := NewServer(Config{Logger: quiet(), Auth: rpcAuthenticator(quiet())})
		s.Register("test", Interface{Name: "test", UUID: testUUID, VersionMajor: 1, VersionMinor: 2,
			Handle: func(ctx context.Context, opnum int, r ndr.Reader) (msrpc.Operation, error) {
				ran.Add(1)
				if opnum == opBlock {
					return nil, nil
				}
				return h(ctx, opnum, r)
			}})
		p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test"})
		if err != nil {
			t.Fatal(err)
		}
		a := p.(*assoc)
		defer func() { a.Close(); <-a.done }()
		if !establishNTLM(t, a, level) {
			t.Fatal("not established")
		}
		if err := a.Write(context.Background(), data); err != nil && !errors.Is(err, ipc.ErrPipeClosed) && !errors.Is(err, ipc.ErrPipeBusy) {
			t.Fatalf("Write: %v", err)
		}
		if !waitIdle(a) {
			t.Fatal("association did not finish its queued work")
		}
		for {
			m, ok, err := a.TryReadMessage()
			if err != nil || !ok {
				break
			}
			if _, err := parsePDU(m); err != nil {
				t.Fatalf("server sent a malformed PDU: %v", err)
			}
		}
		// Random bytes do not carry a valid NTLM signature: no call ran.
		if n := ran.Load(); n != 0 {
			t.Fatalf("%d calls ran without a valid verifier", n)
		}
	})
}

// TestWriteLeavesInputAlone: requests are read from the writer's buffer,
// but a sealed request is decrypted in place and an authentication token
// may be kept by the security context, so neither may be done in the
// caller's buffer: a sealed request (even one whose verifier fails) and
// the binds that carry tokens leave it as it was.
func TestWriteLeavesInputAlone(t *testing.T) {
	a := newTestPipe(t, Config{Auth: rpcAuthenticator(quiet())}, nil)
	cl := newNTLMInitiator()
	neg, err := cl.step(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := secTrailer{Type: ipc.RPCAuthNTLM, Level: levelPrivacy, ContextID: 77}
	bind := withAuthTrailer(ndrBind(1), tr, neg)
	keep := bytes.Clone(bind)
	write(t, a, bind)
	if !bytes.Equal(bind, keep) {
		t.Fatal("Write changed the bind it was given")
	}
	p := read(t, a)
	auth, err := cl.step(p.authValue)
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{}
	w.start(ptAuth3, pfcFirstFrag|pfcLastFrag, 2)
	w.u32(0)
	auth3 := withAuthTrailer(w.finish(), tr, auth)
	keep = bytes.Clone(auth3)
	write(t, a, auth3)
	if !bytes.Equal(auth3, keep) {
		t.Fatal("Write changed the rpc_auth_3 it was given")
	}
	req := withAuthTrailer(buildRequest(3, 3, 0, opIdentity, bytes.Repeat([]byte{0xa5}, 32)), tr, bytes.Repeat([]byte{1}, 16))
	keep = bytes.Clone(req)
	_ = a.Write(context.Background(), req) // refused: the verifier is not the client's
	if !bytes.Equal(req, keep) {
		t.Fatal("Write decrypted the sealed request in the caller's buffer")
	}
}

// TestInlineCallRunsAsRPCIdentity: a call that runs on the writer's
// goroutine runs, like one on the worker, as the RPC-level identity of
// the security context it came on.
func TestInlineCallRunsAsRPCIdentity(t *testing.T) {
	s := NewServer(Config{Logger: quiet(), Auth: rpcAuthenticator(quiet())})
	iface := testInterface(nil)
	iface.Inline = func(c Call) bool { return c.Opnum == opIdentity }
	s.Register("test", iface)
	p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test", Identity: ipc.Identity{User: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	a := p.(*assoc)
	t.Cleanup(func() { a.Close(); <-a.done })
	if !establishNTLM(t, a, levelConnect) {
		t.Fatal("not established")
	}
	write(t, a, buildRequest(3, 3, 0, opIdentity, nil))
	if stub, _ := readResponse(t, a, 3); string(stub) != rpcUser+"|"+ProtseqNamedPipe {
		t.Fatalf("identity %q", stub)
	}
	a.mu.Lock()
	workers := a.workers
	a.mu.Unlock()
	if workers != 0 {
		t.Fatalf("the call ran on a worker (%d started), not inline", workers)
	}
}
