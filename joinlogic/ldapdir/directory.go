package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/internal/tlsverify"
	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// Config configures a Directory. The zero value works against a domain
// whose controllers are found through the system resolver: it binds with
// sealed SASL on port 389 and needs no certificate.
type Config struct {
	// DNSServer is the "host:port" of the DNS server asked for SRV and
	// address records. Default "": the system resolver.
	DNSServer string
	// Hosts maps host names (case-insensitive) to IP addresses, consulted
	// before DNS. Default nil.
	Hosts map[string]string
	// DomainControllers are host names or addresses pinged, in order,
	// before the DNS SRV lookup when no controller is named; they let a
	// domain given by its NetBIOS name be found. Default nil.
	DomainControllers []string
	// Transport is how controllers are reached. Default TransportAuto.
	Transport Transport
	// CAFile is a PEM file of the certificates that may issue controller
	// certificates for LDAPS and StartTLS. Default "": the system roots.
	CAFile string
	// PingOverTCP sends LDAP pings as TCP rootDSE searches only. Default
	// false: UDP (CLDAP) first, TCP when no UDP answer arrives.
	PingOverTCP bool
	// LDAPPort is the port of the LDAP ping (UDP and TCP). Default 389.
	LDAPPort int
	// LDAPSPort is the port of LDAP over TLS. Default 636.
	LDAPSPort int
	// KDCPort is the Kerberos port of the controllers (each controller is
	// the KDC of its own binds). Default 88.
	KDCPort int
	// Timeout bounds each network exchange (a dial plus one request).
	// Default 10 s. The caller's context deadline also applies.
	Timeout time.Duration
	// Logger receives debug and warning records. Default slog.Default().
	Logger *slog.Logger
	// OperatingSystem and OperatingSystemVersion, when not empty, are
	// written to the computer object a join adds or resets, in the same
	// LDAP operation as the password. Default "": not written.
	OperatingSystem        string
	OperatingSystemVersion string
	// SupportedEncryptionTypes is written to msDS-SupportedEncryptionTypes
	// of the computer object a join adds or resets. Default 0x1C (RC4-HMAC,
	// AES128, AES256 — MS-KILE 2.2.7); a negative value leaves the
	// attribute alone.
	SupportedEncryptionTypes int
}

// Directory implements joinlogic.Directory. It is safe for concurrent use;
// the Sessions it returns are not.
type Directory struct {
	cfg      Config
	log      *slog.Logger
	resolver *net.Resolver
	roots    *x509.CertPool
	rootsErr error
}

var _ joinlogic.Directory = (*Directory)(nil)

// New returns a Directory for cfg. A CAFile that cannot be read makes
// every Bind fail (the error names the file).
func New(cfg Config) *Directory {
	if cfg.LDAPPort == 0 {
		cfg.LDAPPort = 389
	}
	if cfg.LDAPSPort == 0 {
		cfg.LDAPSPort = 636
	}
	if cfg.KDCPort == 0 {
		cfg.KDCPort = 88
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportAuto
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.SupportedEncryptionTypes == 0 {
		cfg.SupportedEncryptionTypes = 0x1C
	}
	d := &Directory{cfg: cfg, log: cfg.Logger, resolver: net.DefaultResolver}
	if d.log == nil {
		d.log = slog.Default()
	}
	if cfg.DNSServer != "" {
		server := cfg.DNSServer
		d.resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var nd net.Dialer
				return nd.DialContext(ctx, network, server)
			},
		}
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		switch {
		case err != nil:
			d.rootsErr = fmt.Errorf("ldapdir: reading CA file: %w", err)
		default:
			d.roots = x509.NewCertPool()
			if !d.roots.AppendCertsFromPEM(pem) {
				d.rootsErr = fmt.Errorf("ldapdir: no PEM certificate in %s", cfg.CAFile)
			}
		}
	}
	return d
}

