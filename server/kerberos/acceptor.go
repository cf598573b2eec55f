package kerberos

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/oiweiwei/go-msrpc/ssp/krb5/crypto"
	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/flags"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/keyusage"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/msgtype"
	"github.com/oiweiwei/gokrb5.fork/v9/messages"
	"github.com/oiweiwei/gokrb5.fork/v9/types"

	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/spnego"
)

// MechanismName is ipc.Identity.Mechanism for Kerberos logons.
const MechanismName = "Kerberos"

// DefaultMaxClockSkew is the KILE default of MaxClockSkew (MS-KILE 3.3.1,
// RFC 4120 1.7: five minutes).
const DefaultMaxClockSkew = 5 * time.Minute

// Config configures the Kerberos Mechanism.
type Config struct {
	// Keys supplies the machine account's keys. Required; while it has
	// none the mechanism is not offered.
	Keys KeySource
	// MaxClockSkew bounds the difference between this host's clock and
	// the client's authenticator, and the slack on ticket times. Default
	// DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// ReplayCacheSize bounds the authenticators remembered. Default
	// DefaultReplayCacheSize.
	ReplayCacheSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of subkeys and sequence numbers. Default
	// crypto/rand.Reader.
	Rand io.Reader
	// Logger receives logon records; it never sees keys or tickets.
	// Default: discard.
	Logger *slog.Logger
}

// Mechanism is the Kerberos acceptor. It is safe for concurrent use; one
// replay cache serves every context it creates.
type Mechanism struct {
	cfg    Config
	replay *replayCache
}

var (
	_ spnego.Mechanism  = (*Mechanism)(nil)
	_ spnego.MICContext = (*Context)(nil)
)

// NewMechanism returns the Kerberos mechanism for cfg with defaults applied.
func NewMechanism(cfg Config) *Mechanism {
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = DefaultMaxClockSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Mechanism{cfg: cfg, replay: newReplayCache(cfg.ReplayCacheSize)}
}

// OIDs returns the truncated Microsoft OID first, as Windows offers them
// (MS-SPNG <5>, <9>), then the standard one.
func (m *Mechanism) OIDs() []asn1.ObjectIdentifier { return []asn1.ObjectIdentifier{OIDMS, OID} }

// Enabled reports whether the host holds keys to accept tickets with.
func (m *Mechanism) Enabled() bool {
	if m.cfg.Keys == nil {
		return false
	}
	_, ok, err := m.cfg.Keys.ServiceKeys()
	if err != nil {
		m.cfg.Logger.Warn("kerberos: machine keys unavailable; Kerberos is not offered", "err", err)
	}
	return ok && err == nil
}

// IsRawToken reports whether tok is a GSS-framed Kerberos token.
func (m *Mechanism) IsRawToken(tok []byte) bool { return isGSSKrb5(tok) }

// RPCAuthType implements spnego.RPCMechanism: RPC_C_AUTHN_GSS_KERBEROS.
func (m *Mechanism) RPCAuthType() uint8 { return ipc.RPCAuthKerberos }

// NewContext starts one security context.
func (m *Mechanism) NewContext() spnego.Context { return m.NewKerberosContext() }

// NewKerberosContext is NewContext with the concrete type, for the RPC
// runtime's per-message protection.
func (m *Mechanism) NewKerberosContext() *Context { return &Context{m: m} }

// Errors; authentication failures wrap ipc.ErrLogonFailure.
var (
	ErrExchangeDone = errors.New("kerberos: security exchange already finished")
	ErrBadToken     = errors.New("kerberos: unexpected or malformed token")
	errLogon        = fmt.Errorf("%w: Kerberos", ipc.ErrLogonFailure)
)

type contextState int

const (
	stateWantAPReq contextState = iota
	stateWantAPRep              // DCE style: the client's AP-REP is due
	stateDone
	stateFailed
)

