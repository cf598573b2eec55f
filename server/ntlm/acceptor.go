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

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Config configures an Authenticator. Every field is optional; Config{}
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
}

// DefaultMaxClockSkew is the NTLMv2 timestamp tolerance of MS-NLMP <39>.
const DefaultMaxClockSkew = 36 * time.Hour

// Authenticator accepts SPNEGO/NTLMSSP security exchanges. It is safe for
// concurrent use; each exchange is independent.
type Authenticator struct {
	cfg        Config
	targetInfo []avPair // without the timestamp
	targetName []byte
	negToken   []byte
}

var _ ipc.Authenticator = (*Authenticator)(nil)

// NewAuthenticator returns an Authenticator for cfg with defaults applied.
func NewAuthenticator(cfg Config) *Authenticator {
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
	return &Authenticator{
		cfg: cfg,
		targetInfo: []avPair{
			{avNbDomainName, utf16le(cfg.NetBIOSDomain)},
			{avNbComputerName, utf16le(cfg.NetBIOSComputer)},
			{avDNSDomainName, utf16le(cfg.DNSDomain)},
			{avDNSComputerName, utf16le(cfg.DNSComputer)},
		},
		targetName: utf16le(cfg.NetBIOSComputer),
		negToken:   marshalNegTokenInit2([]asn1.ObjectIdentifier{oidNTLMSSP}, hintName),
	}
}

// NegotiateToken returns the NegTokenInit2 advertising NTLMSSP only
// (MS-SPNG 2.2.1, 3.2.5.2).
func (a *Authenticator) NegotiateToken() []byte {
	return append([]byte(nil), a.negToken...)
}

// NewExchange starts a new security context.
func (a *Authenticator) NewExchange() ipc.AuthExchange {
	return &exchange{a: a}
}

// Errors returned by Step. Authentication failures wrap
// ipc.ErrLogonFailure; the others report malformed or misplaced tokens.
var (
	ErrExchangeDone  = errors.New("ntlm: security exchange already finished")
	ErrBadToken      = errors.New("ntlm: unexpected or malformed security token")
	errNoCommonMech  = fmt.Errorf("%w: client offers no NTLMSSP", ipc.ErrLogonFailure)
	errNTLMv1        = fmt.Errorf("%w: LM/NTLMv1 responses are refused", ipc.ErrLogonFailure)
	errAnonymous     = fmt.Errorf("%w: anonymous logon is disabled", ipc.ErrLogonFailure)
	errBadCredential = fmt.Errorf("%w: unknown user or wrong password", ipc.ErrLogonFailure)
	errClockSkew     = fmt.Errorf("%w: NTLMv2 timestamp outside the allowed clock skew", ipc.ErrLogonFailure)
	errSessionKey    = fmt.Errorf("%w: EncryptedRandomSessionKey must be 16 bytes", ipc.ErrLogonFailure)
	errMIC           = fmt.Errorf("%w: AUTHENTICATE MIC mismatch or missing", ipc.ErrLogonFailure)
	errMechListMIC   = fmt.Errorf("%w: mechListMIC mismatch or missing", ipc.ErrLogonFailure)
	errNoESS         = fmt.Errorf("%w: mechListMIC requires extended session security", ipc.ErrLogonFailure)
)

type exchangeState int

const (
	stateInitial          exchangeState = iota
	stateWantNegotiate                  // SPNEGO chose NTLMSSP without an NTLM token yet
	stateWantAuthenticate               // CHALLENGE sent
	stateDone
	stateFailed
)

// exchange is one security context (ipc.AuthExchange). It is not safe for
// concurrent use; SESSION_SETUP legs of one session are sequential.
type exchange struct {
	a     *Authenticator
	state exchangeState

	spnego          bool
	mechTypesDER    []byte
	mechListMICNeed bool // NTLMSSP was not the client's first mechanism

	negotiateMsg []byte
	challengeMsg []byte
	challenge    challengeMessage

	sessionKey []byte
	negFlags   uint32 // CHALLENGE flags ∩ AUTHENTICATE flags
	ntlmMIC    bool   // the AUTHENTICATE carried a verified MIC
	identity   ipc.Identity
}

// SessionKey returns the ExportedSessionKey, nil for a null session.
func (e *exchange) SessionKey() []byte {
	if e.state != stateDone || e.sessionKey == nil {
		return nil
	}
	return append([]byte(nil), e.sessionKey...)
}

// Identity returns the authenticated caller.
func (e *exchange) Identity() ipc.Identity { return e.identity }

// Step implements ipc.AuthExchange.
func (e *exchange) Step(in []byte) (out []byte, done bool, err error) {
	switch e.state {
	case stateDone, stateFailed:
		return nil, false, ErrExchangeDone
	}
	out, done, err = e.step(in)
	if err != nil {
		e.state = stateFailed
		e.sessionKey = nil
		e.identity = ipc.Identity{}
		e.a.cfg.Logger.Debug("ntlm: security exchange failed", "err", err)
		if e.spnego {
			out = (&negTokenResp{NegState: negStateReject}).marshal()
		} else {
			out = nil
		}
		return out, false, err
	}
	if done {
		e.state = stateDone
	}
	return out, done, nil
}