// codeError attaches a joinlogic.Code to an error while keeping both in
// the chain for errors.Is/As.
func codeError(c joinlogic.Code, format string, args ...any) error {
	return fmt.Errorf("%w: %w", c, fmt.Errorf(format, args...))
}

// opTimeout is the time one exchange may take under ctx.
func (d *Directory) opTimeout(ctx context.Context) time.Duration {
	t := d.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		if r := time.Until(dl); r < t {
			t = r
		}
	}
	if t <= 0 {
		t = time.Millisecond
	}
	return t
}

// Locate implements joinlogic.Locator (MS-WKST 3.2.4.13.3 with the
// DsrGetDcNameEx2 rules of MS-NRPC 3.5.4.3.1).
func (d *Directory) Locate(ctx context.Context, req joinlogic.LocateRequest) (joinlogic.DCInfo, error) {
	domain := strings.TrimSuffix(strings.TrimSpace(req.Domain), ".")
	if domain == "" {
		return joinlogic.DCInfo{}, codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: empty domain name")
	}
	if req.DCName != "" {
		return d.validateNamed(ctx, domain, req)
	}
	info, err := d.find(ctx, domain, req.Writable)
	if err != nil {
		return joinlogic.DCInfo{}, err
	}
	return info, nil
}

// validateNamed checks the controller the caller named. MS-WKST
// 3.2.4.13.3 asks DsrGetDcNameEx2 on that computer: when the call fails
// the answer is ERROR_NO_SUCH_DOMAIN, when it names another controller
// ERROR_INVALID_DOMAIN_ROLE. A computer that answers the LDAP ping as a
// suitable controller of the domain is the controller itself; any other
// reachable computer would have located some other controller of the
// domain, so the domain is located to tell the two failures apart.
func (d *Directory) validateNamed(ctx context.Context, domain string, req joinlogic.LocateRequest) (joinlogic.DCInfo, error) {
	name := strings.TrimPrefix(strings.TrimSpace(req.DCName), `\\`)
	resolved, addrs, err := d.resolveHost(ctx, name, domain)
	if err != nil {
		return joinlogic.DCInfo{}, codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: resolving domain controller %q: %w", name, err)
	}
	var why error
	for _, a := range addrs {
		resp, err := d.ping(ctx, a, domain)
		if err != nil {
			why = err
			continue
		}
		switch {
		case !pingNamesDomain(resp, domain):
			why = fmt.Errorf("%s answers for domain %s, not %s", name, resp.DNSDomainName, domain)
		case !pingNamesHost(resp, name, a):
			why = fmt.Errorf("%s answers as %s", name, resp.DNSHostName)
		case req.Writable && resp.Flags&FlagWritable == 0:
			why = fmt.Errorf("%s is a read-only domain controller", name)
		default:
			return dcInfo(resp, a, resolved), nil
		}
	}
	if ctx.Err() != nil {
		return joinlogic.DCInfo{}, ctx.Err()
	}
	if _, ferr := d.find(ctx, domain, req.Writable); ferr != nil {
		return joinlogic.DCInfo{}, codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: %s is not a usable domain controller of %s (%v) and the domain cannot be located: %w", name, domain, why, ferr)
	}
	return joinlogic.DCInfo{}, codeError(joinlogic.ERROR_INVALID_DOMAIN_ROLE, "ldapdir: %s is not a usable domain controller of %s: %v", name, domain, why)
}

