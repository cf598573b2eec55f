package smb2

import (
	"bytes"
	"testing"

	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// keepingAuth is an Authenticator whose exchanges keep the token of their
// first leg, without copying it, and compare it at the second.
type keepingAuth struct{ ipc.Authenticator }

func (a keepingAuth) NewExchange() ipc.AuthExchange { return &keepingExchange{} }

type keepingExchange struct {
	first, copyOfFirst []byte
	legs               int
}

// Step keeps the first token and, for the next legs, checks that it has
// not changed; the fourth leg ends the exchange.
func (e *keepingExchange) Step(in []byte) ([]byte, bool, error) {
	e.legs++
	if e.first == nil {
		e.first, e.copyOfFirst = in, bytes.Clone(in)
	}
	if !bytes.Equal(e.first, e.copyOfFirst) {
		return nil, false, ipc.ErrLogonFailure // the first token changed under the exchange
	}
	return []byte("more"), e.legs == 4, nil
}

func (e *keepingExchange) SessionKey() []byte { return nil }

func (e *keepingExchange) Identity() ipc.Identity { return ipc.Identity{Anonymous: true} }

// Received messages are read into reused buffers, but a security exchange
// may keep the tokens it is given: the buffer of a SESSION_SETUP is never
// reused.
func TestAuthenticatorMayKeepTokens(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Auth = keepingAuth{c.Auth}
		c.SigningOptional = true
	})
	for range 5 {
		r := dialRaw(t, ts)
		r.negotiate(smbcrypto.Dialect311)
		for leg := 1; leg <= 4; leg++ {
			h, _ := r.call(cmdSessionSetup, sessionSetupBody(bytes.Repeat([]byte{byte('0' + leg)}, 200)))
			want := uint32(statusMoreProcessingRequired)
			if leg == 4 {
				want = statusSuccess
			}
			if h.Status != want {
				t.Fatalf("leg %d: %08x (the first token was overwritten)", leg, h.Status)
			}
			r.SessionID = h.SessionID
		}
	}
}
