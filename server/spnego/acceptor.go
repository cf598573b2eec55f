package spnego

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Mechanism is one security mechanism the acceptor can negotiate (NTLMSSP,
// Kerberos). Implementations are safe for concurrent use.
type Mechanism interface {
	// OIDs identifies the mechanism; every one of them selects it, and
	// all are advertised in the NegTokenInit2, in this order.
	OIDs() []asn1.ObjectIdentifier
	// Enabled reports whether the mechanism may be offered and chosen now
	// (Kerberos only while the host holds a machine keytab).
	Enabled() bool
	// IsRawToken reports whether tok is an initial token of this
	// mechanism sent without SPNEGO (a bare NTLMSSP NEGOTIATE, a GSS
	// Kerberos InitialContextToken).
	IsRawToken(tok []byte) bool
	// NewContext starts one security context.
	NewContext() Context
}

// Context is one security context of a mechanism being established.
type Context interface {
	// Accept consumes one mechanism token (GSS_Accept_sec_context) and
	// returns the acceptor's next token. done is true once the context is
	// established. An authentication failure wraps ipc.ErrLogonFailure;
	// any other error is a malformed or misplaced token.
	Accept(in []byte) (out []byte, done bool, err error)
	// SessionKey is the established context's key; nil for a null session.
	SessionKey() []byte
	// Identity is the authenticated caller; valid once done.
	Identity() ipc.Identity
}

// MICContext is implemented by the contexts of mechanisms that protect the
// negotiation (RFC 4178 5, MS-SPNG 3.1.5.1).
type MICContext interface {
	// VerifyMechListMIC checks the initiator's mechListMIC over the DER of
	// its mechTypes.
	VerifyMechListMIC(mechTypes, mic []byte) error
	// MechListMIC returns the acceptor's mechListMIC over mechTypes, or nil
	// when none is to be sent. expected is true when the initiator sent
	// one or the exchange requires one.
	MechListMIC(mechTypes []byte, expected bool) ([]byte, error)
}

// Config configures an Acceptor.
type Config struct {
	// Mechanisms are the mechanisms in the acceptor's order of preference.
	// Default none: every exchange fails.
	Mechanisms []Mechanism
	// Authorize, if set, completes the identity of every established
	// context (for example, the administrator rights of domain accounts).
	Authorize func(ipc.Identity) ipc.Identity
	// Logger receives debug records; it never sees keys. Default: discard.
	Logger *slog.Logger
}

// Acceptor is the SPNEGO acceptor (RFC 4178 with MS-SPNG) and also takes
// the raw tokens of its mechanisms. It implements ipc.Authenticator and is
// safe for concurrent use.
type Acceptor struct {
	cfg Config
}

var _ ipc.Authenticator = (*Acceptor)(nil)

// New returns an Acceptor for cfg.
func New(cfg Config) *Acceptor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Acceptor{cfg: cfg}
}

// NegotiateToken returns the NegTokenInit2 listing the enabled mechanisms
// (MS-SPNG 2.2.1, 3.2.5.2).
func (a *Acceptor) NegotiateToken() []byte {
	var oids []asn1.ObjectIdentifier
	for _, m := range a.cfg.Mechanisms {
		if m.Enabled() {
			oids = append(oids, m.OIDs()...)
		}
	}
	if len(oids) == 0 {
		return nil
	}
	return MarshalNegTokenInit2(oids, HintName)
}

// NewExchange starts the exchange for one new security context.
func (a *Acceptor) NewExchange() ipc.AuthExchange { return &Exchange{a: a} }

// mechanism finds the enabled mechanism identified by oid.
func (a *Acceptor) mechanism(oid asn1.ObjectIdentifier) Mechanism {
	for _, m := range a.cfg.Mechanisms {
		if !m.Enabled() {
			continue
		}
		for _, o := range m.OIDs() {
			if o.Equal(oid) {
				return m
			}
		}
	}
	return nil
}

// Errors returned by Step. Authentication failures wrap ipc.ErrLogonFailure.
// MaxMechTypesDER bounds the DER size of the mechTypes list of a
// NegTokenInit; a longer list is a malformed token.
const MaxMechTypesDER = 1024

var (
	ErrExchangeDone = errors.New("spnego: security exchange already finished")
	ErrBadToken     = errors.New("spnego: unexpected or malformed security token")
	ErrNoCommonMech = fmt.Errorf("%w: no mechanism in common with the client", ipc.ErrLogonFailure)
	ErrMechListMIC  = fmt.Errorf("%w: mechListMIC mismatch or missing", ipc.ErrLogonFailure)
	errRejected     = fmt.Errorf("%w: client rejected the negotiation", ipc.ErrLogonFailure)
)