// find locates a controller of domain: the configured controllers first,
// then the DNS SRV records of MS-NRPC 3.5.4.3.1 / MS-ADTS 6.3.6. A SRV
// target outside the domain is not used: its name is what the
// controller's certificate and Kerberos ticket are checked against.
func (d *Directory) find(ctx context.Context, domain string, writable bool) (joinlogic.DCInfo, error) {
	var tried []string
	try := func(host string) (joinlogic.DCInfo, bool) {
		resolved, addrs, err := d.resolveHost(ctx, host, domain)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", host, err))
			return joinlogic.DCInfo{}, false
		}
		for _, a := range addrs {
			resp, err := d.ping(ctx, a, domain)
			switch {
			case err != nil:
				tried = append(tried, fmt.Sprintf("%s: %v", a, err))
			case !pingNamesDomain(resp, domain):
				tried = append(tried, fmt.Sprintf("%s: a controller of %s", a, resp.DNSDomainName))
			case writable && resp.Flags&FlagWritable == 0:
				tried = append(tried, fmt.Sprintf("%s: read-only", a))
			default:
				return dcInfo(resp, a, resolved), true
			}
		}
		return joinlogic.DCInfo{}, false
	}
	for _, h := range d.cfg.DomainControllers {
		if info, ok := try(h); ok {
			return info, nil
		}
		if ctx.Err() != nil {
			return joinlogic.DCInfo{}, ctx.Err()
		}
	}
	if strings.Contains(domain, ".") {
		lctx, cancel := context.WithTimeout(ctx, d.opTimeout(ctx))
		_, srvs, err := d.resolver.LookupSRV(lctx, "ldap", "tcp", "dc._msdcs."+domain)
		cancel()
		err = d.dnsError(err)
		if err != nil {
			tried = append(tried, fmt.Sprintf("SRV _ldap._tcp.dc._msdcs.%s: %v", domain, err))
		}
		sortSRV(srvs)
		if len(srvs) > 0 {
			d.log.DebugContext(ctx, "ldapdir: DNS SRV answer", "query", "_ldap._tcp.dc._msdcs."+domain, "targets", srvTargets(srvs))
		}
		for _, s := range srvs {
			target := strings.TrimSuffix(s.Target, ".")
			if !inDomain(target, domain) {
				tried = append(tried, fmt.Sprintf("SRV target %s: outside %s, not trusted", target, domain))
				continue
			}
			if info, ok := try(target); ok {
				return info, nil
			}
			if ctx.Err() != nil {
				return joinlogic.DCInfo{}, ctx.Err()
			}
		}
	} else if len(d.cfg.DomainControllers) == 0 {
		tried = append(tried, "a NetBIOS domain name needs Config.DomainControllers")
	}
	if ctx.Err() != nil {
		return joinlogic.DCInfo{}, ctx.Err()
	}
	return joinlogic.DCInfo{}, codeError(joinlogic.ERROR_NO_SUCH_DOMAIN, "ldapdir: no domain controller of %s found (%s)", domain, strings.Join(tried, "; "))
}

// sortSRV orders records by priority, then by descending weight (RFC 2782
// without the random pick: the order is reproducible).
func sortSRV(s []*net.SRV) {
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Priority != s[j].Priority {
			return s[i].Priority < s[j].Priority
		}
		return s[i].Weight > s[j].Weight
	})
}

// srvTargets lists the targets of SRV records for logs.
func srvTargets(srvs []*net.SRV) []string {
	out := make([]string, len(srvs))
	for i, s := range srvs {
		out[i] = fmt.Sprintf("%s:%d", strings.TrimSuffix(s.Target, "."), s.Port)
	}
	return out
}

// inDomain reports whether host is domain or a name inside it.
func inDomain(host, domain string) bool {
	host, domain = strings.ToLower(strings.TrimSuffix(host, ".")), strings.ToLower(strings.TrimSuffix(domain, "."))
	return domain != "" && (host == domain || strings.HasSuffix(host, "."+domain))
}

