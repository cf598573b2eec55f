package ldapdir

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
)

func TestMain(m *testing.M) { os.Exit(testdc.Main(m)) }

func newDir(t *testing.T, dc *testdc.DC, mod ...func(*Config)) *Directory {
	t.Helper()
	cfg := Config{
		DNSServer:              net.JoinHostPort(dc.Addr, "53"),
		Timeout:                5 * time.Second,
		Logger:                 slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OperatingSystem:        "Linux",
		OperatingSystemVersion: "6.1",
	}
	for _, f := range mod {
		f(&cfg)
	}
	return New(cfg)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func wantCode(t *testing.T, err error, want joinlogic.Code) {
	t.Helper()
	var c joinlogic.Code
	if !errors.As(err, &c) || c != want {
		t.Fatalf("error %v: want code %v", err, want)
	}
}

func admin(dc *testdc.DC) joinlogic.Credentials {
	return joinlogic.Credentials{Account: joinlogic.Account{User: dc.AdminUser}, Password: dc.AdminPassword}
}

// randName returns a fresh NetBIOS computer name (at most 15 characters).
func randName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(prefix + hex.EncodeToString(b))
}

func locate(t *testing.T, d *Directory, req joinlogic.LocateRequest) joinlogic.DCInfo {
	t.Helper()
	info, err := d.Locate(context.Background(), req)
	if err != nil {
		t.Fatalf("Locate(%+v): %v", req, err)
	}
	return info
}

func bindAdmin(t *testing.T, d *Directory, dc *testdc.DC) (joinlogic.DCInfo, *Session) {
	t.Helper()
	info := locate(t, d, joinlogic.LocateRequest{Domain: dc.DNSDomain, Writable: true})
	s, err := d.bind(context.Background(), info, admin(dc))
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return info, s
}

func TestLocate(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run("PingOverTCP="+strconv.FormatBool(tcp), func(t *testing.T) { testLocate(t, tcp) })
	}
}

func TestPingTransports(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc)
	ctx := context.Background()
	for name, ping := range map[string]func(context.Context, string, string) ([]byte, error){"udp": d.cldapPing, "tcp": d.tcpPing} {
		for _, dom := range []string{dc.DNSDomain, dc.Domain} {
			v, err := ping(ctx, dc.Addr, dom)
			if err != nil {
				t.Fatalf("%s ping for %s: %v", name, dom, err)
			}
			if r, err := ParsePingResponse(v, NtVersion5|NtVersion5EX); err != nil || r.NetBIOSDomainName != dc.Domain {
				t.Errorf("%s ping for %s: %+v, %v", name, dom, r, err)
			}
		}
		if _, err := ping(ctx, dc.Addr, "other.test"); !errors.Is(err, errNoAnswer) {
			t.Errorf("%s ping for another domain: %v", name, err)
		}
		if _, err := ping(ctx, "127.0.0.1", dc.DNSDomain); err == nil {
			t.Errorf("%s ping to a host without a directory succeeded", name)
		}
	}
}

func testLocate(t *testing.T, tcp bool) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc, func(c *Config) { c.PingOverTCP = tcp })
	for _, req := range []joinlogic.LocateRequest{
		{Domain: dc.DNSDomain, Writable: true},
		{Domain: strings.ToUpper(dc.DNSDomain) + ".", Writable: true},
		{Domain: dc.DNSDomain, DCName: dc.HostName, Writable: true},
		{Domain: dc.DNSDomain, DCName: strings.ToUpper(dc.HostFQDN)},
		{Domain: dc.DNSDomain, DCName: `\\` + dc.HostFQDN},
		{Domain: dc.DNSDomain, DCName: dc.Addr},
		{Domain: dc.Domain, DCName: dc.HostFQDN},
	} {
		info := locate(t, d, req)
		// The controller is known by the name this side resolved, not by
		// the name its (unauthenticated) LDAP ping answers with.
		want := dc.HostFQDN
		if req.DCName == dc.Addr {
			want = dc.Addr
		}
		if info.DCName != want || info.DCAddress != dc.Addr ||
			!strings.EqualFold(info.DomainDNS, dc.DNSDomain) || info.DomainFlat != dc.Domain ||
			!strings.EqualFold(info.ForestDNS, dc.DNSDomain) || len(info.DomainGUID) != 36 ||
			info.ReadOnlyDC || !info.GlobalCatlog || info.DCSiteName == "" {
			t.Errorf("Locate(%+v) = %+v", req, info)
		}
	}
	// A configured controller keeps the name it was configured by (here
	// another name of the DC), whatever its ping answers.
	for _, n := range []string{"alias", "alias." + dc.DNSDomain} {
		d3 := newDir(t, dc, func(c *Config) {
			c.PingOverTCP, c.DomainControllers = tcp, []string{n}
			c.Hosts = map[string]string{"alias." + dc.DNSDomain: dc.Addr}
		})
		if info := locate(t, d3, joinlogic.LocateRequest{Domain: dc.DNSDomain}); info.DCName != "alias."+dc.DNSDomain {
			t.Errorf("DC configured as %s located as %+v", n, info)
		}
	}
	// A NetBIOS domain name is found through the configured controllers.
	d2 := newDir(t, dc, func(c *Config) { c.PingOverTCP, c.DomainControllers = tcp, []string{"nowhere.invalid", dc.HostFQDN} })
	if info := locate(t, d2, joinlogic.LocateRequest{Domain: "example", Writable: true}); info.DomainFlat != dc.Domain {
		t.Errorf("flat Locate = %+v", info)
	}
}

