package e2e

// NetrRenameMachineInDomain2/3 and the alternate-name methods against the
// test DC: the computer object over LDAP, the keytab with kinit -k and
// kvno -k, Kerberos logons to the new names, and failures that leave the
// object as it was.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
)

// objectNames is what the directory holds of a computer's names.
type objectNames struct {
	DN, SAM, DNSHostName string
	AdditionalDNS        []string
	SPNs                 []string
}

// namesOf reads the computer object whose sAMAccountName is NAME$; nil
// when there is none.
func namesOf(t *testing.T, dc *testdc.DC, name string) *objectNames {
	t.Helper()
	res, err := ldapConn(t, dc).Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(name+"$")+")",
		[]string{"sAMAccountName", "dNSHostName", "msDS-AdditionalDnsHostName", "servicePrincipalName"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) == 0 {
		return nil
	}
	e := res.Entries[0]
	return &objectNames{DN: e.DN, SAM: e.GetAttributeValue("sAMAccountName"), DNSHostName: e.GetAttributeValue("dNSHostName"),
		AdditionalDNS: e.GetAttributeValues("msDS-AdditionalDnsHostName"), SPNs: e.GetAttributeValues("servicePrincipalName")}
}

func hasFold(vals []string, v string) bool {
	return slices.ContainsFunc(vals, func(x string) bool { return strings.EqualFold(x, v) })
}

// wantSPNs fails unless spns holds HOST/ and RestrictedKrbHost/ for each
// of names, and none for any of gone.
func wantSPNs(t *testing.T, spns []string, names, gone []string) {
	t.Helper()
	for _, n := range names {
		for _, svc := range []string{"HOST/", "RestrictedKrbHost/"} {
			if !hasFold(spns, svc+n) {
				t.Errorf("servicePrincipalName lacks %s%s: %v", svc, n, spns)
			}
		}
	}
	for _, n := range gone {
		for _, svc := range []string{"HOST/", "RestrictedKrbHost/"} {
			if hasFold(spns, svc+n) {
				t.Errorf("servicePrincipalName keeps %s%s: %v", svc, n, spns)
			}
		}
	}
}

// computerName is GetInfo level 100's computer name.
func computerName(t *testing.T, d *daemon) string {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), plainUser, plainPass, smb2.SMB311, false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{Level: 100})
	if err != nil {
		t.Fatal(err)
	}
	return resp.WorkstationInfo.GetValue().(*wkssvc.WorkstationInfo100).ComputerName
}

// enumNames is NetrEnumerateComputerNames as the administrator.
func enumNames(t *testing.T, d *daemon, typ wkssvc.NetComputerNameType, s syntax) []string {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, s)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.cli.EnumerateComputerNames(c.ctx, &wkssvc.EnumerateComputerNamesRequest{NameType: typ})
	if err != nil {
		t.Fatalf("NetrEnumerateComputerNames: %v", err)
	}
	var out []string
	for _, u := range resp.ComputerNames.ComputerNames {
		out = append(out, string(utf16.Decode(u.Buffer[:u.Length/2])))
	}
	return out
}

// rename3 is NetrRenameMachineInDomain3 as the administrator, with the
// domain administrator's credentials.
func rename3(t *testing.T, d *daemon, dc *testdc.DC, name string, options uint32, s syntax) uint32 {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, s)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.cli.RenameMachineInDomain3(c.ctx, &wkssvc.RenameMachineInDomain3Request{MachineName: name, AccountName: adminAccount(),
		Password: aesBlob(t, c.sessionKey(), dc.AdminPassword), Options: options})
	ret := uint32(0)
	if resp != nil {
		ret = resp.Return
	}
	return returnCodeAny(t, ret, err)
}

