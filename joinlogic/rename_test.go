package joinlogic

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func renameReq(name string, opts uint32) RenameRequest {
	return RenameRequest{Method: 3, Protseq: ProtseqNamedPipe, Caller: admin, MachineName: sp(name),
		AccountName: sp(`EXAMPLE\Administrator`), Password: goodPw("Secret1!").source(), Options: opts}
}

func altReq(name string) AlternateNameRequest {
	return AlternateNameRequest{Protseq: ProtseqNamedPipe, Caller: admin, Name: sp(name),
		DomainAccount: sp(`EXAMPLE\Administrator`), Password: goodPw("Secret1!").source()}
}

// joinedFlow is a flow whose machine WKS1 has joined EXAMPLE, with a
// keytab; the directory log starts empty after the join.
func joinedFlow(t *testing.T) (*flowEnv, *fakeKeytab) {
	t.Helper()
	e, kt := newKeytabFlow(t)
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatalf("Join = %v", c)
	}
	e.dir.log = nil
	return e, kt
}

// The rules of NetrRenameMachineInDomain2/3 reachable without a
// controller, in the order 3.2.4.15 lists them.
func TestRenameRules(t *testing.T) {
	ctx := context.Background()
	e := newFlow(t, nil)
	plain := renameReq("WKS2", NETSETUP_ACCT_CREATE)
	plain.Caller = Caller{User: "u", Domain: "HOST"}
	anon := renameReq("WKS2", NETSETUP_ACCT_CREATE)
	anon.Caller = Caller{Anonymous: true}
	tcp := renameReq("WKS2", NETSETUP_ACCT_CREATE)
	tcp.Protseq = "ncacn_ip_tcp"
	badPw := renameReq("WKS2", NETSETUP_ACCT_CREATE)
	badPw.Password = (&pwSource{code: ERROR_INVALID_PASSWORD}).source()
	for _, c := range []struct {
		name string
		req  RenameRequest
		want Code
	}{
		{"tcp", tcp, RPC_S_PROTSEQ_NOT_SUPPORTED},
		{"plain user", plain, ERROR_ACCESS_DENIED},
		{"anonymous", anon, ERROR_ACCESS_DENIED},
		{"undecryptable password", badPw, ERROR_INVALID_PASSWORD},
		{"workgroup member", renameReq("WKS2", NETSETUP_ACCT_CREATE), NERR_SetupNotJoined},
	} {
		if got := e.j.Rename(ctx, c.req); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	e2, _ := joinedFlow(t)
	for _, c := range []struct {
		name string
		want Code
	}{
		{"bad:name", DNS_ERROR_INVALID_NAME_CHAR},
		{"", NERR_Success}, // the same name again
	} {
		if got := e2.j.Rename(ctx, renameReq(c.name, 0)); got != c.want {
			t.Errorf("rename to %q: %v, want %v", c.name, got, c.want)
		}
	}
	if len(e.dir.ops()) != 0 || len(e2.dir.ops()) != 0 {
		t.Fatalf("the directory was used: %q %q", e.dir.ops(), e2.dir.ops())
	}
}

// A rename with NETSETUP_ACCT_CREATE: one modify of the account (name,
// host names, SPNs, password), its relative name, the keytab of the new
// principals, the names and the membership.
func TestRenameInDomain(t *testing.T) {
	ctx := context.Background()
	e, kt := joinedFlow(t)
	before := e.dir.account("WKS1$")
	if c := e.j.Rename(ctx, renameReq("WKS2", NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatalf("Rename = %v\n%s", c, e.logs)
	}
	oldDN, newDN := "CN=WKS1,"+computersDN, "CN=WKS2,"+computersDN
	// The display name last (3.2.4.29.5), once the rename is committed.
	wantOps(t, e.dir, "names "+oldDN, "modrdn "+oldDN+" WKS2", "kvno "+newDN, "displayname "+newDN+" WKS2$")
	if e.dir.account("WKS1$") != nil {
		t.Fatal("WKS1$ still exists")
	}
	a := e.dir.account("WKS2$")
	if a == nil || a.dn != newDN || a.dnsHostName != "wks2.example.test" || a.password == before.password || a.kvno != before.kvno+1 || a.displayName != "WKS2$" {
		t.Fatalf("account %+v", a)
	}
	for _, spn := range []string{"HOST/wks2.example.test", "HOST/WKS2"} {
		if !slices.Contains(a.spns, spn) {
			t.Errorf("SPNs %q lack %s", a.spns, spn)
		}
	}
	if slices.ContainsFunc(a.spns, func(s string) bool { return strings.Contains(strings.ToUpper(s), "WKS1") }) {
		t.Errorf("SPNs %q keep the old name", a.spns)
	}
	m := e.store.get()
	if m.ClientName != "WKS2$" || m.DNSHostName != "wks2.example.test" || m.Password.Reveal() != a.password || m.PreviousPassword.Reveal() != before.password {
		t.Fatalf("membership %+v", m.LogValue())
	}
	if n := e.j.Names(); n.NetBIOS != "WKS2" || n.FQDN != "wks2.example.test" {
		t.Fatalf("names %+v", n)
	}
	want := KeytabEntries{ComputerName: "WKS2", DNSHostName: "wks2.example.test", Realm: "EXAMPLE.TEST", Password: m.Password, KVNO: a.kvno}
	if got := kt.state(); got == nil || !reflect.DeepEqual(*got, want) {
		t.Fatalf("keytab %+v, want %+v", got, want)
	}
	if strings.Contains(e.logs.String(), a.password) || strings.Contains(e.logs.String(), "Secret1!") {
		t.Fatal("a password reached the log")
	}
	// Again to a name another account holds: refused before any write.
	e.dir.addAccount(computersDN, "TAKEN", UF_WORKSTATION_TRUST_ACCOUNT)
	e.dir.log = nil
	if c := e.j.Rename(ctx, renameReq("TAKEN", NETSETUP_ACCT_CREATE)); c != NERR_UserExists {
		t.Fatalf("rename to a taken name = %v", c)
	}
	wantOps(t, e.dir)
}

// A change in the domain without a password would need the caller's own
// logon at the DC ("the caller's security context"), which a logon to
// this server cannot give: ERROR_LOGON_FAILURE before any directory
// operation, and the log says what to send. Without NETSETUP_ACCT_CREATE
// a rename touches no directory and needs no password.
func TestNameChangesWithoutPassword(t *testing.T) {
	ctx := context.Background()
	e, _ := joinedFlow(t)
	r := renameReq("WKS2", NETSETUP_ACCT_CREATE)
	r.AccountName, r.Password = nil, nil
	if c := e.j.Rename(ctx, r); c != ERROR_LOGON_FAILURE {
		t.Errorf("rename with NETSETUP_ACCT_CREATE and no password = %v, want ERROR_LOGON_FAILURE", c)
	}
	a := altReq("web.example.test")
	a.DomainAccount = nil // then the password is ignored (3.2.4.18)
	if c := e.j.AddAlternateName(ctx, a); c != ERROR_LOGON_FAILURE {
		t.Errorf("alternate name on a member without an account = %v, want ERROR_LOGON_FAILURE", c)
	}
	a = altReq("web.example.test")
	a.Password = nil
	if c := e.j.AddAlternateName(ctx, a); c != ERROR_LOGON_FAILURE {
		t.Errorf("alternate name on a member without a password = %v, want ERROR_LOGON_FAILURE", c)
	}
	wantOps(t, e.dir)
	if n := e.j.Names(); n.NetBIOS != "WKS1" || len(n.Alternates) != 0 {
		t.Errorf("names changed: %+v", n)
	}
	if got := strings.Count(e.logs.String(), "send AccountName and Password"); got != 3 {
		t.Errorf("%d log lines say what to send, want 3:\n%s", got, e.logs)
	}
	r.Options = 0
	if c := e.j.Rename(ctx, r); c != NERR_Success {
		t.Errorf("local rename without a password = %v", c)
	}
}

// The display name's update is the one step of a rename whose failure
// changes nothing: "The result of this operation MUST be ignored"
// (MS-WKST 3.2.4.15).
func TestRenameDisplayNameIgnored(t *testing.T) {
	ctx := context.Background()
	e, _ := joinedFlow(t)
	e.dir.fail = map[string]error{"displayname": ERROR_ACCESS_DENIED}
	if c := e.j.Rename(ctx, renameReq("WKS2", NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatalf("Rename = %v with the display name refused\n%s", c, e.logs)
	}
	a := e.dir.account("WKS2$")
	if a == nil || a.dn != "CN=WKS2,"+computersDN || a.displayName != "" {
		t.Fatalf("account %+v", a)
	}
	if n := e.j.Names(); n.NetBIOS != "WKS2" {
		t.Fatalf("names %+v", n)
	}
	if !strings.Contains(e.logs.String(), "keeps its display name") {
		t.Errorf("the log does not say the display name stayed:\n%s", e.logs)
	}
}

// Without NETSETUP_ACCT_CREATE the names change locally only; with
// NETSETUP_DNS_NAME_CHANGES_ONLY the account keeps its sAMAccountName
// and NetBIOS name.
func TestRenameLocalAndDNSOnly(t *testing.T) {
	ctx := context.Background()
	e, kt := joinedFlow(t)
	ktBefore := kt.state()
	if c := e.j.Rename(ctx, renameReq("LOCAL1", 0)); c != NERR_Success {
		t.Fatal(c)
	}
	wantOps(t, e.dir)
	if n := e.j.Names(); n.NetBIOS != "LOCAL1" || e.dir.account("WKS1$") == nil || !reflect.DeepEqual(kt.state(), ktBefore) {
		t.Fatalf("names %+v", n)
	}
	if m := e.store.get(); m.ClientName != "WKS1$" {
		t.Fatalf("membership %+v", m.LogValue())
	}

	e, _ = joinedFlow(t)
	if c := e.j.Rename(ctx, renameReq("web.example.test", NETSETUP_ACCT_CREATE|NETSETUP_DNS_NAME_CHANGES_ONLY)); c != NERR_Success {
		t.Fatal(c)
	}
	dn := "CN=WKS1," + computersDN
	wantOps(t, e.dir, "names "+dn, "kvno "+dn)
	a := e.dir.account("WKS1$")
	if a == nil || a.dnsHostName != "web.example.test" || !slices.Contains(a.spns, "HOST/web.example.test") || !slices.Contains(a.spns, "HOST/WKS1") {
		t.Fatalf("account %+v", a)
	}
	if n := e.j.Names(); n.NetBIOS != "WKS1" || n.FQDN != "web.example.test" {
		t.Fatalf("names %+v", n)
	}
}

// A failure at each step of a rename after the write leaves the object,
// the keytab, the names and the membership as they were.
func TestRenameRollback(t *testing.T) {
	ctx := context.Background()
	oldDN, newDN := "CN=WKS1,"+computersDN, "CN=WKS2,"+computersDN
	for _, c := range []struct {
		name       string
		failOp     string
		lost       bool
		installErr error
		saveErr    error
		want       Code
		ops        []string
	}{
		{name: "modify refused", failOp: "names", want: ERROR_ACCESS_DENIED,
			ops: []string{"names " + oldDN, "names " + oldDN, "kvno " + oldDN}},
		{name: "modify applied, answer lost", lost: true, want: ERROR_NO_SUCH_DOMAIN,
			ops: []string{"names " + oldDN, "names " + oldDN, "kvno " + oldDN}},
		{name: "modify DN refused", failOp: "modrdn", want: ERROR_ACCESS_DENIED,
			ops: []string{"names " + oldDN, "modrdn " + oldDN + " WKS2", "names " + oldDN, "kvno " + oldDN}},
		{name: "key version unreadable", failOp: "kvno", want: ERROR_ACCESS_DENIED,
			ops: []string{"names " + oldDN, "modrdn " + oldDN + " WKS2", "kvno " + newDN, "modrdn " + newDN + " WKS1", "names " + oldDN, "kvno " + oldDN}},
		{name: "keytab unwritable", installErr: errors.New("read-only file system"), want: ERROR_INTERNAL_ERROR,
			ops: []string{"names " + oldDN, "modrdn " + oldDN + " WKS2", "kvno " + newDN, "modrdn " + newDN + " WKS1", "names " + oldDN, "kvno " + oldDN}},
		{name: "membership unsaved", saveErr: errors.New("disk full"), want: ERROR_INTERNAL_ERROR,
			ops: []string{"names " + oldDN, "modrdn " + oldDN + " WKS2", "kvno " + newDN, "modrdn " + newDN + " WKS1", "names " + oldDN, "kvno " + oldDN}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, kt := joinedFlow(t)
			before, ktBefore, mBefore := e.dir.account("WKS1$"), kt.state(), e.store.get()
			if c.failOp != "" {
				e.dir.failOnce[c.failOp] = ERROR_ACCESS_DENIED
			}
			e.dir.lostAnswer["names"] = c.lost
			kt.installErr = c.installErr
			e.store.saveErr = c.saveErr
			if got := e.j.Rename(ctx, renameReq("WKS2", NETSETUP_ACCT_CREATE)); got != c.want {
				t.Fatalf("Rename = %v, want %v", got, c.want)
			}
			wantOps(t, e.dir, c.ops...)
			after := e.dir.account("WKS1$")
			if after == nil || e.dir.account("WKS2$") != nil {
				t.Fatalf("the account is not back under its name: %+v", after)
			}
			after.kvno, before.kvno = 0, 0 // the old password set again moves the key version on
			if !reflect.DeepEqual(after, before) {
				t.Fatalf("account %+v, want %+v", after, before)
			}
			// The keytab: the previous one, at the key version the old
			// password got when it was set again.
			want := *ktBefore
			if c.installErr == nil {
				want.KVNO = e.dir.account("WKS1$").kvno
			}
			if !reflect.DeepEqual(kt.state(), &want) || !equalMembership(e.store.get(), mBefore) || e.j.Names().NetBIOS != "WKS1" {
				t.Fatalf("local state changed: keytab %+v names %+v", kt.state(), e.j.Names())
			}
		})
	}
}

// Alternate names without a domain: kept locally, listed by
// NetrEnumerateComputerNames, one made the primary, removed.
func TestAlternateNamesLocal(t *testing.T) {
	ctx := context.Background()
	e := newFlow(t, func(c *Config) { c.DNSHostName = "wks1.lab.test" })
	names := func(typ uint32) []string {
		t.Helper()
		got, c := e.j.ComputerNames(ctx, ComputerNamesRequest{Protseq: ProtseqNamedPipe, Caller: admin, NameType: typ})
		if c != NERR_Success {
			t.Fatal(c)
		}
		return got
	}
	local := func(n string) AlternateNameRequest {
		r := altReq(n)
		r.DomainAccount, r.Password = nil, nil
		return r
	}
	if c := e.j.AddAlternateName(ctx, local("web.lab.test")); c != NERR_Success {
		t.Fatal(c)
	}
	if c := e.j.AddAlternateName(ctx, local("web.lab.test.")); c != NERR_Success { // already there
		t.Fatal(c)
	}
	if got := names(NetAllComputerNames); !slices.Equal(got, []string{"wks1.lab.test", "web.lab.test"}) {
		t.Fatalf("all names %q", got)
	}
	if got := names(NetAlternateComputerNames); !slices.Equal(got, []string{"web.lab.test"}) {
		t.Fatalf("alternate names %q", got)
	}
	if c := e.j.SetPrimaryName(ctx, local("web.lab.test")); c != NERR_Success {
		t.Fatal(c)
	}
	if n := e.j.Names(); n.NetBIOS != "WEB" || n.FQDN != "web.lab.test" || len(n.Alternates) != 1 || n.Alternates[0].FQDN != "wks1.lab.test" {
		t.Fatalf("names after set primary %+v", n)
	}
	for _, c := range []struct {
		name string
		op   func(context.Context, AlternateNameRequest) Code
		req  AlternateNameRequest
		want Code
	}{
		{"remove absent", e.j.RemoveAlternateName, local("none.lab.test"), ERROR_NOT_FOUND},
		{"set primary absent", e.j.SetPrimaryName, local("none.lab.test"), ERROR_NOT_FOUND},
		{"add bad name", e.j.AddAlternateName, local("bad name"), DNS_ERROR_INVALID_NAME_CHAR},
		{"add NULL", e.j.AddAlternateName, AlternateNameRequest{Protseq: ProtseqNamedPipe, Caller: admin}, ERROR_INVALID_PARAMETER},
		{"reserved bits", e.j.AddAlternateName, func() AlternateNameRequest { r := local("x.lab.test"); r.Reserved = 2; return r }(), ERROR_INVALID_FLAGS},
		{"plain user", e.j.AddAlternateName, func() AlternateNameRequest { r := local("x.lab.test"); r.Caller = Caller{User: "u"}; return r }(), ERROR_ACCESS_DENIED},
		{"remove", e.j.RemoveAlternateName, local("WKS1.lab.test"), NERR_Success},
	} {
		if got := c.op(ctx, c.req); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if got := names(NetAllComputerNames); !slices.Equal(got, []string{"web.lab.test"}) {
		t.Fatalf("names at the end %q", got)
	}
	if _, c := e.j.ComputerNames(ctx, ComputerNamesRequest{Protseq: ProtseqNamedPipe, Caller: admin, NameType: NetComputerNameTypeMax}); c != ERROR_INVALID_PARAMETER {
		t.Fatalf("NetComputerNameTypeMax: %v", c)
	}
	if _, c := e.j.ComputerNames(ctx, ComputerNamesRequest{Protseq: ProtseqNamedPipe, Caller: Caller{User: "u"}}); c != ERROR_ACCESS_DENIED {
		t.Fatalf("plain user: %v", c)
	}
}

// Alternate names of a joined machine: on the object
// (msDS-AdditionalDnsHostName, HOST/ SPNs) and in the keytab; set as
// primary, the account is renamed as by a rename, without its relative
// name.
func TestAlternateNamesInDomain(t *testing.T) {
	ctx := context.Background()
	e, kt := joinedFlow(t)
	dn := "CN=WKS1," + computersDN
	if c := e.j.AddAlternateName(ctx, altReq("web.example.test")); c != NERR_Success {
		t.Fatalf("add: %v\n%s", c, e.logs)
	}
	wantOps(t, e.dir, "names "+dn, "kvno "+dn)
	a := e.dir.account("WKS1$")
	if !slices.Equal(a.additionalDNS, []string{"web.example.test"}) || !slices.Contains(a.spns, "HOST/web.example.test") || !slices.Contains(a.spns, "HOST/WEB") ||
		!slices.Contains(a.spns, "HOST/WKS1") {
		t.Fatalf("account %+v", a)
	}
	if got := kt.state(); got == nil || !slices.Equal(got.Aliases, []string{"web.example.test", "WEB"}) || got.Password.Reveal() != a.password {
		t.Fatalf("keytab %+v", got)
	}
	// A refused write changes nothing.
	e.dir.failOnce["names"] = ERROR_ACCESS_DENIED
	if c := e.j.AddAlternateName(ctx, altReq("ftp.example.test")); c != ERROR_ACCESS_DENIED {
		t.Fatalf("refused add: %v", c)
	}
	if got := e.dir.account("WKS1$"); !reflect.DeepEqual(got, a) || len(e.j.Names().Alternates) != 1 {
		t.Fatalf("after a refused add: %+v %+v", got, e.j.Names())
	}

	// The controller rewrites the SPNs of the former names, as Samba
	// does: those of the name that stays an alternate are written again.
	e.dir.log, e.dir.rewriteSPNs = nil, true
	if c := e.j.SetPrimaryName(ctx, altReq("web.example.test")); c != NERR_Success {
		t.Fatalf("set primary: %v\n%s", c, e.logs)
	}
	wantOps(t, e.dir, "names "+dn, "names "+dn, "kvno "+dn)
	a = e.dir.account("WEB$")
	if a == nil || a.dn != dn || a.dnsHostName != "web.example.test" || !slices.Equal(a.additionalDNS, []string{"wks1.example.test"}) {
		t.Fatalf("account after set primary %+v", a)
	}
	for _, spn := range []string{"HOST/web.example.test", "HOST/WEB", "HOST/wks1.example.test", "HOST/WKS1"} {
		if !slices.Contains(a.spns, spn) {
			t.Errorf("SPNs %q lack %s", a.spns, spn)
		}
	}
	if n := e.j.Names(); n.NetBIOS != "WEB" || e.store.get().ClientName != "WEB$" {
		t.Fatalf("names %+v", n)
	}

	e.dir.log = nil
	if c := e.j.RemoveAlternateName(ctx, altReq("wks1.example.test")); c != NERR_Success {
		t.Fatal(c)
	}
	a = e.dir.account("WEB$")
	if len(a.additionalDNS) != 0 || slices.ContainsFunc(a.spns, func(s string) bool { return strings.Contains(strings.ToUpper(s), "WKS1") }) {
		t.Fatalf("account after remove %+v", a)
	}
	if got := kt.state(); len(got.Aliases) != 0 || got.ComputerName != "WEB" {
		t.Fatalf("keytab %+v", got)
	}
}

// A rename or an alternate-name change killed before or after its write
// is settled at the next start: forward when the write happened, else
// the previous names stand; directory, keytab, names and membership
// agree either way.
func TestRenameRecoveryAfterCrash(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		alt     bool
		crashAt string
		after   bool
		keytab  bool
		renamed bool
	}{
		{name: "rename/before the modify", crashAt: "names"},
		{name: "rename/after the modify", crashAt: "names", after: true, renamed: true},
		{name: "rename/before the modify DN", crashAt: "modrdn", renamed: true},
		{name: "rename/after the keytab", keytab: true, renamed: true},
		{name: "alternate/before the modify", alt: true, crashAt: "names"},
		{name: "alternate/after the modify", alt: true, crashAt: "names", after: true, renamed: true},
		{name: "alternate/after the keytab", alt: true, keytab: true, renamed: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newRecoveryEnv(t)
			namesPath := filepath.Join(filepath.Dir(e.path), "computer-names.json")
			withNames := func(cfg *Config) {
				ns, err := OpenNameStore(namesPath, ComputerName{NetBIOS: "WKS1"})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Names = ns
			}
			j, _ := e.start(t, withNames)
			if code := j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); code != NERR_Success {
				t.Fatal(code)
			}
			j, _ = e.start(t, func(cfg *Config) {
				withNames(cfg)
				if c.keytab {
					cfg.Keytab = crashKeytab{e.kt}
				}
			})
			e.dir.crashAt, e.dir.crashAfter = c.crashAt, c.after
			op := func() Code { return j.Rename(ctx, renameReq("WKS2", NETSETUP_ACCT_CREATE)) }
			if c.alt {
				op = func() Code { return j.AddAlternateName(ctx, altReq("web.example.test")) }
			}
			if !interrupted(op) {
				t.Fatal("the operation was not interrupted")
			}
			if _, err := os.Stat(IntentPath(e.path)); err != nil {
				t.Fatalf("no intent after the crash: %v", err)
			}
			j2, store := e.start(t, withNames)
			if pending, err := j2.Recover(ctx); pending || err != nil {
				t.Fatalf("Recover = %v, %v", pending, err)
			}
			m, _ := store.Load()
			n := j2.Names()
			kt := e.kt.state()
			sam, netbios, alts := "WKS1$", "WKS1", 0
			if c.renamed && !c.alt {
				sam, netbios = "WKS2$", "WKS2"
			}
			if c.renamed && c.alt {
				alts = 1
			}
			acct := e.dir.account(sam)
			if acct == nil || m.ClientName != sam || n.NetBIOS != netbios || len(n.Alternates) != alts || len(acct.additionalDNS) != alts {
				t.Fatalf("account %+v, membership %+v, names %+v", acct, m.LogValue(), n)
			}
			if acct.password != m.Password.Reveal() || kt == nil || kt.Password != m.Password || kt.KVNO != acct.kvno || kt.ComputerName != netbios || len(kt.Aliases) != 2*alts {
				t.Fatalf("keytab %+v, account %+v", kt, acct)
			}
			if c.renamed && !c.alt && acct.dn != "CN=WKS2,"+computersDN {
				t.Errorf("the object keeps the relative name %s", acct.dn)
			}
		})
	}
}

