package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyRun is a command on a pseudo-terminal, as an operator types it.
type ptyRun struct {
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func startPty(t *testing.T, env []string, name string, args ...string) *ptyRun {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyRun{cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 1024)
		for {
			n, err := tty.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				break
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		tty.Close()
	})
	return p
}

func (p *ptyRun) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the terminal shows s.
func (p *ptyRun) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q:\n%s", s, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait returns the exit status.
func (p *ptyRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit:\n%s", p.output())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// On a terminal wkst asks for the passwords it was not given, shows the
// prompt and echoes nothing of what is typed.
func TestWkstPromptsWithoutEcho(t *testing.T) {
	startDaemon(t)
	wkst := filepath.Join(binDir, "wkst")
	env := []string{"PATH=/usr/bin:/bin", "TERM=dumb", "LANG=C"}

	p := startPty(t, env, wkst, "info", "--server", daemonAddr, "--user", `WKHOST\`+adminUser)
	p.waitFor(t, `Password for WKHOST\`+adminUser+": ")
	io.WriteString(p.tty, adminPass+"\r")
	if code := p.wait(t); code != 0 {
		t.Fatalf("wkst info: exit %d\n%s", code, p.output())
	}
	out := p.output()
	if strings.Contains(out, adminPass) {
		t.Errorf("the password was echoed:\n%s", out)
	}
	if !strings.Contains(out, "Computer name:   "+netbios) {
		t.Errorf("wkst info printed:\n%s", out)
	}

	// --password-file - on a terminal asks instead of waiting for end of
	// file; the server then answers the unjoin of a workgroup host.
	const accountPass = "Acc0unt-Typed!"
	p = startPty(t, append(env, "WKST_PASSWORD="+adminPass), wkst, "unjoin", "--server", daemonAddr,
		"--user", `WKHOST\`+adminUser, "--account", `EXAMPLE\Administrator`, "--password-file", "-")
	p.waitFor(t, `Password for EXAMPLE\Administrator (--account): `)
	io.WriteString(p.tty, accountPass+"\r")
	if code := p.wait(t); code != 1 {
		t.Fatalf("wkst unjoin of a workgroup host: exit %d, want 1 (the server's error)\n%s", code, p.output())
	}
	out = p.output()
	if strings.Contains(out, accountPass) || !strings.Contains(out, "NERR_SetupNotJoined") {
		t.Errorf("unjoin on a terminal:\n%s", out)
	}
}

// Help, version and the exit status of each kind of failure, from the
// binaries.
func TestWkstExitStatus(t *testing.T) {
	requireE2E(t)
	wkst := filepath.Join(binDir, "wkst")
	status := func(env []string, args ...string) (int, string) {
		cmd := exec.Command(wkst, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	for _, args := range [][]string{{"--help"}, {"join", "--help"}, {"unjoin", "-h"}, {"info", "--help"}, {"--version"}} {
		if code, out := status(nil, args...); code != 0 || out == "" {
			t.Errorf("wkst %q: exit %d\n%s", args, code, out)
		}
	}
	if code, out := status(nil, "join", "--server", daemonAddr); code != 2 || !strings.Contains(out, "usage: wkst join") {
		t.Errorf("usage mistake: exit %d\n%s", code, out)
	}
	// Nothing listens on the daemon's address now: exit 3.
	if code, out := status([]string{"WKST_PASSWORD=x"}, "info", "--server", daemonAddr, "--user", "admin", "--timeout", "5s"); code != 3 {
		t.Errorf("unreachable server: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"--version"}, {"version"}} {
		out, err := exec.Command(filepath.Join(binDir, "wkssvcd"), args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "wkssvcd") {
			t.Errorf("wkssvcd %q: %v\n%s", args, err, out)
		}
	}
}

// After repeated failed logons the daemon refuses the address; wkst says
// so in words (not go-smb2's "expected status: {Still Busy}") and exits 3,
// and the daemon's log names the user, the address and the reason.
func TestWkstThrottleMessage(t *testing.T) {
	d := startDaemon(t, "--auth-fail-limit", "2", "--auth-fail-window", "1m")
	wkst := filepath.Join(binDir, "wkst")
	try := func() (int, string) {
		cmd := exec.Command(wkst, "info", "--server", daemonAddr, "--user", `WKHOST\`+adminUser)
		cmd.Env = []string{"WKST_PASSWORD=Wrong-Pass-1"}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("wkst with a wrong password: %v\n%s", err, out)
		}
		return ee.ExitCode(), string(out)
	}
	for i := 0; i < 2; i++ {
		code, out := try()
		if code != 3 || !strings.Contains(out, "unknown user name or wrong password") {
			t.Fatalf("wrong password %d: exit %d\n%s", i, code, out)
		}
	}
	code, out := try()
	if code != 3 || !strings.Contains(out, "refused to start a logon") || !strings.Contains(out, "--auth-fail-window") ||
		strings.Contains(out, "Still Busy") {
		t.Fatalf("throttled: exit %d\n%s", code, out)
	}
	log := d.Output()
	failed := lines(log, `msg="logon failed"`)
	if len(failed) != 2 {
		t.Fatalf("%d logon-failed lines:\n%s", len(failed), log)
	}
	for _, l := range failed {
		for _, want := range []string{"level=WARN", "user=" + adminUser, "domain=WKHOST", `reason="wrong password"`, "remote="} {
			if !strings.Contains(l, want) {
				t.Errorf("log line %q lacks %q", l, want)
			}
		}
	}
	if len(lines(log, "reason=throttled")) == 0 {
		t.Errorf("no throttled line:\n%s", log)
	}
	if strings.Contains(log, "Wrong-Pass-1") {
		t.Error("the log shows the password")
	}
}