func TestLocateErrors(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run("PingOverTCP="+strconv.FormatBool(tcp), func(t *testing.T) { testLocateErrors(t, tcp) })
	}
}

func testLocateErrors(t *testing.T, tcp bool) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc, func(c *Config) {
		c.PingOverTCP = tcp
		c.Hosts = map[string]string{"member1.example.test": "127.0.0.1"}
	})
	ctx := context.Background()
	cases := []struct {
		name string
		req  joinlogic.LocateRequest
		want joinlogic.Code
	}{
		// 127.0.0.1 runs no directory: the named computer is not a DC of
		// a domain that exists.
		{"named non-DC", joinlogic.LocateRequest{Domain: dc.DNSDomain, DCName: "member1", Writable: true}, joinlogic.ERROR_INVALID_DOMAIN_ROLE},
		{"named non-DC by address", joinlogic.LocateRequest{Domain: dc.DNSDomain, DCName: "127.0.0.1"}, joinlogic.ERROR_INVALID_DOMAIN_ROLE},
		{"named DC of another domain", joinlogic.LocateRequest{Domain: "other.test", DCName: dc.HostFQDN}, joinlogic.ERROR_NO_SUCH_DOMAIN},
		{"named DC unresolvable", joinlogic.LocateRequest{Domain: dc.DNSDomain, DCName: "nosuchhost"}, joinlogic.ERROR_NO_SUCH_DOMAIN},
		{"unresolvable domain", joinlogic.LocateRequest{Domain: "nosuch.test", Writable: true}, joinlogic.ERROR_NO_SUCH_DOMAIN},
		{"flat domain without controllers", joinlogic.LocateRequest{Domain: "EXAMPLE"}, joinlogic.ERROR_NO_SUCH_DOMAIN},
		{"empty", joinlogic.LocateRequest{}, joinlogic.ERROR_NO_SUCH_DOMAIN},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.Locate(ctx, c.req)
			wantCode(t, err, c.want)
		})
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Locate(cctx, joinlogic.LocateRequest{Domain: dc.DNSDomain}); !errors.Is(err, context.Canceled) {
		t.Errorf("Locate with a cancelled context: %v", err)
	}
}

// transportOf is the transport a session runs on.
func transportOf(t *testing.T, s joinlogic.Session) string {
	t.Helper()
	return s.(*Session).desc
}

