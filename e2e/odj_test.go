package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/odj"
)

// Offline domain join: wkst provision against the test DC, Samba's net
// offlinejoin both ways, wkssvcd requestodj.

// wkstProvision runs wkst provision against dc as its administrator, with
// args added; it returns the output and the error.
func wkstProvision(t *testing.T, dc *testdc.DC, args ...string) (string, error) {
	t.Helper()
	pwFile := filepath.Join(t.TempDir(), "adminpw")
	if err := os.WriteFile(pwFile, []byte(dc.AdminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	all := append([]string{"provision", "--domain", dc.DNSDomain, "--dns-server", dc.Addr, "--ldap-ca", dc.CAFile,
		"--account", adminAccount(), "--password-file", pwFile}, args...)
	return run(t, 3*time.Minute, filepath.Join(binDir, "wkst"), all...)
}

// mustProvision provisions machine into a new savefile and returns its path.
func mustProvision(t *testing.T, dc *testdc.DC, machine string, args ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), machine+".txt")
	out, err := wkstProvision(t, dc, append([]string{"--machine", machine, "--savefile", f}, args...)...)
	if err != nil {
		t.Fatalf("wkst provision %s: %v\n%s", machine, err, out)
	}
	t.Logf("wkst provision: %s", out)
	t.Cleanup(func() { deleteComputer(t, dc, machine) })
	return f
}