// Context is one Kerberos security context. It is not safe for concurrent
// use; the legs of one context are sequential.
type Context struct {
	m     *Mechanism
	state contextState

	ticketKey   types.EncryptionKey // the ticket's session key
	contextKey  types.EncryptionKey // the key of per-message tokens
	acceptorSub bool                // contextKey is an acceptor subkey sent in the AP-REP
	gssFlags    uint32
	dceStyle    bool
	// initiatorSeq and acceptorSeq are the next sequence numbers of each
	// side's per-message tokens (RFC 4121 4.2.6.1).
	initiatorSeq uint64
	acceptorSeq  uint64
	apRepSeq     int64

	identity ipc.Identity
}

// SessionKey returns the established context's key (MS-KILE 3.1.1.2: the
// AP-REP subkey when mutual authentication was requested, else the
// authenticator's subkey or the ticket's session key).
func (c *Context) SessionKey() []byte {
	if c.state != stateDone {
		return nil
	}
	return append([]byte(nil), c.contextKey.KeyValue...)
}

// Identity returns the authenticated caller.
func (c *Context) Identity() ipc.Identity {
	if c.state != stateDone {
		return ipc.Identity{}
	}
	return c.identity
}

// DCEStyle reports whether the client asked for DCE-style (three-leg)
// authentication (MS-KILE 3.4.5.1).
func (c *Context) DCEStyle() bool { return c.dceStyle }

// Accept takes the AP-REQ (and, in DCE style, the client's AP-REP).
func (c *Context) Accept(in []byte) (out []byte, done bool, err error) {
	switch c.state {
	case stateWantAPReq:
		out, done, err = c.acceptAPReq(in)
	case stateWantAPRep:
		err = c.acceptAPRep(in)
		done = err == nil
	default:
		return nil, false, ErrExchangeDone
	}
	if err != nil {
		c.state = stateFailed
		c.identity = ipc.Identity{}
		c.contextKey, c.ticketKey = types.EncryptionKey{}, types.EncryptionKey{}
		c.m.cfg.Logger.Debug("kerberos: security exchange failed", "err", err)
		return nil, false, err
	}
	if done {
		c.state = stateDone
	}
	return out, done, nil
}

// logonError names the client (once known) and the reason for the log.
func logonError(user, domain, reason string, cause error) error {
	err := errLogon
	if cause != nil {
		err = fmt.Errorf("%w: %s: %w", errLogon, reason, cause)
	} else {
		err = fmt.Errorf("%w: %s", errLogon, reason)
	}
	return &ipc.LogonError{User: user, Domain: domain, Reason: reason, Err: err}
}

// acceptAPReq verifies an AP-REQ (RFC 4120 3.2.3, MS-KILE 3.4.5) and
// builds the AP-REP when mutual authentication is asked for.
func (c *Context) acceptAPReq(in []byte) ([]byte, bool, error) {
	tok := in
	if tokID, inner, err := splitGSSToken(in); err == nil {
		if tokID != tokIDAPReq {
			return nil, false, fmt.Errorf("%w: GSS token %x is not an AP-REQ", ErrBadToken, tokID)
		}
		tok = inner
	}
	var req messages.APReq
	if err := unmarshalAPReq(&req, tok); err != nil {
		return nil, false, fmt.Errorf("%w: AP-REQ: %v", ErrBadToken, err)
	}
	if err := c.verify(&req); err != nil {
		return nil, false, err
	}
	auth := req.Authenticator
	mutual := types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) ||
		c.gssFlags&(gssMutualFlag|gssDCEStyle) != 0
	c.initiatorSeq = uint64(uint32(auth.SeqNumber))
	if !mutual {
		// No AP-REP: the initiator's subkey, or the ticket's key.
		c.contextKey = c.ticketKey
		if len(auth.SubKey.KeyValue) > 0 {
			c.contextKey = auth.SubKey
		}
		c.acceptorSeq = c.initiatorSeq
		return nil, true, nil
	}
	rep, err := c.apRep(auth)
	if err != nil {
		return nil, false, err
	}
	if c.dceStyle {
		// MS-KILE 3.4.5.1: no GSS framing, and a third leg follows.
		c.state = stateWantAPRep
		return rep, false, nil
	}
	return gssFrame(tokIDAPRep, rep), true, nil
}

