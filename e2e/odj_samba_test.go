package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
)

// sambaMember is a sandbox in which Samba's net runs as the member
// computer NAME of the test domain: its own smb.conf (netbios name NAME,
// security ads, private state, lock, cache and pid directories, no keytab
// settings: Samba 4.17's requestodj crashes when keytab generation is
// configured) and, in a private mount namespace, a resolv.conf naming the
// test DC, a hosts file with the DC's name, and empty /run/samba,
// /var/lib/samba and /var/cache/samba, so that nothing of this host's (or
// the DC's) Samba state is read or written.
type sambaMember struct {
	dir, conf, name string
	dc              *testdc.DC
}

func newSambaMember(t *testing.T, dc *testdc.DC, name string) *sambaMember {
	t.Helper()
	lookPath(t, "net")
	lookPath(t, "unshare")
	dir := t.TempDir()
	s := &sambaMember{dir: dir, conf: filepath.Join(dir, "smb.conf"), name: name, dc: dc}
	for _, d := range []string{"lock", "state", "cache", "private", "pid", "ncalrpc", "run", "lib", "vcache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`[global]
	workgroup = %s
	realm = %s
	security = ads
	netbios name = %s
	lock directory = %s/lock
	state directory = %s/state
	cache directory = %s/cache
	private dir = %s/private
	pid directory = %s/pid
	ncalrpc dir = %s/ncalrpc
	log file = %s/log.%%m
	disable netbios = yes
`, testdc.Domain, testdc.Realm, name, dir, dir, dir, dir, dir, dir, dir)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("smb.conf", conf)
	write("resolv.conf", "nameserver "+dc.Addr+"\nsearch "+testdc.DNSDomain+"\n")
	write("hosts", "127.0.0.1 localhost\n"+dc.Addr+" "+testdc.HostFQDN+" "+testdc.HostName+"\n")
	return s
}

// net runs net -s smb.conf with args in the sandbox and returns its output.
func (s *sambaMember) net(t *testing.T, args ...string) (string, error) {
	t.Helper()
	script := `set -e
mount --bind "$1/resolv.conf" /etc/resolv.conf
mount --bind "$1/hosts" /etc/hosts
mount --bind "$1/run" /run/samba
mount --bind "$1/lib" /var/lib/samba
mount --bind "$1/vcache" /var/cache/samba
d=$1; shift
exec net -s "$d/smb.conf" "$@"`
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", s.dir}, args...)...)
	cmd.Env = append(os.Environ(), "LANG=C", "KRB5_CONFIG="+s.dc.Krb5Conf)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// machinePassword reads the machine password Samba stored for the domain
// (secrets.tdb, SECRETS/MACHINE_PASSWORD/DOMAIN), "" when there is none.
func (s *sambaMember) machinePassword(t *testing.T) string {
	t.Helper()
	lookPath(t, "tdbdump")
	out, err := exec.Command("tdbdump", "-k", "SECRETS/MACHINE_PASSWORD/"+testdc.Domain, filepath.Join(s.dir, "private", "secrets.tdb")).CombinedOutput()
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(unescapeTDB(strings.TrimRight(string(out), "\n")), "\x00")
}

// unescapeTDB undoes tdbdump's escaping of bytes as \XX.
func unescapeTDB(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+2 < len(s)+0 && i+2 <= len(s)-1 {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

// testjoin runs net rpc testjoin against the DC: the authoritative check
// that the stored machine password is the account's (a Netlogon secure
// channel).
func (s *sambaMember) testjoin(t *testing.T) (string, bool) {
	t.Helper()
	out, err := s.net(t, "rpc", "testjoin", "-S", testdc.HostFQDN)
	return out, err == nil && strings.Contains(out, "Join to '"+testdc.Domain+"' is OK")
}

// Ours → Samba: a file wkst provision wrote is applied by Samba's net
// offlinejoin requestodj; the password Samba stores is ours, and the
// secure channel to the DC works with it.
func TestOfflineJoinOursToSamba(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	const name = "ODJTOSAMBA"
	f := mustProvision(t, dc, name)
	j := readJoin(t, f)
	ours, _ := j.Win7.MachinePassword.Text()

	s := newSambaMember(t, dc, name)
	out, err := s.net(t, "offlinejoin", "requestodj", "loadfile="+f)
	if err != nil {
		t.Fatalf("net offlinejoin requestodj: %v\n%s", err, out)
	}
	// Samba 4.17 prints success even when it wrote nothing: the state
	// decides.
	if got := s.machinePassword(t); got != ours {
		t.Fatalf("Samba stored a password of %d characters, not ours (%d)\n%s", len(got), len(ours), out)
	}
	if out, ok := s.testjoin(t); !ok {
		t.Fatalf("net rpc testjoin after applying our file:\n%s", out)
	}
}

// Samba → ours: a file Samba's net offlinejoin provision wrote is applied
// by wkssvcd requestodj: kinit -k with the keytab works against the DC,
// the daemon then reports the domain, and an unjoin with ACCT_DELETE
// disables the account.
func TestOfflineJoinSambaToOurs(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	const name = "ODJFROMSAMBA"
	t.Cleanup(func() { deleteComputer(t, dc, name) })
	prov := newSambaMember(t, dc, "PROVISIONER")
	f := filepath.Join(t.TempDir(), "samba.txt")
	out, err := prov.net(t, "offlinejoin", "provision", "domain="+testdc.DNSDomain, "machine_name="+name,
		"dcname="+testdc.HostFQDN, "savefile="+f, "-U", testdc.AdminUser+"%"+dc.AdminPassword)
	if err != nil {
		t.Fatalf("net offlinejoin provision: %v\n%s", err, out)
	}
	if computer(t, dc, name) == nil {
		t.Fatalf("Samba created no account:\n%s", out)
	}
	t.Logf("Samba's account has key version %d", keyVersion(t, dc, name))

	state := t.TempDir()
	out, err = requestODJ(t, state, name, "--loadfile", f)
	if err != nil {
		t.Fatalf("wkssvcd requestodj: %v\n%s", err, out)
	}
	if !strings.Contains(out, "joined "+testdc.Domain) {
		t.Fatalf("requestodj said:\n%s", out)
	}
	keytab := filepath.Join(state, "krb5.keytab")
	// kinit -k, then a service ticket for the host that the keytab
	// decrypts: the keys and their version are the account's.
	if out, err := dc.KinitServices(context.Background(), keytab, name+"$@"+testdc.Realm,
		"host/"+strings.ToLower(name)+"."+testdc.DNSDomain+"@"+testdc.Realm); err != nil {
		t.Fatalf("kinit -k and kvno -k with the keytab requestodj wrote: %v\n%s", err, out)
	}
	d := startDaemon(t, "--state-dir", state, "--netbios-name", name, "--dns-hostname", strings.ToLower(name)+"."+testdc.DNSDomain,
		"--dns-server", dc.Addr, "--ldap-ca", dc.CAFile)
	checkMember(t, d)
	if _, err := os.Stat(filepath.Join(state, "offline-join", "applies")); err != nil {
		t.Fatalf("the offline join's files before the unjoin: %v", err)
	}
	unjoin3(t, dc, d, name)
	assertODJFilesRemoved(t, d, state)
}

// requestODJ runs wkssvcd requestodj on the state directory state as the
// computer name.
func requestODJ(t *testing.T, state, name string, args ...string) (string, error) {
	t.Helper()
	// --keytab: as root the default is the host's /etc/krb5.keytab.
	all := append([]string{"requestodj", "--state-dir", state, "--keytab", filepath.Join(state, "krb5.keytab"), "--netbios-name", name,
		"--dns-hostname", strings.ToLower(name) + "." + testdc.DNSDomain}, args...)
	return run(t, time.Minute, filepath.Join(binDir, "wkssvcd"), all...)
}

// Provisioning and applying, ours and Samba's, alternated in one run
// against the same DC: the medians are printed (no claim is asserted; the
// machine is shared and noisy).
func TestOfflineJoinTimesAgainstSamba(t *testing.T) {
	requireE2E(t)
	dc := testdc.Start(t, testdc.Options{})
	const rounds = 5
	prov := newSambaMember(t, dc, "PROVISIONER")
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(dc.AdminPassword), 0o600)
	var ours, samba, applyOurs, applySamba []time.Duration
	for i := 0; i < rounds; i++ {
		on, sn := fmt.Sprintf("ODJTIMEW%d", i), fmt.Sprintf("ODJTIMES%d", i)
		t.Cleanup(func() { deleteComputer(t, dc, on); deleteComputer(t, dc, sn) })
		of, sf := filepath.Join(t.TempDir(), on+".txt"), filepath.Join(t.TempDir(), sn+".txt")
		start := time.Now()
		if out, err := wkstProvision(t, dc, "--machine", on, "--savefile", of); err != nil {
			t.Fatalf("wkst provision: %v\n%s", err, out)
		}
		ours = append(ours, time.Since(start))
		start = time.Now()
		if out, err := prov.net(t, "offlinejoin", "provision", "domain="+testdc.DNSDomain, "machine_name="+sn,
			"dcname="+testdc.HostFQDN, "savefile="+sf, "-U", testdc.AdminUser+"%"+dc.AdminPassword); err != nil {
			t.Fatalf("net offlinejoin provision: %v\n%s", err, out)
		}
		samba = append(samba, time.Since(start))
		start = time.Now()
		if out, err := requestODJ(t, t.TempDir(), on, "--loadfile", of); err != nil {
			t.Fatalf("requestodj: %v\n%s", err, out)
		}
		applyOurs = append(applyOurs, time.Since(start))
		m := newSambaMember(t, dc, sn)
		start = time.Now()
		if out, err := m.net(t, "offlinejoin", "requestodj", "loadfile="+sf); err != nil {
			t.Fatalf("net offlinejoin requestodj: %v\n%s", err, out)
		}
		applySamba = append(applySamba, time.Since(start))
	}
	med := func(d []time.Duration) time.Duration {
		s := append([]time.Duration(nil), d...)
		slices.Sort(s)
		return s[len(s)/2]
	}
	t.Logf("provision, median of %d: wkst provision %v, net offlinejoin provision %v (ratio %.2f)", rounds,
		med(ours).Round(time.Millisecond), med(samba).Round(time.Millisecond), float64(med(ours))/float64(med(samba)))
	t.Logf("apply, median of %d: wkssvcd requestodj %v, net offlinejoin requestodj %v (ratio %.2f)", rounds,
		med(applyOurs).Round(time.Millisecond), med(applySamba).Round(time.Millisecond), float64(med(applyOurs))/float64(med(applySamba)))
}
