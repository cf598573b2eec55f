package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
	"github.com/wkssvcd/wkssvcd/joinlogic"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// NETSETUP_* option bits and the codes of MS-WKST 3.2.4.13, from the
// table the server uses.
const (
	optJoinDomain   = joinlogic.NETSETUP_JOIN_DOMAIN
	optAcctCreate   = joinlogic.NETSETUP_ACCT_CREATE
	optAcctDelete   = joinlogic.NETSETUP_ACCT_DELETE
	optDomainIfJoin = joinlogic.NETSETUP_DOMAIN_JOIN_IF_JOINED

	codeFileNotFound       = uint32(joinlogic.ERROR_FILE_NOT_FOUND)
	codeLogonFailure       = uint32(joinlogic.ERROR_LOGON_FAILURE)
	codeNoneMapped         = uint32(joinlogic.ERROR_NONE_MAPPED)
	codeNoSuchDomain       = uint32(joinlogic.ERROR_NO_SUCH_DOMAIN)
	codeInvalidDomainRole  = uint32(joinlogic.ERROR_INVALID_DOMAIN_ROLE)
	codeUserExists         = uint32(joinlogic.NERR_UserExists)
	codeSetupAlreadyJoined = uint32(joinlogic.NERR_SetupAlreadyJoined)
)

// domainDaemon starts the daemon as computer name, able to reach the test
// DC through its DNS server only: no CA, no verification switch — the
// default transport (sealed SASL on 389) needs neither.
func domainDaemon(t *testing.T, dc *testdc.DC, name string, extra ...string) *daemon {
	t.Helper()
	return startDaemon(t, append([]string{
		"--netbios-name", name,
		"--dns-hostname", strings.ToLower(name) + "." + testdc.DNSDomain,
		"--dns-server", dc.Addr,
	}, extra...)...)
}

// dcSetup is a DC as it comes and the daemon flags a user would give for
// it.
type dcSetup struct {
	name   string // subtest name
	suffix string // appended to computer names, so setups sharing a DC do not meet
	dc     *testdc.DC
	flags  []string
}

// dcSetups are the DCs every client joins: the default Samba DC through
// the default transport, the same with LDAPS verified by Samba's own CA
// file, and the DC without TLS (a domain without a CA) through the
// default transport.
func dcSetups(t *testing.T) []dcSetup {
	t.Helper()
	dc := testdc.Start(t, testdc.Options{})
	notls := testdc.Start(t, testdc.Options{NoTLS: true})
	return []dcSetup{
		{name: "default", dc: dc},
		{name: "ldaps", suffix: "L", dc: dc, flags: []string{"--ldap-transport", "ldaps", "--ldap-ca", dc.CAFile}},
		{name: "notls", suffix: "N", dc: notls},
	}
}

// checkTransport checks from the daemon's log that the joins went over
// the setup's transport.
func checkTransport(t *testing.T, s dcSetup, d *daemon) {
	t.Helper()
	want := "SASL GSS-SPNEGO/Kerberos sign+seal"
	if s.name == "ldaps" {
		want = "LDAPS to " + s.dc.Addr + ":636, certificate verified for " + s.dc.HostFQDN
	}
	if !strings.Contains(d.Output(), want) {
		t.Errorf("no bind over %q in the daemon's log", want)
	}
}