// altName2 runs one of the "2" alternate-name methods (AES blob).
func altName2(t *testing.T, d *daemon, dc *testdc.DC, op, name string, s syntax) uint32 {
	t.Helper()
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, s)
	if err != nil {
		t.Fatal(err)
	}
	pw := aesBlob(t, c.sessionKey(), dc.AdminPassword)
	var ret uint32
	switch op {
	case "add":
		resp, e := c.cli.AddAlternateComputerName2(c.ctx, &wkssvc.AddAlternateComputerName2Request{AlternateName: name, DomainAccount: adminAccount(), EncryptedPassword: pw})
		if resp != nil {
			ret = resp.Return
		}
		err = e
	case "remove":
		resp, e := c.cli.RemoveAlternateComputerName2(c.ctx, &wkssvc.RemoveAlternateComputerName2Request{AlternateName: name, DomainAccount: adminAccount(), EncryptedPassword: pw})
		if resp != nil {
			ret = resp.Return
		}
		err = e
	case "primary":
		resp, e := c.cli.SetPrimaryComputerName2(c.ctx, &wkssvc.SetPrimaryComputerName2Request{PrimaryName: name, DomainAccount: adminAccount(), EncryptedPassword: pw})
		if resp != nil {
			ret = resp.Return
		}
		err = e
	}
	return returnCodeAny(t, ret, err)
}

// impacketNames runs impacket_join.py's name methods (impacket's own
// hNetr* helpers, RC4 blobs) and returns the code and output.
func impacketNames(t *testing.T, d *daemon, dc *testdc.DC, method string, args ...string) (string, map[string]string) {
	t.Helper()
	out, err := python(t, "impacket_join.py", append([]string{d.host(), "445", "3.0", adminUser, adminPass, method,
		"account=" + adminAccount(), "joinpw=" + dc.AdminPassword}, args...)...)
	if err != nil {
		t.Fatalf("impacket %s: %v\n%s", method, err, out)
	}
	kv := parseKV(out)
	return kv["code"], kv
}

// keytabWorks checks that the daemon's keytab gets a TGT as NAME$ and
// decrypts service tickets for host/ of each of hosts (kvno -k: the keys
// at the key version the KDC uses).
func keytabWorks(t *testing.T, dc *testdc.DC, d *daemon, name string, hosts ...string) {
	t.Helper()
	var svcs []string
	for _, h := range hosts {
		svcs = append(svcs, "host/"+h)
	}
	ktPath := filepath.Join(d.stateDir, "krb5.keytab")
	if out, err := dc.KinitServices(context.Background(), ktPath, name+"$@"+testdc.Realm, svcs...); err != nil {
		t.Errorf("the daemon's keytab for %s$ and %v: %v\n%s", name, svcs, err, out)
	}
}

