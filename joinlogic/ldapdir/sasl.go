package ldapdir

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
	"github.com/oiweiwei/go-msrpc/ssp/krb5"
	"github.com/oiweiwei/go-msrpc/ssp/ntlm"
	"github.com/oiweiwei/go-msrpc/ssp/spnego"
	krbconfig "github.com/oiweiwei/gokrb5.fork/v9/config"
	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/keyusage"
)

// The sealed SASL bind on port 389 (RFC 4513 5.2.1, RFC 4422), the way
// Windows and Samba's own tools talk to a domain controller: the
// GSS-SPNEGO mechanism (MS-SPNG), inside it Kerberos (RFC 4121, MS-KILE)
// with mutual authentication, or NTLM (MS-NLMP) when Kerberos is not
// possible. After the bind every LDAP message in both directions travels
// in a SASL buffer — a 4-byte big-endian length and a GSS-API wrap token
// with integrity and confidentiality (RFC 4422 3.7, RFC 4752 3.3) — which
// is also what lets unicodePwd be written without TLS (MS-ADTS
// 3.1.1.3.1.5.1: a connection with a 128-bit-or-stronger sealing layer).
//
// go-ldap has no SASL security layer, so the bind is exchanged here on
// the raw connection and go-ldap then runs on top of a net.Conn that
// wraps and unwraps (saslConn). go-msrpc's ssp packages provide the
// client mechanisms and the per-message Wrap/Unwrap.

// SASL mechanism names (RFC 4752, and GSS-SPNEGO as AD registers it).
const (
	mechGSSSPNEGO = "GSS-SPNEGO"
	mechGSSAPI    = "GSSAPI"
)

// saslMethod is a SASL mechanism with the GSS mechanism inside it:
// GSS-SPNEGO with Kerberos or NTLM, or GSSAPI (Kerberos only).
type saslMethod struct {
	mech string
	kind authKind
}

func (m saslMethod) String() string { return m.mech + "/" + m.kind.String() }

// RFC 4752 3.3 security layers.
const (
	layerNone      = 0x01
	layerIntegrity = 0x02
	layerConf      = 0x04
)

// Limits on what a server may make this client hold.
const (
	// maxBindResponse bounds one BindResponse during the bind, before the
	// server proved anything.
	maxBindResponse = 64 << 10
	// maxSASLBuffer bounds one inbound SASL buffer after the bind. AD's
	// default for the buffers it accepts is 0x00FFFFFF (MS-ADTS
	// 3.1.1.3.4.1.4, MaxReceiveBuffer); the same bound applies here.
	maxSASLBuffer = 16 << 20
	// maxBindRounds bounds the bind exchange (SPNEGO with NTLM needs two).
	maxBindRounds = 6
)

// authKind is the GSS mechanism inside SPNEGO.
type authKind int

const (
	authKerberos authKind = iota + 1
	authNTLM
)

func (k authKind) String() string {
	switch k {
	case authKerberos:
		return "Kerberos"
	case authNTLM:
		return "NTLM"
	}
	return "?"
}

// saslIdentity is who binds and to what.
type saslIdentity struct {
	// User is the account name (sAMAccountName or, for a UPN, its user
	// part); Password its password.
	User, Password string
	// NTLMDomain is the NetBIOS (or DNS) name of the account's domain for
	// NTLM.
	NTLMDomain string
	// Realm is the Kerberos realm of the account; "" when Kerberos cannot
	// be used for it.
	Realm string
	// Service is the principal of the DC's LDAP service, ldap/<host>, with
	// <host> a name this daemon resolved itself; "" when it has none (a DC
	// named only by address), which rules Kerberos out.
	Service string
	// KDC is host:port of the KDC to ask (the DC's own).
	KDC string
	// DomainDNS is the DNS name of the domain (krb5 domain_realm).
	DomainDNS string
}

// errKerberosUnavailable wraps the reasons Kerberos cannot be tried at
// all, before anything was sent to the LDAP server; NTLM is then used.
var errKerberosUnavailable = errors.New("Kerberos not possible")

// errCredentials marks a refusal of the credentials themselves (by the
// KDC or the LDAP server): ERROR_LOGON_FAILURE, and no other mechanism
// is tried (it would count against the account's lockout again).
var errCredentials = errors.New("credentials refused")

