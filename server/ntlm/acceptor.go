package ntlm

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/logsafe"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/spnego"
)

// Config configures the NTLM Mechanism. Every field is optional; Config{}
// yields an acceptor that accepts nobody (no accounts, no null sessions).
type Config struct {
	// NetBIOSComputer is MsvAvNbComputerName and the CHALLENGE TargetName
	// (MS-NLMP 2.2.1.2, 2.2.2.1), upper-cased. Default: the first label of
	// the host name, upper-cased, cut to 15 characters.
	NetBIOSComputer string
	// NetBIOSDomain is MsvAvNbDomainName, upper-cased. Default "WORKGROUP".
	NetBIOSDomain string
	// DNSComputer is MsvAvDnsComputerName. Default: the host name in lower
	// case.
	DNSComputer string
	// DNSDomain is MsvAvDnsDomainName. Default: DNSComputer.
	DNSDomain string
	// Names, when set, supplies NetBIOSComputer and DNSComputer anew for
	// every exchange, so that a rename of the computer shows in the next
	// CHALLENGE; NetBIOSDomain and DNSDomain, when empty, then follow the
	// computer's names too (a server of local accounts is its own
	// domain). Default nil: the fixed fields above.
	Names ipc.ComputerNames
	// Accounts resolves user names to NT hashes. Default: no accounts.
	Accounts AccountDB
	// AllowAnonymous permits null sessions (MS-NLMP 3.2.5.1.2). Default
	// false.
	AllowAnonymous bool
	// Now is the clock for MsvAvTimestamp and the skew check. Default
	// time.Now.
	Now func() time.Time
	// MaxClockSkew bounds |now - NTLMv2_CLIENT_CHALLENGE.TimeStamp|.
	// Default (zero) 36h (MS-NLMP 3.2.5.1.2 <39>); negative disables the
	// check.
	MaxClockSkew time.Duration
	// Logger receives debug and info records; it never sees passwords,
	// hashes or keys. Default: discard.
	Logger *slog.Logger
	// Rand is the source of server challenges. Default crypto/rand.Reader.
	Rand io.Reader
	// PassThrough, when set, has logons of domain accounts checked by a
	// domain controller while the host is joined: a logon naming a domain
	// other than this computer, or naming none for a user that is not a
	// local account. Default nil: local accounts only.
	PassThrough PassThrough
	// PassThroughTimeout bounds one pass-through logon. Default
	// DefaultPassThroughTimeout.
	PassThroughTimeout time.Duration

	// Set by NewMechanism: the domain names follow Names.
	netbiosDomainFollows, dnsDomainFollows bool
}

// DefaultMaxClockSkew is the NTLMv2 timestamp tolerance of MS-NLMP <39>.
const DefaultMaxClockSkew = 36 * time.Hour

// MechanismName is ipc.Identity.Mechanism for NTLM logons.
const MechanismName = "NTLM"

// OID identifies NTLMSSP in SPNEGO (MS-NLMP 1.9).
var OID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}

// Mechanism is the NTLMSSP acceptor, registered with the SPNEGO acceptor
// (server/spnego) and used directly for raw NTLMSSP tokens. It is safe for
// concurrent use; each context is independent.
type Mechanism struct {
	cfg        Config
	targetInfo []avPair // without the timestamp
	targetName []byte
}

