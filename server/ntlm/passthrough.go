package ntlm

import (
	"context"
	"errors"
	"strings"
	"time"
)

// PassThrough validates NTLM logons of domain accounts with a domain
// controller of the joined domain (MS-APDS 3.1.5.1, NTLM pass-through over
// the Netlogon secure channel). The daemon implements it with
// joinlogic/netlogon; this package makes no network calls itself.
type PassThrough interface {
	// Domain returns the NetBIOS and DNS names of the domain logons pass
	// through to; ok is false while the host is not a domain member. The
	// CHALLENGE then names that domain in MsvAvNbDomainName and
	// MsvAvDnsDomainName, as a Windows member's does: the DC checks the
	// names the client's NTLMv2 response carries against the secure
	// channel's (Samba since CVE-2016-2111).
	Domain() (netbios, dns string, ok bool)
	// Logon validates a network logon. A refusal wraps ErrPassThroughRefused
	// (wrong password, unknown or disabled account: the DC's answer), an
	// unreachable DC anything else; Reason errors name the cause.
	Logon(ctx context.Context, l NetworkLogon) (*Validation, error)
}

// NetworkLogon is what the DC needs to check an NTLM response (MS-NRPC
// 2.2.1.4.5): the names the client sent, the server challenge and the
// client's responses.
type NetworkLogon struct {
	User, Domain, Workstation string
	ServerChallenge           [8]byte
	NTResponse, LMResponse    []byte
}

// Validation is the DC's answer to a successful logon.
type Validation struct {
	User, Domain string
	SIDs         []string
	// SessionKey is the UserSessionKey, for NTLMv2 the SessionBaseKey.
	SessionKey [16]byte
}

// ErrPassThroughRefused marks a logon the domain controller refused.
var ErrPassThroughRefused = errors.New("ntlm: the domain controller refused the logon")

// ErrPassThroughNoSuchUser marks a refusal because the domain has no such
// account (STATUS_NO_SUCH_USER); it also wraps ErrPassThroughRefused.
var ErrPassThroughNoSuchUser = errors.New("ntlm: the domain has no such account")

// reasoner is implemented by errors that carry an operator's reason.
type reasoner interface{ Reason() string }

// passThroughReason is the log reason of a failed pass-through logon.
func passThroughReason(err error) string {
	var r reasoner
	if errors.As(err, &r) {
		if errors.Is(err, ErrPassThroughRefused) {
			return r.Reason() + " (domain controller)"
		}
		return "domain controller unreachable: " + r.Reason()
	}
	if errors.Is(err, ErrPassThroughRefused) {
		return "refused by the domain controller"
	}
	return "domain controller unreachable"
}

// DefaultPassThroughTimeout bounds one pass-through logon.
const DefaultPassThroughTimeout = 30 * time.Second

// passThroughDomain returns the joined domain's NetBIOS name when
// pass-through applies.
func (m *Mechanism) passThroughDomain() (string, bool) {
	if m.cfg.PassThrough == nil {
		return "", false
	}
	nb, _, ok := m.cfg.PassThrough.Domain()
	return nb, ok
}

// isLocalDomain reports whether domain names this computer's own account
// database: empty, ".", or the computer's NetBIOS or DNS name.
func (m *Mechanism) isLocalDomain(domain string) bool {
	if domain == "" || domain == "." {
		return true
	}
	name, info := m.target()
	nb, _ := decodeUTF16LE(name)
	if strings.EqualFold(domain, nb) {
		return true
	}
	for _, p := range info {
		if p.ID == avDNSComputerName || p.ID == avNbComputerName {
			if v, ok := decodeUTF16LE(p.Value); ok && strings.EqualFold(domain, v) {
				return true
			}
		}
	}
	return false
}

// passThrough asks the DC.
func (m *Mechanism) passThrough(user, domain, workstation string, challenge [8]byte, nt, lm []byte) (*Validation, error) {
	timeout := m.cfg.PassThroughTimeout
	if timeout <= 0 {
		timeout = DefaultPassThroughTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return m.cfg.PassThrough.Logon(ctx, NetworkLogon{
		User: user, Domain: domain, Workstation: workstation, ServerChallenge: challenge,
		NTResponse: append([]byte(nil), nt...), LMResponse: append([]byte(nil), lm...),
	})
}