// errDCNotAuthenticated marks a server that did not prove it is the DC:
// the mutual authentication failed, or the security layer it answers with
// does not verify. Nothing else is tried with such a server.
var errDCNotAuthenticated = errors.New("the server did not prove it is the domain controller")

// errNoSealing marks a server that will not seal the connection.
var errNoSealing = errors.New("the server does not offer a sealed connection")

// errMechUnsupported marks a server that refused the SASL mechanism
// itself (authMethodNotSupported).
var errMechUnsupported = errors.New("SASL mechanism not supported")

// ntlmWithoutSealing reports the NTLM client's refusal of a CHALLENGE
// that does not grant what it asked for (MS-NLMP 2.2.2.5: SIGN, SEAL,
// 128).
func ntlmWithoutSealing(err error) bool {
	return errors.Is(err, ntlm.ErrConfidentialityNotAvailable) || errors.Is(err, ntlm.Err128BitEncryptionNotSupported) ||
		errors.Is(err, ntlm.ErrIntegrityNotAvailable)
}

// kerberosRefusals are the KDC error codes (RFC 4120 7.5.9) that refuse
// the client's credentials; any other Kerberos failure makes the bind
// fall back to NTLM.
var kerberosRefusals = []string{
	"KDC_ERR_PREAUTH_FAILED", "KDC_ERR_C_PRINCIPAL_UNKNOWN", "KDC_ERR_CLIENT_REVOKED",
	"KDC_ERR_KEY_EXPIRED", "KDC_ERR_POLICY", "KRB_AP_ERR_BAD_INTEGRITY",
}

func isKerberosRefusal(err error) bool {
	s := err.Error()
	for _, r := range kerberosRefusals {
		if strings.Contains(s, r) {
			return true
		}
	}
	return false
}

// mutualKerberos is go-msrpc's Kerberos mechanism with the rule that the
// context is complete only once the server's AP-REP verified (RFC 4121
// 4.1, mutual authentication): a server without the service key cannot
// produce one, so an impostor on the LDAP port is caught before anything
// but the AP-REQ reached it.
type mutualKerberos struct {
	gssapi.Mechanism
	sentAPReq bool
	verified  bool
}

func (m *mutualKerberos) Init(ctx context.Context, tok *gssapi.Token) (*gssapi.Token, error) {
	if m.sentAPReq && (tok == nil || len(tok.Payload) == 0) {
		return nil, fmt.Errorf("%w: no Kerberos AP-REP in its answer", errDCNotAuthenticated)
	}
	out, err := m.Mechanism.Init(ctx, tok)
	if err != nil {
		if m.sentAPReq {
			return nil, fmt.Errorf("%w: its Kerberos AP-REP does not verify (%v)", errDCNotAuthenticated, err)
		}
		return nil, err
	}
	if !m.sentAPReq {
		m.sentAPReq = true
	} else {
		m.verified = true
	}
	return out, nil
}

func (m *mutualKerberos) Wrap(ctx context.Context, tok *gssapi.MessageToken) (*gssapi.MessageToken, error) {
	if !m.verified {
		return nil, errDCNotAuthenticated
	}
	return m.Mechanism.Wrap(ctx, tok)
}

func (m *mutualKerberos) Unwrap(ctx context.Context, tok *gssapi.MessageToken) (*gssapi.MessageToken, error) {
	if !m.verified {
		return nil, errDCNotAuthenticated
	}
	return m.Mechanism.Unwrap(ctx, tok)
}

// mutualKerberosFactory hands SPNEGO the mutualKerberos it creates and
// remembers it.
type mutualKerberosFactory struct {
	cfg  *krb5.Config
	mech *mutualKerberos
}

func (f *mutualKerberosFactory) Type() gssapi.OID { return krb5.MechanismType }

func (f *mutualKerberosFactory) DefaultConfig(context.Context) (gssapi.MechanismConfig, error) {
	return f.cfg.Copy(), nil
}

func (f *mutualKerberosFactory) New(ctx context.Context) (gssapi.Mechanism, error) {
	m, err := krb5.Mechanism{}.New(ctx)
	if err != nil {
		return nil, err
	}
	f.mech = &mutualKerberos{Mechanism: m}
	return f.mech, nil
}