// keytabPrincipals lists the principals (without realm) of the keytab.
func keytabPrincipals(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := keytab.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range kt.Entries {
		p := strings.Join(e.Principal.Components, "/")
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// wantKeytab fails unless the keytab holds host/ of each of names and no
// principal naming any of gone.
func wantKeytab(t *testing.T, path string, names, gone []string) {
	t.Helper()
	ps := keytabPrincipals(t, path)
	for _, n := range names {
		if !hasFold(ps, "host/"+n) {
			t.Errorf("the keytab lacks host/%s: %v", n, ps)
		}
	}
	for _, p := range ps {
		_, inst, _ := strings.Cut(p, "/")
		for _, g := range gone {
			if strings.EqualFold(inst, g) || strings.EqualFold(p, g+"$") {
				t.Errorf("the keytab keeps %s", p)
			}
		}
	}
}

// TestRenameInDomain renames a joined member with NETSETUP_ACCT_CREATE
// (go-msrpc at NDR64, then impacket's hNetrRenameMachineInDomain2 at
// NDR), gives it an alternate name, makes that the primary, removes the
// former one: after each step the object's names and SPNs over LDAP, the
// keytab (kinit -k as the account, kvno -k for each name), the names the
// daemon reports and Kerberos logons to the new name.
func TestRenameInDomain(t *testing.T) {
	const old, renamed, alias = "WKREN", "WKREN2", "WKRENALIAS"
	dc := testdc.Start(t, testdc.Options{})
	for _, n := range []string{old, renamed, alias} {
		deleteComputer(t, dc, n)
		t.Cleanup(func() { deleteComputer(t, dc, n) })
	}
	d := domainDaemon(t, dc, old)
	if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate); code != 0 {
		t.Fatalf("NetrJoinDomain3: %#x\n%s", code, d.Output())
	}
	fqdn := func(n string) string { return strings.ToLower(n) + "." + testdc.DNSDomain }

	// NetrRenameMachineInDomain3 at NDR64.
	if code := rename3(t, d, dc, renamed, optAcctCreate, ndr64); code != 0 {
		t.Fatalf("NetrRenameMachineInDomain3: %v\n%s", joinlogic.Code(code), d.Output())
	}
	if namesOf(t, dc, old) != nil {
		t.Errorf("%s$ still exists", old)
	}
	o := namesOf(t, dc, renamed)
	if o == nil {
		t.Fatalf("no %s$ after the rename\n%s", renamed, d.Output())
	}
	if !strings.EqualFold(o.DN, computersDN(renamed)) || !strings.EqualFold(o.DNSHostName, fqdn(renamed)) {
		t.Errorf("after the rename: DN %s dNSHostName %s", o.DN, o.DNSHostName)
	}
	wantSPNs(t, o.SPNs, []string{fqdn(renamed), renamed}, []string{fqdn(old), old})
	keytabWorks(t, dc, d, renamed, fqdn(renamed))
	ktPath := filepath.Join(d.stateDir, "krb5.keytab")
	wantKeytab(t, ktPath, []string{fqdn(renamed), renamed}, []string{fqdn(old), old})
	if _, err := dc.Kinit(context.Background(), ktPath, old+"$@"+testdc.Realm); err == nil {
		t.Errorf("%s$ still gets tickets", old)
	}
	if _, err := dc.KinitServices(context.Background(), ktPath, renamed+"$@"+testdc.Realm, "host/"+fqdn(old)); err == nil {
		t.Errorf("the KDC still issues tickets for host/%s", fqdn(old))
	}
	if got := computerName(t, d); got != renamed {
		t.Errorf("GetInfo 100 computer name %q, want %q", got, renamed)
	}
	if got, status := joinInfo(t, d); got != testdc.Domain || status != wkssvc.NetSetupJoinStatusDomainName {
		t.Errorf("membership after the rename: %q %v", got, status)
	}
	if got := enumNames(t, d, wkssvc.NetComputerNameTypeAllComputerNames, ndr20); !slices.Equal(got, []string{fqdn(renamed)}) {
		t.Errorf("NetrEnumerateComputerNames: %q", got)
	}
	// Domain users log on to the new name with Kerberos.
	m := &member{dc: dc, d: d, name: renamed, fqdn: fqdn(renamed)}
	const user, pass = "kren1", "Kren1.Pa55word"
	domainUser(t, dc, user, pass)
	env := kinit(t, dc, user, pass)
	if out, err := runEnv(t, env, 60*time.Second, lookPath(t, "smbclient"), "-s", sambaConf(t), "--use-kerberos=required",
		"-I", d.host(), "//"+m.fqdn+"/IPC$", "-c", "exit"); err != nil {
		t.Errorf("smbclient -k to the new name: %v\n%s\n%s", err, out, d.Output())
	}

	// An alternate name (go-msrpc, NetrAddAlternateComputerName2, NDR64).
	if code := altName2(t, d, dc, "add", fqdn(alias), ndr64); code != 0 {
		t.Fatalf("NetrAddAlternateComputerName2: %v\n%s", joinlogic.Code(code), d.Output())
	}
	o = namesOf(t, dc, renamed)
	if !hasFold(o.AdditionalDNS, fqdn(alias)) {
		t.Errorf("msDS-AdditionalDnsHostName %v lacks %s", o.AdditionalDNS, fqdn(alias))
	}
	wantSPNs(t, o.SPNs, []string{fqdn(renamed), renamed, fqdn(alias), alias}, nil)
	keytabWorks(t, dc, d, renamed, fqdn(renamed), fqdn(alias))
	if out, err := runEnv(t, env, 60*time.Second, lookPath(t, "smbclient"), "-s", sambaConf(t), "--use-kerberos=required",
		"-I", d.host(), "//"+fqdn(alias)+"/IPC$", "-c", "exit"); err != nil {
		t.Errorf("smbclient -k to the alternate name: %v\n%s", err, out)
	}
	if got := enumNames(t, d, wkssvc.NetComputerNameTypeAlternateComputerNames, ndr64); !slices.Equal(got, []string{fqdn(alias)}) {
		t.Errorf("alternate names %q", got)
	}
	// impacket's hNetrEnumerateComputerNames sees both.
	if code, kv := impacketNames(t, d, dc, "enumnames", "nametype=2"); code != "0x00000000" || kv["names"] != fqdn(renamed)+","+fqdn(alias) {
		t.Errorf("impacket NetrEnumerateComputerNames: %s %q", code, kv["names"])
	}

	// The alternate becomes the primary (impacket's
	// hNetrSetPrimaryComputerName, RC4, NDR): the account is renamed, the
	// former primary becomes an alternate.
	if code, _ := impacketNames(t, d, dc, "setprimary", "name="+fqdn(alias)); code != "0x00000000" {
		t.Fatalf("impacket NetrSetPrimaryComputerName: %s\n%s", code, d.Output())
	}
	o = namesOf(t, dc, alias)
	if o == nil || namesOf(t, dc, renamed) != nil {
		t.Fatalf("after set primary: %+v", o)
	}
	if !strings.EqualFold(o.DNSHostName, fqdn(alias)) || !hasFold(o.AdditionalDNS, fqdn(renamed)) || hasFold(o.AdditionalDNS, fqdn(alias)) {
		t.Errorf("after set primary: dNSHostName %s, msDS-AdditionalDnsHostName %v", o.DNSHostName, o.AdditionalDNS)
	}
	wantSPNs(t, o.SPNs, []string{fqdn(alias), alias, fqdn(renamed), renamed}, nil)
	keytabWorks(t, dc, d, alias, fqdn(alias), fqdn(renamed))
	if got := computerName(t, d); got != alias {
		t.Errorf("GetInfo 100 computer name %q after set primary", got)
	}

	// The former name goes (go-msrpc, NDR).
	if code := altName2(t, d, dc, "remove", fqdn(renamed), ndr20); code != 0 {
		t.Fatalf("NetrRemoveAlternateComputerName2: %v", joinlogic.Code(code))
	}
	o = namesOf(t, dc, alias)
	if len(o.AdditionalDNS) != 0 {
		t.Errorf("msDS-AdditionalDnsHostName %v after the remove", o.AdditionalDNS)
	}
	wantSPNs(t, o.SPNs, []string{fqdn(alias)}, []string{fqdn(renamed), renamed})
	keytabWorks(t, dc, d, alias, fqdn(alias))
	wantKeytab(t, ktPath, []string{fqdn(alias), alias}, []string{fqdn(renamed), renamed})
	if code := altName2(t, d, dc, "remove", fqdn(renamed), ndr64); code != uint32(joinlogic.ERROR_NOT_FOUND) {
		t.Errorf("removing it again: %v", joinlogic.Code(code))
	}

	// Back to the first name with impacket's hNetrRenameMachineInDomain2.
	if code, _ := impacketNames(t, d, dc, "rename2", "name="+old, fmt.Sprintf("options=%d", optAcctCreate)); code != "0x00000000" {
		t.Fatalf("impacket NetrRenameMachineInDomain2: %s\n%s", code, d.Output())
	}
	o = namesOf(t, dc, old)
	if o == nil || !strings.EqualFold(o.DN, computersDN(old)) {
		t.Fatalf("after renaming back: %+v", o)
	}
	wantSPNs(t, o.SPNs, []string{fqdn(old), old}, []string{fqdn(alias), alias})
	keytabWorks(t, dc, d, old, fqdn(old))
	// The wkst CLI: an alternate name, the list, a rename.
	const third = "WKREN3"
	deleteComputer(t, dc, third)
	t.Cleanup(func() { deleteComputer(t, dc, third) })
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(dc.AdminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wkst := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "wkst"), append(args[:1:1], append([]string{"--server", d.host(), "--user", adminUser}, args[1:]...)...)...)
		cmd.Env = append(os.Environ(), "WKST_PASSWORD="+adminPass)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("wkst %v: %v\n%s\n%s", args, err, out, d.Output())
		}
		return string(out)
	}
	domainCred := []string{"--account", adminAccount(), "--password-file", pwFile}
	wkst(append([]string{"names", "--add", fqdn(alias)}, domainCred...)...)
	if out := wkst("names"); out != fqdn(old)+"\n"+fqdn(alias)+"\n" {
		t.Errorf("wkst names: %q", out)
	}
	wkst(append([]string{"names", "--remove", fqdn(alias), "--method", "2"}, domainCred...)...)
	wkst(append([]string{"rename", "--name", third}, domainCred...)...)
	if o := namesOf(t, dc, third); o == nil || !strings.EqualFold(o.DN, computersDN(third)) || len(o.AdditionalDNS) != 0 {
		t.Fatalf("after wkst rename: %+v", o)
	}
	keytabWorks(t, dc, d, third, fqdn(third))

	// The names survive a restart.
	d.stop(t)
	d = domainDaemon(t, dc, "WKOTHER", "--state-dir", d.stateDir)
	if got := computerName(t, d); got != third {
		t.Errorf("after a restart with --netbios-name WKOTHER: %q", got)
	}
	unjoin3(t, dc, d, third)
	// A later join uses the name the rename gave, not the command line's.
	deleteComputer(t, dc, "WKOTHER")
	t.Cleanup(func() { deleteComputer(t, dc, "WKOTHER") })
	if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate); code != 0 {
		t.Fatalf("NetrJoinDomain3 after the rename: %#x\n%s", code, d.Output())
	}
	if namesOf(t, dc, "WKOTHER") != nil {
		t.Errorf("the join after the rename created WKOTHER$")
	}
	if o := namesOf(t, dc, third); o == nil || !strings.EqualFold(o.DNSHostName, fqdn(third)) {
		t.Errorf("the join after the rename: %+v", o)
	}
	keytabWorks(t, dc, d, third, fqdn(third))
	unjoin3(t, dc, d, third)
	if strings.Contains(d.Output(), dc.AdminPassword) {
		t.Error("the daemon logged the domain password")
	}
}