// readJoin decodes a provisioning file as a consumer does.
func readJoin(t *testing.T, path string) *odj.Join {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := odj.DecodeFile(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	j, err := p.Join()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return j
}

// machineBind checks password against NAME$ with an LDAPS simple bind.
func machineBind(t *testing.T, dc *testdc.DC, name, password string) error {
	t.Helper()
	tc, err := dc.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	l, err := ldap.DialURL("ldaps://"+dc.Addr+":636", ldap.DialWithTLSConfig(tc.Clone()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Bind(testdc.Domain+`\`+strings.ToUpper(name)+"$", password)
}

// sidString formats a binary SID (MS-DTYP 2.4.2.2).
func sidString(b []byte) string {
	if len(b) < 8 || len(b) != 8+4*int(b[1]) {
		return ""
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	s := "S-" + strconv.Itoa(int(b[0])) + "-" + strconv.FormatUint(auth, 10)
	for i := 8; i < len(b); i += 4 {
		s += "-" + strconv.FormatUint(uint64(b[i])|uint64(b[i+1])<<8|uint64(b[i+2])<<16|uint64(b[i+3])<<24, 10)
	}
	return s
}

// The file wkst provision writes holds what the directory holds: the
// domain's identity, the account's RID, SID and objectGUID, a password the
// account takes, the DC's locator answer; and the object is what an online
// join makes.
func TestProvisionWritesWhatTheDirectoryHolds(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	f := mustProvision(t, dc, "ODJPROV1")
	fi, err := os.Stat(f)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("savefile %v %v: want mode 0600", fi, err)
	}
	j := readJoin(t, f)
	w := j.Win7
	if w.Domain != testdc.DNSDomain || w.MachineName != "ODJPROV1" || w.DomainInfo.Name != testdc.Domain ||
		w.DomainInfo.DNSForestName != testdc.DNSDomain {
		t.Errorf("join data: %+v", w)
	}
	if w.DCInfo.DCName != `\\`+testdc.HostFQDN || w.DCInfo.DCAddress != `\\`+dc.Addr || w.DCInfo.Flags&0xE0000000 != 0xE0000000 ||
		w.DCInfo.DCSiteName == "" {
		t.Errorf("DC info: %+v", w.DCInfo)
	}
	l := ldapConn(t, dc)
	res, err := l.Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName=ODJPROV1$)", []string{"objectSid", "objectGUID", "msDS-KeyVersionNumber"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search: %v", err)
	}
	sid := sidString(res.Entries[0].GetRawAttributeValue("objectSid"))
	var guid odj.GUID
	copy(guid[:], res.Entries[0].GetRawAttributeValue("objectGUID"))
	if !j.HaveRID || j.AccountSID != sid || !strings.HasSuffix(sid, "-"+strconv.Itoa(int(j.RID))) ||
		j.AccountGUID == nil || *j.AccountGUID != guid {
		t.Errorf("account: RID %d SID %s GUID %v; directory: %s %s", j.RID, j.AccountSID, j.AccountGUID, sid, guid)
	}
	if !strings.HasPrefix(sid, w.DomainInfo.SID.String()+"-") {
		t.Errorf("domain SID %s is not the prefix of %s", w.DomainInfo.SID, sid)
	}
	pw, err := w.MachinePassword.Text()
	if err != nil || len(pw) != 120 {
		t.Fatalf("password: %d characters, %v", len(pw), err)
	}
	if err := machineBind(t, dc, "ODJPROV1", pw); err != nil {
		t.Errorf("the account does not take the file's password: %v", err)
	}
	e := computer(t, dc, "ODJPROV1")
	uac, _ := strconv.Atoi(e.GetAttributeValue("userAccountControl"))
	fqdn := "odjprov1." + testdc.DNSDomain
	if uac != 0x1000 || !strings.EqualFold(e.GetAttributeValue("dNSHostName"), fqdn) || e.GetAttributeValue("msDS-SupportedEncryptionTypes") != "28" ||
		len(e.GetAttributeValues("servicePrincipalName")) != 4 || e.DN != computersDN("ODJPROV1") {
		t.Errorf("object %s: uac %#x, dNSHostName %s, enctypes %s, SPNs %v", e.DN, uac, e.GetAttributeValue("dNSHostName"),
			e.GetAttributeValue("msDS-SupportedEncryptionTypes"), e.GetAttributeValues("servicePrincipalName"))
	}
	_ = context.Background()
}

// checkMember asks the daemon (NetrGetJoinInformation, go-msrpc) whether
// it is a member of the test domain.
func checkMember(t *testing.T, d *daemon) {
	t.Helper()
	got, status := joinInfo(t, d)
	if got != testdc.Domain || status != wkssvc.NetSetupJoinStatusDomainName {
		t.Fatalf("NetrGetJoinInformation: %q %v, want the domain %s", got, status, testdc.Domain)
	}
}

// keyVersion reads msDS-KeyVersionNumber of NAME$.
func keyVersion(t *testing.T, dc *testdc.DC, name string) int {
	t.Helper()
	res, err := ldapConn(t, dc).Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(name+"$")+")", []string{"msDS-KeyVersionNumber"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("reading the key version of %s$: %v", name, err)
	}
	v, _ := strconv.Atoi(res.Entries[0].GetAttributeValue("msDS-KeyVersionNumber"))
	return v
}

// Ours → ours across two hosts' state directories: host A's daemon runs
// while its file is applied (the daemon applies it at once, no restart);
// host B has no daemon and applies its own file; each refuses the other's.
func TestOfflineJoinOursToOurs(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	const a, b = "ODJHOSTA", "ODJHOSTB"
	fa := mustProvision(t, dc, a)
	fb := mustProvision(t, dc, b)

	d := domainDaemon(t, dc, a)
	if got, status := joinInfo(t, d); status == wkssvc.NetSetupJoinStatusDomainName {
		t.Fatalf("host A starts joined to %s", got)
	}
	// B's file on A: refused by the daemon, nothing changes.
	out, err := requestODJ(t, d.stateDir, a, "--loadfile", fb)
	if err == nil || !strings.Contains(out, "is for the computer \""+b+"\"") {
		t.Fatalf("B's file applied to A: %v\n%s", err, out)
	}
	out, err = requestODJ(t, d.stateDir, a, "--loadfile", fa)
	if err != nil {
		t.Fatalf("requestodj on host A: %v\n%s", err, out)
	}
	if !strings.Contains(out, "applied by the running daemon") {
		t.Fatalf("not applied by the daemon:\n%s", out)
	}
	checkMember(t, d) // at once, no restart
	if out, err := dc.Kinit(context.Background(), filepath.Join(d.stateDir, "krb5.keytab"), a+"$@"+testdc.Realm); err != nil {
		t.Fatalf("kinit with host A's keytab: %v\n%s", err, out)
	}
	if !strings.Contains(d.Output(), "joinlogic: offline join") {
		t.Errorf("the daemon did not log the offline join")
	}

	// Host B: no daemon; requestodj writes the state under the lock.
	stateB := t.TempDir()
	if out, err := requestODJ(t, stateB, b, "--loadfile", fa); err == nil {
		t.Fatalf("A's file applied to B:\n%s", out)
	}
	assertNoState(t, stateB)
	out, err = requestODJ(t, stateB, b, "--loadfile", fb)
	if err != nil || !strings.Contains(out, "no daemon was running") {
		t.Fatalf("requestodj on host B: %v\n%s", err, out)
	}
	if out, err := dc.Kinit(context.Background(), filepath.Join(stateB, "krb5.keytab"), b+"$@"+testdc.Realm); err != nil {
		t.Fatalf("kinit with host B's keytab: %v\n%s", err, out)
	}
	// The same file again: already joined.
	if out, err := requestODJ(t, stateB, b, "--loadfile", fb); err == nil || !strings.Contains(out, "NERR_SetupAlreadyJoined") {
		t.Fatalf("second application: %v\n%s", err, out)
	}
	// B's daemon starts joined, and leaves the domain as after an online
	// join (one daemon on the address at a time).
	d.stop(t)
	db := startDaemon(t, "--state-dir", stateB, "--netbios-name", b, "--dns-hostname", strings.ToLower(b)+"."+testdc.DNSDomain,
		"--dns-server", dc.Addr, "--ldap-ca", dc.CAFile)
	checkMember(t, db)
	if _, err := os.Stat(filepath.Join(stateB, "offline-join", "applies")); err != nil {
		t.Fatalf("the offline join's files before the unjoin: %v", err)
	}
	unjoin3(t, dc, db, b)
	assertODJFilesRemoved(t, db, stateB)
}

// assertODJFilesRemoved fails unless the unjoin d just did removed the
// offline join's files from state, saying so in its log.
func assertODJFilesRemoved(t *testing.T, d *daemon, state string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(state, "offline-join")); err == nil {
		t.Error("the offline join's files stayed after the unjoin")
	}
	if !strings.Contains(d.Output(), "offline join: its files are removed") {
		t.Error("the daemon did not log the removal of the offline join's files")
	}
}

// assertNoState fails when the state directory holds a membership, a
// keytab or offline join files.
func assertNoState(t *testing.T, state string) {
	t.Helper()
	for _, f := range []string{"membership.json", "krb5.keytab", "offline-join", "offline-join.new", "membership.json.intent"} {
		if _, err := os.Stat(filepath.Join(state, f)); err == nil {
			t.Errorf("%s was written", f)
		}
	}
}