// krb5Conf is the Kerberos configuration of one bind: the realm's only
// KDC is the DC being bound to, and only AES keys (RFC 3962) are asked
// for, whose RFC 4121 tokens the security layer implements. Names are
// checked by the caller.
func krb5Conf(realm, domain, kdc string) (*krbconfig.Config, error) {
	conf := "[libdefaults]\n" +
		" default_realm = " + realm + "\n" +
		" dns_lookup_kdc = false\n dns_lookup_realm = false\n" +
		" udp_preference_limit = 1\n" +
		" default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96\n" +
		" default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96\n" +
		" permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96\n" +
		"[realms]\n " + realm + " = {\n  kdc = " + kdc + "\n }\n"
	if domain != "" {
		conf += "[domain_realm]\n ." + domain + " = " + realm + "\n " + domain + " = " + realm + "\n"
	}
	c, err := krbconfig.NewFromString(conf)
	if err != nil {
		return nil, err
	}
	return krb5.ParsedLibDefaults(c), nil
}

// validKrbName reports whether s can go into a generated krb5.conf.
func validKrbName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':' || r == '[' || r == ']') {
			return false
		}
	}
	return true
}

// kdcDialer dials the KDC within the bind's context, gives each KDC
// exchange (one connection, one request) its own timeout, and caps what a
// KDC may make the client allocate: gokrb5 allocates the length a TCP
// answer announces.
type kdcDialer struct {
	ctx     context.Context
	timeout time.Duration
}

// maxKDCReply bounds one KDC answer (a ticket with a large PAC is a few
// tens of kilobytes).
const maxKDCReply = 1 << 20

func (k kdcDialer) Dial(network, address string) (net.Conn, error) {
	d := net.Dialer{Timeout: k.timeout}
	c, err := d.DialContext(k.ctx, network, address)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(exchangeDeadline(k.ctx, k.timeout))
	// A cancelled bind ends the exchange at once.
	stop := context.AfterFunc(k.ctx, func() { c.SetDeadline(time.Now()) })
	return &cappedKDCConn{Conn: c, stop: stop}, nil
}

// exchangeDeadline is when one network exchange started now must end: after
// timeout (Config.Timeout bounds each exchange, not a whole bind of several),
// or earlier if ctx ends first.
func exchangeDeadline(ctx context.Context, timeout time.Duration) time.Time {
	dl := time.Now().Add(timeout)
	if cdl, ok := ctx.Deadline(); ok && cdl.Before(dl) {
		dl = cdl
	}
	return dl
}

// cappedKDCConn fails the read of a TCP KDC answer whose length prefix
// (RFC 4120 7.2.2) exceeds maxKDCReply, before the client allocates it.
type cappedKDCConn struct {
	net.Conn
	stop func() bool
	hdr  [4]byte
	seen int
}

