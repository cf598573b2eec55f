package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/testenv"
)

// systemdBin is the service manager that boots as PID 1.
const systemdBin = "/lib/systemd/systemd"

// bootScript runs as PID 1 of fresh PID, mount, network, UTS and IPC
// namespaces and turns into systemd. The host's unit directories are
// hidden (no host service is started), /run and /var/lib are private
// tmpfs (StateDirectory= lands there, not on the host), /etc is the host's
// overlaid with the test's passwd, group and /etc/wkssvcd, and
// /usr/local/sbin is the tree scripts/install wrote. The unit is the
// installed file, unchanged; the targets it names are empty.
const bootScript = `set -e
root=$1 ov=$2
mount --make-rprivate /
mount -t proc proc /proc
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
mount -t overlay overlay -o "lowerdir=$ov/etc:/etc" /etc
mkdir -p /run/systemd/system /run/wkssvcd-test/empty
mount --bind /run/wkssvcd-test/empty /lib/systemd/system
mount --bind /run/wkssvcd-test/empty /etc/systemd/system
mount --bind "$root/usr/local/sbin" /usr/local/sbin
cp "$root/usr/local/lib/systemd/system/wkssvcd.service" /run/systemd/system/
for t in wkssvcd-test sysinit basic network-online multi-user shutdown; do
	printf '[Unit]\nDescription=%s\n' "$t" >"/run/systemd/system/$t.target"
done
ip link set lo up
export container=wkssvcd-test
exec ` + systemdBin + ` --system --unit=wkssvcd-test.target
`

// bootedSystemd is a systemd running as PID 1 of its own namespaces.
type bootedSystemd struct {
	pid int // on the host
}

// run runs a command inside the namespaces of the booted systemd.
func (s *bootedSystemd) run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(s.pid), "-m", "-p", "-n"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// freeID returns a uid and gid number unused in the host's passwd and
// group files.
func freeID(t *testing.T) int {
	t.Helper()
	used := map[string]bool{}
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if p := strings.Split(l, ":"); len(p) > 2 {
				used[p[2]] = true
			}
		}
	}
	for id := 61000; id < 62000; id++ {
		if !used[strconv.Itoa(id)] {
			return id
		}
	}
	t.Fatal("no free uid")
	return 0
}

