package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/odj"
)

// The options of wkst provision against the test DC.

func filePassword(t *testing.T, path string) string {
	t.Helper()
	pw, err := readJoin(t, path).Win7.MachinePassword.Text()
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

// usnChanged reads the object's uSNChanged: any write to it raises it.
func usnChanged(t *testing.T, dc *testdc.DC, name string) string {
	t.Helper()
	res, err := ldapConn(t, dc).Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(name+"$")+")", []string{"uSNChanged"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("uSNChanged of %s$: %v", name, err)
	}
	return res.Entries[0].GetAttributeValue("uSNChanged")
}

// Without --reuse an existing account is NERR_UserExists and nothing
// changes; with --reuse its password is reset, and the old file then fails
// net rpc testjoin while the new one passes it.
func TestProvisionReuse(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	const name = "ODJREUSE"
	old := mustProvision(t, dc, name)
	oldPW := filePassword(t, old)
	usn := usnChanged(t, dc, name)

	again := filepath.Join(t.TempDir(), "again.txt")
	out, err := wkstProvision(t, dc, "--machine", name, "--savefile", again)
	if err == nil || !strings.Contains(out, "NERR_UserExists") {
		t.Fatalf("provisioning an existing account without --reuse: %v\n%s", err, out)
	}
	if _, err := os.Stat(again); err == nil {
		t.Error("a file was written")
	}
	if got := usnChanged(t, dc, name); got != usn {
		t.Errorf("the account was written (uSNChanged %s -> %s)", usn, got)
	}
	if err := machineBind(t, dc, name, oldPW); err != nil {
		t.Errorf("the account lost its password: %v", err)
	}

	s := newSambaMember(t, dc, name)
	if out, err := s.net(t, "offlinejoin", "requestodj", "loadfile="+old); err != nil {
		t.Fatalf("requestodj of the first file: %v\n%s", err, out)
	}
	if out, ok := s.testjoin(t); !ok {
		t.Fatalf("testjoin with the first file:\n%s", out)
	}
	out, err = wkstProvision(t, dc, "--machine", name, "--savefile", again, "--reuse")
	if err != nil || !strings.Contains(out, name+": reset CN="+name) {
		t.Fatalf("--reuse: %v\n%s", err, out)
	}
	if filePassword(t, again) == oldPW {
		t.Fatal("--reuse kept the password")
	}
	if out, ok := s.testjoin(t); ok {
		t.Fatalf("the old file still passes net rpc testjoin after --reuse:\n%s", out)
	}
	s2 := newSambaMember(t, dc, name)
	if out, err := s2.net(t, "offlinejoin", "requestodj", "loadfile="+again); err != nil {
		t.Fatalf("requestodj of the --reuse file: %v\n%s", err, out)
	}
	if out, ok := s2.testjoin(t); !ok {
		t.Fatalf("testjoin with the --reuse file:\n%s", out)
	}
	if j := readJoin(t, again); j.Win7.Options != 2 {
		t.Errorf("Options %d, want 2 (NETSETUP_PROVISION_REUSE_ACCOUNT)", j.Win7.Options)
	}
}

// --machine-ou puts the account under the OU; a missing OU is
// ERROR_FILE_NOT_FOUND with nothing created.
func TestProvisionMachineOU(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	ou := "OU=ODJ Clients," + dc.BaseDN
	dc.CreateOU(t, ou)
	mustProvision(t, dc, "ODJINOU", "--machine-ou", ou)
	if e := computer(t, dc, "ODJINOU"); e == nil || !strings.EqualFold(e.DN, "CN=ODJINOU,"+ou) {
		t.Fatalf("object %v, want it under %s", e, ou)
	}
	f := filepath.Join(t.TempDir(), "missing.txt")
	out, err := wkstProvision(t, dc, "--machine", "ODJNOOU", "--savefile", f, "--machine-ou", "OU=Nowhere,"+dc.BaseDN)
	if err == nil || !strings.Contains(out, "ERROR_FILE_NOT_FOUND") {
		t.Fatalf("missing OU: %v\n%s", err, out)
	}
	if computer(t, dc, "ODJNOOU") != nil {
		t.Error("an account was created for a missing OU")
	}
	if _, err := os.Stat(f); err == nil {
		t.Error("a file was written")
	}
}

// --default-password: the password is the name in lower case (Windows'
// rule; Samba uses the name as typed), and the account takes it.
func TestProvisionDefaultPassword(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	f := mustProvision(t, dc, "OdjDefPw", "--default-password")
	j := readJoin(t, f)
	if pw := filePassword(t, f); pw != "odjdefpw" {
		t.Fatalf("password %q, want the name in lower case", pw)
	}
	if err := machineBind(t, dc, "ODJDEFPW", "odjdefpw"); err != nil {
		t.Fatalf("the account does not take the default password: %v", err)
	}
	if j.Win7.MachineName != "OdjDefPw" || j.Win7.Options != 4 {
		t.Errorf("machine name %q, Options %d", j.Win7.MachineName, j.Win7.Options)
	}
}

// --dc-name names the DC to use; one that is not a DC of the domain is
// refused with nothing created.
func TestProvisionDCName(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	f := mustProvision(t, dc, "ODJDCNAME", "--dc-name", testdc.HostFQDN)
	if w := readJoin(t, f).Win7; w.DCInfo.DCName != `\\`+testdc.HostFQDN {
		t.Errorf("DC %s", w.DCInfo.DCName)
	}
	out, err := wkstProvision(t, dc, "--machine", "ODJBADDC", "--savefile", filepath.Join(t.TempDir(), "f"), "--dc-name", "nodc."+testdc.DNSDomain)
	if err == nil || !(strings.Contains(out, "ERROR_NO_SUCH_DOMAIN") || strings.Contains(out, "ERROR_INVALID_DOMAIN_ROLE")) {
		t.Fatalf("--dc-name of no DC: %v\n%s", err, out)
	}
	if computer(t, dc, "ODJBADDC") != nil {
		t.Error("an account was created")
	}
}

// --add-to-group makes the account a member (the DirectAccess guide's
// manual step); a missing group takes the new account back.
func TestProvisionAddToGroup(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	const group = "DirectAccessClients"
	dc.MustSambaTool(t, "group", "add", group)
	t.Cleanup(func() { dc.SambaTool(context.Background(), "group", "delete", group) })
	mustProvision(t, dc, "ODJGROUP", "--add-to-group", group)
	res, err := ldapConn(t, dc).Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+group+")", []string{"member"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatal(err)
	}
	if m := res.Entries[0].GetAttributeValues("member"); len(m) != 1 || !strings.EqualFold(m[0], computersDN("ODJGROUP")) {
		t.Fatalf("members of %s: %v", group, m)
	}
	out, err := wkstProvision(t, dc, "--machine", "ODJNOGROUP", "--savefile", filepath.Join(t.TempDir(), "f"), "--add-to-group", "NoSuchGroup")
	if err == nil || !strings.Contains(out, "NERR_GroupNotFound") {
		t.Fatalf("missing group: %v\n%s", err, out)
	}
	if computer(t, dc, "ODJNOGROUP") != nil {
		t.Error("the account of a failed provisioning was left behind")
	}
}

// --machines-file provisions 20 computers in one LDAP session, one file
// and one progress line each.
func TestProvisionMachinesFile(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	var names []string
	for i := 1; i <= 20; i++ {
		names = append(names, fmt.Sprintf("ODJBATCH%02d", i))
	}
	t.Cleanup(func() {
		for _, n := range names {
			deleteComputer(t, dc, n)
		}
	})
	list := filepath.Join(t.TempDir(), "machines")
	os.WriteFile(list, []byte("# pipeline batch\n"+strings.Join(names, "\n")+"\n"), 0o600)
	outDir := filepath.Join(t.TempDir(), "files")
	start := time.Now()
	out, err := wkstProvision(t, dc, "--machines-file", list, "--savefile", outDir, "-v")
	took := time.Since(start)
	if err != nil {
		t.Fatalf("--machines-file: %v\n%s", err, out)
	}
	t.Logf("20 computers provisioned in %v (%v each)", took.Round(time.Millisecond), (took / 20).Round(time.Millisecond))
	if n := strings.Count(out, "ldapdir: bound"); n != 1 {
		t.Errorf("%d LDAP binds for 20 computers, want one session", n)
	}
	for i, n := range names {
		if !strings.Contains(out, fmt.Sprintf("[%d/20] %s: created", i+1, n)) {
			t.Errorf("no progress line for %s", n)
		}
		j := readJoin(t, filepath.Join(outDir, n+".txt"))
		if j.Win7.MachineName != n || computer(t, dc, n) == nil {
			t.Errorf("%s: file for %q", n, j.Win7.MachineName)
		}
	}
	// A second run: every computer exists now, and no file is overwritten.
	out, err = wkstProvision(t, dc, "--machines-file", list, "--savefile", outDir)
	if err == nil || !strings.Contains(out, "exists; provisioning files are never overwritten") {
		t.Fatalf("second run: %v\n%s", err, out)
	}
}

// --print-blob prints the base64 text (djoin /printblob), --savefile -
// writes the savefile to standard output, and --policy-paths takes a
// local Registry.pol.
func TestProvisionToStandardOutput(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	pol := filepath.Join(t.TempDir(), "Registry.pol")
	b, err := odj.EncodePReg([]odj.RegistryValue{{Key: `Software\Policies\Local`, ValueName: "FromFile", Type: 4, Data: []byte{5, 0, 0, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pol, b, 0o600)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"ODJPRINTBLOB", []string{"--print-blob", "--policy-paths", pol}},
		{"ODJSTDOUT", []string{"--savefile", "-"}},
	} {
		t.Cleanup(func() { deleteComputer(t, dc, c.name) })
		pwFile := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pwFile, []byte(dc.AdminPassword), 0o600)
		cmd := exec.Command(filepath.Join(binDir, "wkst"), append([]string{"provision", "--domain", dc.DNSDomain, "--dns-server", dc.Addr,
			"--ldap-ca", dc.CAFile, "--account", adminAccount(), "--password-file", pwFile, "--machine", c.name}, c.args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, stderr.String())
		}
		if !strings.Contains(stderr.String(), c.name+": created") {
			t.Errorf("%s: the progress line is not on standard error:\n%s", c.name, stderr.String())
		}
		p, err := odj.DecodeFile(stdout.Bytes())
		if err != nil {
			t.Fatalf("%s: standard output is no provisioning file: %v", c.name, err)
		}
		j, err := p.Join()
		if err != nil || j.Win7.MachineName != c.name {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.name == "ODJPRINTBLOB" {
			if bytes.HasPrefix(stdout.Bytes(), []byte{0xFF, 0xFE}) || len(j.Policies) != 1 || j.Policies[0].Lists[0].Source != pol ||
				j.Policies[0].Lists[0].Elements[0].ValueName != "FromFile" {
				t.Errorf("--print-blob with --policy-paths: %+v", j.Policies)
			}
		} else if !bytes.HasPrefix(stdout.Bytes(), []byte{0xFF, 0xFE}) {
			t.Errorf("--savefile - did not write the UTF-16 savefile")
		}
	}
}

// --netbios, --primary-dns and --persistent-site (djoin /netbios,
// /primarydns, /psite): a host name longer than a NetBIOS name gets the
// account of its NetBIOS name and the DNS name of its primary DNS suffix;
// the file carries the settings in a JOIN_PROVIDER2 part that Samba's
// ndrdump reads; requestodj on the host of that NetBIOS name keeps the
// site and the DNS name, and its keytab decrypts tickets for that name.
func TestProvisionJoinProvider2(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	const host, nb, suffix, site = "odj-branch-office-7", "ODJBRANCH7", "branch.example.test", "Default-First-Site-Name"
	fqdn := host + "." + suffix
	f := filepath.Join(t.TempDir(), "branch.txt")
	t.Cleanup(func() { deleteComputer(t, dc, nb) })
	out, err := wkstProvision(t, dc, "--machine", host, "--netbios", nb, "--primary-dns", suffix, "--persistent-site", site, "--savefile", f)
	if err != nil {
		t.Fatalf("wkst provision: %v\n%s", err, out)
	}
	e := computer(t, dc, nb)
	if e == nil {
		t.Fatalf("no account %s$:\n%s", nb, out)
	}
	if got := e.GetAttributeValue("dNSHostName"); got != fqdn {
		t.Errorf("dNSHostName %q, want %q", got, fqdn)
	}
	spns := strings.Join(e.GetAttributeValues("servicePrincipalName"), " ")
	for _, w := range []string{"HOST/" + nb, "HOST/" + fqdn} {
		if !strings.Contains(" "+spns+" ", " "+w+" ") {
			t.Errorf("SPNs %s lack %s", spns, w)
		}
	}
	j := readJoin(t, f)
	if p := j.Prov2; p == nil || p.NetbiosName != nb || p.PrimaryDNSDomain != suffix || p.SiteName != site || p.Flags != odj.OpJP2FlagPersistentSite {
		t.Fatalf("JOIN_PROVIDER2: %+v", j.Prov2)
	}
	if j.Win7.MachineName != host {
		t.Errorf("lpMachineName %q, want the host name %q", j.Win7.MachineName, host)
	}
	raw, _ := os.ReadFile(f)
	bin, err := odj.DecodeSavefile(raw)
	if err != nil {
		t.Fatal(err)
	}
	dump := ndrdumpODJ(t, bin)
	for _, w := range []string{"lpNetbiosName: '" + nb + "'", "lpSiteName: '" + site + "'", "lpPrimaryDNSDomain: '" + suffix + "'", "dwFlags: 0x00000001 (1)"} {
		if !strings.Contains(dump, w) {
			t.Errorf("ndrdump shows no %q", w)
		}
	}

	// The file on another computer: refused.
	if out, err := requestODJ(t, t.TempDir(), "ODJOTHER", "--loadfile", f); err == nil || !strings.Contains(out, `is for the computer "`+nb+`"`) {
		t.Fatalf("applied on another computer: %v\n%s", err, out)
	}
	state := t.TempDir()
	if out, err := requestODJ(t, state, nb, "--loadfile", f); err != nil {
		t.Fatalf("requestodj: %v\n%s", err, out)
	}
	m := readStateMembership(t, state)
	if m.DNSHostName != fqdn || m.SiteName != site || !m.PersistentSite || m.ClientName != nb+"$" {
		t.Fatalf("membership: dns %q site %q persistent %v account %q", m.DNSHostName, m.SiteName, m.PersistentSite, m.ClientName)
	}
	if out, err := dc.KinitServices(context.Background(), filepath.Join(state, "krb5.keytab"), nb+"$@"+testdc.Realm,
		"host/"+fqdn+"@"+testdc.Realm); err != nil {
		t.Fatalf("kinit -k and kvno -k for host/%s: %v\n%s", fqdn, err, out)
	}
}

func readStateMembership(t *testing.T, state string) joinlogic.Membership {
	t.Helper()
	s, err := joinlogic.OpenStore(filepath.Join(state, "membership.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