func (c *cappedKDCConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

func (c *cappedKDCConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for i := 0; i < n && c.seen < 4; i++ {
		c.hdr[c.seen] = p[i]
		c.seen++
		if c.seen == 4 && binary.BigEndian.Uint32(c.hdr[:]) > maxKDCReply {
			return 0, fmt.Errorf("KDC answer of %d bytes refused", binary.BigEndian.Uint32(c.hdr[:]))
		}
	}
	return n, err
}

// gssContext builds the go-msrpc security context of one SPNEGO bind with
// one mechanism: Kerberos (with the mutual authentication rule) or NTLM,
// both asked for integrity and confidentiality.
func gssContext(ctx context.Context, m saslMethod, id saslIdentity, timeout time.Duration) (context.Context, *mutualKerberosFactory, error) {
	kind := m.kind
	caps := gssapi.Integrity | gssapi.Confidentiality | gssapi.ReplayDetection | gssapi.Sequencing
	spnegoCfg := &spnego.Config{}
	var opts []gssapi.ContextOption
	var kf *mutualKerberosFactory
	switch kind {
	case authKerberos:
		if id.Service == "" {
			return nil, nil, fmt.Errorf("%w: the DC has no host name this daemon resolved itself (named by address), so no service ticket can name it", errKerberosUnavailable)
		}
		if id.Realm == "" || !validKrbName(id.Realm) || !validKrbName(id.KDC) || (id.DomainDNS != "" && !validKrbName(id.DomainDNS)) {
			return nil, nil, fmt.Errorf("%w: no Kerberos realm for the account's domain", errKerberosUnavailable)
		}
		conf, err := krb5Conf(id.Realm, id.DomainDNS, id.KDC)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", errKerberosUnavailable, err)
		}
		kf = &mutualKerberosFactory{cfg: &krb5.Config{
			KRB5Config:      conf,
			DisablePAFXFAST: true,
			KDCDialer:       kdcDialer{ctx: ctx, timeout: timeout},
			// The AP-REQ asks for mutual authentication; mutualKerberos
			// insists on the AP-REP.
			Flags: []int{int(gssapi.MutualAuthn)},
		}}
		spnegoCfg.MechanismsList = []gssapi.MechanismFactory{kf}
		caps |= gssapi.MutualAuthn
		opts = append(opts,
			gssapi.WithCredential(credential.NewFromPassword(id.User, id.Password, credential.Domain(id.Realm))),
			gssapi.WithMechanismFactory(kf),
		)
	case authNTLM:
		cfg := ntlm.NewConfig()
		cfg.Integrity, cfg.Confidentiality = true, true
		f := gssapi.WithDefaultConfig(ntlm.Mechanism{}, cfg)
		spnegoCfg.MechanismsList = []gssapi.MechanismFactory{f}
		opts = append(opts,
			gssapi.WithCredential(credential.NewFromPassword(id.User, id.Password, credential.Domain(id.NTLMDomain))),
			gssapi.WithMechanismFactory(f),
		)
	}
	if m.mech == mechGSSAPI {
		// The Kerberos mechanism alone (RFC 4752).
		opts = append(opts, gssapi.WithRequest(caps), gssapi.WithMechanismType(krb5.MechanismType))
	} else {
		opts = append(opts,
			gssapi.WithMechanismFactory(spnego.Mechanism{}, spnegoCfg),
			gssapi.WithRequest(caps),
			gssapi.WithMechanismType(spnego.Mechanism{}.Type()),
		)
	}
	if kind == authKerberos {
		opts = append(opts, gssapi.WithTargetName(id.Service))
	}
	// The security context lives as long as the connection, not the
	// call that opened it.
	return gssapi.NewSecurityContext(context.WithoutCancel(ctx), opts...), kf, nil
}