// ldapConn binds to the DC as its administrator, verifying its certificate.
func ldapConn(t *testing.T, dc *testdc.DC) *ldap.Conn {
	t.Helper()
	tc, err := dc.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	l, err := ldap.DialURL("ldaps://"+dc.Addr+":636", ldap.DialWithTLSConfig(tc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.Bind(dc.AdminUser+"@"+dc.DNSDomain, dc.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return l
}

// computer reads the computer object NAME$ (nil when there is none): over
// LDAPS from a DC that serves it, else from the DC's database.
func computer(t *testing.T, dc *testdc.DC, name string) *ldap.Entry {
	t.Helper()
	if !dc.TLS {
		es := dc.MustSearch(t, "(sAMAccountName="+ldap.EscapeFilter(name+"$")+")",
			"userAccountControl", "dNSHostName", "servicePrincipalName", "objectClass", "msDS-SupportedEncryptionTypes", "operatingSystem", "operatingSystemVersion")
		if len(es) == 0 {
			return nil
		}
		return es[0]
	}
	res, err := ldapConn(t, dc).Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(name+"$")+")",
		[]string{"userAccountControl", "dNSHostName", "servicePrincipalName", "objectClass", "msDS-SupportedEncryptionTypes", "operatingSystem", "operatingSystemVersion"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) == 0 {
		return nil
	}
	return res.Entries[0]
}

// checkJoined verifies everything a domain join leaves behind: the object
// in the directory, the keytab that gets a ticket, the reported membership.
func checkJoined(t *testing.T, dc *testdc.DC, d *daemon, name, wantDN string) {
	t.Helper()
	e := computer(t, dc, name)
	if e == nil {
		t.Fatalf("no computer object %s$ after the join", name)
	}
	if !strings.EqualFold(e.DN, wantDN) {
		t.Errorf("object at %s, want %s", e.DN, wantDN)
	}
	uac, _ := strconv.Atoi(e.GetAttributeValue("userAccountControl"))
	if uac&0x1000 == 0 || uac&0x2 != 0 {
		t.Errorf("userAccountControl %#x: want an enabled workstation trust account", uac)
	}
	fqdn := strings.ToLower(name) + "." + testdc.DNSDomain
	if got := e.GetAttributeValue("dNSHostName"); !strings.EqualFold(got, fqdn) {
		t.Errorf("dNSHostName %q, want %q", got, fqdn)
	}
	spns := e.GetAttributeValues("servicePrincipalName")
	for _, want := range []string{"HOST/" + fqdn, "HOST/" + name, "RestrictedKrbHost/" + fqdn, "RestrictedKrbHost/" + name} {
		if !slices.ContainsFunc(spns, func(s string) bool { return strings.EqualFold(s, want) }) {
			t.Errorf("servicePrincipalName lacks %s: %v", want, spns)
		}
	}
	wantOS, wantVersion := expectedOS(t, d)
	if got := e.GetAttributeValue("operatingSystem"); got != wantOS {
		t.Errorf("operatingSystem %q, want %q", got, wantOS)
	}
	if got := e.GetAttributeValue("operatingSystemVersion"); got != wantVersion {
		t.Errorf("operatingSystemVersion %q, want %q", got, wantVersion)
	}
	keytab := filepath.Join(d.stateDir, "krb5.keytab")
	fi, err := os.Stat(keytab)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keytab %s: %v %v", keytab, err, fi)
	}
	if out, err := dc.Kinit(context.Background(), keytab, name+"$@"+testdc.Realm); err != nil {
		t.Errorf("kinit with the keytab: %v\n%s", err, out)
	}
	got, status := joinInfo(t, d)
	if got != testdc.Domain || status != wkssvc.NetSetupJoinStatusDomainName {
		t.Errorf("membership %q %v, want domain %s", got, status, testdc.Domain)
	}
}

// unjoin3 leaves the domain with NETSETUP_ACCT_DELETE, then checks the
// account is disabled, the keytab gone and the host unjoined.
func unjoin3(t *testing.T, dc *testdc.DC, d *daemon, name string, s ...syntax) {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, s...)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.cli.UnjoinDomain3(c.ctx, &wkssvc.UnjoinDomain3Request{
		AccountName: testdc.Domain + `\` + testdc.AdminUser,
		// The other MAC input order: the daemon accepts both.
		Password: aesBlobOrder(t, c.sessionKey(), testdc.AdminPassword, "aead"),
		Options:  optAcctDelete,
	})
	code := uint32(0)
	if resp != nil {
		code = resp.Return
	}
	if code = returnCode(t, code, err); code != codeSuccess {
		t.Fatalf("NetrUnjoinDomain3: %#x", code)
	}
	checkUnjoined(t, dc, d, name)
}

// checkUnjoined verifies everything an unjoin with NETSETUP_ACCT_DELETE
// leaves behind: the account disabled (not deleted), the keytab removed,
// the host unjoined, the saved membership without the domain or password.
func checkUnjoined(t *testing.T, dc *testdc.DC, d *daemon, name string) {
	t.Helper()
	e := computer(t, dc, name)
	if e == nil {
		t.Fatalf("the account %s$ is gone; NETSETUP_ACCT_DELETE disables it", name)
	}
	if uac, _ := strconv.Atoi(e.GetAttributeValue("userAccountControl")); uac&0x2 == 0 {
		t.Errorf("userAccountControl %#x after unjoin: not disabled", uac)
	}
	if _, err := os.Stat(filepath.Join(d.stateDir, "krb5.keytab")); !os.IsNotExist(err) {
		t.Errorf("keytab still there after unjoin: %v", err)
	}
	if got, status := joinInfo(t, d); status != wkssvc.NetSetupJoinStatusUnjoined || got != "" {
		t.Errorf("membership after unjoin %q %v, want unjoined", got, status)
	}
	// The saved membership no longer names the domain.
	saved, err := os.ReadFile(filepath.Join(d.stateDir, "membership.json"))
	if err != nil {
		t.Fatalf("membership file after unjoin: %v", err)
	}
	for _, field := range []string{`"domain_fqdn"`, `"domain_sid"`, `"domain_netbios"`, `"password"`} {
		if strings.Contains(string(saved), field) {
			t.Errorf("membership file after unjoin still holds %s: %s", field, saved)
		}
	}
}

// expectedOS is what the daemon writes to operatingSystem and
// operatingSystemVersion: its --os-name and --os-version, else NAME and
// VERSION_ID of /etc/os-release with the kernel release, read here
// independently of the daemon.
func expectedOS(t *testing.T, d *daemon) (string, string) {
	t.Helper()
	name, version := "", ""
	for i, a := range d.cmd.Args {
		if i+1 < len(d.cmd.Args) {
			switch a {
			case "--os-name":
				name = d.cmd.Args[i+1]
			case "--os-version":
				version = d.cmd.Args[i+1]
			}
		}
	}
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	var osName, osVersion string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "NAME="); ok {
			osName = strings.Trim(v, `"`)
		}
		if v, ok := strings.CutPrefix(l, "VERSION_ID="); ok {
			osVersion = strings.Trim(v, `"`)
		}
	}
	k, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	if name == "" {
		name = osName
	}
	if version == "" {
		version = osVersion + " (" + strings.TrimSpace(string(k)) + ")"
	}
	return name, version
}

func computersDN(name string) string {
	return "CN=" + name + ",CN=Computers," + testdc.BaseDN
}

func adminAccount() string { return testdc.Domain + `\` + testdc.AdminUser }

// join3 calls NetrJoinDomain3 with go-msrpc at 3.1.1, bound with NDR (or
// the syntax given).
func join3(t *testing.T, d *daemon, user, pass, domain, ou, account, pw string, options uint32, s ...syntax) uint32 {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), user, pass, smb2.SMB311, false, s...)
	if err != nil {
		t.Fatal(err)
	}
	req := &wkssvc.JoinDomain3Request{DomainNameParam: domain, MachineAccountOU: ou, AccountName: account, Options: options}
	if pw != "" {
		req.Password = aesBlob(t, c.sessionKey(), pw)
	}
	resp, err := c.cli.JoinDomain3(c.ctx, req)
	return returnCodeAny(t, ret3(resp), err)
}

// returnCodeAny extracts any Win32 code go-msrpc reports.
func returnCodeAny(t *testing.T, ret uint32, err error) uint32 {
	t.Helper()
	if err == nil {
		return ret
	}
	s := err.Error()
	if i := strings.Index(s, "(0x"); i >= 0 && len(s) >= i+11 {
		if v, perr := strconv.ParseUint(s[i+3:i+11], 16, 32); perr == nil {
			return uint32(v)
		}
	}
	t.Fatalf("call failed: %v", err)
	return 0
}

// A domain join and unjoin with go-msrpc, each at NDR and at NDR64: the
// first join and the second unjoin bind with NDR, the others with NDR64.
func TestDomainJoinGoMSRPC(t *testing.T) {
	for _, s := range dcSetups(t) {
		t.Run(s.name, func(t *testing.T) {
			dc, name := s.dc, "WKGO"+s.suffix
			d := domainDaemon(t, dc, name, s.flags...)
			if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword+"x", optJoinDomain|optAcctCreate); code != codeLogonFailure {
				t.Errorf("join with a wrong password: %#x, want ERROR_LOGON_FAILURE", code)
			}
			if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate, ndr20); code != 0 {
				t.Fatalf("NetrJoinDomain3: %#x\n%s", code, d.Output())
			}
			checkJoined(t, dc, d, name, computersDN(name))
			if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate, ndr64); code != codeSetupAlreadyJoined {
				t.Errorf("second join: %#x, want NERR_SetupAlreadyJoined", code)
			}
			unjoin3(t, dc, d, name, ndr64)
			// Re-joining reuses the disabled account and enables it again.
			if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate, ndr64); code != 0 {
				t.Fatalf("re-join: %#x", code)
			}
			checkJoined(t, dc, d, name, computersDN(name))
			unjoin3(t, dc, d, name, ndr20)
			checkTransport(t, s, d)
			if strings.Contains(d.Output(), dc.AdminPassword) {
				t.Error("the daemon logged the domain administrator's password")
			}
		})
	}
}

// A domain join through impacket bound with NDR64, the unjoin with NDR.
func TestDomainJoinImpacket(t *testing.T) {
	for _, s := range dcSetups(t) {
		t.Run(s.name, func(t *testing.T) {
			dc, name := s.dc, "WKPY"+s.suffix
			d := domainDaemon(t, dc, name, s.flags...)
			out, err := python(t, "impacket_join.py", daemonAddr, "445", "3.0", adminUser, adminPass, "join3", "syntax=NDR64",
				"domain="+testdc.DNSDomain, "account="+adminAccount(), "joinpw="+dc.AdminPassword, fmt.Sprintf("options=%d", optJoinDomain|optAcctCreate))
			if err != nil || parseKV(out)["code"] != "0x00000000" {
				t.Fatalf("impacket NetrJoinDomain3: %v\n%s\n%s", err, out, d.Output())
			}
			checkJoined(t, dc, d, name, computersDN(name))
			out, err = python(t, "impacket_join.py", daemonAddr, "445", "2.1", adminUser, adminPass, "unjoin3",
				"account="+adminAccount(), "joinpw="+dc.AdminPassword, fmt.Sprintf("options=%d", optAcctDelete))
			if err != nil || parseKV(out)["code"] != "0x00000000" {
				t.Fatalf("impacket NetrUnjoinDomain3: %v\n%s", err, out)
			}
			checkUnjoined(t, dc, d, name)
			checkTransport(t, s, d)
		})
	}
}

func TestDomainJoinWkst(t *testing.T) {
	for _, s := range dcSetups(t) {
		t.Run(s.name, func(t *testing.T) {
			dc, name := s.dc, "WKCLI"+s.suffix
			d := domainDaemon(t, dc, name, s.flags...)
			pwFile := filepath.Join(t.TempDir(), "pw")
			if err := os.WriteFile(pwFile, []byte(dc.AdminPassword+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, method := range []string{"3", "2"} {
				cmd := exec.Command(filepath.Join(binDir, "wkst"), "join", "--server", daemonAddr, "--user", `WKHOST\`+adminUser,
					"--domain", testdc.DNSDomain, "--account", adminAccount(), "--password-file", pwFile, "--method", method)
				cmd.Env = append(os.Environ(), "WKST_PASSWORD="+adminPass)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("wkst join --method %s: %v\n%s\n%s", method, err, out, d.Output())
				}
				checkJoined(t, dc, d, name, computersDN(name))
				cmd = exec.Command(filepath.Join(binDir, "wkst"), "unjoin", "--server", daemonAddr, "--user", `WKHOST\`+adminUser,
					"--account", adminAccount(), "--password-file", pwFile, "--options", "ACCT_DELETE", "--method", method)
				cmd.Env = append(os.Environ(), "WKST_PASSWORD="+adminPass)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("wkst unjoin --method %s: %v\n%s", method, err, out)
				}
				checkUnjoined(t, dc, d, name)
			}
			checkTransport(t, s, d)
		})
	}
}

// Samba's own client: `net dom join -S HOST` calls NetrJoinDomain2. It
// locates the DC itself through resolv.conf and treats an IP address of
// this machine as "local", so it runs in a private mount namespace whose
// resolv.conf names the test DC and whose hosts file names the daemon.
func TestDomainJoinSambaNetDom(t *testing.T) {
	for _, s := range dcSetups(t) {
		t.Run(s.name, func(t *testing.T) { testNetDomJoin(t, s) })
	}
}

func testNetDomJoin(t *testing.T, s dcSetup) {
	dc, name := s.dc, "WKNET"+s.suffix
	// Samba runs the join locally when the server's address is one of
	// this host's interface addresses; testnet.Remote() is routed to lo without
	// being assigned to it, so net treats it as remote.
	remoteAddr := testnet.Remote()
	d := domainDaemon(t, dc, name, append([]string{"--listen", remoteAddr + ":445"}, s.flags...)...)
	net := netDom(t, dc, remoteAddr)
	out, err := net("join", "domain="+testdc.DNSDomain, "account="+adminAccount(), "password="+dc.AdminPassword)
	if err != nil {
		t.Fatalf("net dom join: %v\n%s\n%s", err, out, d.Output())
	}
	if !strings.Contains(d.Output(), "method=2") {
		t.Errorf("the daemon did not see a NetrJoinDomain2 call:\n%s", d.Output())
	}
	checkJoined(t, dc, d, name, computersDN(name))
	if out, err := net("unjoin", "account="+adminAccount(), "password="+dc.AdminPassword); err != nil {
		t.Fatalf("net dom unjoin: %v\n%s", err, out)
	}
	if _, status := joinInfo(t, d); status == wkssvc.NetSetupJoinStatusDomainName {
		t.Error("still a domain member after net dom unjoin")
	}
	checkTransport(t, s, d)
}

// netDom returns a runner of Samba's `net -s CONF dom VERB -S wkhost -U
// admin ARGS...` against the daemon listening on remoteAddr: in a
// private mount namespace whose resolv.conf names the test DC and whose
// hosts file names the daemon wkhost.
func netDom(t *testing.T, dc *testdc.DC, remoteAddr string) func(verb string, args ...string) (string, error) {
	t.Helper()
	lookPath(t, "net")
	lookPath(t, "unshare")
	dir := t.TempDir()
	write := func(file, content string) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, sub := range []string{"lock", "state", "cache", "private", "pid"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	conf := write("smb.conf", fmt.Sprintf("[global]\n\tworkgroup = %s\n\trealm = %s\n\tlock directory = %s/lock\n\tstate directory = %s/state\n\tcache directory = %s/cache\n\tprivate dir = %s/private\n\tpid directory = %s/pid\n",
		testdc.Domain, testdc.Realm, dir, dir, dir, dir, dir))
	resolv := write("resolv.conf", "nameserver "+dc.Addr+"\n")
	hosts := write("hosts", "127.0.0.1 localhost\n"+remoteAddr+" wkhost\n"+dc.Addr+" "+dc.HostFQDN+" "+dc.HostName+"\n")
	return func(verb string, args ...string) (string, error) {
		script := fmt.Sprintf(`mount --bind %s /etc/resolv.conf && mount --bind %s /etc/hosts && exec net -s %s dom %s -S wkhost -U "$0" "$@"`,
			resolv, hosts, conf, verb)
		return run(t, 60*time.Second, "unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script,
			adminUser + "%" + adminPass}, args...)...)
	}
}

// Every error path of a domain join reachable against the real DC, through
// the daemon: each leaves no computer object and the host unjoined, and
// the daemon's log says why at info level (the code and the cause).
func TestDomainJoinErrors(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	const name = "WKERR"
	d := domainDaemon(t, dc, name, "--log-level", "info")
	dc.CreateUser(t, "plainjoiner", "Plain-Us3r-Pass")
	ou := "OU=Lab," + testdc.BaseDN
	dc.CreateOU(t, ou)
	// A host the domain's DNS knows that is no domain controller: this daemon.
	dc.MustSambaTool(t, "dns", "add", dc.Addr, testdc.DNSDomain, "notadc", "A", d.host(), "-U", dc.AdminUser+"%"+dc.AdminPassword)
	cases := []struct {
		name    string
		domain  string
		ou      string
		account string
		pw      string
		options uint32
		want    uint32
		cause   string // in the info line of the failed step
	}{
		{"3.2.4.13.3/wrong administrator password", testdc.DNSDomain, "", adminAccount(), "not-the-password", optJoinDomain | optAcctCreate, codeLogonFailure,
			"KDC_ERR_PREAUTH_FAILED"},
		{"3.2.4.13.3/caller may not create computer accounts", testdc.DNSDomain, "", testdc.Domain + `\plainjoiner`, "Plain-Us3r-Pass", optJoinDomain | optAcctCreate, codeAccessDenied,
			"Insufficient Access Rights"},
		{"3.2.4.13.3/MachineAccountOU does not exist", testdc.DNSDomain, "OU=Missing," + testdc.BaseDN, adminAccount(), dc.AdminPassword, optJoinDomain | optAcctCreate, codeFileNotFound,
			"the container OU=Missing," + testdc.BaseDN + " does not exist"},
		{"3.2.4.13.3/no account and no NETSETUP_ACCT_CREATE", testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain, codeNoneMapped,
			"no computer account WKERR$"},
		{"3.2.4.13.3/named DC is not a DC", testdc.DNSDomain + `\notadc.` + testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain | optAcctCreate, codeInvalidDomainRole,
			"notadc.example.test is not a usable domain controller of example.test"},
		{"3.2.4.13.3/domain cannot be located", "no-such-domain.invalid", "", adminAccount(), dc.AdminPassword, optJoinDomain | optAcctCreate, codeNoSuchDomain,
			"no domain controller of no-such-domain.invalid found (SRV _ldap._tcp.dc._msdcs.no-such-domain.invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(d.Output())
			if code := join3(t, d, adminUser, adminPass, tc.domain, tc.ou, tc.account, tc.pw, tc.options); code != tc.want {
				t.Fatalf("code %#x, want %#x", code, tc.want)
			}
			// The log arrives through a pipe: wait for it a little.
			explained := false
			for deadline := time.Now().Add(5 * time.Second); !explained && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				for _, l := range lines(d.Output()[before:], "failed") {
					if strings.Contains(l, "level=INFO") && strings.Contains(l, "code="+joinlogic.Code(tc.want).String()) && strings.Contains(l, tc.cause) {
						explained = true
					}
				}
			}
			if !explained {
				t.Errorf("no info line gives the code and the cause %q:\n%s", tc.cause, d.Output()[before:])
			}
			if e := computer(t, dc, name); e != nil {
				t.Fatalf("a failed join left %s", e.DN)
			}
			if _, status := joinInfo(t, d); status == wkssvc.NetSetupJoinStatusDomainName {
				t.Fatal("a failed join left the host joined")
			}
		})
	}
	t.Run("3.2.4.13.3/account exists in another OU", func(t *testing.T) {
		dc.MustSambaTool(t, "computer", "create", name, "--computerou="+strings.TrimSuffix(ou, ","+testdc.BaseDN))
		t.Cleanup(func() { dc.SambaTool(context.Background(), "computer", "delete", name) })
		code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "CN=Computers,"+testdc.BaseDN, adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate)
		if code != codeUserExists {
			t.Fatalf("code %#x, want NERR_UserExists", code)
		}
		if e := computer(t, dc, name); e == nil || !strings.HasSuffix(strings.ToLower(e.DN), strings.ToLower(ou)) {
			t.Fatalf("the existing account moved or vanished: %v", e)
		}
	})
}

