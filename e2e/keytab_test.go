package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// keytabEntries lists "principal kvno" of a keytab, read with klist -k.
func keytabEntries(t *testing.T, path string) map[string]bool {
	t.Helper()
	out, err := exec.Command(lookPath(t, "klist"), "-k", path).CombinedOutput()
	if err != nil {
		t.Fatalf("klist -k %s: %v\n%s", path, err, out)
	}
	got := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\d+)\s+(\S+)\s*$`).FindAllStringSubmatch(string(out), -1) {
		got[m[2]+" "+m[1]] = true
	}
	return got
}

// machineKVNOs are the key versions of NAME$ in the keytab.
func machineKVNOs(entries map[string]bool, name string) []int {
	var out []int
	for e := range entries {
		p, v, _ := strings.Cut(e, " ")
		if p == name+"$@"+testdc.Realm {
			n, _ := strconv.Atoi(v)
			out = append(out, n)
		}
	}
	return out
}

// A keytab that holds other services' keys (made with ktutil) keeps them
// through a join, a re-join — which keeps the previous key version too, so
// that a ticket issued before the password change still decrypts — and an
// unjoin, which takes out only the machine account's keys.
func TestKeytabKeepsOtherKeys(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	const name = "WKKT"
	fqdn := strings.ToLower(name) + "." + testdc.DNSDomain
	kt := filepath.Join(t.TempDir(), "krb5.keytab")
	script := ""
	for _, p := range []string{"nfs/" + fqdn, "HTTP/" + fqdn} {
		script += "addent -password -p " + p + "@" + testdc.Realm + " -k 3 -e aes256-cts-hmac-sha1-96\nservice-pass\n"
	}
	script += "wkt " + kt + "\nquit\n"
	cmd := exec.Command(lookPath(t, "ktutil"))
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ktutil: %v\n%s", err, out)
	}
	foreign := []string{"nfs/" + fqdn + "@" + testdc.Realm + " 3", "HTTP/" + fqdn + "@" + testdc.Realm + " 3"}
	keepsForeign := func(step string, got map[string]bool) {
		t.Helper()
		for _, f := range foreign {
			if !got[f] {
				t.Errorf("%s: %s is gone from the keytab: %v", step, f, got)
			}
		}
	}

	d := domainDaemon(t, dc, name, "--keytab", kt)
	if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate); code != 0 {
		t.Fatalf("join: %#x\n%s", code, d.Output())
	}
	got := keytabEntries(t, kt)
	keepsForeign("join", got)
	first := machineKVNOs(got, name)
	if len(first) != 1 {
		t.Fatalf("after the join, %s$ has key versions %v", name, first)
	}
	// A service ticket issued now, at the first key version, cached.
	ctx := context.Background()
	ccache := filepath.Join(t.TempDir(), "cc")
	if out, err := dc.Krb(ctx, ccache, "kinit", "-k", "-t", kt, name+"$@"+testdc.Realm); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := dc.Krb(ctx, ccache, "kvno", "-k", kt, "host/"+fqdn); err != nil || !strings.Contains(out, "kvno = "+strconv.Itoa(first[0])) {
		t.Fatalf("kvno before the re-join: %v\n%s", err, out)
	}

	// Re-join: a new password, a new key version; the previous one stays.
	if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate|optDomainIfJoin); code != 0 {
		t.Fatalf("re-join: %#x\n%s", code, d.Output())
	}
	got = keytabEntries(t, kt)
	keepsForeign("re-join", got)
	both := machineKVNOs(got, name)
	if len(both) != 2 || !got[name+"$@"+testdc.Realm+" "+strconv.Itoa(first[0])] {
		t.Fatalf("after the re-join, %s$ has key versions %v (was %v)", name, both, first)
	}
	// The ticket issued before the change still decrypts with the
	// keytab; a fresh one (the new version) too.
	if out, err := dc.Krb(ctx, ccache, "kvno", "-k", kt, "host/"+fqdn); err != nil || !strings.Contains(out, "kvno = "+strconv.Itoa(first[0])) {
		t.Errorf("the ticket of before the re-join: %v\n%s", err, out)
	}
	if out, err := dc.KinitServices(ctx, kt, name+"$@"+testdc.Realm, "host/"+fqdn); err != nil {
		t.Errorf("a ticket after the re-join: %v\n%s", err, out)
	}

	// Unjoin: only the machine account's keys go.
	unjoin3(t, dc, d, name)
	got = keytabEntries(t, kt)
	keepsForeign("unjoin", got)
	if v := machineKVNOs(got, name); len(v) != 0 || len(got) != len(foreign) {
		t.Fatalf("after the unjoin the keytab holds %v", got)
	}
}
