package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// With no flags, as an ordinary user, the daemon listens on a loopback
// port, generates and saves an administrator credential, serves it, and
// stops cleanly on SIGTERM.
func TestDaemonDefaultsAsNonRoot(t *testing.T) {
	requireE2E(t)
	// The default address is one for the whole machine: suites running at
	// once (on different $WKSSVCD_TEST_NET) take turns on it.
	holdMachineLock(t, "wkssvcd-e2e-127.0.0.1-1445")
	if c, err := net.DialTimeout("tcp", "127.0.0.1:1445", time.Second); err == nil {
		c.Close()
		t.Fatal("something else listens on 127.0.0.1:1445, the daemon's default address; stop it and run the test again")
	}
	home, err := os.MkdirTemp("", "wkssvcd-home")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	for _, p := range []string{home, binDir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "wkssvcd"))
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("daemon output:\n%s", out.String())
		}
	}()

	credFile := filepath.Join(home, ".local", "state", "wkssvcd", "admin-credential")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "127.0.0.1:1445") || !strings.Contains(out.String(), credFile) {
		select {
		case err := <-done:
			t.Fatalf("daemon exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the start-up message does not say where it listens and where the credential is:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	fi, err := os.Stat(credFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential file %s: %v %v", credFile, err, fi)
	}
	data, _ := os.ReadFile(credFile)
	user, pass, _ := strings.Cut(strings.TrimSpace(string(data)), ":")
	if strings.Contains(out.String(), pass) {
		t.Error("the generated password was printed")
	}
	res, err := python(t, "impacket_getinfo.py", "127.0.0.1", "1445", "2.1", user, pass, "100")
	if err != nil || !regexp.MustCompile(`(?m)^platform_id=500$`).MatchString(res) {
		t.Fatalf("impacket against the default daemon: %v\n%s", err, res)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}
}

// A flag error stops the daemon with a message and a non-zero status.
func TestDaemonRejectsBadFlags(t *testing.T) {
	requireE2E(t)
	out, err := exec.Command(filepath.Join(binDir, "wkssvcd"), "--admin", "no-password", "--state-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "USER:PASSWORD") {
		t.Fatalf("bad --admin: %v\n%s", err, out)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// docker-compose.yml at the root is valid (checked without an engine).
func TestDockerComposeFileIsValid(t *testing.T) {
	requireE2E(t)
	bin := lookPath(t, "docker-compose")
	cmd := exec.Command(bin, "config", "-q")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
}

// holdMachineLock takes an exclusive flock named name in the temporary
// directory for the rest of the test, waiting for another test binary that
// holds it.
func holdMachineLock(t *testing.T, name string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), name+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}
