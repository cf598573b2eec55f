package ldapdir

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// JoinableOUs against the test DC: the OUs in which the bound account may
// create computer objects (allowedChildClassesEffective holds
// "computer"), as the controller computes it for that account.
func TestJoinableOUs(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	ou := "OU=" + randName(t, "OUS") + "," + testdc.BaseDN
	dc.CreateOU(t, ou)
	d := newDir(t, dc)
	info := locate(t, d, joinlogic.LocateRequest{Domain: testdc.DNSDomain, Writable: true})
	has := func(ous []string, dn string) bool {
		return slices.ContainsFunc(ous, func(o string) bool { return strings.EqualFold(o, dn) })
	}
	sess, err := d.Bind(context.Background(), info, admin(dc))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ous, err := sess.(joinlogic.OUSearcher).JoinableOUs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !has(ous, ou) || !has(ous, "OU=Domain Controllers,"+testdc.BaseDN) {
		t.Fatalf("administrator: %v, want %s and the Domain Controllers OU", ous, ou)
	}
	// A plain user may create no computer object anywhere (Samba applies
	// no machine account quota to LDAP adds): no OU is joinable for it.
	name := strings.ToLower(randName(t, "u"))
	dc.CreateUser(t, name, "Plain-Us3r-Pass")
	us, err := d.Bind(context.Background(), info, joinlogic.Credentials{Account: joinlogic.Account{User: name}, Password: "Plain-Us3r-Pass"})
	if err != nil {
		t.Fatal(err)
	}
	defer us.Close()
	ous, err = us.(joinlogic.OUSearcher).JoinableOUs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if has(ous, ou) {
		t.Fatalf("plain user: %v includes %s", ous, ou)
	}
}
