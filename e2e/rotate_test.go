package e2e

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/oiweiwei/gokrb5.fork/v9/keytab"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// wkssvcdCmd runs a wkssvcd subcommand on the member's state, with the
// settings the daemon has.
func (m *member) wkssvcdCmd(sub string) *exec.Cmd {
	return exec.Command(filepath.Join(binDir, "wkssvcd"), sub, "--state-dir", m.d.stateDir,
		"--keytab", filepath.Join(m.d.stateDir, "krb5.keytab"), "--netbios-name", m.name,
		"--dns-hostname", m.fqdn, "--dns-server", m.dc.Addr, "--log-level", "info")
}

func (m *member) wkssvcd(t *testing.T, sub string) (string, error) {
	t.Helper()
	cmd := m.wkssvcdCmd(sub)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("wkssvcd %s hung", sub)
	}
	return string(out), err
}

// accountAttrs reads pwdLastSet and msDS-KeyVersionNumber of NAME$.
func accountAttrs(t *testing.T, dc *testdc.DC, name string) (pwdLastSet int64, kvno int) {
	t.Helper()
	res, err := ldapConn(t, dc).Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(name+"$")+")", []string{"pwdLastSet", "msDS-KeyVersionNumber"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("reading %s$: %v", name, err)
	}
	p, _ := strconv.ParseInt(res.Entries[0].GetAttributeValue("pwdLastSet"), 10, 64)
	k, _ := strconv.Atoi(res.Entries[0].GetAttributeValue("msDS-KeyVersionNumber"))
	return p, k
}

// keytabVersions lists the key versions of NAME$ in the member's keytab.
func (m *member) keytabVersions(t *testing.T) map[int]bool {
	t.Helper()
	kt, err := keytab.Load(filepath.Join(m.d.stateDir, "krb5.keytab"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]bool{}
	for _, e := range kt.Entries {
		if len(e.Principal.Components) == 1 && strings.EqualFold(e.Principal.Components[0], m.name+"$") {
			out[int(e.KVNO)] = true
		}
	}
	return out
}

// TestRotatePassword: `wkssvcd rotate-password` beside a running daemon
// changes the machine password at the DC (pwdLastSet and the key version
// move), the keytab gains the new keys and keeps the previous ones,
// kinit -k works with the new keys, a service ticket issued before the
// change still logs on, new tickets and NTLM pass-through work, and
// `wkssvcd testjoin` says the join is OK.
func TestRotatePassword(t *testing.T) {
	m := joinedMember(t, "WKROT")
	const user, pass = "krot1", "Krot1.Pa55word"
	domainUser(t, m.dc, user, pass, "Domain Admins")
	oldEnv := kinit(t, m.dc, user, pass)
	m.serviceTickets(t, oldEnv) // cifs/ and host/ tickets at the current key version
	pwd0, kvno0 := accountAttrs(t, m.dc, m.name)

	out, err := m.wkssvcd(t, "rotate-password")
	if err != nil || !strings.Contains(out, "machine password of "+m.name+"$ changed") {
		t.Fatalf("rotate-password: %v\n%s\n%s", err, out, m.d.Output())
	}
	pwd1, kvno1 := accountAttrs(t, m.dc, m.name)
	if pwd1 <= pwd0 || kvno1 != kvno0+1 {
		t.Fatalf("pwdLastSet %d -> %d, key version %d -> %d: the DC's password did not change", pwd0, pwd1, kvno0, kvno1)
	}
	if v := m.keytabVersions(t); !v[kvno0] || !v[kvno1] {
		t.Fatalf("keytab key versions %v, want %d and %d", v, kvno0, kvno1)
	}
	if out, err := m.dc.Kinit(t.Context(), filepath.Join(m.d.stateDir, "krb5.keytab"), m.name+"$@"+testdc.Realm); err != nil {
		t.Fatalf("kinit -k after the change: %v\n%s", err, out)
	}
	// The ticket issued before the change (key version kvno0) still logs
	// on to the running daemon, which picked the new keytab up.
	if out, err := m.rpcclientKerberos(t, oldEnv, "wkssvc_wkstagetinfo"); err != nil {
		t.Fatalf("rpcclient -k with a ticket of the previous key version: %v\n%s\n%s", err, out, m.d.Output())
	}
	waitLog(t, m.d, "kvno="+strconv.Itoa(kvno0))
	newEnv := kinit(t, m.dc, user, pass)
	if out, err := m.rpcclientKerberos(t, newEnv, "wkssvc_wkstagetinfo"); err != nil {
		t.Fatalf("rpcclient -k with a new ticket: %v\n%s", err, out)
	}
	waitLog(t, m.d, "kvno="+strconv.Itoa(kvno1))
	// NTLM pass-through: the daemon's secure channel follows the new
	// password.
	c, err := dialDomainNTLM(t, m.d.host(), testdc.Domain, user, pass)
	if err != nil {
		t.Fatalf("NTLM pass-through after the change: %v\n%s", err, m.d.Output())
	}
	if code := getInfoCode(t, c, 102); code != 0 {
		t.Fatalf("GetInfo 102 as a Domain Admin after the change: %#x", code)
	}
	if out, err := m.wkssvcd(t, "testjoin"); err != nil || !strings.Contains(out, "Join to '"+testdc.Domain+"' is OK") ||
		!strings.Contains(out, "key version "+strconv.Itoa(kvno1)) {
		t.Fatalf("testjoin after the change: %v\n%s", err, out)
	}
}

// TestRotatePasswordKill9: a rotation killed at any moment leaves a
// working secret — testjoin (which settles what the crash left) says the
// join is OK each time, and the keytab's newest keys are the version the
// DC holds. The kills come at each step of the rotation, found by the
// line the rotation logs as it reaches it (the intent is journaled, the
// secure channel is up and the change is about to be sent, the DC took
// the change, the local state is written), then at random moments; runs
// without a kill follow each other within a second, as the first one
// does the join.
func TestRotatePasswordKill9(t *testing.T) {
	m := joinedMember(t, "WKR9")
	m.d.stop(t)
	steps := []string{
		"", // no kill, right after the join
		"joinlogic: changing the machine password",
		"netlogon: secure channel established",
		"netlogon: machine password changed",
		"joinlogic: recovery: completed",
		"", // no kill, within a second of the last change
	}
	rng := faultRand(t)
	for i := 0; i < faultRuns(5); i++ {
		steps = append(steps, "after "+strconv.Itoa(rng.IntN(700))+"ms")
	}
	for i, step := range steps {
		what, out := m.rotateKilled(t, step)
		tj, err := m.wkssvcd(t, "testjoin")
		if err != nil || !strings.Contains(tj, "is OK") {
			t.Fatalf("run %d (%s): testjoin: %v\n%s\nrotate-password said:\n%s", i, what, err, tj, out)
		}
		_, kvno := accountAttrs(t, m.dc, m.name)
		if v := m.keytabVersions(t); !v[kvno] || v[kvno+1] {
			t.Fatalf("run %d (%s): the DC's key version is %d, the keytab holds %v\n%s", i, what, kvno, v, tj)
		}
		if !strings.Contains(tj, "key version "+strconv.Itoa(kvno)+")") {
			t.Fatalf("run %d (%s): testjoin did not log on with key version %d:\n%s", i, what, kvno, tj)
		}
		t.Logf("run %d (%s): key version %d, testjoin OK", i, what, kvno)
	}
	// And nothing is left pending: a rotation runs to the end.
	if out, err := m.wkssvcd(t, "rotate-password"); err != nil {
		t.Fatalf("rotate-password after the crashes: %v\n%s", err, out)
	}
}

// rotateKilled runs wkssvcd rotate-password and kills it (SIGKILL) when
// its log shows the line at, or "after Nms", or never when at is "". It
// returns what happened and the command's output.
func (m *member) rotateKilled(t *testing.T, at string) (string, string) {
	t.Helper()
	cmd := m.wkssvcdCmd("rotate-password")
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); w.Close() }()
	var out strings.Builder
	seen := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(r)
		once := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if !once && at != "" && strings.Contains(sc.Text(), at) {
				once = true
				cmd.Process.Kill()
				close(seen)
			}
		}
		io.Copy(io.Discard, r)
	}()
	what := "not killed"
	if d, ok := strings.CutPrefix(at, "after "); ok {
		delay, _ := time.ParseDuration(d)
		time.Sleep(delay)
		cmd.Process.Kill()
		what = "killed " + d + " after the start"
	} else if at != "" {
		select {
		case <-seen:
			what = "killed at " + strconv.Quote(at)
		case <-exited:
			<-scanned
			// The line may be the last one the command logs before it
			// exits: the command then ended as the kill was sent, and
			// both channels were ready.
			select {
			case <-seen:
				what = "killed at " + strconv.Quote(at) + ", or ended right after it"
			default:
				t.Fatalf("rotate-password ended before logging %q:\n%s", at, out.String())
			}
		case <-time.After(3 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("rotate-password did not log %q", at)
		}
	}
	<-scanned
	return what, out.String()
}