// The default transport binds with Kerberos, and with NTLM when Kerberos
// is not possible; both seal. A refused password is ERROR_LOGON_FAILURE
// through either mechanism. The DC requires signing, as it comes
// (Samba's `ldap server require strong auth = yes`, like Windows Server
// 2025's LDAP signing requirement): it refuses a simple bind on 389.
func TestBindSASL(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc)
	ctx := context.Background()
	info := locate(t, d, joinlogic.LocateRequest{Domain: dc.DNSDomain, Writable: true})

	if out, err := exec.Command("testparm", "-s", "--parameter-name=ldap server require strong auth", dc.SMBConf).Output(); err != nil ||
		strings.TrimSpace(string(out)) != "Yes" {
		t.Fatalf("the DC's ldap server require strong auth: %q, %v", out, err)
	}
	plain, err := ldap.DialURL("ldap://" + net.JoinHostPort(dc.Addr, "389"))
	if err != nil {
		t.Fatal(err)
	}
	err = plain.Bind(dc.AdminUser+"@"+dc.DNSDomain, dc.AdminPassword)
	plain.Close()
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultStrongAuthRequired) && !ldap.IsErrorWithCode(err, ldap.LDAPResultConfidentialityRequired) {
		t.Fatalf("a simple bind on 389 to the DC: %v; want it refused for want of signing", err)
	}

	for _, c := range []struct {
		name string
		cred joinlogic.Credentials
	}{
		{"flat", admin(dc)},
		{"NetBIOS domain", joinlogic.Credentials{Account: joinlogic.Account{User: dc.AdminUser, Domain: dc.Domain}, Password: dc.AdminPassword}},
		{"UPN", joinlogic.Credentials{Account: joinlogic.Account{User: dc.AdminUser, Domain: dc.DNSDomain, UPN: true}, Password: dc.AdminPassword}},
	} {
		s, err := d.Bind(ctx, info, c.cred)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := transportOf(t, s); !strings.Contains(got, "Kerberos sign+seal") {
			t.Errorf("%s: bound over %s", c.name, got)
		}
		s.Close()
	}
	bad := admin(dc)
	bad.Password += "x"
	_, err = d.Bind(ctx, info, bad)
	wantCode(t, err, joinlogic.ERROR_LOGON_FAILURE)

	// Kerberos is not possible: the DC is known only by its address (no
	// name for a service ticket), or its KDC does not answer. NTLM then.
	byAddr := info
	byAddr.DCName = dc.Addr
	noKDC := newDir(t, dc, func(c *Config) { c.KDCPort = 1 })
	for name, b := range map[string]func(joinlogic.Credentials) (joinlogic.Session, error){
		"by address": func(c joinlogic.Credentials) (joinlogic.Session, error) { return d.Bind(ctx, byAddr, c) },
		"no KDC":     func(c joinlogic.Credentials) (joinlogic.Session, error) { return noKDC.Bind(ctx, info, c) },
	} {
		s, err := b(admin(dc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := transportOf(t, s); !strings.Contains(got, "NTLM sign+seal") {
			t.Errorf("%s: bound over %s", name, got)
		}
		if _, err := s.DomainInfo(ctx); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		s.Close()
		_, err = b(bad)
		wantCode(t, err, joinlogic.ERROR_LOGON_FAILURE)
	}
	// An account of another domain cannot use this realm's KDC: NTLM,
	// which the DC refuses for an unknown domain's user.
	other := joinlogic.Credentials{Account: joinlogic.Account{User: dc.AdminUser, Domain: "OTHERDOM"}, Password: dc.AdminPassword}
	if id := d.identity(info, dc.Addr, other); id.Realm != "" || id.NTLMDomain != "OTHERDOM" {
		t.Errorf("identity for another domain: %+v", id)
	}
}

// LDAPS and StartTLS verify Samba's own certificate with its CA for the
// name this side resolved, then bind.
func TestBindTLS(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	ctx := context.Background()
	for _, tr := range []Transport{TransportLDAPS, TransportStartTLS} {
		t.Run(string(tr), func(t *testing.T) {
			d := newDir(t, dc, func(c *Config) { c.Transport, c.CAFile = tr, dc.CAFile })
			info := locate(t, d, joinlogic.LocateRequest{Domain: dc.DNSDomain, Writable: true})
			s, err := d.Bind(ctx, info, admin(dc))
			if err != nil {
				t.Fatal(err)
			}
			if got := transportOf(t, s); !strings.Contains(got, "certificate verified for "+dc.HostFQDN) {
				t.Errorf("bound over %s", got)
			}
			if _, err := s.DomainInfo(ctx); err != nil {
				t.Error(err)
			}
			s.Close()
			bad := admin(dc)
			bad.Password += "x"
			_, err = d.Bind(ctx, info, bad)
			wantCode(t, err, joinlogic.ERROR_LOGON_FAILURE)

			// A certificate that does not chain to the configured roots is
			// refused.
			other := newDir(t, dc, func(c *Config) { c.Transport = tr })
			_, err = other.Bind(ctx, info, admin(dc))
			wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
			// The certificate names the DC, not its address.
			byAddr := info
			byAddr.DCName = dc.Addr
			_, err = d.Bind(ctx, byAddr, admin(dc))
			wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
			missing := newDir(t, dc, func(c *Config) { c.Transport, c.CAFile = tr, filepath.Join(t.TempDir(), "none.pem") })
			_, err = missing.Bind(ctx, info, admin(dc))
			wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
		})
	}
}

func TestDomainInfoAndContainers(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc)
	ctx := context.Background()
	info, s := bindAdmin(t, d, dc)
	di, err := s.DomainInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if di.NetBIOSName != dc.Domain || !strings.EqualFold(di.DNSName, dc.DNSDomain) ||
		!strings.EqualFold(di.ForestName, dc.DNSDomain) || !strings.HasPrefix(di.SID, "S-1-5-21-") ||
		!strings.EqualFold(di.GUID, info.DomainGUID) {
		t.Errorf("DomainInfo = %+v (located %+v)", di, info)
	}
	if out := dc.MustSambaTool(t, "user", "show", dc.AdminUser, "--attributes=objectSid"); !strings.Contains(out, di.SID+"-500") {
		t.Errorf("domain SID %s is not the Administrator's prefix:\n%s", di.SID, out)
	}
	cc, err := s.ComputersContainer(ctx)
	if err != nil || !strings.EqualFold(cc, "CN=Computers,"+dc.BaseDN) {
		t.Errorf("ComputersContainer = %q, %v", cc, err)
	}
	for dn, want := range map[string]bool{
		cc:                                   true,
		"OU=Domain Controllers," + dc.BaseDN: true,
		"OU=NoSuchOU," + dc.BaseDN:           false,
		"not a DN":                           false,
		"":                                   false,
	} {
		got, err := s.ContainerExists(ctx, dn)
		if err != nil || got != want {
			t.Errorf("ContainerExists(%q) = %v, %v; want %v", dn, got, err, want)
		}
	}
}