// NewMechanism returns the NTLM mechanism for cfg with defaults applied.
func NewMechanism(cfg Config) *Mechanism {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if cfg.NetBIOSComputer == "" {
		nb, _, _ := strings.Cut(host, ".")
		if len(nb) > 15 {
			nb = nb[:15]
		}
		cfg.NetBIOSComputer = nb
	}
	cfg.NetBIOSComputer = strings.ToUpper(cfg.NetBIOSComputer)
	cfg.netbiosDomainFollows = cfg.Names != nil && cfg.NetBIOSDomain == ""
	cfg.dnsDomainFollows = cfg.Names != nil && cfg.DNSDomain == ""
	if cfg.NetBIOSDomain == "" {
		cfg.NetBIOSDomain = "WORKGROUP"
	}
	cfg.NetBIOSDomain = strings.ToUpper(cfg.NetBIOSDomain)
	if cfg.DNSComputer == "" {
		cfg.DNSComputer = strings.ToLower(host)
	}
	if cfg.DNSDomain == "" {
		cfg.DNSDomain = cfg.DNSComputer
	}
	if cfg.Accounts == nil {
		cfg.Accounts = StaticAccounts(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = DefaultMaxClockSkew
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Mechanism{
		cfg: cfg,
		targetInfo: []avPair{
			{avNbDomainName, utf16le(cfg.NetBIOSDomain)},
			{avNbComputerName, utf16le(cfg.NetBIOSComputer)},
			{avDNSDomainName, utf16le(cfg.DNSDomain)},
			{avDNSComputerName, utf16le(cfg.DNSComputer)},
		},
		targetName: utf16le(cfg.NetBIOSComputer),
	}
}

// target returns the CHALLENGE TargetName and the AV pairs of
// TargetInfo without the timestamp (MS-NLMP 3.2.5.1.1), from Config.Names
// when set.
func (m *Mechanism) target() (name []byte, info []avPair) {
	name, info = m.localTarget()
	if m.cfg.PassThrough == nil {
		return name, info
	}
	// A domain member names its domain (see PassThrough.Domain).
	if nb, dns, ok := m.cfg.PassThrough.Domain(); ok {
		for i := range info {
			switch info[i].ID {
			case avNbDomainName:
				info[i].Value = utf16le(strings.ToUpper(nb))
			case avDNSDomainName:
				if dns != "" {
					info[i].Value = utf16le(strings.ToLower(dns))
				}
			}
		}
	}
	return name, info
}

// localTarget is target for a computer that is its own domain.
func (m *Mechanism) localTarget() (name []byte, info []avPair) {
	if m.cfg.Names == nil {
		return m.targetName, append([]avPair(nil), m.targetInfo...)
	}
	nb := strings.ToUpper(m.cfg.Names.NetBIOSName())
	dns := strings.ToLower(m.cfg.Names.DNSHostName())
	if dns == "" {
		dns = strings.ToLower(nb)
	}
	nbDomain, dnsDomain := m.cfg.NetBIOSDomain, m.cfg.DNSDomain
	if m.cfg.netbiosDomainFollows {
		nbDomain = nb
	}
	if m.cfg.dnsDomainFollows {
		dnsDomain = dns
	}
	return utf16le(nb), []avPair{
		{avNbDomainName, utf16le(nbDomain)},
		{avNbComputerName, utf16le(nb)},
		{avDNSDomainName, utf16le(dnsDomain)},
		{avDNSComputerName, utf16le(dns)},
	}
}

// OIDs returns the NTLMSSP OID.
func (m *Mechanism) OIDs() []asn1.ObjectIdentifier { return []asn1.ObjectIdentifier{OID} }

// Enabled is always true: local accounts (and null sessions) exist in
// every state of the host.
func (m *Mechanism) Enabled() bool { return true }

// IsRawToken reports whether tok starts with the NTLMSSP signature.
func (m *Mechanism) IsRawToken(tok []byte) bool { return isNTLMSSP(tok) }

// RPCAuthType implements spnego.RPCMechanism: RPC_C_AUTHN_WINNT.
func (m *Mechanism) RPCAuthType() uint8 { return ipc.RPCAuthNTLM }

// NewContext starts a new security context.
func (m *Mechanism) NewContext() spnego.Context { return &Context{m: m} }

var (
	_ spnego.Mechanism  = (*Mechanism)(nil)
	_ spnego.MICContext = (*Context)(nil)
)

// Errors returned by Accept. Authentication failures wrap
// ipc.ErrLogonFailure; the others report malformed or misplaced tokens.
var (
	ErrExchangeDone  = errors.New("ntlm: security exchange already finished")
	ErrBadToken      = errors.New("ntlm: unexpected or malformed security token")
	errNTLMv1        = fmt.Errorf("%w: LM/NTLMv1 responses are refused", ipc.ErrLogonFailure)
	errAnonymous     = fmt.Errorf("%w: anonymous logon is disabled", ipc.ErrLogonFailure)
	errBadCredential = fmt.Errorf("%w: unknown user or wrong password", ipc.ErrLogonFailure)
	errClockSkew     = fmt.Errorf("%w: NTLMv2 timestamp outside the allowed clock skew", ipc.ErrLogonFailure)
	errSessionKey    = fmt.Errorf("%w: EncryptedRandomSessionKey must be 16 bytes", ipc.ErrLogonFailure)
	errMIC           = fmt.Errorf("%w: AUTHENTICATE MIC mismatch or missing", ipc.ErrLogonFailure)
	errMechListMIC   = fmt.Errorf("%w: mechListMIC mismatch", ipc.ErrLogonFailure)
	errNoESS         = fmt.Errorf("%w: mechListMIC requires extended session security", ipc.ErrLogonFailure)
)

type contextState int

const (
	stateWantNegotiate    contextState = iota
	stateWantAuthenticate              // CHALLENGE sent
	stateDone
	stateFailed
)

// Context is one NTLM security context (MS-NLMP 3.2.5.1). It is not safe
// for concurrent use; the legs of one context are sequential.
type Context struct {
	m     *Mechanism
	state contextState

	negotiateMsg []byte
	challengeMsg []byte
	challenge    challengeMessage

	sessionKey []byte
	negFlags   uint32 // CHALLENGE flags ∩ AUTHENTICATE flags
	ntlmMIC    bool   // the AUTHENTICATE carried a verified MIC
	identity   ipc.Identity
	// micIn and micOut count the mechListMICs checked and made: each used
	// a sequence number of its direction, which message protection
	// continues from (the RC4 handles start afresh, MS-SPNG 3.1.5.1).
	micIn, micOut uint32
}

// SessionKey returns the ExportedSessionKey, nil for a null session.
func (c *Context) SessionKey() []byte {
	if c.state != stateDone || c.sessionKey == nil {
		return nil
	}
	return append([]byte(nil), c.sessionKey...)
}

// Identity returns the authenticated caller.
func (c *Context) Identity() ipc.Identity { return c.identity }

// Accept takes the NEGOTIATE (answering with the CHALLENGE) and then the
// AUTHENTICATE message (MS-NLMP 3.2.5.1).
func (c *Context) Accept(in []byte) (out []byte, done bool, err error) {
	switch c.state {
	case stateWantNegotiate:
		out, err = c.negotiate(in)
		if err == nil {
			c.state = stateWantAuthenticate
		}
	case stateWantAuthenticate:
		err = c.authenticate(in)
		if err == nil {
			c.state, done = stateDone, true
		}
	default:
		return nil, false, ErrExchangeDone
	}
	if err != nil {
		c.state = stateFailed
		c.sessionKey = nil
		c.identity = ipc.Identity{}
		c.m.cfg.Logger.Debug("ntlm: security exchange failed", "err", err)
		return nil, false, err
	}
	return out, done, nil
}

// maxNegotiateMessage bounds the NEGOTIATE_MESSAGE an exchange keeps.
const maxNegotiateMessage = 1024

// Flags the server keeps when the client requests them (MS-NLMP 3.2.5.1.1).
const keptFlags = flagUnicode | flagSign | flagSeal | flagAlwaysSign |
	flagExtendedSessionSecurity | flagVersion | flag128 | flagKeyExch | flag56

// serverVersion is the VERSION structure (MS-NLMP 2.2.2.10): 10.0.20348,
// NTLMSSP_REVISION_W2K3.
var serverVersion = [8]byte{10, 0, 0x7c, 0x4f, 0, 0, 0, 0x0f}

// negotiate processes NEGOTIATE_MESSAGE and builds CHALLENGE_MESSAGE
// (MS-NLMP 3.2.5.1.1).
func (c *Context) negotiate(msg []byte) ([]byte, error) {
	// The NEGOTIATE_MESSAGE is kept until the exchange ends (for the MIC),
	// so an unfinished exchange costs its size. It is 32 to 40 bytes plus
	// optional OEM domain and workstation names (MS-NLMP 2.2.1.1).
	if len(msg) > maxNegotiateMessage {
		return nil, fmt.Errorf("%w: NEGOTIATE_MESSAGE of %d bytes (at most %d)", ErrBadToken, len(msg), maxNegotiateMessage)
	}
	nm, err := parseNegotiate(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if nm.Flags&flagUnicode == 0 {
		return nil, fmt.Errorf("%w: client does not offer UNICODE", ErrBadToken)
	}
	c.negotiateMsg = append([]byte(nil), msg...)
	ch := &c.challenge
	ch.Flags = nm.Flags&keptFlags | flagRequestTarget | flagNTLM | flagTargetInfo | flagTargetTypeServer
	if _, err := io.ReadFull(c.m.cfg.Rand, ch.ServerChallenge[:]); err != nil {
		return nil, fmt.Errorf("ntlm: server challenge: %w", err)
	}
	targetName, targetInfo := c.m.target()
	ch.TargetName = targetName
	var ts [8]byte
	binary.LittleEndian.PutUint64(ts[:], timeToFiletime(c.m.cfg.Now()))
	ch.TargetInfo = marshalAVPairs(append(targetInfo, avPair{avTimestamp, ts[:]}))
	if ch.Flags&flagVersion != 0 {
		ch.Version = serverVersion
	}
	c.challengeMsg = ch.marshal()
	return append([]byte(nil), c.challengeMsg...), nil
}

// authenticate verifies AUTHENTICATE_MESSAGE (MS-NLMP 3.2.5.1.2), NTLMv2
// only, and sets the session key and identity.
func (c *Context) authenticate(msg []byte) error {
	am, err := parseAuthenticate(msg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	user, ok1 := decodeString(am.UserName, am.Flags)
	domain, ok2 := decodeString(am.DomainName, am.Flags)
	if !ok1 || !ok2 {
		return fmt.Errorf("%w: bad UTF-16 name", ErrBadToken)
	}
	log := c.m.cfg.Logger

	// Null session: empty user, empty NT response, empty or Z(1) LM.
	if len(am.UserName) == 0 && len(am.NtChallengeResponse) == 0 &&
		(len(am.LmChallengeResponse) == 0 || bytes.Equal(am.LmChallengeResponse, []byte{0})) {
		if !c.m.cfg.AllowAnonymous {
			return &ipc.LogonError{Domain: domain, Reason: "anonymous logon disabled", Err: errAnonymous}
		}
		c.identity = ipc.Identity{Anonymous: true, Domain: domain, Mechanism: MechanismName}
		c.sessionKey = nil
		log.Info("ntlm: null session accepted")
		return nil
	}

	// fail names the claimed user and the reason for the log (the SMB
	// front writes it); never a response or a hash.
	fail := func(reason string, err error) error {
		return &ipc.LogonError{User: user, Domain: domain, Reason: reason, Err: err}
	}

	// NTLMv2 only: NTProofStr (16) + NTLMv2_CLIENT_CHALLENGE (≥ 28).
	nt := am.NtChallengeResponse
	if len(nt) <= 24 || len(nt) < 16+ntlmv2ClientChallengeMin {
		return fail("LM/NTLMv1 response refused", errNTLMv1)
	}
	blob := nt[16:]
	cc, err := parseNTLMv2ClientChallenge(blob)
	if err != nil {
		return fail("LM/NTLMv1 response refused", fmt.Errorf("%w: %w", errNTLMv1, err))
	}

	// MS-APDS 3.1.5.1: an account of this computer is checked here, any
	// other by a domain controller of the joined domain (pass-through).
	acct, found := c.m.cfg.Accounts.LookupAccount(user)
	if domainDomain, joined := c.m.passThroughDomain(); joined && (!c.m.isLocalDomain(domain) || (!found && domain == "")) {
		done, err := c.passThroughLogon(am, msg, cc, user, domain, domainDomain, nt, found, fail)
		if done || err != nil {
			return err
		}
		// The domain has no such account, but this computer has: a client
		// whose configuration names the domain as its workgroup (Samba's
		// tools do) sends it with a local account's logon.
	}
	if !found {
		// Same work as for a wrong password, so timing does not tell
		// unknown users apart.
		_ = ntProofStr(ntowfv2([16]byte{}, user, domain), c.challenge.ServerChallenge[:], blob)
		return fail(ipc.ReasonUnknownUser, errBadCredential)
	}
	var responseKeyNT []byte
	domains := []string{domain}
	if domain != "" {
		// MS-NLMP 3.2.5.1.2: support clients that use NIL for UserDom.
		domains = append(domains, "")
	}
	for _, d := range domains {
		k := ntowfv2(acct.NTHash, user, d)
		if subtle.ConstantTimeCompare(ntProofStr(k, c.challenge.ServerChallenge[:], blob), nt[:16]) == 1 {
			responseKeyNT = k
			break
		}
	}
	if responseKeyNT == nil {
		return fail("wrong password", errBadCredential)
	}

	if err := c.checkSkew(cc.Timestamp); err != nil {
		return fail("client clock outside the allowed skew", err)
	}

	// MS-NLMP 3.3.2: SessionBaseKey.
	if err := c.finishKeys(am, msg, cc, hmacMD5(responseKeyNT, nt[:16]), fail); err != nil {
		return err
	}
	c.identity = ipc.Identity{User: acct.Name, Domain: domain, Admin: acct.Admin, Mechanism: MechanismName}
	log.Info("ntlm: logon", "user", acct.Name, logsafe.String("domain", domain), "admin", acct.Admin)
	return nil
}

// passThroughLogon has a DC check the logon (MS-APDS 3.1.5.1). done is
// false, with no error, only when the DC does not know the user and a
// local account of that name exists: the caller checks it then.
func (c *Context) passThroughLogon(am *authenticateMessage, msg []byte, cc *ntlmv2ClientChallenge, user, domain, joinedDomain string,
	nt []byte, localExists bool, fail func(string, error) error) (bool, error) {
	ws, _ := decodeString(am.Workstation, am.Flags)
	if err := c.checkSkew(cc.Timestamp); err != nil {
		return true, fail("client clock outside the allowed skew", err)
	}
	logonDomain := domain
	if logonDomain == "" {
		logonDomain = joinedDomain
	}
	v, err := c.m.passThrough(user, logonDomain, ws, c.challenge.ServerChallenge, nt, am.LmChallengeResponse)
	if err != nil {
		if localExists && errors.Is(err, ErrPassThroughNoSuchUser) {
			return false, nil
		}
		return true, fail(passThroughReason(err), fmt.Errorf("%w: %w", errBadCredential, err))
	}
	id := ipc.Identity{User: v.User, Domain: v.Domain, SIDs: v.SIDs, Mechanism: MechanismName}
	if err := c.finishKeys(am, msg, cc, v.SessionKey[:], fail); err != nil {
		return true, err
	}
	c.identity = id
	c.m.cfg.Logger.Info("ntlm: logon", logsafe.String("user", id.User), logsafe.String("domain", id.Domain), "passthrough", true, "sids", len(id.SIDs))
	return true, nil
}

// checkSkew bounds the NTLMv2 client timestamp (MS-NLMP 3.2.5.1.2 <39>).
func (c *Context) checkSkew(ts uint64) error {
	skew := c.m.cfg.MaxClockSkew
	if skew <= 0 {
		return nil
	}
	// Compared in FILETIME ticks so that no client value can overflow.
	now := timeToFiletime(c.m.cfg.Now())
	d := now - ts
	if ts > now {
		d = ts - now
	}
	if d > uint64(skew/100) {
		return errClockSkew
	}
	return nil
}

// finishKeys derives the ExportedSessionKey from the SessionBaseKey (the
// KeyExchangeKey for NTLMv2, MS-NLMP 3.4.5.1), checks the MIC and records
// the keys.
func (c *Context) finishKeys(am *authenticateMessage, msg []byte, cc *ntlmv2ClientChallenge, sessionBaseKey []byte, fail func(string, error) error) error {
	keyExchangeKey := sessionBaseKey
	negFlags := c.challenge.Flags & am.Flags
	exported := keyExchangeKey
	// MS-NLMP 3.2.5.1.2: "If NTLMSSP_NEGOTIATE_KEY_EXCH is set, the server
	// MUST check if client supplied a valid EncryptedRandomSessionKey". The
	// pseudo-code there also asks for SIGN or SEAL, but clients (3.1.5.1.2,
	// Samba, impacket, go-msrpc) exchange a key whenever KEY_EXCH is
	// negotiated, so that flag alone decides.
	if negFlags&flagKeyExch != 0 {
		if len(am.EncryptedRandomSessionKey) != 16 {
			return fail("bad session key length", errSessionKey)
		}
		exported = rc4K(keyExchangeKey, am.EncryptedRandomSessionKey)
	}

	// MIC (MS-NLMP 3.2.5.1.2) when MsvAvFlags announces one.
	micPresent := false
	if v, ok := findAV(cc.AVPairs, avFlags); ok && len(v) == 4 &&
		binary.LittleEndian.Uint32(v)&avFlagMICPresent != 0 {
		micPresent = true
		if am.MIC == nil {
			return fail("MIC missing", errMIC)
		}
		zeroed := append([]byte(nil), msg...)
		clear(zeroed[authMICOffset:authMICEnd])
		want := hmacMD5(exported, c.negotiateMsg, c.challengeMsg, zeroed)
		if subtle.ConstantTimeCompare(want, am.MIC) != 1 {
			return fail("MIC mismatch", errMIC)
		}
	}
	c.sessionKey = exported
	c.negFlags = negFlags
	c.ntlmMIC = micPresent
	return nil
}

// VerifyMechListMIC checks the client's mechListMIC (MS-SPNG 3.1.5.1,
// 3.2.5.1; RFC 4178 5) with a fresh client sealing handle.
func (c *Context) VerifyMechListMIC(mechTypes, mic []byte) error {
	if c.state != stateDone || c.identity.Anonymous {
		return errMechListMIC
	}
	if c.negFlags&flagExtendedSessionSecurity == 0 {
		// Without extended session security there are no signing keys
		// (MS-NLMP 3.4.5.2): a client mechListMIC cannot be verified.
		return errNoESS
	}
	want := deriveKeys(c.negFlags, c.sessionKey).getMIC(true, c.micIn, mechTypes)
	if subtle.ConstantTimeCompare(want, mic) != 1 {
		return errMechListMIC
	}
	c.micIn++
	return nil
}

// MechListMIC returns the server's mechListMIC. It is sent when the client
// sent one (or one is required) or used an NTLM MIC, and omitted otherwise
// and without extended session security.
func (c *Context) MechListMIC(mechTypes []byte, expected bool) ([]byte, error) {
	if c.state != stateDone || c.identity.Anonymous {
		return nil, nil
	}
	if !expected && !c.ntlmMIC {
		return nil, nil
	}
	if c.negFlags&flagExtendedSessionSecurity == 0 {
		return nil, nil
	}
	mic := deriveKeys(c.negFlags, c.sessionKey).getMIC(false, c.micOut, mechTypes)
	c.micOut++
	return mic, nil
}

// decodeString decodes an AUTHENTICATE name field per the UNICODE flag.
func decodeString(b []byte, flags uint32) (string, bool) {
	if flags&flagUnicode != 0 {
		return decodeUTF16LE(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r), true
}

// FILETIME (MS-DTYP 2.3.3) conversions.
const filetimeEpochDelta = 116444736000000000 // 100ns ticks 1601→1970

func timeToFiletime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100 + filetimeEpochDelta)
}

// NewAuthenticator returns an SPNEGO acceptor (server/spnego) offering this
// mechanism alone, for servers and tests that need nothing else.
func NewAuthenticator(cfg Config) *spnego.Acceptor {
	return spnego.New(spnego.Config{Mechanisms: []spnego.Mechanism{NewMechanism(cfg)}, Logger: cfg.Logger})
}