// saslBind runs the SASL bind m on conn, a connection to the LDAP port,
// and returns the connection with its security layer in place. Each
// exchange of the bind — every KDC request, every BindRequest — may take
// timeout; ctx bounds the whole. conn is left open on error; the caller
// closes it.
func saslBind(ctx context.Context, conn net.Conn, m saslMethod, id saslIdentity, timeout time.Duration) (*saslConn, error) {
	kind := m.kind
	if m.mech == mechGSSAPI && kind != authKerberos {
		return nil, fmt.Errorf("%w: GSSAPI is Kerberos only", errKerberosUnavailable)
	}
	gctx, kf, err := gssContext(ctx, m, id, timeout)
	if err != nil {
		return nil, err
	}
	raw := &exchangeConn{Conn: conn, ctx: ctx, timeout: timeout}
	defer conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	out, err := gssapi.InitSecurityContext(gctx, &gssapi.Token{})
	if err != nil {
		if kind == authKerberos {
			if isKerberosRefusal(err) {
				return nil, fmt.Errorf("%w: the KDC %s refused %s@%s: %v", errCredentials, id.KDC, id.User, id.Realm, err)
			}
			return nil, fmt.Errorf("%w: %v", errKerberosUnavailable, err)
		}
		return nil, err
	}
	for round := 1; ; round++ {
		if round > maxBindRounds {
			return nil, fmt.Errorf("%w: the bind did not end after %d rounds", errDCNotAuthenticated, maxBindRounds)
		}
		res, err := bindRound(raw, int64(round), m.mech, out.Payload)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		switch res.code {
		case ldap.LDAPResultSuccess, ldap.LDAPResultSaslBindInProgress:
		case ldap.LDAPResultInvalidCredentials:
			return nil, fmt.Errorf("%w: %s bind: %w", errCredentials, kind, res.err)
		case ldap.LDAPResultAuthMethodNotSupported:
			return nil, fmt.Errorf("%w: %w: %s bind: %w", errNoSealing, errMechUnsupported, m, res.err)
		case ldap.LDAPResultStrongAuthRequired, ldap.LDAPResultConfidentialityRequired:
			return nil, fmt.Errorf("%w: %s bind: %w", errNoSealing, m, res.err)
		default:
			return nil, fmt.Errorf("%s bind: %w", kind, res.err)
		}
		if len(res.creds) > 0 || res.code == ldap.LDAPResultSaslBindInProgress {
			out, err = gssapi.InitSecurityContext(gctx, &gssapi.Token{Payload: res.creds})
			if err != nil {
				if errors.Is(err, errDCNotAuthenticated) {
					return nil, err
				}
				if ntlmWithoutSealing(err) {
					// Its CHALLENGE lacks NTLMSSP_NEGOTIATE_SEAL (or 128-bit
					// keys or signing): nothing more is sent, not even
					// the NTLM response.
					return nil, fmt.Errorf("%w: its NTLM CHALLENGE does not offer 128-bit signing and sealing: %v", errNoSealing, err)
				}
				if kind == authKerberos && kf.mech != nil && kf.mech.sentAPReq {
					return nil, fmt.Errorf("%w: %v", errDCNotAuthenticated, err)
				}
				return nil, fmt.Errorf("%s bind: %w", kind, err)
			}
		}
		if res.code == ldap.LDAPResultSuccess {
			break
		}
		if m.mech == mechGSSAPI && gssapi.IsComplete(gctx) && kf.mech != nil && kf.mech.verified {
			// The context is established; RFC 4752 3.1 negotiates the
			// security layer next.
			if err := gssapiLayer(raw, gctx, int64(round+1)); err != nil {
				return nil, err
			}
			break
		}
		if out == nil || len(out.Payload) == 0 {
			return nil, fmt.Errorf("%w: the server asks for more and the mechanism has nothing to send", errDCNotAuthenticated)
		}
	}
	if !gssapi.IsComplete(gctx) {
		return nil, fmt.Errorf("%w: the server ended the bind before the security context was complete", errDCNotAuthenticated)
	}
	if kind == authKerberos && (kf.mech == nil || !kf.mech.verified) {
		return nil, fmt.Errorf("%w: no verified Kerberos AP-REP", errDCNotAuthenticated)
	}
	return newSASLConn(conn, gctx, m), nil
}

// gssapiLayer is the security layer negotiation of the GSSAPI mechanism
// (RFC 4752 3.1): an empty response, the server's offer in an unsealed
// wrap token (layers and maximum buffer size), then the choice of the
// confidentiality layer, wrapped. A server that does not offer
// confidentiality is refused.
func gssapiLayer(raw *exchangeConn, gctx context.Context, msgID int64) error {
	res, err := bindRound(raw, msgID, mechGSSAPI, []byte{})
	if err != nil {
		return err
	}
	if res.code != ldap.LDAPResultSaslBindInProgress || len(res.creds) == 0 {
		return fmt.Errorf("%w: no GSSAPI security layer offer (result %d: %v)", errDCNotAuthenticated, res.code, res.err)
	}
	key, _ := gssapi.GetAttribute(gctx, gssapi.AttributeSessionKey)
	kb, _ := key.([]byte)
	offer, err := unwrapUnsealed(res.creds, kb)
	if err != nil {
		return fmt.Errorf("%w: the GSSAPI security layer offer does not verify: %v", errDCNotAuthenticated, err)
	}
	choice, err := layerChoice(offer)
	if err != nil {
		return err
	}
	// RFC 4752 asks for a wrap without confidentiality; the token is
	// sealed here (servers unwrap both, Samba among them) so that it
	// takes its sequence number in go-msrpc's context.
	tok, err := gssapi.Wrap(gctx, &gssapi.MessageToken{Payload: choice, Capabilities: gssapi.Confidentiality | gssapi.Integrity})
	if err != nil {
		return fmt.Errorf("wrapping the GSSAPI security layer choice: %w", err)
	}
	res, err = bindRound(raw, msgID+1, mechGSSAPI, append(append([]byte(nil), tok.Signature...), tok.Payload...))
	if err != nil {
		return err
	}
	if res.code != ldap.LDAPResultSuccess {
		return fmt.Errorf("%w: the GSSAPI security layer choice was refused: %v", errNoSealing, res.err)
	}
	return nil
}