func attrs(t *testing.T, s *Session, dn string, names ...string) *ldap.Entry {
	t.Helper()
	e, err := s.read(context.Background(), dn, names)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestComputerLifecycleAndKeytab checks on the real Samba DC that a
// computer object is created complete and enabled by ONE LDAP add
// carrying unicodePwd (Samba 4.17 accepts it over LDAPS, as Windows does),
// that its password, host names and key version are in place straight
// away, that the machine account can read its own msDS-KeyVersionNumber
// (start-up recovery does so), and that ResetComputer, DisableComputer,
// Snapshot and Restore each work in one operation.
func TestComputerLifecycleAndKeytab(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc)
	ctx := context.Background()
	info, s := bindAdmin(t, d, dc)
	cc, err := s.ComputersContainer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := randName(t, "WS")
	sam := name + "$"
	fqdn := strings.ToLower(name) + "." + dc.DNSDomain
	password := "Mach1ne-" + hex.EncodeToString([]byte(name)) + "-pw/ü"
	spns := []string{"HOST/" + fqdn, "HOST/" + name}
	upd := joinlogic.ComputerUpdate{Password: password, HostNames: true, DNSHostName: fqdn, SPNs: spns}

	if _, found, err := s.FindComputer(ctx, sam); err != nil || found {
		t.Fatalf("FindComputer before create: %v, %v", found, err)
	}
	acct, err := s.CreateComputer(ctx, joinlogic.NewComputer{ContainerDN: cc, CommonName: name, SAMAccountName: sam, ComputerUpdate: upd})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.DeleteComputer(context.Background(), acct.DN) })
	got, found, err := s.FindComputer(ctx, strings.ToLower(sam))
	if err != nil || !found || !strings.EqualFold(got.DN, acct.DN) || !strings.EqualFold(got.ParentDN, cc) ||
		got.SAMAccountName != sam || got.UserAccountControl != uacWorkstationTrust {
		t.Fatalf("FindComputer = %+v, %v, %v; created %+v", got, found, err, acct)
	}
	_, err = s.CreateComputer(ctx, joinlogic.NewComputer{ContainerDN: cc, CommonName: name, SAMAccountName: sam, ComputerUpdate: upd})
	wantCode(t, err, joinlogic.NERR_UserExists)

	e := attrs(t, s, acct.DN, "userAccountControl", "dNSHostName", "servicePrincipalName",
		"msDS-SupportedEncryptionTypes", "operatingSystem", "operatingSystemVersion", "msDS-KeyVersionNumber")
	if v := e.GetAttributeValue("userAccountControl"); v != strconv.Itoa(uacWorkstationTrust) {
		t.Errorf("userAccountControl = %s", v)
	}
	if v := e.GetAttributeValue("dNSHostName"); v != fqdn {
		t.Errorf("dNSHostName = %s", v)
	}
	gotSPN := e.GetAttributeValues("servicePrincipalName")
	for _, want := range []string{"HOST/" + fqdn, "HOST/" + name, "RestrictedKrbHost/" + fqdn, "RestrictedKrbHost/" + name} {
		if !slices.ContainsFunc(gotSPN, func(v string) bool { return strings.EqualFold(v, want) }) {
			t.Errorf("servicePrincipalName %v lacks %s", gotSPN, want)
		}
	}
	if v := e.GetAttributeValue("msDS-SupportedEncryptionTypes"); v != "28" {
		t.Errorf("msDS-SupportedEncryptionTypes = %s", v)
	}
	if e.GetAttributeValue("operatingSystem") != "Linux" || e.GetAttributeValue("operatingSystemVersion") != "6.1" {
		t.Errorf("operatingSystem = %q %q", e.GetAttributeValue("operatingSystem"), e.GetAttributeValue("operatingSystemVersion"))
	}

	if err := s.VerifyMachinePassword(ctx, sam, password); err != nil {
		t.Errorf("VerifyMachinePassword(right): %v", err)
	}
	wantCode(t, s.VerifyMachinePassword(ctx, sam, password+"x"), joinlogic.ERROR_LOGON_FAILURE)
	wantCode(t, s.VerifyMachinePassword(ctx, sam, ""), joinlogic.ERROR_LOGON_FAILURE)

	// The keytab written from the password obtains a ticket from the KDC.
	kvno, _ := strconv.ParseUint(e.GetAttributeValue("msDS-KeyVersionNumber"), 10, 32)
	if got, err := s.KeyVersionNumber(ctx, acct.DN); err != nil || uint64(got) != kvno || got < 1 {
		t.Errorf("KeyVersionNumber = %d, %v; msDS-KeyVersionNumber %d", got, err, kvno)
	}
	// The machine account itself may bind and read its key version.
	ms, err := d.Bind(ctx, info, joinlogic.Credentials{Account: joinlogic.Account{User: sam, Domain: dc.Domain}, Password: password})
	if err != nil {
		t.Fatalf("bind as the machine account: %v", err)
	}
	if got, err := ms.KeyVersionNumber(ctx, acct.DN); err != nil || uint64(got) != kvno {
		t.Errorf("KeyVersionNumber read by the machine account = %d, %v; want %d", got, err, kvno)
	}
	ms.Close()
	kt := filepath.Join(t.TempDir(), "krb5.keytab")
	if err := keytab.Write(kt, keytab.Entries{ComputerName: name, DNSHostName: fqdn, Realm: dc.Realm, Password: password, KVNO: uint32(kvno)}); err != nil {
		t.Fatal(err)
	}
	if out, err := dc.Kinit(ctx, kt, sam+"@"+dc.Realm); err != nil {
		t.Fatalf("kinit with the written keytab: %v", err)
	} else {
		t.Logf("kinit: %s", out)
	}
	// The same with the old password's keytab fails: the proof is real.
	bad := filepath.Join(t.TempDir(), "bad.keytab")
	if err := keytab.Write(bad, keytab.Entries{ComputerName: name, Realm: dc.Realm, Password: password + "x", KVNO: uint32(kvno)}); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Kinit(ctx, bad, sam+"@"+dc.Realm); err == nil {
		t.Error("kinit succeeded with a keytab of the wrong password")
	}

	// Snapshot, DisableComputer, then ResetComputer re-enables with a new
	// password and other host names in one modify; Restore puts the
	// snapshot back.
	snap, err := s.Snapshot(ctx, acct.DN)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DisableComputer(ctx, acct.DN); err != nil {
		t.Fatal(err)
	}
	if v := attrs(t, s, acct.DN, "userAccountControl").GetAttributeValue("userAccountControl"); v != strconv.Itoa(uacWorkstationTrust|uacAccountDisable) {
		t.Errorf("after DisableComputer userAccountControl = %s", v)
	}
	// A disabled account's bind is refused as invalid credentials, which
	// start-up recovery reads as "the unjoin's write was applied".
	_, err = d.Bind(ctx, info, joinlogic.Credentials{Account: joinlogic.Account{User: sam, Domain: dc.Domain}, Password: password})
	wantCode(t, err, joinlogic.ERROR_LOGON_FAILURE)
	password2 := password + "-2"
	if err := s.ResetComputer(ctx, acct.DN, joinlogic.ComputerUpdate{Password: password2, HostNames: true,
		DNSHostName: "other." + dc.DNSDomain, SPNs: []string{"HOST/other." + dc.DNSDomain}}); err != nil {
		t.Fatal(err)
	}
	e = attrs(t, s, acct.DN, "userAccountControl", "dNSHostName", "msDS-KeyVersionNumber")
	if e.GetAttributeValue("userAccountControl") != strconv.Itoa(uacWorkstationTrust) || e.GetAttributeValue("dNSHostName") != "other."+dc.DNSDomain {
		t.Errorf("after ResetComputer: %s %s", e.GetAttributeValue("userAccountControl"), e.GetAttributeValue("dNSHostName"))
	}
	if k2, _ := strconv.ParseUint(e.GetAttributeValue("msDS-KeyVersionNumber"), 10, 32); k2 <= kvno {
		t.Errorf("key version %d after the reset, was %d", k2, kvno)
	}
	if err := s.VerifyMachinePassword(ctx, sam, password2); err != nil {
		t.Errorf("after ResetComputer: %v", err)
	}
	// Without HostNames the host names stay.
	if err := s.ResetComputer(ctx, acct.DN, joinlogic.ComputerUpdate{Password: password}); err != nil {
		t.Fatal(err)
	}
	if v := attrs(t, s, acct.DN, "dNSHostName").GetAttributeValue("dNSHostName"); v != "other."+dc.DNSDomain {
		t.Errorf("dNSHostName %s after a reset without host names", v)
	}
	if err := s.Restore(ctx, snap); err != nil {
		t.Fatal(err)
	}
	after, err := s.Snapshot(ctx, acct.DN)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range snap.Attributes {
		w := after.Attributes[k]
		slices.Sort(v)
		slices.Sort(w)
		if !slices.Equal(v, w) {
			t.Errorf("after Restore %s = %v, want %v", k, w, v)
		}
	}
	if err := s.VerifyMachinePassword(ctx, sam, password); err != nil {
		t.Errorf("after Restore the account is not usable: %v", err)
	}

	// An add refused for one of its attributes (here a duplicate
	// sAMAccountName in another container) fails whole: nothing of it is
	// left. Samba applies no password policy to computer accounts (a
	// one-character machine password is accepted), so the policy refusal
	// is covered by TestErrorMapping with the diagnostics AD sends.
	name2 := randName(t, "DU")
	_, err = s.CreateComputer(ctx, joinlogic.NewComputer{ContainerDN: cc, CommonName: name2, SAMAccountName: sam, ComputerUpdate: upd})
	if err == nil {
		t.Fatal("an add with a duplicate sAMAccountName was accepted")
	}
	if ok, _ := s.ContainerExists(ctx, "CN="+name2+","+cc); ok {
		t.Fatalf("a refused add left CN=%s", name2)
	}

	// Delete, twice.
	if err := s.DeleteComputer(ctx, acct.DN); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.FindComputer(ctx, sam); err != nil || found {
		t.Fatalf("FindComputer after delete: %v, %v", found, err)
	}
	if err := s.DeleteComputer(ctx, acct.DN); err != nil {
		t.Errorf("second DeleteComputer: %v", err)
	}
	_, err = s.Snapshot(ctx, acct.DN)
	wantCode(t, err, joinlogic.ERROR_NONE_MAPPED)
	_, err = s.KeyVersionNumber(ctx, acct.DN)
	wantCode(t, err, joinlogic.ERROR_NONE_MAPPED)
}