// resolveHost returns the addresses of host and the name that resolved:
// an IP literal as is, then Config.Hosts, then DNS; a single-label name is
// tried within domain first (when domain is a DNS name). The name is the
// controller's identity from then on: its certificate and its Kerberos
// service ticket are checked against it, never against a name the
// controller itself reports.
func (d *Directory) resolveHost(ctx context.Context, host, domain string) (string, []string, error) {
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return "", nil, errors.New("empty host name")
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), []string{ip.String()}, nil
	}
	names := []string{host}
	if !strings.Contains(host, ".") && strings.Contains(domain, ".") {
		names = []string{host + "." + domain, host}
	}
	for _, n := range names {
		for k, v := range d.cfg.Hosts {
			if strings.EqualFold(k, n) {
				return n, []string{v}, nil
			}
		}
	}
	var last error
	for _, n := range names {
		lctx, cancel := context.WithTimeout(ctx, d.opTimeout(ctx))
		addrs, err := d.resolver.LookupHost(lctx, n)
		cancel()
		err = d.dnsError(err)
		if err == nil && len(addrs) > 0 {
			return n, addrs, nil
		}
		last = err
	}
	if last == nil {
		last = errors.New("no address")
	}
	return "", nil, last
}

// pingFilter builds the LDAP ping filter of MS-ADTS 6.3.3: NtVer asks for
// NETLOGON_NT_VERSION_5 | NETLOGON_NT_VERSION_5EX (6.3.1.1), DnsDomain
// names the domain when it is a DNS name.
func pingFilter(domain string) string {
	// The filter is a conjunction of equality terms (6.3.3.1), even with
	// one term.
	f := "(&"
	if strings.Contains(domain, ".") {
		f += "(DnsDomain=" + ldap.EscapeFilter(domain) + ")"
	}
	return f + `(NtVer=\06\00\00\00))` // NtVersion5 | NtVersion5EX
}

// dnsError names, in a failed lookup's error, the DNS server that was
// asked: with Config.DNSServer, Go's resolver still names the first
// server of /etc/resolv.conf ("lookup X on 10.0.0.53:53"), which it never
// asked.
func (d *Directory) dnsError(err error) error {
	var de *net.DNSError
	if d.cfg.DNSServer == "" || !errors.As(err, &de) {
		return err
	}
	c := *de
	c.Server = d.cfg.DNSServer
	return &c
}

// ping sends an LDAP ping (MS-ADTS 6.3.3) to addr and decodes the answer:
// over UDP (CLDAP) unless Config.PingOverTCP, and over TCP when no UDP
// answer arrives.
func (d *Directory) ping(ctx context.Context, addr, domain string) (*PingResponse, error) {
	var v []byte
	var err error
	// Where the ping went, for the cause of a failure.
	where := fmt.Sprintf("%s (TCP port %d)", addr, d.cfg.LDAPPort)
	if !d.cfg.PingOverTCP {
		where = fmt.Sprintf("%s (UDP port %d)", addr, d.cfg.LDAPPort)
		v, err = d.cldapPing(ctx, addr, domain)
		if err != nil && ctx.Err() == nil && !errors.Is(err, errNoAnswer) {
			d.log.DebugContext(ctx, "ldapdir: CLDAP ping failed, trying TCP", "addr", addr, "err", err)
			where = fmt.Sprintf("%s (UDP port %d: %v; then TCP)", addr, d.cfg.LDAPPort, err)
			v, err = d.tcpPing(ctx, addr, domain)
		}
	} else {
		v, err = d.tcpPing(ctx, addr, domain)
	}
	if err != nil {
		return nil, fmt.Errorf("LDAP ping to %s: %w", where, err)
	}
	resp, err := ParsePingResponse(v, NtVersion5|NtVersion5EX)
	if err != nil {
		return nil, fmt.Errorf("LDAP ping to %s: %w", addr, err)
	}
	if resp.Flags&FlagDS == 0 {
		return nil, fmt.Errorf("LDAP ping to %s: not a directory service", addr)
	}
	return resp, nil
}

