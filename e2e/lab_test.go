package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// labFlags returns the command line docker-compose.yml gives wkssvcd.
func labFlags(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	in, cmd := false, false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case regexp.MustCompile(`^  [a-z]+:$`).MatchString(l):
			in, cmd = l == "  wkssvcd:", false
		case in && strings.TrimSpace(l) == "command:":
			cmd = true
		case in && cmd && strings.HasPrefix(strings.TrimSpace(l), "- --"):
			flags = append(flags, strings.TrimPrefix(strings.TrimSpace(l), "- "))
		case in && cmd && !strings.HasPrefix(strings.TrimSpace(l), "#") && strings.TrimSpace(l) != "":
			cmd = false
		}
	}
	if len(flags) == 0 {
		t.Fatal("no wkssvcd command line in docker-compose.yml")
	}
	return flags
}

// The lab of docker-compose.yml joins a DC as it comes with the default
// transport: its wkssvcd command line names no CA, and run here — its
// addresses replaced by the test's (the DC's DNS server, the daemon's
// address, a state directory of the test) and nothing else changed — it
// joins the test DC. The DC's entry point passes `sh -n`.
func TestDockerLabJoins(t *testing.T) {
	dc := testdc.Start(t, testdc.Options{})
	if out, err := exec.Command("sh", "-n", "../deploy/samba-dc.sh").CombinedOutput(); err != nil {
		t.Fatalf("deploy/samba-dc.sh: %v\n%s", err, out)
	}
	raw, _ := os.ReadFile("../docker-compose.yml")
	for _, s := range []string{"ldap-ca", "ca.pem", "tls"} {
		if strings.Contains(string(raw), s) {
			t.Errorf("docker-compose.yml still mentions %q", s)
		}
	}
	state := t.TempDir()
	var args []string
	for _, f := range labFlags(t) {
		name, _, _ := strings.Cut(f, "=")
		switch name {
		case "--listen":
			f = "--listen=" + daemonAddr + ":445"
		case "--dns-server":
			f = "--dns-server=" + dc.Addr
		case "--state-dir":
			f = "--state-dir=" + state
		case "--keytab":
			f = "--keytab=" + filepath.Join(state, "krb5.keytab")
		}
		args = append(args, f)
	}
	t.Logf("the lab's wkssvcd, here: %v", args)
	d := startDaemon(t, append(args, "--state-dir", state)...)
	if code := join3(t, d, adminUser, adminPass, testdc.DNSDomain, "", adminAccount(), dc.AdminPassword, optJoinDomain|optAcctCreate); code != 0 {
		t.Fatalf("join: %#x\n%s", code, d.Output())
	}
	checkJoined(t, dc, d, "WKHOST", computersDN("WKHOST"))
	unjoin3(t, dc, d, "WKHOST")
}