func newComputer(cc, name string) joinlogic.NewComputer {
	return joinlogic.NewComputer{ContainerDN: cc, CommonName: name, SAMAccountName: name + "$",
		ComputerUpdate: joinlogic.ComputerUpdate{Password: "Mach1ne.Passw0rd-" + name}}
}

func TestCreateErrors(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc)
	ctx := context.Background()
	info, s := bindAdmin(t, d, dc)

	// Missing OU.
	name := randName(t, "MO")
	_, err := s.CreateComputer(ctx, newComputer("OU=NoSuchOU,"+dc.BaseDN, name))
	wantCode(t, err, joinlogic.ERROR_FILE_NOT_FOUND)

	// An account existing in another OU: found with its own parent, and a
	// second add of the same sAMAccountName elsewhere is refused.
	ou := "OU=JoinTestOU" + randName(t, "") + "," + dc.BaseDN
	dc.CreateOU(t, ou)
	name = randName(t, "OU")
	acct, err := s.CreateComputer(ctx, newComputer(ou, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.DeleteComputer(context.Background(), acct.DN) })
	got, found, err := s.FindComputer(ctx, name+"$")
	if err != nil || !found || !strings.EqualFold(got.ParentDN, ou) {
		t.Fatalf("FindComputer = %+v, %v, %v; want parent %s", got, found, err, ou)
	}
	cc, _ := s.ComputersContainer(ctx)
	_, err = s.CreateComputer(ctx, newComputer(cc, name))
	wantCode(t, err, joinlogic.NERR_UserExists)

	// A plain user may bind but not create computers (on Samba, despite
	// ms-DS-MachineAccountQuota).
	user, pw := strings.ToLower(randName(t, "u")), "Pl41n.User-"+randName(t, "")
	dc.CreateUser(t, user, pw)
	ps, err := d.Bind(ctx, info, joinlogic.Credentials{Account: joinlogic.Account{User: user, Domain: dc.Domain}, Password: pw})
	if err != nil {
		t.Fatalf("plain user bind: %v", err)
	}
	defer ps.Close()
	name = randName(t, "AD")
	_, err = ps.CreateComputer(ctx, newComputer(cc, name))
	wantCode(t, err, joinlogic.ERROR_ACCESS_DENIED)
	err = ps.ResetComputer(ctx, acct.DN, joinlogic.ComputerUpdate{Password: "Some.Long-Passw0rd"})
	wantCode(t, err, joinlogic.ERROR_ACCESS_DENIED)
}