// apRep builds the AP-REP (RFC 4120 3.2.4): ctime and cusec of the
// authenticator, a subkey and the acceptor's first sequence number. With
// AES the subkey is a new random key; with RC4 it is the initiator's
// subkey, as MS-KILE 3.1.1.2 describes ("the same as the subkey in
// KRB_AP_REP" for DES and RC4). It becomes the context key.
func (c *Context) apRep(auth types.Authenticator) ([]byte, error) {
	sub := auth.SubKey
	keyType := c.ticketKey.KeyType
	if len(sub.KeyValue) > 0 {
		keyType = sub.KeyType
	}
	if keyType == etypeID.AES128_CTS_HMAC_SHA1_96 || keyType == etypeID.AES256_CTS_HMAC_SHA1_96 || len(sub.KeyValue) == 0 {
		et, err := krbcrypto.GetEtype(keyType)
		if err != nil {
			return nil, logonError("", "", "unsupported subkey type", err)
		}
		v := make([]byte, et.GetKeyByteSize())
		if _, err := io.ReadFull(c.m.cfg.Rand, v); err != nil {
			return nil, fmt.Errorf("kerberos: subkey: %w", err)
		}
		sub = types.EncryptionKey{KeyType: keyType, KeyValue: v}
	}
	var seq [4]byte
	if _, err := io.ReadFull(c.m.cfg.Rand, seq[:]); err != nil {
		return nil, fmt.Errorf("kerberos: sequence number: %w", err)
	}
	c.apRepSeq = int64(binary.BigEndian.Uint32(seq[:]) & 0x3fffffff)
	part := messages.EncAPRepPart{CTime: auth.CTime, Cusec: auth.Cusec, Subkey: sub, SequenceNumber: c.apRepSeq}
	rep, err := messages.NewAPRep(c.ticketKey, part)
	if err != nil {
		return nil, fmt.Errorf("kerberos: AP-REP: %w", err)
	}
	b, err := rep.Marshal()
	if err != nil {
		return nil, fmt.Errorf("kerberos: AP-REP: %w", err)
	}
	c.contextKey, c.acceptorSub = sub, true
	c.acceptorSeq = uint64(c.apRepSeq)
	return b, nil
}

// acceptAPRep checks the client's closing AP-REP of DCE style (MS-KILE
// 3.4.5.1): encrypted with the ticket's session key, echoing the
// acceptor's sequence number.
func (c *Context) acceptAPRep(in []byte) error {
	tok := in
	if tokID, inner, err := splitGSSToken(in); err == nil {
		if tokID != tokIDAPRep {
			return fmt.Errorf("%w: GSS token %x is not an AP-REP", ErrBadToken, tokID)
		}
		tok = inner
	}
	var rep messages.APRep
	if err := unmarshalAPRep(&rep, tok); err != nil {
		return fmt.Errorf("%w: AP-REP: %v", ErrBadToken, err)
	}
	b, err := krbcrypto.DecryptEncPart(rep.EncPart, c.ticketKey, keyusage.AP_REP_ENCPART)
	if err != nil {
		return logonError(c.identity.User, c.identity.Domain, "closing AP-REP does not decrypt", err)
	}
	if err := unmarshalEncAPRepPart(&rep.DecryptedEncPart, b); err != nil {
		return fmt.Errorf("%w: AP-REP: %v", ErrBadToken, err)
	}
	if rep.DecryptedEncPart.SequenceNumber != c.apRepSeq {
		return logonError(c.identity.User, c.identity.Domain, "closing AP-REP has the wrong sequence number", nil)
	}
	return nil
}