// TestChangesWaitForAnotherProcess: while another process holds the state
// directory (wkssvcd rotate-password beside the daemon, saving a new
// machine password), no change of this process may load and save the
// membership under it: joins, unjoins, renames and the alternate-name
// methods answer RPC_S_CALL_IN_PROGRESS without touching the directory,
// an offline join waits. Once released, they proceed.
func TestChangesWaitForAnotherProcess(t *testing.T) {
	ctx := context.Background()
	e := newRecoveryEnv(t)
	j, store := e.start(t, nil)
	if c := j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatal(c)
	}
	before, _ := store.Load()
	other, _ := e.start(t, nil)
	unlock, err := other.lockState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.dir.log = nil
	for name, op := range map[string]func() Code{
		"join":             func() Code { return j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)) },
		"unjoin":           func() Code { return j.Unjoin(ctx, unjoinReq(0)) },
		"rename":           func() Code { return j.Rename(ctx, renameReq("WKS2", NETSETUP_ACCT_CREATE)) },
		"add alternate":    func() Code { return j.AddAlternateName(ctx, altReq("alt1.example.test")) },
		"remove alternate": func() Code { return j.RemoveAlternateName(ctx, altReq("alt1.example.test")) },
		"set primary":      func() Code { return j.SetPrimaryName(ctx, altReq("alt1.example.test")) },
	} {
		if c := op(); c != RPC_S_CALL_IN_PROGRESS {
			t.Errorf("%s while another process holds the state = %v", name, c)
		}
	}
	wantOps(t, e.dir)
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := j.ApplyOfflineJoin(wctx, OfflineJoin{}); !errors.Is(err, RPC_S_CALL_IN_PROGRESS) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("offline join while another process holds the state = %v", err)
	}
	if m, _ := store.Load(); !reflect.DeepEqual(m, before) {
		t.Fatalf("membership changed under the other process:\n%+v\n%+v", m.LogValue(), before.LogValue())
	}
	unlock()
	if c := j.Rename(ctx, renameReq("WKS2", NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatalf("rename once released = %v", c)
	}
	if c := j.AddAlternateName(ctx, altReq("alt1.example.test")); c != NERR_Success {
		t.Fatalf("add alternate name once released = %v", c)
	}
}
