package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runDaemonExpectingFailure starts wkssvcd with a state directory and
// returns its output once it exited; it fails the test if it serves.
func runDaemonExpectingFailure(t *testing.T, stateDir string) string {
	t.Helper()
	return runDaemonExpectingFailureOn(t, stateDir, daemonAddr+":445")
}

// runDaemonExpectingFailureOn is runDaemonExpectingFailure listening on
// listen.
func runDaemonExpectingFailureOn(t *testing.T, stateDir, listen string) string {
	t.Helper()
	requireE2E(t)
	cmd := exec.Command(filepath.Join(binDir, "wkssvcd"), "--listen", listen, "--state-dir", stateDir,
		"--netbios-name", netbios, "--dns-hostname", dnsName)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("wkssvcd exited cleanly:\n%s", out.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("wkssvcd kept running:\n%s", out.String())
	}
	return out.String()
}

// The daemon refuses to start on a state directory other users can
// change, and says what to fix: a directory of mode 0777, and an
// administrator credential a local user replaced with their own.
func TestStateDirectoryTrust(t *testing.T) {
	t.Run("state directory writable by all", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, 0o777)
		out := runDaemonExpectingFailure(t, dir)
		if !strings.Contains(out, "refusing to start") || !strings.Contains(out, "chmod go-w "+dir) {
			t.Fatalf("output does not say what to fix:\n%s", out)
		}
	})
	t.Run("credential replaced by another user", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		cred := filepath.Join(dir, "admin-credential")
		if err := os.WriteFile(cred, []byte("admin:Mall0ry-Knows\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(cred, 65534, 65534); err != nil {
			t.Fatalf("chown to nobody (needs root): %v", err)
		}
		out := runDaemonExpectingFailure(t, dir)
		if !strings.Contains(out, "refusing to start") || !strings.Contains(out, cred+" belongs to") || !strings.Contains(out, "chown root "+cred) {
			t.Fatalf("output does not say what to fix:\n%s", out)
		}
		if strings.Contains(out, "Mall0ry-Knows") {
			t.Fatal("the output shows the planted password")
		}
	})
	t.Run("state directory others can read but not write", func(t *testing.T) {
		d := startDaemon(t)
		os.Chmod(d.stateDir, 0o755)
		d.stop(t)
		d = startDaemon(t, "--state-dir", d.stateDir)
		getInfo(t, dialRetry(t), "daemon on a 0755 state directory")
	})
}