func (e *exchange) step(in []byte) ([]byte, bool, error) {
	switch e.state {
	case stateInitial:
		return e.first(in)
	case stateWantNegotiate:
		resp, err := parseNegTokenResp(in)
		if err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrBadToken, err)
		}
		if resp.NegState == negStateReject {
			return nil, false, fmt.Errorf("%w: client rejected the negotiation", ipc.ErrLogonFailure)
		}
		if resp.ResponseToken == nil {
			return nil, false, fmt.Errorf("%w: NTLM NEGOTIATE expected", ErrBadToken)
		}
		chal, err := e.negotiate(resp.ResponseToken)
		if err != nil {
			return nil, false, err
		}
		e.state = stateWantAuthenticate
		return (&negTokenResp{NegState: negStateAcceptIncomplete, ResponseToken: chal}).marshal(), false, nil
	case stateWantAuthenticate:
		if !e.spnego {
			if err := e.authenticate(in); err != nil {
				return nil, false, err
			}
			return nil, true, nil
		}
		resp, err := parseNegTokenResp(in)
		if err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrBadToken, err)
		}
		if resp.NegState == negStateReject {
			return nil, false, fmt.Errorf("%w: client rejected the negotiation", ipc.ErrLogonFailure)
		}
		if resp.ResponseToken == nil {
			return nil, false, fmt.Errorf("%w: NTLM AUTHENTICATE expected", ErrBadToken)
		}
		if err := e.authenticate(resp.ResponseToken); err != nil {
			return nil, false, err
		}
		mic, err := e.mechListMIC(resp.MechListMIC)
		if err != nil {
			return nil, false, err
		}
		return (&negTokenResp{NegState: negStateAcceptCompleted, MechListMIC: mic}).marshal(), true, nil
	}
	return nil, false, ErrBadToken
}

// first handles the initial token: raw NTLMSSP or a GSS
// InitialContextToken with NegTokenInit (RFC 4178 4.2.1, MS-SPNG 3.2.5.2).
func (e *exchange) first(in []byte) ([]byte, bool, error) {
	if isNTLMSSP(in) {
		chal, err := e.negotiate(in)
		if err != nil {
			return nil, false, err
		}
		e.state = stateWantAuthenticate
		return chal, false, nil
	}
	init, err := parseInitialContextToken(in)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	e.spnego = true
	e.mechTypesDER = init.MechTypesDER
	idx := -1
	for i, m := range init.MechTypes {
		if m.Equal(oidNTLMSSP) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, false, errNoCommonMech
	}
	if idx > 0 || init.MechToken == nil {
		// The optimistic token, if any, belongs to another mechanism:
		// select NTLMSSP and wait for its NEGOTIATE. When NTLMSSP was not
		// the client's first choice the mechListMIC exchange becomes
		// mandatory and the first reply says so with request-mic
		// (RFC 4178 4.2.2, 5), as Samba and MIT acceptors do; clients
		// treat it as accept-incomplete otherwise.
		e.mechListMICNeed = idx > 0
		e.state = stateWantNegotiate
		st := negStateAcceptIncomplete
		if e.mechListMICNeed {
			st = negStateRequestMIC
		}
		return (&negTokenResp{NegState: st, SupportedMech: oidNTLMSSP}).marshal(), false, nil
	}
	chal, err := e.negotiate(init.MechToken)
	if err != nil {
		return nil, false, err
	}
	e.state = stateWantAuthenticate
	return (&negTokenResp{
		NegState:      negStateAcceptIncomplete,
		SupportedMech: oidNTLMSSP,
		ResponseToken: chal,
	}).marshal(), false, nil
}

// Flags the server keeps when the client requests them (MS-NLMP 3.2.5.1.1).
const keptFlags = flagUnicode | flagSign | flagSeal | flagAlwaysSign |
	flagExtendedSessionSecurity | flagVersion | flag128 | flagKeyExch | flag56

// serverVersion is the VERSION structure (MS-NLMP 2.2.2.10): 10.0.20348,
// NTLMSSP_REVISION_W2K3.
var serverVersion = [8]byte{10, 0, 0x7c, 0x4f, 0, 0, 0, 0x0f}

