package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// Transport is how a Directory reaches a controller's directory service.
type Transport string

// The transports. Every one of them authenticates the controller before a
// password is written to it: Kerberos mutual authentication or the NTLM
// session key for SASL, the certificate for LDAPS and StartTLS (checked
// against the name this daemon resolved itself, never a name the
// controller claimed).
const (
	// TransportAuto is the default: TransportSASL, and LDAPS when the
	// controller refuses every sealed SASL bind (a server that offers
	// neither GSS-SPNEGO nor sealing). It never binds in clear text.
	TransportAuto Transport = "auto"
	// TransportSASL is LDAP on port 389 with a GSS-SPNEGO bind —
	// Kerberos, or NTLM when Kerberos is not possible — and signing and
	// sealing of every message afterwards, as Windows and Samba's net ads
	// do. It needs no certificate.
	TransportSASL Transport = "sasl"
	// TransportLDAPS is LDAP over TLS on port 636 with a simple bind
	// after the certificate verified.
	TransportLDAPS Transport = "ldaps"
	// TransportStartTLS is LDAP on port 389 upgraded with StartTLS (RFC
	// 4511 4.14), then as TransportLDAPS.
	TransportStartTLS Transport = "starttls"
)

// ParseTransport accepts the names of the transports; "" is
// TransportAuto.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(strings.ToLower(strings.TrimSpace(s))); t {
	case "":
		return TransportAuto, nil
	case TransportAuto, TransportSASL, TransportLDAPS, TransportStartTLS:
		return t, nil
	}
	return "", fmt.Errorf("unknown LDAP transport %q: want auto, sasl, ldaps or starttls", s)
}

// open connects to dc at addr over the configured transport and
// authenticates cred, returning the connection and a description of it
// for logs.
func (d *Directory) open(ctx context.Context, dc joinlogic.DCInfo, addr string, cred joinlogic.Credentials) (*ldap.Conn, string, error) {
	switch d.cfg.Transport {
	case TransportLDAPS:
		return d.openTLS(ctx, dc, addr, cred, false)
	case TransportStartTLS:
		return d.openTLS(ctx, dc, addr, cred, true)
	}
	conn, desc, err := d.openSASL(ctx, dc, addr, cred)
	if err != nil && d.cfg.Transport == TransportAuto && errors.Is(err, errNoSealing) {
		d.log.WarnContext(ctx, "ldapdir: the domain controller refuses a sealed SASL bind; trying LDAPS", "dc", dc.DCName, "addr", addr, "err", err)
		c, desc2, err2 := d.openTLS(ctx, dc, addr, cred, false)
		if err2 == nil {
			return c, desc2, nil
		}
		return nil, "", errors.Join(err, err2)
	}
	return conn, desc, err
}

// identity derives what the SASL bind needs from cred and the located
// controller. Kerberos is used for an account of the controller's own
// domain (its NetBIOS or DNS name, or none) when the controller has a
// host name; otherwise NTLM.
func (d *Directory) identity(dc joinlogic.DCInfo, addr string, cred joinlogic.Credentials) saslIdentity {
	a := cred.Account
	id := saslIdentity{
		User:      a.User,
		Password:  cred.Password,
		KDC:       net.JoinHostPort(addr, strconv.Itoa(d.cfg.KDCPort)),
		DomainDNS: strings.ToLower(dc.DomainDNS),
	}
	id.NTLMDomain = a.Domain
	if id.NTLMDomain == "" {
		id.NTLMDomain = dc.DomainFlat
	}
	own := a.Domain == "" || strings.EqualFold(a.Domain, dc.DomainFlat) || strings.EqualFold(a.Domain, dc.DomainDNS)
	if own && dc.DomainDNS != "" {
		id.Realm = strings.ToUpper(dc.DomainDNS)
	}
	if h := strings.TrimSuffix(dc.DCName, "."); h != "" && net.ParseIP(h) == nil {
		id.Service = "ldap/" + strings.ToLower(h)
	}
	return id
}

// openSASL binds with GSS-SPNEGO on the LDAP port: Kerberos first, NTLM
// when Kerberos cannot even be tried (no host name for the controller, no
// realm for the account, no KDC answer, no ticket for the service).
// Once the LDAP server has answered a Kerberos attempt — and so could
// be an impostor — nothing else is tried.
func (d *Directory) openSASL(ctx context.Context, dc joinlogic.DCInfo, addr string, cred joinlogic.Credentials) (*ldap.Conn, string, error) {
	return d.openSASLWith(ctx, dc, addr, cred, defaultMethods)
}

// defaultMethods are the SASL binds tried in order: GSS-SPNEGO with
// Kerberos, with NTLM when Kerberos is not possible, and GSSAPI when the
// server does not offer GSS-SPNEGO.
var defaultMethods = []saslMethod{{mechGSSSPNEGO, authKerberos}, {mechGSSSPNEGO, authNTLM}, {mechGSSAPI, authKerberos}}

