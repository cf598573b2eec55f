package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"golang.org/x/sys/unix"
)

const unitFile = "../deploy/wkssvcd.service"

// unitService reads the [Service] section of a unit file: every key with
// its values in order (keys such as SystemCallFilter repeat).
func unitService(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: bad line %q", path, line)
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}

// systemd-analyze verify accepts the unit, and systemd-analyze security
// rates its exposure 2.0 or lower ("OK"; 10 is a service with no
// hardening).
func TestSystemdUnitVerifies(t *testing.T) {
	requireE2E(t)
	analyze := lookPath(t, "systemd-analyze")
	// verify checks that ExecStart's program exists: point it at the
	// binary under test.
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyPath := filepath.Join(dir, "wkssvcd.service")
	text := strings.ReplaceAll(string(unit), "/usr/local/sbin/wkssvcd", filepath.Join(binDir, "wkssvcd"))
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", "--threshold=20", copyPath).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for wkssvcd.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: exposure above 2.0 or no rating: %v\n%s", err, out)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])

	svc := unitService(t, unitFile)
	for k, want := range map[string]string{
		"Type":                "notify",
		"StateDirectory":      "wkssvcd",
		"User":                "wkssvcd",
		"AmbientCapabilities": "CAP_NET_BIND_SERVICE",
		"ProtectSystem":       "strict",
		"NoNewPrivileges":     "yes",
		"ExecReload":          "/bin/kill -HUP $MAINPID",
	} {
		if got := svc[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
}

// scripts/install puts the binaries, the unit, the system user, the
// settings and a generated administrator in place, and a second run keeps
// what the operator edited.
func TestInstallScript(t *testing.T) {
	requireE2E(t)
	root := installTree(t)
	for path, mode := range map[string]os.FileMode{
		"usr/local/sbin/wkssvcd":                           0o755,
		"usr/local/bin/wkst":                               0o755,
		"usr/local/lib/systemd/system/wkssvcd.service":     0o644,
		"usr/local/lib/sysusers.d/wkssvcd.conf":            0o644,
		"usr/local/share/doc/wkssvcd/wkssvcd.conf.example": 0o644,
		"etc/wkssvcd/wkssvcd.conf":                         0o644,
		"etc/wkssvcd/admin":                                0o640,
	} {
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	uid, gid := treeUser(t, root)
	fi, _ := os.Stat(filepath.Join(root, "etc/wkssvcd/admin"))
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || int(st.Gid) != gid {
		t.Errorf("admin file owned by %d:%d, want 0:%d", st.Uid, st.Gid, gid)
	}
	t.Logf("system user wkssvcd: uid %d gid %d", uid, gid)
	// The unit starts the binary that was installed.
	svc := unitService(t, filepath.Join(root, "usr/local/lib/systemd/system/wkssvcd.service"))
	prog := strings.Fields(svc["ExecStart"][0])[0]
	if _, err := os.Stat(filepath.Join(root, prog)); err != nil {
		t.Errorf("ExecStart program %s not installed: %v", prog, err)
	}
	out, err := exec.Command(filepath.Join(root, "usr/local/sbin/wkssvcd"), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "wkssvcd ") {
		t.Errorf("installed wkssvcd --version: %v %s", err, out)
	}
	out, err = exec.Command(filepath.Join(root, "usr/local/bin/wkst"), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "wkst ") {
		t.Errorf("installed wkst --version: %v %s", err, out)
	}

	// Edited files survive a second installation.
	conf := filepath.Join(root, "etc/wkssvcd/wkssvcd.conf")
	admin := filepath.Join(root, "etc/wkssvcd/admin")
	os.WriteFile(conf, []byte("# edited\n"), 0o644)
	os.WriteFile(admin, []byte("admin:Edited-Pass1\n"), 0o640)
	if out, err := exec.Command("../scripts/install", "--destdir", root).CombinedOutput(); err != nil {
		t.Fatalf("second install: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(conf); string(b) != "# edited\n" {
		t.Error("a second install replaced the edited settings")
	}
	if b, _ := os.ReadFile(admin); string(b) != "admin:Edited-Pass1\n" {
		t.Error("a second install replaced the administrator file")
	}
}

// installTree runs scripts/install into a fresh staging tree readable by
// the service user, and returns its root.
func installTree(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("", "wkssvcd-install")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("../scripts/install", "--destdir", root).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/install: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "admin:") && regexp.MustCompile(`admin:[0-9a-f]{8}`).Match(out) {
		t.Errorf("scripts/install printed the generated password:\n%s", out)
	}
	return root
}

// treeUser returns the uid and gid of wkssvcd in the tree's /etc/passwd.
func treeUser(t *testing.T, root string) (int, int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 4 && f[0] == "wkssvcd" {
			uid, _ := strconv.Atoi(f[2])
			gid, _ := strconv.Atoi(f[3])
			if uid == 0 || gid == 0 {
				t.Fatalf("wkssvcd is uid %d gid %d", uid, gid)
			}
			return uid, gid
		}
	}
	t.Fatalf("no user wkssvcd in %s/etc/passwd", root)
	return 0, 0
}

// unitRun is wkssvcd started from an installed tree the way systemd runs
// deploy/wkssvcd.service.
type unitRun struct {
	cmd      *exec.Cmd
	notify   *net.UnixConn
	stderr   string // file the journal stream goes to
	done     chan struct{}
	waitErr  error
	adminPwd string
}

// startAsUnit runs ExecStart of the installed unit as its User with its
// AmbientCapabilities, $STATE_DIRECTORY, $NOTIFY_SOCKET, $JOURNAL_STREAM
// and, for LoadCredential= lines, $CREDENTIALS_DIRECTORY. Paths of the
// unit and the settings are moved into the tree, and the settings listen
// on the test address. It waits for READY=1.
func startAsUnit(t *testing.T, root string, extraUnit string) *unitRun {
	t.Helper()
	uid, gid := treeUser(t, root)
	unitPath := filepath.Join(root, "usr/local/lib/systemd/system/wkssvcd.service")
	if extraUnit != "" {
		b, _ := os.ReadFile(unitPath)
		os.WriteFile(unitPath, []byte(strings.Replace(string(b), "[Service]\n", "[Service]\n"+extraUnit+"\n", 1)), 0o644)
	}
	svc := unitService(t, unitPath)
	if svc["Type"][0] != "notify" || svc["User"][0] != "wkssvcd" {
		t.Fatalf("unit: %v", svc)
	}
	move := func(s string) string {
		s = strings.ReplaceAll(s, "/etc/wkssvcd/", root+"/etc/wkssvcd/")
		s = strings.ReplaceAll(s, "/var/lib/wkssvcd", root+"/var/lib/wkssvcd")
		return strings.ReplaceAll(s, "/usr/local/", root+"/usr/local/")
	}
	// The settings as installed, listening where the tests run.
	conf := filepath.Join(root, "etc/wkssvcd/wkssvcd.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(move(string(b)), `listen = "0.0.0.0:445"`, `listen = "`+daemonAddr+`:445"`, 1)
	if text == move(string(b)) {
		t.Fatal("the installed settings do not say listen = \"0.0.0.0:445\"")
	}
	text += "\nnetbios-name = \"" + netbios + "\"\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// StateDirectory=wkssvcd, StateDirectoryMode=0700, owned by User.
	state := filepath.Join(root, "var/lib", svc["StateDirectory"][0])
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(root, "var"), 0o755)
	os.Chmod(filepath.Join(root, "var/lib"), 0o755)
	if err := os.Chown(state, uid, gid); err != nil {
		t.Fatal(err)
	}
	// The notify socket, writable by the service user.
	sock := filepath.Join(root, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	os.Chmod(sock, 0o777)
	// The journal stream: standard error goes to a file named in
	// $JOURNAL_STREAM.
	stderrPath := filepath.Join(root, "journal")
	ef, err := os.Create(stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ef.Close() })
	var st syscall.Stat_t
	syscall.Fstat(int(ef.Fd()), &st)

	environ := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"HOME=" + state, "USER=wkssvcd", "LOGNAME=wkssvcd",
		"STATE_DIRECTORY=" + state,
		"NOTIFY_SOCKET=" + sock,
		fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino),
	}
	// LoadCredential=ID:PATH: systemd copies PATH to a private directory
	// readable by the service user only.
	if creds := svc["LoadCredential"]; len(creds) > 0 {
		dir := filepath.Join(root, "run/credentials/wkssvcd.service")
		os.MkdirAll(dir, 0o700)
		for _, c := range creds {
			id, src, _ := strings.Cut(c, ":")
			data, err := os.ReadFile(move(src))
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, id)
			os.WriteFile(p, data, 0o400)
			os.Chown(p, uid, gid)
		}
		os.Chown(dir, uid, gid)
		os.Chmod(filepath.Join(root, "run"), 0o755)
		os.Chmod(filepath.Join(root, "run/credentials"), 0o755)
		environ = append(environ, "CREDENTIALS_DIRECTORY="+dir)
	}
	args := strings.Fields(move(svc["ExecStart"][0]))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = environ
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = ef, ef
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		AmbientCaps: []uintptr{unix.CAP_NET_BIND_SERVICE},
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	u := &unitRun{cmd: cmd, notify: nc, stderr: stderrPath, done: make(chan struct{})}
	go func() { u.waitErr = cmd.Wait(); close(u.done) }()
	t.Cleanup(func() {
		select {
		case <-u.done:
		default:
			cmd.Process.Kill()
			<-u.done
		}
		if t.Failed() {
			t.Logf("daemon output:\n%s", u.journal())
		}
	})
	u.expectNotify(t, "READY=1")
	return u
}