type exchangeState int

const (
	stateInitial exchangeState = iota
	stateRaw                   // a mechanism's own tokens, without SPNEGO
	stateMech                  // SPNEGO chose a mechanism; its context runs
	stateWantMIC               // the mechanism is done; the client's mechListMIC is due
	stateDone
	stateFailed
)

// Exchange is one security context being established (ipc.AuthExchange).
// It is not safe for concurrent use; the legs of one context are
// sequential.
type Exchange struct {
	a     *Acceptor
	state exchangeState

	mctx         Context
	mechTypesDER []byte
	micRequired  bool // the chosen mechanism was not the client's first

	key      []byte
	identity ipc.Identity

	// rpc is set for RPC-level authentication, where only
	// the auth type's tokens are taken: SPNEGO tokens when only is nil,
	// else the raw tokens of that mechanism.
	rpc  bool
	only Mechanism
}

// Context returns the mechanism context once one was chosen (the RPC
// runtime uses it for per-message protection); nil before.
func (e *Exchange) Context() Context { return e.mctx }

// SessionKey returns the established context's key, nil for a null
// session or before the exchange is done.
func (e *Exchange) SessionKey() []byte {
	if e.state != stateDone || e.key == nil {
		return nil
	}
	return append([]byte(nil), e.key...)
}

// Identity returns the authenticated caller once the exchange is done.
func (e *Exchange) Identity() ipc.Identity {
	if e.state != stateDone {
		return ipc.Identity{}
	}
	return e.identity
}

// Step implements ipc.AuthExchange.
func (e *Exchange) Step(in []byte) (out []byte, done bool, err error) {
	switch e.state {
	case stateDone, stateFailed:
		return nil, false, ErrExchangeDone
	}
	wasSPNEGO := e.state == stateMech || e.state == stateWantMIC || (e.state == stateInitial && IsInitialContextToken(in))
	out, done, err = e.step(in)
	if err != nil {
		e.state = stateFailed
		e.key, e.identity = nil, ipc.Identity{}
		e.a.cfg.Logger.Debug("spnego: security exchange failed", "err", err)
		if wasSPNEGO {
			out = (&NegTokenResp{NegState: StateReject}).Marshal()
		} else {
			out = nil
		}
		return out, false, err
	}
	if done {
		e.finish()
	}
	return out, done, nil
}

// finish records the mechanism's key and identity.
func (e *Exchange) finish() {
	e.state = stateDone
	e.key = e.mctx.SessionKey()
	id := e.mctx.Identity()
	if e.a.cfg.Authorize != nil && !id.Anonymous {
		id = e.a.cfg.Authorize(id)
	}
	e.identity = id
}

func (e *Exchange) step(in []byte) ([]byte, bool, error) {
	switch e.state {
	case stateInitial:
		if e.only != nil {
			// RPC_C_AUTHN_WINNT, RPC_C_AUTHN_GSS_KERBEROS: the mechanism
			// parses its first token itself (a DCE-style AP-REQ may come
			// without GSS framing).
			e.state = stateRaw
			e.mctx = e.only.NewContext()
			return e.mctx.Accept(in)
		}
		if IsInitialContextToken(in) {
			return e.first(in)
		}
		if e.rpc {
			return nil, false, fmt.Errorf("%w: not an SPNEGO token", ErrBadToken)
		}
		for _, m := range e.a.cfg.Mechanisms {
			if m.Enabled() && m.IsRawToken(in) {
				e.state = stateRaw
				e.mctx = m.NewContext()
				return e.mctx.Accept(in)
			}
		}
		return nil, false, fmt.Errorf("%w: neither SPNEGO nor a token of an enabled mechanism", ErrBadToken)
	case stateRaw:
		return e.mctx.Accept(in)
	case stateMech, stateWantMIC:
		resp, err := ParseNegTokenResp(in)
		if err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrBadToken, err)
		}
		if resp.NegState == StateReject {
			return nil, false, errRejected
		}
		if e.state == stateWantMIC {
			if resp.MechListMIC == nil {
				return nil, false, ErrMechListMIC
			}
			if err := e.verifyMIC(resp.MechListMIC); err != nil {
				return nil, false, err
			}
			return (&NegTokenResp{NegState: StateAcceptCompleted}).Marshal(), true, nil
		}
		if resp.ResponseToken == nil {
			return nil, false, fmt.Errorf("%w: mechanism token expected", ErrBadToken)
		}
		return e.mechLeg(nil, resp.ResponseToken, resp.MechListMIC)
	}
	return nil, false, ErrBadToken
}

