package testdc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/testnet"
	"github.com/wkssvcd/wkssvcd/internal/tlsverify"
)

// Fixed identity of the provisioned domain.
const (
	Realm         = "EXAMPLE.TEST"
	Domain        = "EXAMPLE"
	DNSDomain     = "example.test"
	HostName      = "dc1"
	HostFQDN      = "dc1.example.test"
	BaseDN        = "DC=example,DC=test"
	AdminUser     = "Administrator"
	AdminPassword = "Adm1n.Pa55word-Test"
)

// Addr is the address the controller listens on (internal/testnet:
// 127.0.0.2 unless $WKSSVCD_TEST_NET moves it).
func Addr() string { return testnet.DC() }

// E2EEnv is the environment variable that turns a missing prerequisite
// (root, samba, 127.0.0.2) from a skipped test into a failed one.
const E2EEnv = "WKSSVCD_E2E"

// Options tune Start.
type Options struct {
	// Private provisions a controller for the calling test alone and stops
	// it in the test's cleanup. Default false: the controller shared by the
	// test binary when TestMain uses Main, else a private one anyway. Only
	// one controller runs at a time (they all use Addr()), so a private
	// one cannot start once the shared one has.
	Private bool
	// StartTimeout bounds how long starting the controller (after
	// provisioning) may take until LDAPS and Kerberos answer. Default 90 s.
	StartTimeout time.Duration
	// LockTimeout bounds the wait for another test binary's controller to
	// release Addr(). Default 8 minutes.
	LockTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.StartTimeout <= 0 {
		o.StartTimeout = 90 * time.Second
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 8 * time.Minute
	}
	return o
}

// DC is a running (or deliberately stopped) Samba AD domain controller.
type DC struct {
	Realm         string // Kerberos realm, EXAMPLE.TEST
	Domain        string // NetBIOS domain name, EXAMPLE
	DNSDomain     string // DNS domain name, example.test
	HostName      string // NetBIOS-style host name of the DC, dc1
	HostFQDN      string // DNS host name of the DC, dc1.example.test (the LDAPS certificate's name)
	Addr          string // IP address everything listens on, Addr()
	AdminUser     string // Administrator
	AdminPassword string
	BaseDN        string // DC=example,DC=test
	CAFile        string // PEM CA certificate that issued the LDAPS certificate
	Krb5Conf      string // krb5.conf naming Addr as KDC of the realm
	Dir           string // provisioned directory (etc/smb.conf, private/, state/)
	SMBConf       string // Dir/etc/smb.conf

	opts Options
	lock *os.File // flock held while this DC owns Addr

	mu      sync.Mutex
	proc    *os.Process
	stdin   io.Closer
	done    chan struct{}
	running bool
}

var shared struct {
	mu     sync.Mutex
	inMain bool
	dc     *DC
	err    error
	skip   bool
}

// Main runs the tests of a package with one shared controller, started by
// the first Start call and stopped after the last test:
//
//	func TestMain(m *testing.M) { os.Exit(testdc.Main(m)) }
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	dc := shared.dc
	shared.dc = nil
	shared.inMain = false
	shared.mu.Unlock()
	if dc != nil {
		if err := dc.shutdown(); err != nil {
			fmt.Fprintf(os.Stderr, "testdc: stopping the shared DC: %v\n", err)
		}
	}
	return code
}

// Start returns a running controller, provisioning and starting it if
// needed. See Options.Private for which controller it is.
func Start(t testing.TB, opts Options) *DC {
	t.Helper()
	opts = opts.withDefaults()
	if msg := prerequisites(); msg != "" {
		unavailable(t, msg)
	}
	shared.mu.Lock()
	useShared := shared.inMain && !opts.Private
	if !useShared {
		busy := shared.dc != nil
		shared.mu.Unlock()
		if busy {
			t.Fatal("testdc: a private DC cannot run while this binary's shared DC holds " + Addr())
		}
		dc, err := launch(t, opts)
		if err != nil {
			t.Fatalf("testdc: %v", err)
		}
		t.Cleanup(func() {
			if err := dc.shutdown(); err != nil {
				t.Errorf("testdc: stopping DC: %v", err)
			}
		})
		return dc
	}
	defer shared.mu.Unlock()
	if shared.dc == nil && shared.err == nil {
		shared.dc, shared.err = launch(t, opts)
	}
	if shared.err != nil {
		t.Fatalf("testdc: shared DC unavailable: %v", shared.err)
	}
	dc := shared.dc
	dc.mu.Lock()
	stopped := !dc.running
	dc.mu.Unlock()
	if stopped {
		// A previous test stopped it and did not bring it back.
		if err := dc.start(); err != nil {
			t.Fatalf("testdc: restarting shared DC: %v", err)
		}
	}
	return dc
}