// verify runs the checks of RFC 4120 3.2.3 and MS-KILE 3.4.5 on req and
// sets the ticket key, the GSS flags and the identity.
func (c *Context) verify(req *messages.APReq) error {
	cfg := &c.m.cfg
	if req.PVNO != iana.PVNO || req.MsgType != msgtype.KRB_AP_REQ {
		return fmt.Errorf("%w: not a Kerberos V5 AP-REQ", ErrBadToken)
	}
	if types.IsFlagSet(&req.APOptions, flags.APOptionUseSessionKey) {
		return logonError("", "", "user-to-user tickets are not accepted", nil)
	}
	if cfg.Keys == nil {
		return logonError("", "", "host has no machine keys", nil)
	}
	keys, ok, err := cfg.Keys.ServiceKeys()
	if err != nil || !ok {
		return logonError("", "", "host has no machine keys (not joined?)", err)
	}
	if !keys.isOwnRealm(req.Ticket.Realm) {
		return logonError("", "", fmt.Sprintf("ticket for realm %q, this host is in %q", req.Ticket.Realm, keys.Realm), nil)
	}
	et := req.Ticket.EncPart.EType
	if et == etypeID.DES_CBC_CRC || et == etypeID.DES_CBC_MD5 || et == etypeID.DES_CBC_MD4 {
		// MS-KILE 3.4.5: a DES ticket for the computer is refused.
		return logonError("", "", "DES ticket refused", nil)
	}
	// The key of the ticket's version first, then older versions
	// (MS-KILE 3.4.5: "retries decrypting the ticket with the older keys").
	var candidates []Key
	for _, k := range keys.Keys {
		if k.EType == et && int(k.KVNO) == req.Ticket.EncPart.KVNO {
			candidates = append(candidates, k)
		}
	}
	for _, k := range keys.Keys {
		if k.EType == et && int(k.KVNO) != req.Ticket.EncPart.KVNO {
			candidates = append(candidates, k)
		}
	}
	if len(candidates) == 0 {
		return logonError("", "", fmt.Sprintf("no machine key of type %d (kvno %d)", et, req.Ticket.EncPart.KVNO), nil)
	}
	var enc messages.EncTicketPart
	var used Key
	decrypted := false
	for _, k := range candidates {
		b, err := krbcrypto.DecryptEncPart(req.Ticket.EncPart, types.EncryptionKey{KeyType: k.EType, KeyValue: k.Value}, keyusage.KDC_REP_TICKET)
		if err != nil {
			continue
		}
		if err := unmarshalEncTicketPart(&enc, b); err != nil {
			return fmt.Errorf("%w: ticket: %v", ErrBadToken, err)
		}
		used, decrypted = k, true
		break
	}
	if !decrypted {
		return logonError("", "", fmt.Sprintf("ticket does not decrypt with the machine keys (type %d, kvno %d)", et, req.Ticket.EncPart.KVNO), nil)
	}
	user, realm := enc.CName.PrincipalNameString(), enc.CRealm
	now := cfg.Now().UTC()
	skew := cfg.MaxClockSkew
	start := enc.StartTime
	if start.IsZero() {
		start = enc.AuthTime
	}
	if types.IsFlagSet(&enc.Flags, flags.Invalid) || start.Sub(now) > skew {
		return logonError(user, realm, "ticket not yet valid", nil)
	}
	if now.Sub(enc.EndTime) > skew {
		return logonError(user, realm, "ticket expired", nil)
	}
	c.ticketKey = enc.Key
	ab, err := krbcrypto.DecryptEncPart(req.EncryptedAuthenticator, enc.Key, keyusage.AP_REQ_AUTHENTICATOR)
	if err != nil {
		return logonError(user, realm, "authenticator does not decrypt", err)
	}
	if err := unmarshalAuthenticator(&req.Authenticator, ab); err != nil {
		return fmt.Errorf("%w: authenticator: %v", ErrBadToken, err)
	}
	auth := &req.Authenticator
	// The realms match when equal, or when both name this host's domain
	// (a client may write its NetBIOS name, as impacket does).
	sameRealm := strings.EqualFold(auth.CRealm, enc.CRealm) || (keys.isOwnRealm(auth.CRealm) && keys.isOwnRealm(enc.CRealm))
	if !auth.CName.Equal(enc.CName) || !sameRealm {
		return logonError(user, realm, "authenticator client differs from the ticket's", nil)
	}
	ct := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	if d := now.Sub(ct); d > skew || -d > skew {
		return logonError(user, realm, "client clock outside the allowed skew", nil)
	}
	c.gssFlags = 0
	if auth.Cksum.CksumType == gssChecksumType {
		f, err := gssChecksumFlags(auth.Cksum.Checksum)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadToken, err)
		}
		c.gssFlags = f
	}
	c.dceStyle = c.gssFlags&gssDCEStyle != 0
	switch c.m.replay.check(req.EncryptedAuthenticator.Cipher, now, now.Add(2*skew)) {
	case replaySeen:
		return logonError(user, realm, "replayed authenticator", nil)
	case replayFull:
		return logonError(user, realm, "replay cache full", nil)
	}
	pac, err := findPAC(enc.AuthorizationData)
	if err != nil {
		return logonError(user, realm, "no usable PAC: "+err.Error(), err)
	}
	info, err := verifyPAC(pac, types.EncryptionKey{KeyType: used.EType, KeyValue: used.Value}, user, enc.AuthTime)
	if err != nil {
		return logonError(user, realm, "PAC refused: "+err.Error(), err)
	}
	c.identity = ipc.Identity{User: info.User, Domain: info.Domain, SIDs: info.SIDs, Mechanism: MechanismName}
	if c.identity.User == "" {
		c.identity.User = user
	}
	if c.identity.Domain == "" {
		c.identity.Domain = realm
	}
	cfg.Logger.Info("kerberos: logon", "user", c.identity.User, "domain", c.identity.Domain, "realm", realm,
		"service", req.Ticket.SName.PrincipalNameString(), "etype", et, "kvno", used.KVNO, "dce_style", c.dceStyle)
	return nil
}

