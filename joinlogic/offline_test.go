package joinlogic

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func sampleOffline() OfflineJoin {
	return OfflineJoin{
		DomainNetBIOS: "EXAMPLE", DomainDNS: "Example.Test", ForestDNS: "example.test",
		DomainSID: "S-1-5-21-1-2-3", DomainGUID: "11111111-2222-3333-4444-555555555555",
		MachineName: "wks1", Password: "offline-machine-password",
		AccountRID: 1105, AccountSID: "S-1-5-21-1-2-3-1105", AccountGUID: "fedcba98-7654-3210-fedc-ba9876543210",
		DC:   DCInfo{DCName: "dc1.example.test", DCAddress: "192.0.2.1", DCSiteName: "Default-First-Site-Name", ClientSite: "Branch"},
		File: "sha256:00",
	}
}

func TestApplyOfflineJoin(t *testing.T) {
	ctx := context.Background()
	e, kt := newKeytabFlow(t)
	if err := e.j.ApplyOfflineJoin(ctx, sampleOffline()); err != nil {
		t.Fatal(err)
	}
	m := e.store.get()
	want := Membership{DomainNetBIOS: "EXAMPLE", DomainFQDN: "example.test", DomainSID: "S-1-5-21-1-2-3",
		DomainGUID: "11111111-2222-3333-4444-555555555555", ForestFQDN: "example.test", SiteName: "Branch",
		ClientName: "WKS1$", DNSHostName: "wks1.example.test", Password: "offline-machine-password",
		PasswordSetTime: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC),
		AccountSID:      "S-1-5-21-1-2-3-1105", AccountRID: 1105, AccountGUID: "fedcba98-7654-3210-fedc-ba9876543210",
		DCName: "dc1.example.test", DCAddress: "192.0.2.1", DCSite: "Default-First-Site-Name", OfflineJoinFile: "sha256:00"}
	if !equalMembership(m, want) {
		t.Fatalf("membership\n%+v\nwant\n%+v", m, want)
	}
	k := kt.state()
	if k == nil || k.ComputerName != "WKS1" || k.Realm != "EXAMPLE.TEST" || k.KVNO != DefaultOfflineKVNO || k.Password != "offline-machine-password" {
		t.Fatalf("keytab %+v", k)
	}
	if name, status, _ := e.j.JoinInformation(ctx); name != "EXAMPLE" || status != NetSetupDomainName {
		t.Fatalf("JoinInformation %q %d", name, status)
	}
	if len(e.dir.ops()) != 0 {
		t.Fatalf("the directory was asked: %v", e.dir.ops())
	}

	// A second file without Replace: NERR_SetupAlreadyJoined, nothing changes.
	o := sampleOffline()
	o.Password, o.KVNO = "newer", 3
	if err := e.j.ApplyOfflineJoin(ctx, o); !errors.Is(err, NERR_SetupAlreadyJoined) {
		t.Fatalf("second offline join: %v", err)
	}
	if e.store.get().Password != "offline-machine-password" {
		t.Fatal("membership changed")
	}
	o.Replace = true
	if err := e.j.ApplyOfflineJoin(ctx, o); err != nil {
		t.Fatal(err)
	}
	if m := e.store.get(); m.Password != "newer" || m.PreviousPassword != "offline-machine-password" || kt.state().KVNO != 3 {
		t.Fatalf("after Replace: %+v, keytab %+v", m, kt.state())
	}

	// An unjoin after an offline join works as after an online one.
	if c := e.j.Unjoin(ctx, UnjoinRequest{Method: 3, Protseq: ProtseqNamedPipe, Caller: admin}); c != NERR_Success {
		t.Fatalf("unjoin: %v", c)
	}
	if e.store.get().Joined() || kt.state() != nil {
		t.Fatal("still joined after the unjoin")
	}
}