// bootSystemd installs the tree with scripts/install, writes the /etc
// overlay (user wkssvcd with id, the installed settings, an administrator
// file with password) and boots systemd on it.
func bootSystemd(t *testing.T, id int, password string) (*bootedSystemd, string) {
	t.Helper()
	testenv.Root(t, "systemd boots in its own namespaces")
	lookPath(t, "unshare")
	lookPath(t, "nsenter")
	lookPath(t, "systemctl")
	if _, err := os.Stat(systemdBin); err != nil {
		testenv.Missing(t, systemdBin+" is not installed", "apt-get install systemd")
	}
	root := installTree(t)
	ov := t.TempDir()
	etc := filepath.Join(ov, "etc")
	if err := os.MkdirAll(filepath.Join(etc, "wkssvcd"), 0o755); err != nil {
		t.Fatal(err)
	}
	for f, line := range map[string]string{
		"passwd": fmt.Sprintf("wkssvcd:x:%d:%d:Workstation Service daemon:/var/lib/wkssvcd:/usr/sbin/nologin\n", id, id),
		"group":  fmt.Sprintf("wkssvcd:x:%d:\n", id),
	} {
		b, err := os.ReadFile(filepath.Join("/etc", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, f), append(b, line...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf, err := os.ReadFile(filepath.Join(root, "etc/wkssvcd/wkssvcd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "wkssvcd/wkssvcd.conf"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(etc, "wkssvcd/admin")
	writeAdmin(t, admin, id, password)

	cmd := exec.Command("unshare", "--pid", "--fork", "--mount", "--net", "--uts", "--ipc", "bash", "-c", bootScript, "bash", root, ov)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &bootedSystemd{}
	t.Cleanup(func() {
		if s.pid != 0 {
			// PID 1 of the namespace: its end ends every process in it.
			syscall.Kill(s.pid, syscall.SIGKILL)
		}
		cmd.Wait()
	})
	children := fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid)
	deadline := time.Now().Add(30 * time.Second)
	for s.pid == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("systemd did not start:\n%s", out.String())
		}
		if b, _ := os.ReadFile(children); len(strings.Fields(string(b))) > 0 {
			pid, _ := strconv.Atoi(strings.Fields(string(b))[0])
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "systemd" {
				s.pid = pid
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		state, _ := s.run(t, nil, "systemctl", "is-system-running")
		if st := strings.TrimSpace(state); st == "running" || st == "degraded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd is %q, not running:\n%s", strings.TrimSpace(state), out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s, admin
}

// writeAdmin writes the administrator file in place (an overlay's lower
// file changes its content, not its identity), root:wkssvcd 0640.
func writeAdmin(t *testing.T, path string, gid int, password string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "admin:%s\n", password)
	f.Close()
	if err := os.Chown(path, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
}

// procStatus returns the fields of /proc/PID/status inside s.
func procStatus(t *testing.T, s *bootedSystemd, pid string) map[string]string {
	t.Helper()
	out, err := s.run(t, nil, "cat", "/proc/"+pid+"/status")
	if err != nil {
		t.Fatalf("status of %s: %v\n%s", pid, err, out)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// The unit as installed, under a real systemd (PID 1 of its own
// namespaces, the host's units hidden): it starts as Type=notify (READY=1
// reached), runs as the user wkssvcd with CAP_NET_BIND_SERVICE and
// nothing else, no new privileges, a seccomp filter, a read-only system,
// no /home or /root, a private /tmp and /dev and a writable state
// directory; systemd-analyze security rates the running unit 2.0 or
// lower; wkst is served on port 445; systemctl reload makes a changed
// administrator file count without a restart; systemctl stop ends it
// cleanly.
func TestSystemdRunsTheUnit(t *testing.T) {
	requireE2E(t)
	id := freeID(t)
	const pass1, pass2 = "Unit-Test-Pass1", "Unit-Test-Pass2"
	s, admin := bootSystemd(t, id, pass1)
	status := func() string {
		out, _ := s.run(t, nil, "systemctl", "status", "--no-pager", "wkssvcd.service")
		return out
	}
	if out, err := s.run(t, nil, "systemctl", "start", "wkssvcd.service"); err != nil {
		t.Fatalf("systemctl start: %v\n%s\n%s", err, out, status())
	}
	show := func() map[string]string {
		out, err := s.run(t, nil, "systemctl", "show", "wkssvcd.service", "-p", "MainPID,ActiveState,SubState,StatusText,Result,NRestarts,ExecMainStatus")
		if err != nil {
			t.Fatalf("systemctl show: %v\n%s", err, out)
		}
		m := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	p := show()
	if p["ActiveState"] != "active" || p["SubState"] != "running" || !strings.HasPrefix(p["StatusText"], "serving") {
		t.Fatalf("after start (Type=notify waits for READY=1): %v\n%s", p, status())
	}
	main := p["MainPID"]

	st := procStatus(t, s, main)
	for k, want := range map[string]string{
		"Uid":        fmt.Sprintf("%d\t%d\t%d\t%d", id, id, id, id),
		"Gid":        fmt.Sprintf("%d\t%d\t%d\t%d", id, id, id, id),
		"CapEff":     "0000000000000400", // CAP_NET_BIND_SERVICE only
		"CapPrm":     "0000000000000400",
		"CapBnd":     "0000000000000400",
		"CapAmb":     "0000000000000400",
		"NoNewPrivs": "1",
		"Seccomp":    "2", // a filter (SystemCallFilter=)
	} {
		if st[k] != want {
			t.Errorf("/proc/%s/status %s = %q, want %q", main, k, st[k], want)
		}
	}

	// What the service sees, from its own mount namespace (as root, so
	// only the mounts can refuse).
	view, _ := s.run(t, nil, "nsenter", "-t", main, "-m", "sh", "-c", `
		for d in /usr /etc /var/cache /var/lib; do touch $d/.wkssvcd-test 2>/dev/null && echo "writable $d"; done
		for d in /root /home; do echo "$d $(stat -c %a $d) $(ls -A $d | wc -l)"; done
		echo "tmp $(ls -A /tmp | wc -l)"
		echo "dev $(ls /dev | wc -l)"
		touch /var/lib/wkssvcd/.wkssvcd-test && echo "state writable"
		stat -c "state %U %a" /var/lib/wkssvcd`)
	for _, want := range []string{"/root 0 0", "/home 0 0", "tmp 0", "state writable", "state wkssvcd 700"} {
		if !strings.Contains(view, want+"\n") {
			t.Errorf("the service's view lacks %q:\n%s", want, view)
		}
	}
	if strings.Contains(view, "writable /") {
		t.Errorf("ProtectSystem=strict does not hold:\n%s", view)
	}
	if m := regexp.MustCompile(`dev (\d+)`).FindStringSubmatch(view); m == nil || len(m[1]) > 2 {
		t.Errorf("PrivateDevices=yes does not hold:\n%s", view)
	}

	out, _ := s.run(t, nil, "systemd-analyze", "security", "--no-pager", "wkssvcd.service")
	m := regexp.MustCompile(`Overall exposure level for wkssvcd.service: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security of the running unit:\n%s", out)
	}
	if v, _ := strconv.ParseFloat(m[1], 64); v > 2.0 {
		t.Errorf("exposure %s of the running unit, want 2.0 or lower", m[1])
	}
	t.Logf("running unit: exposure %s; %s", m[1], p["StatusText"])

	wkst := filepath.Join(binDir, "wkst")
	info := func(password string) (string, error) {
		return s.run(t, []string{"WKST_PASSWORD=" + password}, wkst, "info", "--server", "127.0.0.1", "--user", "admin", "--timeout", "20s")
	}
	if out, err := info(pass1); err != nil || !strings.Contains(out, "Platform ID:     500") {
		t.Fatalf("wkst info against the unit: %v\n%s", err, out)
	}

	writeAdmin(t, admin, id, pass2)
	if out, err := s.run(t, nil, "systemctl", "reload", "wkssvcd.service"); err != nil {
		t.Fatalf("systemctl reload: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := info(pass2); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new password does not work after systemctl reload\n%s", status())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := info(pass1); err == nil {
		t.Error("the old password still works after systemctl reload")
	}
	if p := show(); p["MainPID"] != main || p["ActiveState"] != "active" || p["NRestarts"] != "0" {
		t.Errorf("after reload: %v (MainPID was %s)", p, main)
	}

	if out, err := s.run(t, nil, "systemctl", "stop", "wkssvcd.service"); err != nil {
		t.Fatalf("systemctl stop: %v\n%s", err, out)
	}
	if p := show(); p["ActiveState"] != "inactive" || p["Result"] != "success" || p["ExecMainStatus"] != "0" {
		t.Errorf("after stop: %v\n%s", p, status())
	}
}
