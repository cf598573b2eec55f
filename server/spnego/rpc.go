package spnego

import (
	"errors"
	"fmt"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// RPCMechanism is implemented by mechanisms that are also a security
// provider of their own in RPC-level authentication (MS-RPCE 2.2.1.1.7):
// NTLM (RPC_C_AUTHN_WINNT) and Kerberos (RPC_C_AUTHN_GSS_KERBEROS).
type RPCMechanism interface {
	Mechanism
	RPCAuthType() uint8
}

// ProtectingContext is implemented by the contexts of mechanisms that
// protect messages once established.
type ProtectingContext interface {
	Context
	Protection() (ipc.PDUProtection, error)
}

var errNoProtection = errors.New("spnego: the mechanism does not protect messages")

var _ ipc.RPCAuthenticator = (*Acceptor)(nil)

// NewRPCExchange implements ipc.RPCAuthenticator. RPC_C_AUTHN_GSS_NEGOTIATE
// takes SPNEGO tokens only (MS-RPCE 3.3.1.5.2, MS-SPNG); the auth type of
// a mechanism takes that mechanism's own tokens only. Identities are
// completed by Config.Authorize as for SMB logons. Nil when authType is
// not offered or its mechanism is not enabled now.
func (a *Acceptor) NewRPCExchange(authType uint8) ipc.RPCExchange {
	if authType == ipc.RPCAuthSPNEGO {
		for _, m := range a.cfg.Mechanisms {
			if m.Enabled() {
				return &Exchange{a: a, rpc: true}
			}
		}
		return nil
	}
	for _, m := range a.cfg.Mechanisms {
		if rm, ok := m.(RPCMechanism); ok && rm.RPCAuthType() == authType && m.Enabled() {
			return &Exchange{a: a, rpc: true, only: m}
		}
	}
	return nil
}

// Protection implements ipc.RPCExchange: the chosen mechanism's message
// protection, once the exchange is done.
func (e *Exchange) Protection() (ipc.PDUProtection, error) {
	if e.state != stateDone {
		return nil, fmt.Errorf("%w: the exchange is not done", errNoProtection)
	}
	pc, ok := e.mctx.(ProtectingContext)
	if !ok {
		return nil, errNoProtection
	}
	return pc.Protection()
}