// A DC that stops under an open session: every call fails at once with
// ERROR_NO_SUCH_DOMAIN (the port refuses, nothing waits for a timeout),
// and once the DC is back a new bind works.
func TestDCStoppedMidway(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc, func(c *Config) { c.Timeout = 3 * time.Second })
	info, s := bindAdmin(t, d, dc)
	dc.Stop(t)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := s.DomainInfo(ctx)
	wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
	_, _, err = s.FindComputer(ctx, "X$")
	wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
	_, err = d.Bind(ctx, info, admin(dc))
	wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
	_, err = d.Locate(ctx, joinlogic.LocateRequest{Domain: dc.DNSDomain, DCName: dc.Addr})
	wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
	_, err = d.Locate(ctx, joinlogic.LocateRequest{Domain: dc.DNSDomain})
	wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
	tcp := newDir(t, dc, func(c *Config) { c.Timeout, c.PingOverTCP = 3*time.Second, true })
	_, err = tcp.Locate(ctx, joinlogic.LocateRequest{Domain: dc.DNSDomain, DCName: dc.HostName})
	wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
	if ctx.Err() != nil {
		t.Fatalf("the failures took longer than the test's bound: %v", ctx.Err())
	}
	s.Close()

	dc.Start(t)
	// A DC that has just started answers its first requests slowly while
	// it runs its own start-up tasks (samba_dnsupdate, samba_spnupdate);
	// each exchange of the Kerberos bind gets the whole timeout
	// (TestBindExchangeTimeouts), here the one every other test uses.
	_, s2 := bindAdmin(t, newDir(t, dc), dc)
	if _, err := s2.DomainInfo(context.Background()); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestSessionHonoursCancellation(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc)
	_, s := bindAdmin(t, d, dc)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.DomainInfo(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("DomainInfo with a cancelled context: %v", err)
	}
	if got := joinlogicCode(err2(s.ComputersContainer(ctx))); got != 0 {
		t.Errorf("ComputersContainer cancelled carries code %v", got)
	}
}