func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(E2EEnv) == "1" {
		t.Fatalf("testdc: %s (required because %s=1)", msg, E2EEnv)
	}
	t.Skipf("testdc: %s; set %s=1 to make this a failure", msg, E2EEnv)
}

// prerequisites returns why a controller cannot run here, or "".
func prerequisites() string {
	if os.Geteuid() != 0 {
		return "a Samba AD DC needs root"
	}
	for _, bin := range []string{"samba", "samba-tool"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " is not installed (apt-get install samba samba-ad-dc)"
		}
	}
	if _, err := testnet.Prefix(); err != nil {
		return err.Error()
	}
	if !testnet.IsAssigned(Addr()) {
		return Addr() + " is not configured on any interface (ip addr add " + Addr() + "/8 dev lo; scripts/test does it)"
	}
	return ""
}

// launch takes the address lock, copies a provisioned template into a new
// directory and starts samba there.
func launch(t testing.TB, opts Options) (*DC, error) {
	t.Helper()
	tmpl, err := template(t)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wkssvcd-testdc-")
	if err != nil {
		return nil, err
	}
	if err := copyTemplate(tmpl, dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	dc := &DC{
		Realm: Realm, Domain: Domain, DNSDomain: DNSDomain, HostName: HostName, HostFQDN: HostFQDN,
		Addr: Addr(), AdminUser: AdminUser, AdminPassword: AdminPassword, BaseDN: BaseDN,
		CAFile:   filepath.Join(dir, "private", "tls", "ca.pem"),
		Krb5Conf: filepath.Join(dir, "krb5.conf"),
		Dir:      dir,
		SMBConf:  filepath.Join(dir, "etc", "smb.conf"),
		opts:     opts,
	}
	if err := os.WriteFile(dc.Krb5Conf, []byte(krb5Conf()), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	lock, err := acquireLock(t, filepath.Join(os.TempDir(), "wkssvcd-testdc-"+Addr()+".lock"), opts.LockTimeout)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	dc.lock = lock
	if err := dc.start(); err != nil {
		dc.shutdown()
		return nil, err
	}
	return dc, nil
}

func krb5Conf() string {
	return `[libdefaults]
	default_realm = ` + Realm + `
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	udp_preference_limit = 1
[realms]
	` + Realm + ` = {
		kdc = ` + Addr() + `
		admin_server = ` + Addr() + `
		kpasswd_server = ` + Addr() + `
	}
[domain_realm]
	.` + DNSDomain + ` = ` + Realm + `
	` + DNSDomain + ` = ` + Realm + `
`
}

// provisionArgs are the samba-tool arguments; DIR stands for the target.
func provisionArgs(dir string) []string {
	return []string{
		"domain", "provision",
		"--realm=" + Realm, "--domain=" + Domain, "--server-role=dc",
		"--dns-backend=SAMBA_INTERNAL", "--adminpass=" + AdminPassword,
		"--host-name=" + HostName, "--host-ip=" + Addr(), "--targetdir=" + dir,
		"--option=interfaces=" + Addr(), "--option=bind interfaces only=yes",
		"--option=pid directory=" + dir + "/run",
		"--option=ncalrpc dir=" + dir + "/run/ncalrpc",
		"--option=log file=" + dir + "/log/log.%m",
	}
}

// templateFormat changes whenever what a template holds changes, so that
// templates an older version of this package cached are not reused. The
// current one holds no TLS files: samba generates its own certificate on
// its first start, as on any new DC.
const templateFormat = "samba-generated-tls"

// template returns a directory holding a provisioned, never started domain,
// creating it once per machine and Samba version (provisioning takes tens
// of seconds; copying it takes well under one).
func template(t testing.TB) (string, error) {
	t.Helper()
	ver, err := exec.Command("samba", "-V").Output()
	if err != nil {
		return "", fmt.Errorf("samba -V: %w", err)
	}
	h := sha256.New()
	h.Write(ver)
	h.Write([]byte(templateFormat))
	for _, a := range provisionArgs("DIR") {
		h.Write([]byte(a + "\x00"))
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	tmpl := filepath.Join(os.TempDir(), "wkssvcd-testdc-template-"+key)
	lock, err := acquireLock(t, tmpl+".lock", 5*time.Minute)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if _, err := os.Stat(filepath.Join(tmpl, "ready")); err == nil {
		return tmpl, nil
	}
	os.RemoveAll(tmpl)
	build := tmpl + ".build"
	os.RemoveAll(build)
	if err := os.MkdirAll(build, 0o700); err != nil {
		return "", err
	}
	t.Logf("testdc: provisioning %s (once per machine) in %s", Realm, build)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "samba-tool", provisionArgs(build)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.RemoveAll(build)
		return "", fmt.Errorf("samba-tool domain provision: %v\n%s", err, tail(out, 3000))
	}
	if err := os.WriteFile(filepath.Join(build, "targetdir"), []byte(build), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(build, "ready"), nil, 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(build, tmpl); err != nil {
		return "", err
	}
	return tmpl, nil
}

// copyTemplate copies tmpl into dir, keeping extended attributes (the
// sysvol ACLs), and points smb.conf at dir.
func copyTemplate(tmpl, dir string) error {
	out, err := exec.Command("cp", "-a", tmpl+"/.", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copying template: %v: %s", err, out)
	}
	orig, err := os.ReadFile(filepath.Join(tmpl, "targetdir"))
	if err != nil {
		return err
	}
	conf := filepath.Join(dir, "etc", "smb.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	b = bytes.ReplaceAll(b, orig, []byte(dir))
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		return err
	}
	for _, d := range []string{"run", "run/ncalrpc", "log", "sys/run", "sys/lib", "sys/cache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// acquireLock takes an exclusive flock on path, waiting up to timeout. The
// kernel drops it when the process exits, however it exits.
func acquireLock(t testing.TB, path string, timeout time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another process has held %s for %v", path, timeout)
		}
		if !logged {
			t.Logf("testdc: waiting for another test binary to release %s", path)
			logged = true
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sandboxScript bind-mounts $1/run, $1/lib and $1/cache over Samba's
// compiled-in directories, then runs the rest of its arguments.
const sandboxScript = `set -e
mount --bind "$1/run" /run/samba
mount --bind "$1/lib" /var/lib/samba
mount --bind "$1/cache" /var/cache/samba
shift
exec "$@"`

// Start starts the controller again after Stop and waits until it answers.
func (dc *DC) Start(t testing.TB) {
	t.Helper()
	if err := dc.start(); err != nil {
		t.Fatalf("testdc: starting DC: %v", err)
	}
}

// Stop stops the controller (fault injection). The test's cleanup starts
// it again if the test did not, so later tests find it running.
func (dc *DC) Stop(t testing.TB) {
	t.Helper()
	if err := dc.stop(); err != nil {
		t.Fatalf("testdc: stopping DC: %v", err)
	}
	t.Cleanup(func() {
		dc.mu.Lock()
		running := dc.running
		dc.mu.Unlock()
		if !running {
			if err := dc.start(); err != nil {
				t.Errorf("testdc: restarting DC: %v", err)
			}
		}
	})
}

// Running reports whether the samba process is up.
func (dc *DC) Running() bool {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	return dc.running
}

func (dc *DC) start() error {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if dc.running {
		return nil
	}
	if err := portsFree(dc.Addr, 10*time.Second); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dc.Dir, "samba.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	// The controller runs in a mount namespace of its own, with private
	// directories over /run/samba, /var/lib/samba and /var/cache/samba:
	// the winbind client inside its smbd always talks to the compiled-in
	// /run/samba/winbindd/pipe, so SMB logons to the controller (SYSVOL,
	// SAMR and Netlogon over named pipes, net offlinejoin) work only when
	// that path is this controller's own winbindd, and several
	// controllers on one host must not share it.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", sandboxScript,
		"sh", filepath.Join(dc.Dir, "sys"), "samba", "-i", "-M", "single", "-s", dc.SMBConf)
	// samba -i ends when its standard input closes, so the controller
	// does not outlive this process even if it dies without cleanup.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting samba: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	dc.proc, dc.stdin, dc.done, dc.running = cmd.Process, stdin, done, true
	if err := dc.waitReady(done); err != nil {
		dc.mu.Unlock()
		dc.stop()
		dc.mu.Lock()
		return fmt.Errorf("%w\nsamba log:\n%s", err, dc.logTail())
	}
	return nil
}

func (dc *DC) logTail() string {
	b, _ := os.ReadFile(filepath.Join(dc.Dir, "samba.log"))
	return tail(b, 3000)
}

// waitReady waits until LDAPS presents a certificate that verifies with
// CAFile for HostFQDN (samba writes both on its first start), and the KDC
// accepts connections.
func (dc *DC) waitReady(done <-chan struct{}) error {
	deadline := time.Now().Add(dc.opts.StartTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("samba exited during start-up")
		default:
		}
		last = dc.probe()
		if last == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("DC not ready after %v: %v", dc.opts.StartTimeout, last)
}

func (dc *DC) probe() error {
	tc, err := dc.TLSConfig()
	if err != nil {
		return err
	}
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(dc.Addr, "636"), tc)
	if err != nil {
		return err
	}
	c.Close()
	k, err := d.Dial("tcp", net.JoinHostPort(dc.Addr, "88"))
	if err != nil {
		return err
	}
	k.Close()
	return nil
}

// TLSConfig returns a client TLS configuration that trusts only CAFile
// and expects HostFQDN, which the DC's own certificate names by its
// subject common name alone (internal/tlsverify).
func (dc *DC) TLSConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(dc.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no certificate in " + dc.CAFile)
	}
	return tlsverify.Config(pool, dc.HostFQDN), nil
}

// portsFree waits until nothing listens on the controller's LDAP ports, so
// that a stale controller is reported instead of silently reused.
func portsFree(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, "389"), time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("something already listens on %s:389 (a controller this package did not start?)", addr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (dc *DC) stop() error {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if !dc.running {
		return nil
	}
	pid := dc.proc.Pid
	dc.stdin.Close()
	dc.proc.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-dc.done:
	case <-time.After(15 * time.Second):
		err = fmt.Errorf("samba (pid %d) ignored SIGTERM; killed", pid)
		dc.proc.Kill()
		<-dc.done
	}
	// Children of samba (smbd, winbindd) share its process group.
	syscall.Kill(-pid, syscall.SIGKILL)
	dc.running = false
	if perr := portsFree(dc.Addr, 15*time.Second); perr != nil && err == nil {
		err = perr
	}
	return err
}

// shutdown stops the controller, releases Addr and removes Dir.
func (dc *DC) shutdown() error {
	err := dc.stop()
	if dc.lock != nil {
		dc.lock.Close()
		dc.lock = nil
	}
	if rerr := os.RemoveAll(dc.Dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// SambaTool runs samba-tool against the controller's database with args
// and returns its combined output.
func (dc *DC) SambaTool(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "samba-tool", append(args, "-s", dc.SMBConf)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("samba-tool %s: %v: %s", strings.Join(redactArgs(args), " "), err, tail(out, 2000))
	}
	return string(out), nil
}

// redactArgs keeps the subcommand words of a samba-tool command line and
// hides the rest, which may hold passwords.
func redactArgs(args []string) []string {
	var r []string
	for i, a := range args {
		if i >= 2 {
			return append(r, "[...]")
		}
		r = append(r, a)
	}
	return r
}

// MustSambaTool is SambaTool that fails the test on error.
func (dc *DC) MustSambaTool(t testing.TB, args ...string) string {
	t.Helper()
	out, err := dc.SambaTool(context.Background(), args...)
	if err != nil {
		t.Fatalf("testdc: %v", err)
	}
	return out
}

// CreateUser adds a plain domain user (no administrative rights) and
// removes it in the test's cleanup.
func (dc *DC) CreateUser(t testing.TB, name, password string) {
	t.Helper()
	dc.MustSambaTool(t, "user", "create", name, password)
	t.Cleanup(func() {
		if _, err := dc.SambaTool(context.Background(), "user", "delete", name); err != nil {
			t.Logf("testdc: %v", err)
		}
	})
}

// CreateOU adds the organizational unit dn (a full DN under BaseDN) and
// removes it, with anything left inside, in the test's cleanup.
func (dc *DC) CreateOU(t testing.TB, dn string) {
	t.Helper()
	dc.MustSambaTool(t, "ou", "create", dn)
	t.Cleanup(func() {
		if _, err := dc.SambaTool(context.Background(), "ou", "delete", "--force-subtree-delete", dn); err != nil {
			t.Logf("testdc: %v", err)
		}
	})
}

// Kinit obtains a ticket for principal with the keys in keytab from this
// controller's KDC (kinit -k -t), using a private krb5.conf and credential
// cache, and returns kinit's output. enctypes, if given, are the only
// encryption types the client offers (e.g. "rc4-hmac"), to prove one key
// of the keytab at a time.
func (dc *DC) Kinit(ctx context.Context, keytab, principal string, enctypes ...string) (string, error) {
	ccDir, err := os.MkdirTemp("", "wkssvcd-testdc-cc-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(ccDir)
	conf := dc.Krb5Conf
	if len(enctypes) > 0 {
		et := strings.Join(enctypes, " ")
		c := strings.Replace(krb5Conf(), "[libdefaults]\n", "[libdefaults]\n\tdefault_tkt_enctypes = "+et+
			"\n\tdefault_tgs_enctypes = "+et+"\n\tpermitted_enctypes = "+et+"\n", 1)
		conf = filepath.Join(ccDir, "krb5.conf")
		if err := os.WriteFile(conf, []byte(c), 0o644); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kinit", "-k", "-t", keytab, principal)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+conf, "KRB5CCNAME=FILE:"+filepath.Join(ccDir, "cc"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kinit -k -t %s %s: %v: %s", keytab, principal, err, out)
	}
	return string(out), nil
}

// KinitServices obtains a ticket for principal with the keys in keytab,
// as Kinit does, then service tickets for each of services with it, and
// has kvno -k check that keytab decrypts them: the proof that the keytab
// holds the keys, at the key version, that the KDC issues service tickets
// with. It returns the commands' output.
func (dc *DC) KinitServices(ctx context.Context, keytab, principal string, services ...string) (string, error) {
	ccDir, err := os.MkdirTemp("", "wkssvcd-testdc-cc-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(ccDir)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	env := append(os.Environ(), "KRB5_CONFIG="+dc.Krb5Conf, "KRB5CCNAME=FILE:"+filepath.Join(ccDir, "cc"))
	var all []byte
	for _, args := range [][]string{
		{"kinit", "-k", "-t", keytab, principal},
		append([]string{"kvno", "-k", keytab}, services...),
	} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		all = append(all, out...)
		if err != nil {
			return string(all), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return string(all), nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// SMBClient runs smbclient against share on the controller as the
// administrator with the commands of cmds (smbclient -c), and returns its
// output.
func (dc *DC) SMBClient(ctx context.Context, share, cmds string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	authFile, err := os.CreateTemp("", "wkssvcd-testdc-auth-")
	if err != nil {
		return "", err
	}
	defer os.Remove(authFile.Name())
	fmt.Fprintf(authFile, "username = %s\npassword = %s\ndomain = %s\n", dc.AdminUser, dc.AdminPassword, dc.Domain)
	authFile.Close()
	cmd := exec.CommandContext(ctx, "smbclient", "//"+dc.HostFQDN+"/"+share, "-I", dc.Addr, "-A", authFile.Name(), "-c", cmds)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("smbclient //%s/%s -c %q: %v", dc.HostFQDN, share, cmds, err)
	}
	return string(out), nil
}