// layerChoice answers the server's security layer offer (RFC 4752 3.1:
// a bit mask of layers, then its maximum buffer size in 3 bytes) with the
// confidentiality layer and the buffer size this side accepts; an offer
// without confidentiality is refused.
func layerChoice(offer []byte) ([]byte, error) {
	if len(offer) < 4 {
		return nil, fmt.Errorf("%w: a GSSAPI security layer offer of %d bytes", errDCNotAuthenticated, len(offer))
	}
	if offer[0]&layerConf == 0 {
		return nil, fmt.Errorf("%w: the GSSAPI layers offered (0x%02x) do not include confidentiality", errNoSealing, offer[0])
	}
	size := min(uint32(offer[1])<<16|uint32(offer[2])<<8|uint32(offer[3]), maxSASLBuffer-1)
	return []byte{layerConf, byte(size >> 16), byte(size >> 8), byte(size)}, nil
}

// unwrapUnsealed verifies a wrap token without confidentiality from the
// acceptor (RFC 4121 4.2.4: the data in clear, then a checksum over the
// data and the header with EC and RRC zero, the whole rotated by RRC)
// with key, an AES key of the context, and returns the data.
func unwrapUnsealed(tok, key []byte) ([]byte, error) {
	var et int32
	switch len(key) {
	case 32:
		et = etypeID.AES256_CTS_HMAC_SHA1_96
	case 16:
		et = etypeID.AES128_CTS_HMAC_SHA1_96
	default:
		return nil, fmt.Errorf("no AES key (%d bytes)", len(key))
	}
	e, err := krbcrypto.GetEtype(et)
	if err != nil {
		return nil, err
	}
	n := e.GetHMACBitLength() / 8
	if len(tok) < 16+n || tok[0] != 0x05 || tok[1] != 0x04 || tok[3] != 0xff {
		return nil, errors.New("not an RFC 4121 wrap token")
	}
	if tok[2]&cfxSentByAcceptor == 0 || tok[2]&cfxSealed != 0 {
		return nil, fmt.Errorf("wrap token flags 0x%02x", tok[2])
	}
	if ec := int(binary.BigEndian.Uint16(tok[4:6])); ec != n {
		return nil, fmt.Errorf("checksum length %d, want %d", ec, n)
	}
	body := rotateLeft(tok[16:], int(binary.BigEndian.Uint16(tok[6:8])))
	data, sum := body[:len(body)-n], body[len(body)-n:]
	hdr := append([]byte(nil), tok[:16]...)
	clear(hdr[4:8])
	if !e.VerifyChecksum(key, append(append([]byte(nil), data...), hdr...), sum, keyusage.GSSAPI_ACCEPTOR_SEAL) {
		return nil, errors.New("checksum mismatch")
	}
	return data, nil
}

// bindResult is one BindResponse.
type bindResult struct {
	code  uint16
	err   error // the LDAP error for a code other than success
	creds []byte
}

// exchangeConn is the connection of a bind whose every round trip gets
// its own deadline (exchangeDeadline).
type exchangeConn struct {
	net.Conn
	ctx     context.Context
	timeout time.Duration
}