func (u *unitRun) journal() string {
	b, _ := os.ReadFile(u.stderr)
	return string(b)
}

// expectNotify reads notifications until one carries want; it returns
// that message.
func (u *unitRun) expectNotify(t *testing.T, want string) string {
	t.Helper()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for {
		u.notify.SetReadDeadline(deadline)
		n, err := u.notify.Read(buf)
		if err != nil {
			select {
			case <-u.done:
				t.Fatalf("daemon exited (%v) before %s:\n%s", u.waitErr, want, u.journal())
			default:
			}
			t.Fatalf("no %s from the daemon: %v\n%s", want, err, u.journal())
		}
		msg := string(buf[:n])
		for _, l := range strings.Split(msg, "\n") {
			if l == want {
				return msg
			}
		}
	}
}

// logonGetInfo opens a session as user and calls NetrWkstaGetInfo.
func logonGetInfo(t *testing.T, user, pass string) (*msrpcClient, error) {
	t.Helper()
	c, err := dialMSRPC(t, daemonAddr, user, pass, 0, false)
	if err != nil {
		return nil, err
	}
	return c, c.getInfo()
}

func (c *msrpcClient) getInfo() error {
	resp, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{Level: 100})
	if err != nil {
		return err
	}
	if resp.Return != 0 {
		return fmt.Errorf("NetrWkstaGetInfo returned %#x", resp.Return)
	}
	return nil
}