func err2[T any](_ T, err error) error { return err }

func joinlogicCode(err error) joinlogic.Code {
	var c joinlogic.Code
	errors.As(err, &c)
	return c
}

// The GSSAPI mechanism (RFC 4752), with its security layer negotiation,
// binds and seals as GSS-SPNEGO does; check-dc and servers without
// GSS-SPNEGO use it.
func TestBindGSSAPI(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc)
	ctx := context.Background()
	info := locate(t, d, joinlogic.LocateRequest{Domain: dc.DNSDomain, Writable: true})
	conn, desc, err := d.openSASLWith(ctx, info, info.DCAddress, admin(dc), []saslMethod{{mechGSSAPI, authKerberos}})
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{d: d, dc: info, addr: info.DCAddress, conn: conn, desc: desc}
	defer s.Close()
	if !strings.Contains(desc, "SASL GSSAPI/Kerberos sign+seal") {
		t.Errorf("bound over %s", desc)
	}
	if err := s.readRootDSE(ctx); err != nil {
		t.Fatal(err)
	}
	if di, err := s.DomainInfo(ctx); err != nil || di.NetBIOSName != dc.Domain {
		t.Fatalf("DomainInfo = %+v, %v", di, err)
	}
	bad := admin(dc)
	bad.Password += "x"
	_, _, err = d.openSASLWith(ctx, info, info.DCAddress, bad, []saslMethod{{mechGSSAPI, authKerberos}})
	wantCode(t, err, joinlogic.ERROR_LOGON_FAILURE)
}

// A DC that does not offer NTLM sealing — here the real DC's CHALLENGE
// with NTLMSSP_NEGOTIATE_SEAL cleared on the way — gets no NTLM response
// and no clear-text bind: the bind fails saying why, the default
// transport's only other way is LDAPS with a verified certificate, and the
// same relay without the downgrade binds (the test proves something).
func TestBindRefusesNTLMWithoutSealing(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	ctx := context.Background()
	for _, tr := range []Transport{TransportSASL, TransportAuto} {
		t.Run(string(tr), func(t *testing.T) {
			im := testdc.StartImpostor(t, dc, testdc.ImpostorOptions{Relay: true, StripNTLMSealing: true})
			d := newDir(t, dc, func(c *Config) { c.Transport = tr })
			info := locate(t, d, joinlogic.LocateRequest{Domain: dc.DNSDomain, Writable: true})
			// Named by its address: NTLM.
			info.DCName, info.DCAddress = im.Addr, im.Addr
			_, err := d.Bind(ctx, info, admin(dc))
			wantCode(t, err, joinlogic.ERROR_NO_SUCH_DOMAIN)
			if !errors.Is(err, errNoSealing) || !strings.Contains(err.Error(), "does not offer 128-bit signing and sealing") {
				t.Errorf("the cause does not say the DC will not seal: %v", err)
			}
			if !im.Saw("relay: NTLM CHALLENGE without NTLMSSP_NEGOTIATE_SEAL") {
				t.Fatalf("the relay did not downgrade a CHALLENGE: %v", im.Events())
			}
			for _, st := range im.Streams() {
				if bytes.Contains(st, []byte("NTLMSSP\x00\x03\x00\x00\x00")) {
					t.Error("an NTLM AUTHENTICATE (the crackable response) was sent")
				}
				if r := bytes.NewReader(st); r.Len() > 0 {
					if p, err := ber.ReadPacket(r); err == nil && len(p.Children) > 1 && p.Children[1].Tag == ldap.ApplicationBindRequest &&
						len(p.Children[1].Children) > 2 && p.Children[1].Children[2].Tag == 0 {
						t.Error("a simple bind was sent")
					}
				}
			}
			if bytes.Contains(im.Received(), []byte(dc.AdminPassword)) || bytes.Contains(im.Received(), utf16le(dc.AdminPassword)) {
				t.Error("the password was sent")
			}
		})
	}
	im := testdc.StartImpostor(t, dc, testdc.ImpostorOptions{Relay: true})
	d := newDir(t, dc)
	info := locate(t, d, joinlogic.LocateRequest{Domain: dc.DNSDomain, Writable: true})
	info.DCName, info.DCAddress = im.Addr, im.Addr
	s, err := d.Bind(ctx, info, admin(dc))
	if err != nil {
		t.Fatalf("through the relay without the downgrade: %v", err)
	}
	if got := transportOf(t, s); !strings.Contains(got, "NTLM sign+seal") {
		t.Errorf("bound over %s", got)
	}
	s.Close()
}