// bindRound sends one SASL BindRequest (RFC 4511 4.2) and reads its
// response, within one exchange's time.
func bindRound(c *exchangeConn, msgID int64, mech string, creds []byte) (bindResult, error) {
	if err := c.ctx.Err(); err != nil {
		return bindResult{}, err
	}
	c.SetDeadline(exchangeDeadline(c.ctx, c.timeout))
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, msgID, "MessageID"))
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationBindRequest, nil, "Bind Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "Name"))
	auth := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, "", "SaslCredentials")
	auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, mech, "Mechanism"))
	if creds != nil {
		auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(creds), "Credentials"))
	}
	req.AppendChild(auth)
	env.AppendChild(req)
	if _, err := c.Write(env.Bytes()); err != nil {
		return bindResult{}, fmt.Errorf("sending the bind request: %w", err)
	}
	b, err := readBERElement(c, maxBindResponse)
	if err != nil {
		return bindResult{}, fmt.Errorf("reading the bind response: %w", err)
	}
	p, err := ber.DecodePacketErr(b)
	if err != nil {
		return bindResult{}, fmt.Errorf("decoding the bind response: %w", err)
	}
	if len(p.Children) < 2 {
		return bindResult{}, errors.New("malformed bind response")
	}
	if id, ok := p.Children[0].Value.(int64); !ok || id != msgID {
		return bindResult{}, fmt.Errorf("bind response for message %v, want %d", p.Children[0].Value, msgID)
	}
	resp := p.Children[1]
	if resp.ClassType != ber.ClassApplication || resp.Tag != ldap.ApplicationBindResponse || len(resp.Children) < 3 {
		return bindResult{}, fmt.Errorf("not a bind response (tag %d)", resp.Tag)
	}
	code, ok := resp.Children[0].Value.(int64)
	if !ok || code < 0 || code > 0xffff {
		return bindResult{}, errors.New("bind response without a result code")
	}
	r := bindResult{code: uint16(code)}
	if code != ldap.LDAPResultSuccess {
		r.err = ldap.GetLDAPError(p)
		if r.err == nil {
			r.err = ldap.NewError(uint16(code), errors.New(ldap.LDAPResultCodeMap[uint16(code)]))
		}
	}
	for _, ch := range resp.Children[3:] {
		if ch.ClassType == ber.ClassContext && ch.Tag == 7 { // serverSaslCreds
			r.creds = ch.Data.Bytes()
		}
	}
	return r, nil
}