// A rename refused by the directory half way — the new relative name is
// taken by another object, so the modify DN after the one modify fails —
// leaves the object, the keytab and the names as they were; so do a
// wrong password, a name another account holds, and a plain user.
func TestRenameFailuresLeaveObject(t *testing.T) {
	const name, taken, clash, user = "WKRFAIL", "WKRTAKEN", "WKRCLASH", "WKRUSER"
	dc := testdc.Start(t, testdc.Options{})
	for _, n := range []string{name, taken, clash, clash + "X"} {
		deleteComputer(t, dc, n)
		t.Cleanup(func() { deleteComputer(t, dc, n) })
	}
	d := domainDaemon(t, dc, name)
	if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate); code != 0 {
		t.Fatalf("join: %#x\n%s", code, d.Output())
	}
	// TAKEN$ is another account; CN=WKRCLASH is an object whose
	// sAMAccountName is WKRCLASHX$.
	dc.MustSambaTool(t, "computer", "add", taken)
	l := ldapConn(t, dc)
	add := ldap.NewAddRequest(computersDN(clash), nil)
	add.Attribute("objectClass", []string{"computer"})
	add.Attribute("sAMAccountName", []string{clash + "X$"})
	add.Attribute("userAccountControl", []string{"4098"})
	if err := l.Add(add); err != nil {
		t.Fatal(err)
	}
	// A user (not a computer) holds the account name WKRUSER$: the rename
	// does not see it beforehand, and its modify is refused by the DC.
	userDN := "CN=" + user + ",CN=Users," + testdc.BaseDN
	uadd := ldap.NewAddRequest(userDN, nil)
	uadd.Attribute("objectClass", []string{"user"})
	uadd.Attribute("sAMAccountName", []string{user + "$"})
	uadd.Attribute("userAccountControl", []string{"514"})
	if err := l.Add(uadd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ldapConn(t, dc).Del(ldap.NewDelRequest(userDN, nil)) })
	before := namesOf(t, dc, name)
	ktPath := filepath.Join(d.stateDir, "krb5.keytab")
	ktBefore, err := os.ReadFile(ktPath)
	if err != nil {
		t.Fatal(err)
	}

	check := func(what string, code, want uint32) {
		t.Helper()
		if code != want {
			t.Errorf("%s: %v, want %v", what, joinlogic.Code(code), joinlogic.Code(want))
		}
		after := namesOf(t, dc, name)
		if after == nil || after.DN != before.DN || after.DNSHostName != before.DNSHostName || !slices.Equal(after.SPNs, before.SPNs) ||
			len(after.AdditionalDNS) != 0 {
			t.Errorf("%s: the object changed: %+v, was %+v", what, after, before)
		}
		if got := computerName(t, d); got != name {
			t.Errorf("%s: computer name %q", what, got)
		}
		keytabWorks(t, dc, d, name, strings.ToLower(name)+"."+testdc.DNSDomain)
		if _, err := os.Stat(filepath.Join(d.stateDir, "membership.json.intent")); !os.IsNotExist(err) {
			t.Errorf("%s: an intent is left: %v", what, err)
		}
	}
	check("the relative name taken", rename3(t, d, dc, clash, optAcctCreate, ndr20), uint32(joinlogic.NERR_UserExists))
	// It failed after the modify had renamed the account: the modify DN.
	if !strings.Contains(d.Output(), `"joinlogic: renaming the computer object"`) || !strings.Contains(d.Output(), "Entry Already Exists") {
		t.Errorf("the rename did not fail at the modify DN:\n%s", d.Output())
	}
	// The old password set again has a new key version, which the keytab
	// follows (keytabWorks checked it with kvno -k).
	if ktAfter, _ := os.ReadFile(ktPath); slices.Equal(ktBefore, ktAfter) {
		t.Error("the keytab did not follow the key version of the password set again")
	}
	check("the account name taken", rename3(t, d, dc, taken, optAcctCreate, ndr64), uint32(joinlogic.NERR_UserExists))
	check("the modify refused", rename3(t, d, dc, user, optAcctCreate, ndr64), uint32(joinlogic.NERR_UserExists))
	if !strings.Contains(d.Output(), `"joinlogic: renaming the computer account"`) {
		t.Errorf("the rename to %s did not fail at the modify:\n%s", user, d.Output())
	}

	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, ndr64)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.cli.RenameMachineInDomain3(c.ctx, &wkssvc.RenameMachineInDomain3Request{MachineName: "WKRNEW", AccountName: adminAccount(),
		Password: aesBlob(t, c.sessionKey(), "not-the-password"), Options: optAcctCreate})
	check("a wrong password", returnCodeAny(t, retRename3(resp), err), codeLogonFailure)
	u, err := dialMSRPC(t, d.host(), plainUser, plainPass, smb2.SMB311, false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = u.cli.RenameMachineInDomain3(u.ctx, &wkssvc.RenameMachineInDomain3Request{MachineName: "WKRNEW", AccountName: adminAccount(),
		Password: aesBlob(t, u.sessionKey(), dc.AdminPassword), Options: optAcctCreate})
	check("a plain user", returnCodeAny(t, retRename3(resp), err), codeAccessDenied)
	check("an alternate name with a wrong password", func() uint32 {
		c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.cli.AddAlternateComputerName2(c.ctx, &wkssvc.AddAlternateComputerName2Request{AlternateName: "wkralt." + testdc.DNSDomain,
			DomainAccount: adminAccount(), EncryptedPassword: aesBlob(t, c.sessionKey(), "not-the-password")})
		ret := uint32(0)
		if resp != nil {
			ret = resp.Return
		}
		return returnCodeAny(t, ret, err)
	}(), codeLogonFailure)
	unjoin3(t, dc, d, name)
}

