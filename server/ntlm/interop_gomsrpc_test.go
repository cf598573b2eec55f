package ntlm

import (
	"github.com/wkssvcd/wkssvcd/server/spnego"

	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
	msntlm "github.com/oiweiwei/go-msrpc/ssp/ntlm"
	msspnego "github.com/oiweiwei/go-msrpc/ssp/spnego"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// goMSRPCClient is go-msrpc's SPNEGO+NTLM initiator, configured as its SMB2
// dialer configures it (DCE style, NTLMv2 with MIC).
type goMSRPCClient struct {
	ctx context.Context
}

func newGoMSRPCClient(user, password, domain string, useSPNEGO bool) *goMSRPCClient {
	opts := []gssapi.ContextOption{}
	if useSPNEGO {
		opts = append(opts, gssapi.WithMechanismFactory(msspnego.Mechanism{}))
	}
	opts = append(opts,
		gssapi.WithMechanismFactory(msntlm.Mechanism{}, msntlm.NewConfig()),
		gssapi.WithCredential(credential.NewFromPassword(user, password, credential.Domain(domain))),
		gssapi.WithRequest(gssapi.DCEStyle),
	)
	return &goMSRPCClient{ctx: gssapi.NewSecurityContext(context.Background(), opts...)}
}

func (c *goMSRPCClient) step(in []byte) ([]byte, error) {
	tok, err := gssapi.InitSecurityContext(c.ctx, &gssapi.Token{Payload: in})
	if err != nil {
		return nil, err
	}
	return tok.Payload, nil
}

func (c *goMSRPCClient) sessionKey() []byte {
	v, _ := gssapi.GetAttribute(c.ctx, gssapi.AttributeSessionKey)
	b, _ := v.([]byte)
	return b
}

// runGoMSRPC drives a whole exchange; it returns the server's last error
// and the client's error on the final server token (if any).
func runGoMSRPC(t *testing.T, a *spnego.Acceptor, cl *goMSRPCClient) (ipc.AuthExchange, error, error) {
	t.Helper()
	ex := a.NewExchange()
	tok, err := cl.step(nil)
	if err != nil {
		t.Fatalf("client first leg: %v", err)
	}
	for i := 0; i < 4; i++ {
		out, done, err := ex.Step(tok)
		if err != nil {
			return ex, err, nil
		}
		if done {
			if len(out) == 0 {
				return ex, nil, nil
			}
			_, cerr := cl.step(out)
			return ex, nil, cerr
		}
		if tok, err = cl.step(out); err != nil {
			t.Fatalf("client leg %d: %v", i+2, err)
		}
	}
	t.Fatal("exchange did not finish")
	return nil, nil, nil
}

func TestGoMSRPCInteropSPNEGO(t *testing.T) {
	a := testAuthenticator(Config{})
	cl := newGoMSRPCClient("Alice", "Secret123!", "EXAMPLE", true)
	ex, err, cerr := runGoMSRPC(t, a, cl)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	if cerr != nil {
		t.Fatalf("client rejected server's final token (mechListMIC): %v", cerr)
	}
	key := ex.SessionKey()
	if len(key) != 16 || !bytes.Equal(key, cl.sessionKey()) {
		t.Fatalf("session keys differ: server %x client %x", key, cl.sessionKey())
	}
	id := ex.Identity()
	if id.User != "alice" || id.Domain != "EXAMPLE" || !id.Admin || id.Anonymous {
		t.Fatalf("identity = %+v", id)
	}
	// The exchange is over.
	if _, _, err := ex.Step([]byte{1}); !errors.Is(err, spnego.ErrExchangeDone) {
		t.Fatalf("Step after done: %v", err)
	}
}

func TestGoMSRPCInteropRawNTLM(t *testing.T) {
	a := testAuthenticator(Config{})
	cl := newGoMSRPCClient("bob", "hunter2", "", false)
	ex, err, _ := runGoMSRPC(t, a, cl)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	if !bytes.Equal(ex.SessionKey(), cl.sessionKey()) || ex.Identity().User != "Bob" || ex.Identity().Admin {
		t.Fatalf("key %x/%x identity %+v", ex.SessionKey(), cl.sessionKey(), ex.Identity())
	}
}

func TestGoMSRPCInteropWrongPassword(t *testing.T) {
	for _, tc := range []struct{ user, pass string }{
		{"alice", "wrong"},
		{"mallory", "Secret123!"},
	} {
		a := testAuthenticator(Config{})
		cl := newGoMSRPCClient(tc.user, tc.pass, "EXAMPLE", true)
		ex, err, _ := runGoMSRPC(t, a, cl)
		if !errors.Is(err, ipc.ErrLogonFailure) {
			t.Fatalf("%s: err = %v, want logon failure", tc.user, err)
		}
		if ex.SessionKey() != nil || !ex.Identity().Equal(ipc.Identity{}) {
			t.Fatalf("failed exchange leaks state")
		}
	}
}

// TestConcurrentExchanges shares one Authenticator between goroutines
// (run with -race).
func TestConcurrentExchanges(t *testing.T) {
	a := testAuthenticator(Config{})
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			cl := newGoMSRPCClient("alice", "Secret123!", "EXAMPLE", true)
			ex := a.NewExchange()
			tok, err := cl.step(nil)
			for err == nil {
				var out []byte
				var done bool
				if out, done, err = ex.Step(tok); err != nil || done {
					break
				}
				tok, err = cl.step(out)
			}
			if err == nil && len(ex.SessionKey()) != 16 {
				err = errors.New("no session key")
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
