package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// Addresses and accounts of the end-to-end environment. scripts/test adds
// the loopback addresses and sets WKSSVCD_E2E=1.
const (
	netbios    = "WKHOST"
	dnsName    = "wkhost.example.test"
	adminUser  = "admin"
	adminPass  = "Adm1n-Secret!"
	plainUser  = "bob"
	plainPass  = "B0b-Secret!"
	pythonPath = "/usr/bin/python3" // the interpreter Debian's impacket is installed for
)

// daemonAddr is the loopback address the daemon under test listens on
// (port 445): internal/testnet's, or $WKSSVCD_E2E_ADDR.
var daemonAddr = envOr("WKSSVCD_E2E_ADDR", testnet.Daemon())

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var (
	binDir   string // built binaries
	buildErr error
)

func TestMain(m *testing.M) {
	if os.Getenv(testdc.E2EEnv) != "1" {
		// Never "ok" for a run that tested nothing.
		fmt.Fprintln(os.Stderr, "FAIL: e2e: not run: these tests need root, the loopback addresses of internal/testnet, "+
			"Samba, smbclient and impacket; run `sudo ./scripts/test` (it installs them and sets "+testdc.E2EEnv+"=1), "+
			"or set "+testdc.E2EEnv+"=1 where all of them are present")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "wkssvcd-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	buildErr = build(dir)
	// One Samba AD DC (on testnet.DC()) serves every domain test of the run.
	code := testdc.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", dir, "./cmd/...")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// requireE2E fails the test when the environment scripts/test prepares is
// missing: nothing is skipped silently.
func requireE2E(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	testenv.Root(t, "the daemon binds port 445")
	testenv.Addr(t, daemonAddr)
}

// daemon is a running wkssvcd process.
type daemon struct {
	cmd      *exec.Cmd
	addr     string
	stateDir string
	out      syncBuffer // stdout and stderr, for failure reports and log checks
	done     chan struct{}
	waitErr  error
}

// host is the address the daemon listens on, without the port.
func (d *daemon) host() string {
	h, _, _ := net.SplitHostPort(d.addr)
	return h
}

// Output returns everything the daemon printed so far.
func (d *daemon) Output() string { return d.out.String() }

// startDaemon runs wkssvcd on daemonAddr:445 (or the address in extra
// flags) with the test accounts, and stops it when the test ends.
func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	requireE2E(t)
	d := &daemon{addr: net.JoinHostPort(daemonAddr, "445"), stateDir: t.TempDir(), done: make(chan struct{})}
	for i := 0; i+1 < len(extra); i++ {
		switch extra[i] {
		case "--listen":
			d.addr = extra[i+1]
		case "--state-dir":
			d.stateDir = extra[i+1]
		}
	}
	args := []string{
		"--listen", d.addr,
		"--state-dir", d.stateDir,
		// As root the default keytab is /etc/krb5.keytab: the tests keep
		// theirs in the state directory.
		"--keytab", filepath.Join(d.stateDir, "krb5.keytab"),
		"--netbios-name", netbios,
		"--dns-hostname", dnsName,
		"--admin", adminUser + ":" + adminPass,
		"--user", plainUser + ":" + plainPass,
		"--log-level", "debug",
	}
	args = append(args, extra...)
	d.cmd = exec.Command(filepath.Join(binDir, "wkssvcd"), args...)
	d.cmd.Stdout = &d.out
	d.cmd.Stderr = &d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.waitErr = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("daemon output:\n%s", d.Output())
		}
	})
	waitListening(t, d)
	return d
}

func waitListening(t *testing.T, d *daemon) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			t.Fatalf("daemon exited: %v\n%s", d.waitErr, d.Output())
		default:
		}
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("daemon not listening on %s\n%s", d.addr, d.Output())
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("daemon did not stop within 15s of SIGINT")
	}
}

// run executes a peer program and returns its combined output.
func run(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LANG=C")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s timed out after %v", name, timeout)
	}
	return string(out), err
}

// python runs an impacket script from testdata with /usr/bin/python3
// (-B: no __pycache__ beside the scripts).
func python(t *testing.T, script string, args ...string) (string, error) {
	t.Helper()
	testenv.Impacket(t)
	return run(t, 60*time.Second, pythonPath, append([]string{"-B", filepath.Join("testdata", script)}, args...)...)
}

// lookPath fails the test when a peer binary is missing.
func lookPath(t *testing.T, name string) string {
	t.Helper()
	pkg, ok := testenv.Programs[name]
	if !ok {
		pkg = "the package that provides " + name + " (name it in internal/testenv.Programs and scripts/test's list)"
	}
	return testenv.Tool(t, name, pkg)
}

// lines returns the lines of s that contain sub.
func lines(s, sub string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// goroutines is the number of running goroutines, for leak checks.
func goroutines() int { return runtime.NumGoroutine() }