func retRename3(r *wkssvc.RenameMachineInDomain3Response) uint32 {
	if r == nil {
		return 0
	}
	return r.Return
}

// Alternate names of a workgroup member are local: kept across a
// restart, listed, made the primary name (which GetInfo then reports);
// Reserved and the name rules as 3.2.4.18 says. impacket's helpers at
// NDR, go-msrpc at NDR64.
func TestAlternateNamesWorkgroup(t *testing.T) {
	d := startDaemon(t)
	local := func(method string, args ...string) string {
		t.Helper()
		out, err := python(t, "impacket_join.py", append([]string{d.host(), "445", "3.0", adminUser, adminPass, method}, args...)...)
		if err != nil {
			t.Fatalf("impacket %s: %v\n%s", method, err, out)
		}
		return parseKV(out)["code"]
	}
	hex := func(c joinlogic.Code) string { return fmt.Sprintf("0x%08x", uint32(c)) }
	if got := local("addalt", "name=wkalt.lab.test"); got != hex(joinlogic.NERR_Success) {
		t.Fatalf("NetrAddAlternateComputerName: %s", got)
	}
	for _, c := range []struct {
		args []string
		want joinlogic.Code
	}{
		{[]string{"name=wkalt2.lab.test", "reserved=2"}, joinlogic.ERROR_INVALID_FLAGS},
		{[]string{"name=wkalt2.lab.test", "reserved=0x80000003"}, joinlogic.NERR_Success}, // NET_IGNORE_UNSUPPORTED_FLAGS (0x1) set
		{[]string{"name=a..b"}, joinlogic.ERROR_INVALID_NAME},
		{[]string{"name=" + strings.Repeat("x", 64) + ".lab.test"}, joinlogic.ERROR_INVALID_NAME},
		{[]string{"name=a_b.lab.test"}, joinlogic.NERR_Success}, // "_" is not among the refused characters
		{[]string{"name=a*b.lab.test"}, joinlogic.DNS_ERROR_INVALID_NAME_CHAR},
	} {
		if got := local("addalt", c.args...); got != hex(c.want) {
			t.Errorf("add %v: %s, want %v", c.args, got, c.want)
		}
	}
	if got := local("rmalt", "name=a_b.lab.test"); got != hex(joinlogic.NERR_Success) {
		t.Errorf("remove: %s", got)
	}
	want := []string{dnsName, "wkalt.lab.test", "wkalt2.lab.test"}
	if got := enumNames(t, d, wkssvc.NetComputerNameTypeAllComputerNames, ndr64); !slices.Equal(got, want) {
		t.Fatalf("names %q, want %q", got, want)
	}
	d.stop(t)
	d = startDaemon(t, "--state-dir", d.stateDir)
	if got := enumNames(t, d, wkssvc.NetComputerNameTypeAlternateComputerNames, ndr64); !slices.Equal(got, want[1:]) {
		t.Fatalf("after a restart: %q", got)
	}
	c, err := dialMSRPC(t, d.host(), adminUser, adminPass, smb2.SMB311, false, ndr64)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.cli.SetPrimaryComputerName(c.ctx, &wkssvc.SetPrimaryComputerNameRequest{PrimaryName: "wkalt.lab.test"})
	ret := uint32(0)
	if resp != nil {
		ret = resp.Return
	}
	if code := returnCodeAny(t, ret, err); code != 0 {
		t.Fatalf("NetrSetPrimaryComputerName: %v", joinlogic.Code(code))
	}
	if got := computerName(t, d); got != "WKALT" {
		t.Errorf("GetInfo 100 after set primary: %q", got)
	}
	if got := enumNames(t, d, wkssvc.NetComputerNameTypePrimaryComputerName, ndr20); !slices.Equal(got, []string{"wkalt.lab.test"}) {
		t.Errorf("primary name %q", got)
	}
	// The new name is the server's everywhere, and stays after a restart:
	// the NTLM target information, srvsvc, wkssvc.
	for round := 0; round < 2; round++ {
		if nb, dns := ntlmTargetNames(t, d); nb != "WKALT" || dns != "wkalt.lab.test" {
			t.Errorf("NTLM target information names %q %q, want WKALT wkalt.lab.test", nb, dns)
		}
		if got := srvsvcName(t, d); got != "WKALT" {
			t.Errorf("NetrServerGetInfo 101 name %q, want WKALT", got)
		}
		if got := computerName(t, d); got != "WKALT" {
			t.Errorf("GetInfo 100 after set primary: %q", got)
		}
		if round == 0 {
			d.stop(t)
			d = startDaemon(t, "--state-dir", d.stateDir)
		}
	}
	// Plain users and anonymous callers may not list the names.
	u, err := dialMSRPC(t, d.host(), plainUser, plainPass, smb2.SMB311, false)
	if err != nil {
		t.Fatal(err)
	}
	er, err := u.cli.EnumerateComputerNames(u.ctx, &wkssvc.EnumerateComputerNamesRequest{})
	if code := returnCodeAny(t, retEnum(er), err); code != codeAccessDenied {
		t.Errorf("plain user: %v", joinlogic.Code(code))
	}
}

func retEnum(r *wkssvc.EnumerateComputerNamesResponse) uint32 {
	if r == nil {
		return 0
	}
	return r.Return
}