// utf16le is s in UTF-16LE.
func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// Without any TLS (the DC with `tls enabled = no`, like a Windows domain
// without a certificate authority), the machine password is set over the
// sealed SASL layer alone — with Kerberos, with NTLM and with GSSAPI —
// both when the account is created and when it is reset, and the DC
// takes it: the account binds with it and kinit gets a ticket with its
// keys.
func TestPasswordOverSealedSASLWithoutTLS(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{NoTLS: true})
	d := newDir(t, dc)
	ctx := context.Background()
	located := locate(t, d, joinlogic.LocateRequest{Domain: dc.DNSDomain, Writable: true})
	byAddr := located
	byAddr.DCName = dc.Addr
	for _, c := range []struct {
		name    string
		info    joinlogic.DCInfo
		methods []saslMethod
		want    string
	}{
		{"Kerberos", located, defaultMethods, "GSS-SPNEGO/Kerberos sign+seal"},
		{"NTLM", byAddr, defaultMethods, "GSS-SPNEGO/NTLM sign+seal"},
		{"GSSAPI", located, []saslMethod{{mechGSSAPI, authKerberos}}, "GSSAPI/Kerberos sign+seal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, desc, err := d.openSASLWith(ctx, c.info, dc.Addr, admin(dc), c.methods)
			if err != nil {
				t.Fatal(err)
			}
			s := &Session{d: d, dc: c.info, addr: dc.Addr, conn: conn, desc: desc}
			defer s.Close()
			if !strings.Contains(desc, c.want) {
				t.Fatalf("bound over %s, want %s", desc, c.want)
			}
			if err := s.readRootDSE(ctx); err != nil {
				t.Fatal(err)
			}
			cc, err := s.ComputersContainer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			name := randName(t, "NT")
			sam := name + "$"
			fqdn := strings.ToLower(name) + "." + dc.DNSDomain
			pw := "Mach1ne-" + name + "-ü"
			acct, err := s.CreateComputer(ctx, joinlogic.NewComputer{ContainerDN: cc, CommonName: name, SAMAccountName: sam,
				ComputerUpdate: joinlogic.ComputerUpdate{Password: pw, HostNames: true, DNSHostName: fqdn, SPNs: []string{"HOST/" + fqdn, "HOST/" + name}}})
			if err != nil {
				t.Fatalf("creating %s with its password over %s: %v", sam, desc, err)
			}
			defer s.DeleteComputer(context.Background(), acct.DN)
			for i, p := range []string{pw, pw + "-reset"} {
				if i > 0 {
					if err := s.ResetComputer(ctx, acct.DN, joinlogic.ComputerUpdate{Password: p}); err != nil {
						t.Fatalf("resetting the password over %s: %v", desc, err)
					}
				}
				if err := s.VerifyMachinePassword(ctx, sam, p); err != nil {
					t.Fatalf("the account does not bind with the password set over %s: %v", desc, err)
				}
				kvno, err := s.KeyVersionNumber(ctx, acct.DN)
				if err != nil {
					t.Fatal(err)
				}
				kt := filepath.Join(t.TempDir(), "krb5.keytab")
				if err := keytab.Write(kt, keytab.Entries{ComputerName: name, DNSHostName: fqdn, Realm: dc.Realm, Password: p, KVNO: kvno}); err != nil {
					t.Fatal(err)
				}
				if out, err := dc.Kinit(ctx, kt, sam+"@"+dc.Realm); err != nil {
					t.Fatalf("kinit with the keys of the password set over %s: %v\n%s", desc, err, out)
				}
			}
		})
	}
}