// openSASLWith is openSASL with the mechanisms to try, in order.
func (d *Directory) openSASLWith(ctx context.Context, dc joinlogic.DCInfo, addr string, cred joinlogic.Credentials, methods []saslMethod) (*ldap.Conn, string, error) {
	raw, err := d.dialTCP(ctx, addr, d.cfg.LDAPPort)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, "", codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: LDAP to %s (%s port %d): %w", dc.DCName, addr, d.cfg.LDAPPort, err)
	}
	if cred.Anonymous {
		// No credentials, nothing secret: an anonymous session is an
		// unauthenticated connection (MS-WKST 3.2.4.13.3's fall-back).
		conn := ldap.NewConn(raw, false)
		conn.Start()
		return conn, "anonymous LDAP to " + addr, nil
	}
	id := d.identity(dc, addr, cred)
	// NTLM only where Kerberos could not even be tried: a server that
	// answered a Kerberos bind could be an impostor, and must not get an
	// NTLM response (crackable offline) by refusing the mechanism.
	kerberosUnavailable, unsupported := false, map[string]bool{}
	usable := func(m saslMethod, first bool) bool {
		switch {
		case unsupported[m.mech]:
			return false
		case m.kind == authKerberos:
			return !kerberosUnavailable
		default:
			return first || kerberosUnavailable
		}
	}
	var lastErr error
	var lastWho string
	for i, m := range methods {
		if !usable(m, i == 0) {
			continue
		}
		sc, err := saslBind(ctx, raw, m, id, d.opTimeout(ctx))
		if err == nil {
			conn := ldap.NewConn(sc, false)
			conn.Start()
			return conn, sc.String(), nil
		}
		lastErr, lastWho = err, fmt.Sprintf("%s bind to %s (%s) as %s", m, dc.DCName, addr, accountString(cred.Account))
		switch {
		case ctx.Err() != nil:
			raw.Close()
			return nil, "", fmt.Errorf("%w (%v)", ctx.Err(), err)
		case m.kind == authKerberos && errors.Is(err, errKerberosUnavailable):
			// Nothing was sent on raw yet: the next method uses it.
			d.log.InfoContext(ctx, "ldapdir: Kerberos not possible", "dc", dc.DCName, "addr", addr, "reason", err.Error())
			kerberosUnavailable = true
			continue
		case errors.Is(err, errMechUnsupported):
			// The server refused the mechanism itself; the connection
			// stays usable for another bind (RFC 4513 5.2.1).
			d.log.InfoContext(ctx, "ldapdir: the DC does not offer "+m.mech, "dc", dc.DCName, "reason", err.Error())
			unsupported[m.mech] = true
			continue
		}
		break
	}
	raw.Close()
	if lastErr == nil {
		return nil, "", codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: no SASL mechanism to try with %s", dc.DCName)
	}
	if errors.Is(lastErr, errCredentials) {
		return nil, "", codeError(joinlogic.ERROR_LOGON_FAILURE, "ldapdir: %s: %w", lastWho, lastErr)
	}
	return nil, "", codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: %s: %w", lastWho, lastErr)
}

// openTLS connects with LDAPS, or LDAP and StartTLS, verifying the
// controller's certificate for dc.DCName — the name this daemon resolved
// itself — and only then sends the simple bind.
func (d *Directory) openTLS(ctx context.Context, dc joinlogic.DCInfo, addr string, cred joinlogic.Credentials, startTLS bool) (*ldap.Conn, string, error) {
	name := strings.TrimSuffix(dc.DCName, ".")
	tc, err := d.tlsConfig(name)
	if err != nil {
		return nil, "", codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "%w", err)
	}
	var conn *ldap.Conn
	desc := "LDAPS to " + net.JoinHostPort(addr, strconv.Itoa(d.cfg.LDAPSPort))
	if startTLS {
		desc = "StartTLS on " + net.JoinHostPort(addr, strconv.Itoa(d.cfg.LDAPPort))
		conn, err = d.dial(ctx, "ldap", addr, d.cfg.LDAPPort, nil)
		if err == nil {
			err = withConn(ctx, d.opTimeout(ctx), conn, func() error { return conn.StartTLS(tc) })
			if err != nil {
				conn.Close()
			}
		}
	} else {
		conn, err = d.dial(ctx, "ldaps", addr, d.cfg.LDAPSPort, tc)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", err
		}
		return nil, "", codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: %s, certificate checked for %s: %w", desc, name, err)
	}
	desc += ", certificate verified for " + name
	if !cred.Anonymous {
		user := bindName(cred.Account, dc)
		err := withConn(ctx, d.opTimeout(ctx), conn, func() error { return conn.Bind(user, cred.Password) })
		if err != nil {
			conn.Close()
			return nil, "", bindError(err, dc, "as "+user+" over "+desc)
		}
	}
	return conn, desc, nil
}

// dialTCP opens a plain TCP connection to addr:port within ctx.
func (d *Directory) dialTCP(ctx context.Context, addr string, port int) (net.Conn, error) {
	nd := &net.Dialer{Timeout: d.opTimeout(ctx)}
	return nd.DialContext(ctx, "tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
}

// accountString names an account for logs.
func accountString(a joinlogic.Account) string {
	switch {
	case a.UPN:
		return a.User + "@" + a.Domain
	case a.Domain != "":
		return a.Domain + `\` + a.User
	}
	return a.User
}