// TestRotationRetriesWhileDCIsDown: the daemon changes its password once
// it is --machine-password-max-age old; with the DC down it fails, says
// so and tries again until the DC is back.
func TestRotationRetriesWhileDCIsDown(t *testing.T) {
	m := joinedMember(t, "WKRDN", "--machine-password-max-age", "4s", "--machine-password-retry", "1s")
	pwd0, _ := accountAttrs(t, m.dc, m.name)
	m.dc.Stop(t)
	waitLogFor(t, m.d, "machine password change failed; retrying later", 30*time.Second)
	before := strings.Count(m.d.Output(), "machine password change failed")
	time.Sleep(3 * time.Second)
	if strings.Count(m.d.Output(), "machine password change failed") <= before {
		t.Fatalf("no retry while the DC is down:\n%s", m.d.Output())
	}
	mark := len(m.d.Output())
	m.dc.Start(t)
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(m.d.Output()[mark:], "joinlogic: machine password changed") {
		if time.Now().After(deadline) {
			t.Fatalf("the password was not changed once the DC was back:\n%s", m.d.Output()[mark:])
		}
		time.Sleep(500 * time.Millisecond)
	}
	m.d.stop(t)
	if pwd1, _ := accountAttrs(t, m.dc, m.name); pwd1 <= pwd0 {
		t.Fatalf("pwdLastSet did not move: %d -> %d", pwd0, pwd1)
	}
	if out, err := m.wkssvcd(t, "testjoin"); err != nil || !strings.Contains(out, "is OK") {
		t.Fatalf("testjoin: %v\n%s", err, out)
	}
}

// waitLogFor waits up to d for a line of the daemon's log.
func waitLogFor(t *testing.T, dm *daemon, sub string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(dm.Output(), sub) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say %q:\n%s", sub, dm.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