// negotiate processes NEGOTIATE_MESSAGE and builds CHALLENGE_MESSAGE
// (MS-NLMP 3.2.5.1.1).
func (e *exchange) negotiate(msg []byte) ([]byte, error) {
	nm, err := parseNegotiate(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if nm.Flags&flagUnicode == 0 {
		return nil, fmt.Errorf("%w: client does not offer UNICODE", ErrBadToken)
	}
	e.negotiateMsg = append([]byte(nil), msg...)
	c := &e.challenge
	c.Flags = nm.Flags&keptFlags | flagRequestTarget | flagNTLM | flagTargetInfo | flagTargetTypeServer
	if _, err := io.ReadFull(e.a.cfg.Rand, c.ServerChallenge[:]); err != nil {
		return nil, fmt.Errorf("ntlm: server challenge: %w", err)
	}
	c.TargetName = e.a.targetName
	var ts [8]byte
	binary.LittleEndian.PutUint64(ts[:], timeToFiletime(e.a.cfg.Now()))
	c.TargetInfo = marshalAVPairs(append(append([]avPair(nil), e.a.targetInfo...), avPair{avTimestamp, ts[:]}))
	if c.Flags&flagVersion != 0 {
		c.Version = serverVersion
	}
	e.challengeMsg = c.marshal()
	return append([]byte(nil), e.challengeMsg...), nil
}

// authenticate verifies AUTHENTICATE_MESSAGE (MS-NLMP 3.2.5.1.2), NTLMv2
// only, and sets the session key and identity.
func (e *exchange) authenticate(msg []byte) error {
	am, err := parseAuthenticate(msg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	user, ok1 := decodeString(am.UserName, am.Flags)
	domain, ok2 := decodeString(am.DomainName, am.Flags)
	if !ok1 || !ok2 {
		return fmt.Errorf("%w: bad UTF-16 name", ErrBadToken)
	}
	log := e.a.cfg.Logger

	// Null session: empty user, empty NT response, empty or Z(1) LM.
	if len(am.UserName) == 0 && len(am.NtChallengeResponse) == 0 &&
		(len(am.LmChallengeResponse) == 0 || bytes.Equal(am.LmChallengeResponse, []byte{0})) {
		if !e.a.cfg.AllowAnonymous {
			return &ipc.LogonError{Domain: domain, Reason: "anonymous logon disabled", Err: errAnonymous}
		}
		e.identity = ipc.Identity{Anonymous: true, Domain: domain}
		e.sessionKey = nil
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

	acct, found := e.a.cfg.Accounts.LookupAccount(user)
	if !found {
		// Same work as for a wrong password, so timing does not tell
		// unknown users apart.
		_ = ntProofStr(ntowfv2([16]byte{}, user, domain), e.challenge.ServerChallenge[:], blob)
		return fail("unknown user", errBadCredential)
	}
	var responseKeyNT []byte
	domains := []string{domain}
	if domain != "" {
		// MS-NLMP 3.2.5.1.2: support clients that use NIL for UserDom.
		domains = append(domains, "")
	}
	for _, d := range domains {
		k := ntowfv2(acct.NTHash, user, d)
		if subtle.ConstantTimeCompare(ntProofStr(k, e.challenge.ServerChallenge[:], blob), nt[:16]) == 1 {
			responseKeyNT = k
			break
		}
	}
	if responseKeyNT == nil {
		return fail("wrong password", errBadCredential)
	}

	if skew := e.a.cfg.MaxClockSkew; skew > 0 {
		// Compared in FILETIME ticks so that no client value can overflow.
		now := timeToFiletime(e.a.cfg.Now())
		d := now - cc.Timestamp
		if cc.Timestamp > now {
			d = cc.Timestamp - now
		}
		if d > uint64(skew/100) {
			return fail("client clock outside the allowed skew", errClockSkew)
		}
	}

	// MS-NLMP 3.3.2: SessionBaseKey; 3.4.5.1: KXKEY is SessionBaseKey for
	// NTLMv2.
	keyExchangeKey := hmacMD5(responseKeyNT, nt[:16])
	negFlags := e.challenge.Flags & am.Flags
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
		want := hmacMD5(exported, e.negotiateMsg, e.challengeMsg, zeroed)
		if subtle.ConstantTimeCompare(want, am.MIC) != 1 {
			return fail("MIC mismatch", errMIC)
		}
	}

	e.sessionKey = exported
	e.negFlags = negFlags
	e.ntlmMIC = micPresent
	e.identity = ipc.Identity{User: acct.Name, Domain: domain, Admin: acct.Admin}
	log.Info("ntlm: logon", "user", acct.Name, "domain", domain, "admin", acct.Admin)
	return nil
}

// mechListMIC verifies the client's mechListMIC and returns the server's
// (MS-SPNG 3.1.5.1, 3.2.5.1; RFC 4178 5). It is sent when the client sent
// one or used an NTLM MIC, and omitted otherwise.
func (e *exchange) mechListMIC(clientMIC []byte) ([]byte, error) {
	if e.identity.Anonymous {
		// A null session has no keys to sign with.
		return nil, nil
	}
	if clientMIC == nil {
		if e.mechListMICNeed {
			return nil, errMechListMIC
		}
		if !e.ntlmMIC {
			return nil, nil
		}
	}
	if e.negFlags&flagExtendedSessionSecurity == 0 {
		// Without extended session security there are no signing keys
		// (MS-NLMP 3.4.5.2): a client mechListMIC cannot be verified, and
		// after an NTLM MIC alone ours is simply omitted.
		if clientMIC == nil {
			return nil, nil
		}
		return nil, errNoESS
	}
	keys := deriveKeys(e.negFlags, e.sessionKey)
	if clientMIC != nil {
		want := keys.getMIC(true, e.mechTypesDER)
		if subtle.ConstantTimeCompare(want, clientMIC) != 1 {
			return nil, errMechListMIC
		}
	}
	return keys.getMIC(false, e.mechTypesDER), nil
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