// tcpPing is the LDAP ping as a rootDSE search over TCP.
func (d *Directory) tcpPing(ctx context.Context, addr, domain string) ([]byte, error) {
	conn, err := d.dial(ctx, "ldap", addr, d.cfg.LDAPPort, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		pingFilter(domain), []string{"Netlogon"}, nil)
	var res *ldap.SearchResult
	err = withConn(ctx, d.opTimeout(ctx), conn, func() error {
		var err error
		res, err = conn.Search(req)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, e := range res.Entries {
		if v := e.GetEqualFoldRawAttributeValue("Netlogon"); len(v) > 0 {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w for %s", errNoAnswer, domain)
}

func pingNamesDomain(r *PingResponse, domain string) bool {
	return strings.EqualFold(r.DNSDomainName, domain) || strings.EqualFold(r.NetBIOSDomainName, domain)
}

// pingNamesHost reports whether the answer names the controller the
// caller gave (its DNS host name, first label, NetBIOS name, or the
// address that was asked).
func pingNamesHost(r *PingResponse, name, addr string) bool {
	if net.ParseIP(name) != nil {
		return name == addr
	}
	first, _, _ := strings.Cut(r.DNSHostName, ".")
	return strings.EqualFold(name, r.DNSHostName) || strings.EqualFold(name, first) ||
		strings.EqualFold(name, r.NetBIOSComputerName)
}

// dcInfo is what a located controller is known by. DCName is name, the
// name this daemon resolved to addr (a SRV target, a configured or a
// caller-named controller); the host name the LDAP ping answered with is
// not used for anything that authenticates the controller: the ping is
// unauthenticated and anyone on the path can answer it.
func dcInfo(r *PingResponse, addr, name string) joinlogic.DCInfo {
	return joinlogic.DCInfo{
		DCName:       strings.ToLower(name),
		DCAddress:    addr,
		DomainDNS:    r.DNSDomainName,
		DomainFlat:   r.NetBIOSDomainName,
		ForestDNS:    r.DNSForestName,
		DomainGUID:   r.GUIDString(),
		DCSiteName:   r.DCSiteName,
		ClientSite:   r.ClientSiteName,
		ReadOnlyDC:   r.Flags&FlagWritable == 0,
		GlobalCatlog: r.Flags&FlagGC != 0,
		Flags:        r.Flags,
	}
}

// dial connects to addr:port with scheme "ldap" or "ldaps".
func (d *Directory) dial(ctx context.Context, scheme, addr string, port int, tc *tls.Config) (*ldap.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nd := &net.Dialer{Timeout: d.opTimeout(ctx)}
	url := scheme + "://" + net.JoinHostPort(addr, strconv.Itoa(port))
	opts := []ldap.DialOpt{ldap.DialWithDialer(nd)}
	if tc != nil {
		opts = []ldap.DialOpt{ldap.DialWithTLSDialer(tc, nd)}
	}
	type result struct {
		c   *ldap.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ldap.DialURL(url, opts...)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		return r.c, nil
	case <-ctx.Done():
		// The dial ends by itself within the dialer timeout; its
		// connection, if any, is closed then.
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// withConn runs fn, one request on conn, bounded by timeout and ctx: a
// cancelled context closes the connection, which ends the request.
func withConn(ctx context.Context, timeout time.Duration, conn *ldap.Conn, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	conn.SetTimeout(timeout)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err := fn()
	stop()
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// tlsConfig verifies the controller's certificate for serverName: the
// chain against Config.CAFile (or the system roots), the name by
// subjectAltName or, for a certificate without one (Samba's own), by its
// subject common name (internal/tlsverify).
func (d *Directory) tlsConfig(serverName string) (*tls.Config, error) {
	if d.rootsErr != nil {
		return nil, d.rootsErr
	}
	return tlsverify.Config(d.roots, serverName), nil
}

// isNetworkError reports errors of the transport rather than of LDAP.
// go-ldap reports every answer of the server, and its own client-side
// network failures, as *ldap.Error; a write or read that fails on an
// established connection comes back as a plain error that keeps only the
// text of its cause ("unable to send request: ... connection reset by
// peer", "unable to read LDAP response packet: EOF"). So an error that is
// not an *ldap.Error is a transport failure too.
func isNetworkError(err error) bool {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == ldap.ErrorNetwork || le.ResultCode == ldap.ErrorUnexpectedResponse
	}
	return err != nil
}