// A file's JOIN_PROVIDER2 settings: the NetBIOS name is the one checked
// (the machine name is then the host name), the primary DNS suffix makes
// the DNS name, the site is kept, permanent or not.
func TestApplyOfflineJoinProvider2(t *testing.T) {
	ctx := context.Background()
	e, kt := newKeytabFlow(t)
	o := sampleOffline()
	o.MachineName, o.NetBIOSName = "wks1-branch-office-7", "wks1"
	o.PrimaryDNSDomain, o.SiteName, o.PersistentSite = "Corp.Example.", "Branch-7", true
	if err := e.j.ApplyOfflineJoin(ctx, o); err != nil {
		t.Fatal(err)
	}
	m := e.store.get()
	if m.ClientName != "WKS1$" || m.DNSHostName != "wks1-branch-office-7.corp.example" || m.SiteName != "Branch-7" || !m.PersistentSite {
		t.Fatalf("membership %+v", m)
	}
	if k := kt.state(); k == nil || k.ComputerName != "WKS1" || k.DNSHostName != "wks1-branch-office-7.corp.example" {
		t.Fatalf("keytab %+v", k)
	}
	// A dynamic site is a hint, kept the same way.
	e, _ = newKeytabFlow(t)
	o = sampleOffline()
	o.SiteName = "Branch-7"
	if err := e.j.ApplyOfflineJoin(ctx, o); err != nil {
		t.Fatal(err)
	}
	if m := e.store.get(); m.SiteName != "Branch-7" || m.PersistentSite || m.DNSHostName != "wks1.example.test" {
		t.Fatalf("membership %+v", m)
	}
	// The NetBIOS name is the one that must be this computer's.
	e, kt = newKeytabFlow(t)
	o = sampleOffline()
	o.NetBIOSName = "WKS2"
	if err := e.j.ApplyOfflineJoin(ctx, o); !errors.Is(err, NERR_InvalidComputer) {
		t.Fatalf("another NetBIOS name: %v", err)
	}
	if e.store.get().Joined() || kt.state() != nil {
		t.Fatal("state changed")
	}
}

func TestApplyOfflineJoinRefusals(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		mod  func(*OfflineJoin)
		want Code
	}{
		{"another machine", func(o *OfflineJoin) { o.MachineName = "WKS2" }, NERR_InvalidComputer},
		{"no password", func(o *OfflineJoin) { o.Password = "" }, ERROR_INVALID_PASSWORD},
		{"no domain SID", func(o *OfflineJoin) { o.DomainSID = "" }, ERROR_INVALID_PARAMETER},
		{"bad domain name", func(o *OfflineJoin) { o.DomainDNS = "bad name" }, ERROR_INVALID_DOMAINNAME},
	} {
		e, kt := newKeytabFlow(t)
		o := sampleOffline()
		c.mod(&o)
		if err := e.j.ApplyOfflineJoin(ctx, o); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if e.store.get().Joined() || kt.state() != nil {
			t.Errorf("%s: state changed", c.name)
		}
	}
	// A keytab that cannot be written: the membership stays.
	e, kt := newKeytabFlow(t)
	kt.installErr = errors.New("disk full")
	if err := e.j.ApplyOfflineJoin(ctx, sampleOffline()); err == nil {
		t.Fatal("no error")
	}
	if e.store.get().Joined() {
		t.Fatal("joined without a keytab")
	}
}

// A crash after the intent was journaled is finished at the next start,
// without a controller.
func TestOfflineJoinRecovery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := OpenStore(filepath.Join(dir, "membership.json"))
	if err != nil {
		t.Fatal(err)
	}
	jl, err := OpenFileJournal(IntentPath(store.Path()))
	if err != nil {
		t.Fatal(err)
	}
	next := sampleMembership()
	next.PreviousPassword = ""
	if err := jl.Save(ctx, Intent{Op: IntentOfflineJoin, SAMAccountName: "WKS1$", Next: next, Previous: DefaultMembership(),
		Keytab: true, KVNO: 4, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	kt := &fakeKeytab{}
	j := newJoiner(t, store, nil, func(c *Config) { c.Keytab = kt })
	if pending, err := j.Recover(ctx); pending || err != nil {
		t.Fatalf("Recover: %v %v", pending, err)
	}
	if m, _ := store.Load(); !m.Joined() || m.Password != next.Password {
		t.Fatalf("membership after recovery: %+v", m)
	}
	if k := kt.state(); k == nil || k.KVNO != 4 {
		t.Fatalf("keytab after recovery: %+v", k)
	}
	if _, ok, _ := jl.Load(); ok {
		t.Fatal("intent left after recovery")
	}
}