// cipher returns the per-message token routine of one direction of the
// context (RFC 4121 4.2, RFC 4757 7).
func (c *Context) cipher(initiator bool) (crypto.Cipher, error) {
	et, err := krbcrypto.GetEtype(c.contextKey.KeyType)
	if err != nil {
		return nil, err
	}
	return crypto.NewCipher(context.Background(), crypto.CipherSetting{
		Type: et, Key: c.contextKey, IsSubKey: c.acceptorSub, IsLocal: initiator, DCEStyle: c.dceStyle,
	})
}

// VerifyMechListMIC checks the initiator's GSS_GetMIC over mechTypes
// (RFC 4178 5) with the context key and the initiator's next sequence
// number.
func (c *Context) VerifyMechListMIC(mechTypes, mic []byte) error {
	if c.state != stateDone {
		return spnego.ErrMechListMIC
	}
	ci, err := c.cipher(true)
	if err != nil {
		return spnego.ErrMechListMIC
	}
	want, err := ci.MakeSignature(context.Background(), c.initiatorSeq, [][]byte{mechTypes})
	if err != nil || subtle.ConstantTimeCompare(want, mic) != 1 {
		return spnego.ErrMechListMIC
	}
	c.initiatorSeq++
	return nil
}

// MechListMIC returns the acceptor's GSS_GetMIC over mechTypes when one is
// expected.
func (c *Context) MechListMIC(mechTypes []byte, expected bool) ([]byte, error) {
	if c.state != stateDone || !expected {
		return nil, nil
	}
	ci, err := c.cipher(false)
	if err != nil {
		return nil, err
	}
	mic, err := ci.MakeSignature(context.Background(), c.acceptorSeq, [][]byte{mechTypes})
	if err != nil {
		return nil, err
	}
	c.acceptorSeq++
	return mic, nil
}

// The gokrb5 decoders may panic on hostile input; these turn a panic into
// an error.

func unmarshalAPReq(r *messages.APReq, b []byte) (err error) {
	defer recoverErr(&err)
	return r.Unmarshal(b)
}

func unmarshalAPRep(r *messages.APRep, b []byte) (err error) {
	defer recoverErr(&err)
	return r.Unmarshal(b)
}

func unmarshalEncAPRepPart(p *messages.EncAPRepPart, b []byte) (err error) {
	defer recoverErr(&err)
	return p.Unmarshal(b)
}

func unmarshalEncTicketPart(p *messages.EncTicketPart, b []byte) (err error) {
	defer recoverErr(&err)
	return p.Unmarshal(b)
}

func unmarshalAuthenticator(a *types.Authenticator, b []byte) (err error) {
	defer recoverErr(&err)
	return a.Unmarshal(b)
}

func recoverErr(err *error) {
	if r := recover(); r != nil {
		*err = errors.New("undecodable")
	}
}