// The service as the unit runs it: READY=1 once it listens, the
// administrator from the installed file, no password on the command line,
// log lines with journald priorities; SIGHUP (ExecReload) with a changed
// admin file makes the old password fail and the new one work while an
// open connection goes on; SIGTERM stops it cleanly with STOPPING=1.
func TestServiceAsTheUnitRunsIt(t *testing.T) {
	requireE2E(t)
	root := installTree(t)
	adminFile := filepath.Join(root, "etc/wkssvcd/admin")
	b, err := os.ReadFile(adminFile)
	if err != nil {
		t.Fatal(err)
	}
	user, oldPass, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
	u := startAsUnit(t, root, "")

	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", u.cmd.Process.Pid))
	if strings.Contains(string(cmdline), oldPass) {
		t.Errorf("the password is on the command line: %q", cmdline)
	}
	psOut, _ := exec.Command("ps", "-eo", "args").Output()
	if strings.Contains(string(psOut), oldPass) {
		t.Error("ps shows the password")
	}

	open, err := logonGetInfo(t, user, oldPass)
	if err != nil {
		t.Fatalf("GetInfo with the installed administrator: %v", err)
	}

	// The operator changes the password (as an editor would: a new file
	// with the same owner and mode) and runs systemctl reload.
	newPass := "Rel0aded-Secret!"
	tmp := adminFile + ".new"
	os.WriteFile(tmp, []byte(user+":"+newPass+"\n"), 0o640)
	_, gid := treeUser(t, root)
	os.Chown(tmp, 0, gid)
	os.Chmod(tmp, 0o640)
	if err := os.Rename(tmp, adminFile); err != nil {
		t.Fatal(err)
	}
	reload := unitService(t, unitFile)["ExecReload"][0]
	reload = strings.ReplaceAll(reload, "$MAINPID", strconv.Itoa(u.cmd.Process.Pid))
	rargs := strings.Fields(reload)
	if out, err := exec.Command(rargs[0], rargs[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("ExecReload %q: %v %s", reload, err, out)
	}
	u.expectNotify(t, "RELOADING=1")
	u.expectNotify(t, "READY=1")

	if _, err := logonGetInfo(t, user, oldPass); err == nil {
		t.Error("the old password still works after the reload")
	}
	if _, err := logonGetInfo(t, user, newPass); err != nil {
		t.Errorf("the new password does not work after the reload: %v", err)
	}
	if err := open.getInfo(); err != nil {
		t.Errorf("the connection opened before the reload broke: %v", err)
	}

	// A reload that fails (an account file others may read) changes
	// nothing and says why.
	os.Chmod(adminFile, 0o644)
	exec.Command(rargs[0], rargs[1:]...).Run()
	u.expectNotify(t, "RELOADING=1")
	u.expectNotify(t, "READY=1")
	if _, err := logonGetInfo(t, user, newPass); err != nil {
		t.Errorf("after a failed reload the password in effect no longer works: %v", err)
	}
	os.Chmod(adminFile, 0o640)

	log := u.journal()
	for _, want := range []string{`<6>level=INFO msg=reloaded`, `<4>level=WARN msg="logon failed"`, `reason="wrong password"`,
		`<3>level=ERROR msg="reload failed; the running settings stay"`, "chmod 600"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, oldPass) || strings.Contains(log, newPass) || strings.Contains(log, "time=") {
		t.Errorf("the journal lines show a password or a time stamp:\n%s", log)
	}

	u.cmd.Process.Signal(syscall.SIGTERM)
	u.expectNotify(t, "STOPPING=1")
	select {
	case <-u.done:
		if u.waitErr != nil {
			t.Errorf("exit after SIGTERM: %v", u.waitErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}
}

// The same unit with the administrator passed as a systemd credential
// (the LoadCredential= line the unit shows commented out).
func TestServiceWithSystemdCredential(t *testing.T) {
	requireE2E(t)
	root := installTree(t)
	// The credential holds the administrator; the settings no longer name
	// the file (the service user could not read a root-only file).
	conf := filepath.Join(root, "etc/wkssvcd/wkssvcd.conf")
	b, _ := os.ReadFile(conf)
	if !strings.Contains(string(b), `admin-file = "/etc/wkssvcd/admin"`) {
		t.Fatal("the installed settings do not name /etc/wkssvcd/admin")
	}
	os.WriteFile(conf, []byte(strings.Replace(string(b), `admin-file = "/etc/wkssvcd/admin"`, "", 1)), 0o644)
	adminFile := filepath.Join(root, "etc/wkssvcd/admin")
	os.WriteFile(adminFile, []byte("credadmin:Cred-Secret-1\n"), 0o600)
	os.Chmod(adminFile, 0o600)
	unit, _ := os.ReadFile(unitFile)
	if !strings.Contains(string(unit), "#LoadCredential=admin:/etc/wkssvcd/admin\n") {
		t.Fatal("the unit does not show LoadCredential=admin:/etc/wkssvcd/admin")
	}
	u := startAsUnit(t, root, "LoadCredential=admin:/etc/wkssvcd/admin")
	if _, err := logonGetInfo(t, "credadmin", "Cred-Secret-1"); err != nil {
		t.Fatalf("GetInfo as the credential's administrator: %v", err)
	}
	if !strings.Contains(u.journal(), "credential admin") {
		t.Errorf("the start-up lines do not say the administrator comes from the credential:\n%s", u.journal())
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/wkssvcd/admin-credential")); err == nil {
		t.Error("a credential was generated although the systemd credential names an administrator")
	}
}
