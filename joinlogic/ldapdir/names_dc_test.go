package ldapdir

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
)

func hasFold(vals []string, v string) bool {
	return slices.ContainsFunc(vals, func(x string) bool { return strings.EqualFold(x, v) })
}

// The NameWriter against the test DC: a rename in one modify
// (sAMAccountName, dNSHostName, SPNs, alternate names and a new password)
// leaves an account whose keytab under the new name gets tickets and whose
// old name is gone; the object's relative name follows with a modify DN;
// the revert puts everything back.
func TestNameWriter(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	d := newDir(t, dc)
	ctx := context.Background()
	info, s := bindAdmin(t, d, dc)
	cc, err := s.ComputersContainer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := randName(t, "RN")
	oldFQDN := strings.ToLower(old) + "." + dc.DNSDomain
	pw := "Old-pw-" + old
	acct, err := s.CreateComputer(ctx, joinlogic.NewComputer{ContainerDN: cc, CommonName: old, SAMAccountName: old + "$",
		ComputerUpdate: joinlogic.ComputerUpdate{Password: pw, HostNames: true, DNSHostName: oldFQDN, SPNs: []string{"HOST/" + oldFQDN, "HOST/" + old}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n, err := s.ReadNames(context.Background(), old+"$"); err == nil {
			s.DeleteComputer(context.Background(), n.DN)
		}
	})
	before, err := s.ReadNames(ctx, old+"$")
	if err != nil || !strings.EqualFold(before.DN, acct.DN) || before.DNSHostName != oldFQDN || !hasFold(before.SPNs, "HOST/"+old) {
		t.Fatalf("ReadNames before: %+v %v", before, err)
	}
	_, err = s.ReadNames(ctx, "NOSUCH$")
	wantCode(t, err, joinlogic.ERROR_NONE_MAPPED)

	nw := randName(t, "RN")
	newFQDN := strings.ToLower(nw) + "." + dc.DNSDomain
	alt := "alias-" + strings.ToLower(nw) + "." + dc.DNSDomain
	altNB := strings.ToUpper(strings.TrimPrefix(alt, ""))[:15]
	newPW := "New-pw-" + nw
	change := joinlogic.NameChange{SAMAccountName: nw + "$", DNSHostName: newFQDN, Password: newPW,
		SPNs:   []string{"HOST/" + newFQDN, "HOST/" + nw, "HOST/" + alt, "HOST/" + altNB, "cifs/" + newFQDN},
		AddDNS: []string{alt}}
	if err := s.ChangeNames(ctx, acct.DN, change); err != nil {
		t.Fatalf("ChangeNames: %v", err)
	}
	after, err := s.ReadNames(ctx, nw+"$")
	if err != nil {
		t.Fatal(err)
	}
	if after.DNSHostName != newFQDN || !hasFold(after.AdditionalDNS, alt) ||
		!hasFold(after.SPNs, "RestrictedKrbHost/"+alt) || hasFold(after.SPNs, "HOST/"+old) || !hasFold(after.SPNs, "cifs/"+newFQDN) {
		t.Fatalf("after the rename: %+v", after)
	}
	t.Logf("msDS-AdditionalSamAccountName after adding %s: %q", alt, after.AdditionalSAM)
	if _, err := s.ReadNames(ctx, old+"$"); err == nil {
		t.Fatal("the old sAMAccountName still finds the account")
	}
	// Permissive: adding what is there and removing what is not are no
	// errors.
	if err := s.ChangeNames(ctx, acct.DN, joinlogic.NameChange{AddDNS: []string{alt}, RemoveDNS: []string{"absent." + dc.DNSDomain}}); err != nil {
		t.Fatalf("permissive modify: %v", err)
	}
	// The keys were derived again under the new name: a keytab of the new
	// password and principals gets tickets, for the alternate name too.
	kvno, err := s.KeyVersionNumber(ctx, acct.DN)
	if err != nil {
		t.Fatal(err)
	}
	kt := filepath.Join(t.TempDir(), "krb5.keytab")
	if err := keytab.Write(kt, keytab.Entries{ComputerName: nw, DNSHostName: newFQDN, Realm: dc.Realm, Password: newPW, KVNO: kvno, Aliases: []string{alt, altNB}}); err != nil {
		t.Fatal(err)
	}
	if out, err := dc.KinitServices(ctx, kt, nw+"$@"+dc.Realm, "host/"+newFQDN, "host/"+alt); err != nil {
		t.Fatalf("kinit as the renamed account: %v\n%s", err, out)
	}
	if _, err := dc.Kinit(ctx, kt, old+"$@"+dc.Realm); err == nil {
		t.Error("the old principal still gets tickets")
	}

	// The object's relative name: first as the machine account itself
	// (what recovery can do), else as the administrator.
	ms, err := d.Bind(ctx, info, joinlogic.Credentials{Account: joinlogic.Account{User: nw + "$", Domain: dc.Domain}, Password: newPW})
	if err != nil {
		t.Fatalf("bind as the renamed machine account: %v", err)
	}
	defer ms.Close()
	newDN, err := ms.(joinlogic.NameWriter).RenameObject(ctx, acct.DN, nw)
	t.Logf("the machine account renaming its own object: %v", err)
	if err != nil {
		if newDN, err = s.RenameObject(ctx, acct.DN, nw); err != nil {
			t.Fatalf("RenameObject: %v", err)
		}
	}
	if !strings.EqualFold(newDN, "CN="+nw+","+cc) {
		t.Fatalf("new DN %s", newDN)
	}
	if got, err := s.ReadNames(ctx, nw+"$"); err != nil || !strings.EqualFold(got.DN, newDN) {
		t.Fatalf("after RenameObject: %+v %v", got, err)
	}
	// The display name of the renamed account (MS-WKST 3.2.4.29.5), set
	// by the administrator's session; a second call finds it set.
	displayName := func() string {
		res, err := s.search(ctx, ldap.NewSearchRequest(newDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"displayName"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("reading displayName: %v", err)
		}
		return res.Entries[0].GetAttributeValue("displayName")
	}
	for range 2 {
		if err := s.SetDisplayName(ctx, newDN, nw+"$"); err != nil {
			t.Fatalf("SetDisplayName: %v", err)
		}
		if got := displayName(); got != nw+"$" {
			t.Fatalf("displayName %q, want %s$", got, nw)
		}
	}

	// Back: the revert of the change, then of the relative name.
	back, err := s.RenameObject(ctx, newDN, old)
	if err != nil {
		t.Fatal(err)
	}
	rev := joinlogic.NameChange{SAMAccountName: old + "$", DNSHostName: oldFQDN, Password: pw, SPNs: before.SPNs,
		RemoveDNS: []string{alt}}
	if err := s.ChangeNames(ctx, back, rev); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadNames(ctx, old+"$")
	if err != nil || got.DNSHostName != oldFQDN || len(got.AdditionalDNS) != 0 || !strings.EqualFold(got.DN, acct.DN) {
		t.Fatalf("after the revert: %+v %v", got, err)
	}
	if err := s.VerifyMachinePassword(ctx, old+"$", pw); err != nil {
		t.Fatalf("the old password after the revert: %v", err)
	}
	k2, _ := s.KeyVersionNumber(ctx, acct.DN)
	t.Logf("key versions: %d after the rename, %d after the revert", kvno, k2)
}