// first handles a NegTokenInit (RFC 4178 4.2.1, MS-SPNG 3.2.5): the
// acceptor takes the first of the client's mechanisms it has enabled; the
// optimistic token is used only when that is the client's first choice.
func (e *Exchange) first(in []byte) ([]byte, bool, error) {
	init, err := ParseInitialContextToken(in)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	// The mechTypes list is kept until the exchange ends (the input of
	// the mechListMIC), so an unfinished exchange costs its size; a real
	// list names a handful of OIDs.
	if len(init.MechTypesDER) > MaxMechTypesDER {
		return nil, false, fmt.Errorf("%w: mechTypes list of %d bytes (at most %d)", ErrBadToken, len(init.MechTypesDER), MaxMechTypesDER)
	}
	e.mechTypesDER = init.MechTypesDER
	idx := -1
	var mech Mechanism
	for i, oid := range init.MechTypes {
		if mech = e.a.mechanism(oid); mech != nil {
			idx = i
			break
		}
	}
	if mech == nil {
		return nil, false, ErrNoCommonMech
	}
	// supportedMech echoes the client's OID: MS-SPNG 3.2.5 requires the
	// truncated Kerberos OID back when the client's optimistic token used
	// it.
	chosen := init.MechTypes[idx]
	e.mctx = mech.NewContext()
	e.state = stateMech
	if idx > 0 || init.MechToken == nil {
		// The optimistic token, if any, belongs to another mechanism:
		// select ours and wait for its first token. When it was not the
		// client's first choice the mechListMIC exchange becomes mandatory
		// and the reply says so with request-mic (RFC 4178 4.2.2, 5).
		e.micRequired = idx > 0
		st := StateAcceptIncomplete
		if e.micRequired {
			st = StateRequestMIC
		}
		return (&NegTokenResp{NegState: st, SupportedMech: chosen}).Marshal(), false, nil
	}
	return e.mechLeg(chosen, init.MechToken, init.MechListMIC)
}

// mechLeg passes one token to the mechanism and wraps its answer; once the
// mechanism is done it runs the mechListMIC exchange.
func (e *Exchange) mechLeg(supported asn1.ObjectIdentifier, tok, clientMIC []byte) ([]byte, bool, error) {
	out, done, err := e.mctx.Accept(tok)
	if err != nil {
		return nil, false, err
	}
	resp := &NegTokenResp{NegState: StateAcceptIncomplete, SupportedMech: supported}
	if len(out) > 0 {
		resp.ResponseToken = out
	}
	if !done {
		// A mechListMIC before the mechanism has keys cannot be checked;
		// it is ignored as RFC 4178 5 places it on the last leg only.
		return resp.Marshal(), false, nil
	}
	if e.mctx.Identity().Anonymous {
		// A null session has no keys to protect the negotiation with.
		resp.NegState = StateAcceptCompleted
		return resp.Marshal(), true, nil
	}
	mc, hasMIC := e.mctx.(MICContext)
	switch {
	case clientMIC != nil:
		if err := e.verifyMIC(clientMIC); err != nil {
			return nil, false, err
		}
	case e.micRequired && len(out) == 0:
		// The client sent the mechanism's last token and had to send its
		// mechListMIC with it.
		return nil, false, ErrMechListMIC
	case e.micRequired:
		// The acceptor sends the mechanism's last token: the client's
		// mechListMIC comes in the next leg (RFC 4178 5).
		if !hasMIC {
			return nil, false, ErrMechListMIC
		}
		mic, err := mc.MechListMIC(e.mechTypesDER, true)
		if err != nil {
			return nil, false, err
		}
		resp.MechListMIC = mic
		e.state = stateWantMIC
		return resp.Marshal(), false, nil
	}
	if hasMIC {
		mic, err := mc.MechListMIC(e.mechTypesDER, clientMIC != nil)
		if err != nil {
			return nil, false, err
		}
		resp.MechListMIC = mic
	}
	resp.NegState = StateAcceptCompleted
	return resp.Marshal(), true, nil
}

// verifyMIC checks the client's mechListMIC with the mechanism's keys.
func (e *Exchange) verifyMIC(mic []byte) error {
	mc, ok := e.mctx.(MICContext)
	if !ok {
		return fmt.Errorf("%w: the mechanism cannot verify a mechListMIC", ErrMechListMIC)
	}
	return mc.VerifyMechListMIC(e.mechTypesDER, mic)
}