// readBERElement reads one BER TLV (definite length, X.690 8.1.3) of at
// most limit bytes, exactly, without reading ahead.
func readBERElement(r io.Reader, limit int) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	if hdr[0]&0x1f == 0x1f {
		return nil, errors.New("BER: high tag numbers are not used by LDAP")
	}
	out := []byte{hdr[0], hdr[1]}
	n := int(hdr[1])
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 {
			return nil, fmt.Errorf("BER: unsupported length form 0x%02x", hdr[1])
		}
		lb := make([]byte, k)
		if _, err := io.ReadFull(r, lb); err != nil {
			return nil, err
		}
		out = append(out, lb...)
		n = 0
		for _, b := range lb {
			n = n<<8 | int(b)
		}
	}
	if n > limit {
		return nil, fmt.Errorf("BER: element of %d bytes exceeds the limit of %d", n, limit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(out, body...), nil
}

// saslConn is a connection with the SASL security layer of RFC 4422 3.7:
// every Write is wrapped into one buffer, and Read returns the unwrapped
// content of the buffers the server sends. go-ldap writes one message per
// Write from one goroutine and reads from another; the GSS state is
// shared, so wrap and unwrap are serialised.
type saslConn struct {
	net.Conn
	kind authKind
	mech string

	gmu  sync.Mutex
	gctx context.Context

	rmu   sync.Mutex
	plain []byte // unwrapped bytes not yet returned by Read
	// krbSeq is the sequence number the next Kerberos token from the
	// server must carry (RFC 4121 4.2.6.2); set by the first one.
	krbSeq    uint64
	krbSeqSet bool
}

func newSASLConn(c net.Conn, gctx context.Context, m saslMethod) *saslConn {
	return &saslConn{Conn: c, gctx: gctx, kind: m.kind, mech: m.mech}
}

// Write wraps p into one sealed SASL buffer.
func (c *saslConn) Write(p []byte) (int, error) {
	tok, err := c.wrap(p)
	if err != nil {
		return 0, fmt.Errorf("sealing an LDAP message: %w", err)
	}
	buf := make([]byte, 4+len(tok))
	binary.BigEndian.PutUint32(buf, uint32(len(tok)))
	copy(buf[4:], tok)
	if _, err := c.Conn.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *saslConn) wrap(p []byte) ([]byte, error) {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	payload := append([]byte(nil), p...)
	tok, err := gssapi.Wrap(c.gctx, &gssapi.MessageToken{Payload: payload, Capabilities: gssapi.Confidentiality | gssapi.Integrity})
	if err != nil {
		return nil, err
	}
	return append(append([]byte(nil), tok.Signature...), tok.Payload...), nil
}

// Read returns unwrapped bytes, reading and unwrapping the next SASL
// buffer when none are left.
func (c *saslConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.plain) == 0 {
		var hdr [4]byte
		if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
			return 0, err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 || n > maxSASLBuffer {
			return 0, fmt.Errorf("%w: SASL buffer of %d bytes", errDCNotAuthenticated, n)
		}
		// Grows with the data that arrives, not with the announced size.
		var tok []byte
		if _, err := io.CopyN(writerFunc(func(b []byte) (int, error) { tok = append(tok, b...); return len(b), nil }), c.Conn, int64(n)); err != nil {
			return 0, err
		}
		plain, err := c.unwrap(tok)
		if err != nil {
			return 0, fmt.Errorf("%w: an LDAP message from it does not unseal: %v", errDCNotAuthenticated, err)
		}
		c.plain = plain
	}
	n := copy(p, c.plain)
	c.plain = c.plain[n:]
	return n, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (c *saslConn) unwrap(tok []byte) ([]byte, error) {
	if c.kind == authKerberos {
		return c.unwrapKerberos(tok)
	}
	c.gmu.Lock()
	defer c.gmu.Unlock()
	out, err := gssapi.Unwrap(c.gctx, &gssapi.MessageToken{Payload: tok, Capabilities: gssapi.Confidentiality | gssapi.Integrity})
	if err != nil {
		return nil, err
	}
	return out.Payload, nil
}

// RFC 4121 4.2.2 flags and the rotation go-msrpc's unwrap expects.
const (
	cfxSentByAcceptor = 0x01
	cfxSealed         = 0x02
	msrpcRRC          = 28
)

// unwrapKerberos checks an RFC 4121 wrap token from the server — token
// ID 05 04, sent by the acceptor, sealed, the next sequence number — and
// unseals it. go-msrpc unwraps tokens rotated (RRC, 4.2.5) by RRC+EC with
// RRC = 28, the form Windows uses in DCE/RPC; a token in any other
// rotation (MIT and Heimdal send RRC = 0) is rotated into that form
// first.
func (c *saslConn) unwrapKerberos(tok []byte) ([]byte, error) {
	if len(tok) < 16+16+12 || tok[0] != 0x05 || tok[1] != 0x04 || tok[3] != 0xff {
		return nil, errors.New("not an RFC 4121 wrap token")
	}
	flags := tok[2]
	if flags&cfxSentByAcceptor == 0 {
		return nil, errors.New("wrap token not sent by the acceptor (a reflected message)")
	}
	if flags&cfxSealed == 0 {
		return nil, errors.New("wrap token not sealed: the server does not encrypt")
	}
	seq := binary.BigEndian.Uint64(tok[8:16])
	if c.krbSeqSet && seq != c.krbSeq {
		return nil, fmt.Errorf("wrap token with sequence number %d, want %d (replayed or lost)", seq, c.krbSeq)
	}
	ec := int(binary.BigEndian.Uint16(tok[4:6]))
	rrc := int(binary.BigEndian.Uint16(tok[6:8]))
	body := tok[16:]
	try := func(rot int) ([]byte, error) {
		plain := rotateLeft(body, rot)              // the unrotated body
		norm := rotateLeft(plain, -(msrpcRRC + ec)) // go-msrpc's form
		t := make([]byte, 16+len(norm))
		copy(t, tok[:16])
		binary.BigEndian.PutUint16(t[6:8], msrpcRRC)
		copy(t[16:], norm)
		c.gmu.Lock()
		defer c.gmu.Unlock()
		out, err := gssapi.Unwrap(c.gctx, &gssapi.MessageToken{Payload: t, Capabilities: gssapi.Confidentiality | gssapi.Integrity})
		if err != nil {
			return nil, err
		}
		return out.Payload, nil
	}
	out, err := try(rrc)
	if err != nil && ec != 0 {
		// Windows rotates by RRC+EC (MS-KILE 3.4.5.4.1).
		out, err = try(rrc + ec)
	}
	if err != nil {
		return nil, err
	}
	c.krbSeq, c.krbSeqSet = seq+1, true
	return out, nil
}

// rotateLeft returns b rotated left by n bytes (right for negative n).
func rotateLeft(b []byte, n int) []byte {
	if len(b) == 0 {
		return nil
	}
	n %= len(b)
	if n < 0 {
		n += len(b)
	}
	out := make([]byte, 0, len(b))
	return append(append(out, b[n:]...), b[:n]...)
}

// String describes the layer for logs.
func (c *saslConn) String() string {
	return "SASL " + c.mech + "/" + c.kind.String() + " sign+seal to " + c.RemoteAddr().String()
}
