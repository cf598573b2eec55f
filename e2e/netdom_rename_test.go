package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// TestRenameSambaNetDom is the flow of `netdom join` then `netdom
// renamecomputer` with Samba's own client: `net dom join` (NetrJoinDomain2)
// then `net dom renamecomputer` (libnetapi's NetRenameMachineInDomain:
// NetrRenameMachineInDomain2 with NETSETUP_ACCT_CREATE and an RC4
// password blob), then `net dom unjoin`. After the rename the directory
// holds the account under the new name only — its sAMAccountName,
// dNSHostName, relative name and SPNs — the keytab gets tickets for the
// new names, and the daemon answers to the new name.
func TestRenameSambaNetDom(t *testing.T) {
	const old, renamed = "WKNDREN", "WKNDREN2"
	dc := testdc.Start(t, testdc.Options{})
	for _, n := range []string{old, renamed} {
		deleteComputer(t, dc, n)
		t.Cleanup(func() { deleteComputer(t, dc, n) })
	}
	remoteAddr := testnet.Remote() // see testNetDomJoin
	d := domainDaemon(t, dc, old, "--listen", remoteAddr+":445")
	net := netDom(t, dc, remoteAddr)
	fqdn := func(n string) string { return strings.ToLower(n) + "." + testdc.DNSDomain }

	if out, err := net("join", "domain="+testdc.DNSDomain, "account="+adminAccount(), "password="+dc.AdminPassword); err != nil {
		t.Fatalf("net dom join: %v\n%s\n%s", err, out, d.Output())
	}
	checkJoined(t, dc, d, old, computersDN(old))

	out, err := net("renamecomputer", "newname="+renamed, "account="+adminAccount(), "password="+dc.AdminPassword)
	if err != nil {
		t.Fatalf("net dom renamecomputer: %v\n%s\n%s", err, out, d.Output())
	}
	if !strings.Contains(d.Output(), "joinlogic: rename") || !strings.Contains(d.Output(), "method=2") {
		t.Errorf("the daemon did not log a NetrRenameMachineInDomain2:\n%s", d.Output())
	}
	if namesOf(t, dc, old) != nil {
		t.Errorf("%s$ still exists after the rename", old)
	}
	o := namesOf(t, dc, renamed)
	if o == nil {
		t.Fatalf("no %s$ after net dom renamecomputer\n%s", renamed, d.Output())
	}
	if !strings.EqualFold(o.DN, computersDN(renamed)) || !strings.EqualFold(o.DNSHostName, fqdn(renamed)) {
		t.Errorf("after the rename: DN %s, dNSHostName %s", o.DN, o.DNSHostName)
	}
	wantSPNs(t, o.SPNs, []string{fqdn(renamed), renamed}, []string{fqdn(old), old})
	// "Update Display Name" (3.2.4.29.5): displayName is the new
	// account name.
	res, err := ldapConn(t, dc).Search(ldap.NewSearchRequest(o.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"displayName"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("displayName") != renamed+"$" {
		t.Errorf("displayName of %s: %v %v, want %s$", o.DN, res, err, renamed)
	}
	keytabWorks(t, dc, d, renamed, fqdn(renamed))
	wantKeytab(t, filepath.Join(d.stateDir, "krb5.keytab"), []string{fqdn(renamed), renamed}, []string{fqdn(old), old})
	if got := computerName(t, d); got != renamed {
		t.Errorf("GetInfo 100 computer name %q, want %q", got, renamed)
	}

	// The renamed member leaves the domain with the same client.
	if out, err := net("unjoin", "account="+adminAccount(), "password="+dc.AdminPassword); err != nil {
		t.Fatalf("net dom unjoin: %v\n%s\n%s", err, out, d.Output())
	}
	if _, status := joinInfo(t, d); status == wkssvc.NetSetupJoinStatusDomainName {
		t.Error("still a domain member after net dom unjoin")
	}
}