// NetrValidateName2/3 through a real client (MS-WKST 3.2.4.16, 3.2.4.25)
// with --allow-remote-name-checks: local syntax rules, and domain names
// checked against the real DC; at NDR and NDR64. Without the flag every
// caller gets RPC_E_REMOTE_DISABLED (the tables of wkst_table_test.go).
func TestValidateName(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := domainDaemon(t, dc, "WKVAL", "--allow-remote-name-checks", "--name-check-burst", "100")
	eachSyntax(t, func(t *testing.T, s syntax) { validateNames(t, d, s) })
}

func validateNames(t *testing.T, d *daemon, s syntax) {
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, s)
	if err != nil {
		t.Fatal(err)
	}
	const (
		machine = wkssvc.NetSetupNameType(1)
		group   = wkssvc.NetSetupNameType(2)
		domain  = wkssvc.NetSetupNameType(3)
		newDom  = wkssvc.NetSetupNameType(4)

		nerrInvalidWorkgroupName = uint32(joinlogic.NERR_InvalidWorkgroupName)
		dupName                  = uint32(joinlogic.ERROR_DUP_NAME)
	)
	for _, tc := range []struct {
		name string
		typ  wkssvc.NetSetupNameType
		want uint32
	}{
		{"LABGROUP", group, codeSuccess},
		{"WKVAL", group, nerrInvalidWorkgroupName}, // our own computer name
		{"OTHERHOST", machine, codeSuccess},
		{testdc.DNSDomain, domain, codeSuccess},
		{"no-such-domain.invalid", domain, codeNoSuchDomain},
		{testdc.DNSDomain, newDom, dupName},
		{"fresh-domain.invalid", newDom, codeSuccess},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.name, tc.typ), func(t *testing.T) {
			resp, err := c.cli.ValidateName3(c.ctx, &wkssvc.ValidateName3Request{NameToValidate: tc.name, NameType: tc.typ})
			ret := uint32(0)
			if resp != nil {
				ret = resp.Return
			}
			if got := returnCodeAny(t, ret, err); got != tc.want {
				t.Fatalf("NetrValidateName3: %#x, want %#x", got, tc.want)
			}
			resp2, err := c.cli.ValidateName2(c.ctx, &wkssvc.ValidateName2Request{NameToValidate: tc.name, NameType: tc.typ})
			ret = 0
			if resp2 != nil {
				ret = resp2.Return
			}
			if got := returnCodeAny(t, ret, err); got != tc.want {
				t.Fatalf("NetrValidateName2: %#x, want %#x", got, tc.want)
			}
		})
	}
	// Non-administrators may check a name's syntax (query access), but
	// not make the server ask the network; anonymous callers neither.
	u, err := dialMSRPC(t, d.host(), plainUser, plainPass, smb2.SMB311, false, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		typ  wkssvc.NetSetupNameType
		want uint32
	}{{"LABGROUP", group, codeSuccess}, {testdc.DNSDomain, domain, codeAccessDenied}, {"fresh-domain.invalid", newDom, codeAccessDenied}} {
		resp, err := u.cli.ValidateName3(u.ctx, &wkssvc.ValidateName3Request{NameToValidate: tc.name, NameType: tc.typ})
		ret := uint32(0)
		if resp != nil {
			ret = resp.Return
		}
		if got := returnCodeAny(t, ret, err); got != tc.want {
			t.Fatalf("non-administrator, %s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// The computer object as adcli and Samba write it: a single-label DNS
// host name is joined as name.<domain> (the daemon warns at start), and
// --os-name and --os-version give operatingSystem and
// operatingSystemVersion.
func TestDomainJoinComputerObject(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	const name = "WKOBJ"
	d := startDaemon(t, "--netbios-name", name, "--dns-hostname", "wkshort", "--dns-server", dc.Addr,
		"--os-name", "Lab OS", "--os-version", "1.0 (7)")
	if !strings.Contains(d.Output(), "the DNS host name has no domain part") {
		t.Errorf("no warning about the single-label DNS host name:\n%s", d.Output())
	}
	if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate); code != 0 {
		t.Fatalf("NetrJoinDomain3: %#x\n%s", code, d.Output())
	}
	e := computer(t, dc, name)
	if e == nil {
		t.Fatal("no computer object")
	}
	if got := e.GetAttributeValue("dNSHostName"); got != "wkshort."+testdc.DNSDomain {
		t.Errorf("dNSHostName %q", got)
	}
	if spns := e.GetAttributeValues("servicePrincipalName"); !slices.Contains(spns, "HOST/wkshort."+testdc.DNSDomain) {
		t.Errorf("servicePrincipalName %v", spns)
	}
	if e.GetAttributeValue("operatingSystem") != "Lab OS" || e.GetAttributeValue("operatingSystemVersion") != "1.0 (7)" {
		t.Errorf("operatingSystem %q %q", e.GetAttributeValue("operatingSystem"), e.GetAttributeValue("operatingSystemVersion"))
	}
	// The keytab holds the qualified host/ name: a service ticket for it
	// decrypts.
	keytab := filepath.Join(d.stateDir, "krb5.keytab")
	if out, err := dc.KinitServices(context.Background(), keytab, name+"$@"+testdc.Realm, "host/wkshort."+testdc.DNSDomain); err != nil {
		t.Errorf("kvno host/wkshort.%s: %v\n%s", testdc.DNSDomain, err, out)
	}
	unjoin3(t, dc, d, name)
}

// With --allow-remote-name-checks, the checks that reach the network are
// rate-limited: a burst, then RPC_S_SERVER_TOO_BUSY.
func TestNameCheckRateLimit(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := domainDaemon(t, dc, "WKRATE", "--allow-remote-name-checks", "--name-check-burst", "2", "--name-check-interval", "1h")
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false)
	if err != nil {
		t.Fatal(err)
	}
	check := func() uint32 {
		resp, err := c.cli.ValidateName2(c.ctx, &wkssvc.ValidateName2Request{NameToValidate: testdc.DNSDomain, NameType: wkssvc.NetSetupNameType(3)})
		ret := uint32(0)
		if resp != nil {
			ret = resp.Return
		}
		return returnCodeAny(t, ret, err)
	}
	for i, want := range []uint32{codeSuccess, codeSuccess, uint32(joinlogic.RPC_S_SERVER_TOO_BUSY)} {
		if got := check(); got != want {
			t.Fatalf("check %d: %v, want %v", i, joinlogic.Code(got), joinlogic.Code(want))
		}
	}
	if !strings.Contains(d.Output(), "rate limit") {
		t.Error("the refused check is not logged")
	}
}

// NetrGetJoinableOUs2 with --allow-remote-name-checks against the test
// DC (MS-WKST 3.2.4.17): the OUs the given account may create computer
// objects in, found by the DC's allowedChildClassesEffective; at NDR and
// NDR64. A wrong password is NERR_DefaultJoinRequired; a plain user of
// this server may not make it search the directory.
func TestGetJoinableOUs(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	ou := "OU=JoinHere," + testdc.BaseDN
	dc.CreateOU(t, ou)
	d := domainDaemon(t, dc, "WKOUS", "--allow-remote-name-checks", "--name-check-burst", "100")
	eachSyntax(t, func(t *testing.T, s syntax) {
		c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, s)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.cli.GetJoinableOUs2(c.ctx, &wkssvc.GetJoinableOUs2Request{DomainNameParam: testdc.DNSDomain,
			AccountName: adminAccount(), Password: rc4Blob(t, c.sessionKey(), dc.AdminPassword)})
		if err != nil {
			t.Fatalf("NetrGetJoinableOUs2: %v\n%s", err, d.Output())
		}
		found := false
		for _, o := range resp.OUs {
			found = found || strings.EqualFold(o, ou)
		}
		if !found || resp.OUCount != uint32(len(resp.OUs)) {
			t.Fatalf("OUs %d %v, want %s among them", resp.OUCount, resp.OUs, ou)
		}
		resp, err = c.cli.GetJoinableOUs2(c.ctx, &wkssvc.GetJoinableOUs2Request{DomainNameParam: testdc.DNSDomain,
			AccountName: adminAccount(), Password: rc4Blob(t, c.sessionKey(), "not-the-password")})
		if got := returnCodeAny(t, retOr0(resp), err); got != uint32(joinlogic.NERR_DefaultJoinRequired) {
			t.Fatalf("wrong password: %v", joinlogic.Code(got))
		}
		u, err := dialMSRPC(t, d.host(), plainUser, plainPass, smb2.SMB311, false, s)
		if err != nil {
			t.Fatal(err)
		}
		resp, err = u.cli.GetJoinableOUs2(u.ctx, &wkssvc.GetJoinableOUs2Request{DomainNameParam: testdc.DNSDomain,
			AccountName: adminAccount(), Password: rc4Blob(t, u.sessionKey(), dc.AdminPassword)})
		if got := returnCodeAny(t, retOr0(resp), err); got != codeAccessDenied {
			t.Fatalf("plain user: %v", joinlogic.Code(got))
		}
	})
	if strings.Contains(d.Output(), dc.AdminPassword) {
		t.Error("the daemon logged the domain password")
	}
}

func retOr0(r *wkssvc.GetJoinableOUs2Response) uint32 {
	if r == nil {
		return 0
	}
	return r.Return
}
