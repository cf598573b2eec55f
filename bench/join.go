package bench

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"

	wkcrypto "github.com/wkssvcd/wkssvcd/crypto"
	"github.com/wkssvcd/wkssvcd/internal/tlsverify"
	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
)

// Contender names of the join benchmark, in report order.
const (
	JoinWkssvcd = "wkssvcd"
	JoinAdcli   = "adcli join"
	JoinNet     = "net ads join"
	JoinFloor   = "LDAP floor"
)

// Goals of the join benchmark (printed, not asserted).
const (
	GoalJoinAdcliRatio = 1.0 // wkssvcd's join at most adcli's time
	GoalJoinFloorRatio = 1.5 // wkssvcd's join at most 1.5× the bare LDAP operations
)

// NETSETUP_* option bits of NetrJoinDomain3 (MS-WKST 2.2.5.1).
const (
	netsetupJoinDomain = 0x1
	netsetupAcctCreate = 0x2
)

// uacWorkstationTrust is userAccountControl WORKSTATION_TRUST_ACCOUNT
// (MS-ADTS 2.2.16), the value of an enabled computer account.
const uacWorkstationTrust = 0x1000

// DC describes the domain controller every contender joins.
type DC struct {
	// Addr is the controller's IP address. Default 127.0.0.2.
	Addr string
	// HostFQDN is its DNS host name, the name its LDAPS certificate is
	// issued to. Default dc1.example.test.
	HostFQDN string
	// Realm is the Kerberos realm. Default EXAMPLE.TEST.
	Realm string
	// Domain is the NetBIOS domain name. Default EXAMPLE.
	Domain string
	// DNSDomain is the DNS domain name. Default the realm in lower case.
	DNSDomain string
	// BaseDN is the domain's naming context. Default derived from DNSDomain.
	BaseDN string
	// AdminUser and AdminPassword are the domain administrator's
	// credentials. AdminUser defaults to Administrator; the password is
	// required and never logged.
	AdminUser, AdminPassword string
	// CAFile is the PEM CA certificate that verifies the LDAPS
	// certificate. Required.
	CAFile string
	// Krb5Conf is a krb5.conf naming Addr as the realm's KDC, for adcli
	// and net. Required when those contenders run.
	Krb5Conf string
}

func (d *DC) fill() {
	if d.Addr == "" {
		d.Addr = "127.0.0.2"
	}
	if d.HostFQDN == "" {
		d.HostFQDN = "dc1.example.test"
	}
	if d.Realm == "" {
		d.Realm = "EXAMPLE.TEST"
	}
	if d.Domain == "" {
		d.Domain = "EXAMPLE"
	}
	if d.DNSDomain == "" {
		d.DNSDomain = strings.ToLower(d.Realm)
	}
	if d.BaseDN == "" {
		var parts []string
		for _, p := range strings.Split(d.DNSDomain, ".") {
			parts = append(parts, "DC="+p)
		}
		d.BaseDN = strings.Join(parts, ",")
	}
	if d.AdminUser == "" {
		d.AdminUser = "Administrator"
	}
}

// JoinConfig configures RunJoin. Every zero field takes its default.
type JoinConfig struct {
	// DC is the controller joined. Its AdminPassword and CAFile are
	// required.
	DC DC
	// Rounds is the number of timed joins per contender. Default 10.
	Rounds int
	// Warmup is the number of untimed rounds before them. Default 1;
	// negative for none.
	Warmup int
	// Contenders are the contenders to run, by the Join* names. Default
	// all four.
	Contenders []string
	// WkssvcdBin is the wkssvcd binary, started once per round with the
	// round's computer name. Required when JoinWkssvcd runs.
	WkssvcdBin string
	// WkssvcdAddr is the IP address wkssvcd listens on (port 445).
	// Default 127.0.0.5.
	WkssvcdAddr string
	// AdcliBin and NetBin are the peer tools. Defaults "adcli" and "net"
	// from PATH. net must resolve the domain through DNS to the DC (run
	// the benchmark where /etc/resolv.conf names the DC).
	AdcliBin, NetBin string
	// WorkDir receives per-round state, keytabs and configuration; it is
	// removed afterwards. Default a new directory under os.TempDir().
	WorkDir string
	// JoinTimeout bounds one join of one contender. Default 2 minutes.
	JoinTimeout time.Duration
	// Progress receives one line per join. Default: discarded.
	Progress io.Writer
}

func (c *JoinConfig) fill() {
	c.DC.fill()
	if c.Rounds <= 0 {
		c.Rounds = 10
	}
	if c.Warmup == 0 {
		c.Warmup = 1
	}
	if len(c.Contenders) == 0 {
		c.Contenders = []string{JoinWkssvcd, JoinAdcli, JoinNet, JoinFloor}
	}
	if c.WkssvcdAddr == "" {
		c.WkssvcdAddr = "127.0.0.5"
	}
	if c.AdcliBin == "" {
		c.AdcliBin = "adcli"
	}
	if c.NetBin == "" {
		c.NetBin = "net"
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 2 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// JoinSample is one contender's timings over the timed rounds.
type JoinSample struct {
	// Times are the wall times of the joins, in round order.
	Times []time.Duration
	// Connect are, for wkssvcd only, the times of the SMB connection
	// and RPC bind made before each call (not part of Times).
	Connect []time.Duration
}

// JoinResult is what RunJoin measured, by contender name.
type JoinResult struct {
	// Config is the configuration the run used, defaults filled in.
	Config JoinConfig
	// Samples holds each contender's timings.
	Samples map[string]*JoinSample
	// NetKeytab says how net's keytab was written: "join" when
	// `net ads join` wrote it, "keytab create" when a timed
	// `net ads keytab create` had to follow.
	NetKeytab string
}

// Median returns the median join time of contender name (0 if absent).
func (r *JoinResult) Median(name string) time.Duration {
	s := r.Samples[name]
	if s == nil || len(s.Times) == 0 {
		return 0
	}
	return medianOf(s.Times)
}

func medianOf(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	c := slices.Clone(d)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// joinContender is one way of joining a computer to the domain.
type joinContender interface {
	// name is the contender's Join* name.
	name() string
	// prepare readies the join of computer name in dir (untimed).
	prepare(ctx context.Context, name, dir string) error
	// join performs it; its wall time is the measurement. It returns
	// once the account exists and the keytab is written.
	join(ctx context.Context) error
	// finish checks the keytab and releases what prepare started
	// (untimed). It is called after every prepare, also a failed one.
	finish(ctx context.Context) error
}

// RunJoin joins a fresh computer name per round with every contender,
// rotating their order from round to round, and deletes each account
// again (untimed) before the next join.
func RunJoin(ctx context.Context, cfg JoinConfig) (*JoinResult, error) {
	cfg.fill()
	if cfg.DC.AdminPassword == "" || cfg.DC.CAFile == "" {
		return nil, errors.New("bench: join needs the DC's administrator password and CA file")
	}
	work := cfg.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "wkssvcd-joinbench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		work = d
	}
	var cs []joinContender
	res := &JoinResult{Config: cfg, Samples: map[string]*JoinSample{}}
	for _, n := range cfg.Contenders {
		var c joinContender
		switch n {
		case JoinWkssvcd:
			if cfg.WkssvcdBin == "" {
				return nil, errors.New("bench: join: the wkssvcd binary is required")
			}
			c = &wkssvcdJoin{cfg: &cfg}
		case JoinAdcli:
			c = &adcliJoin{cfg: &cfg}
		case JoinNet:
			c = &netJoin{cfg: &cfg, res: res}
		case JoinFloor:
			c = &floorJoin{cfg: &cfg}
		default:
			return nil, fmt.Errorf("bench: unknown join contender %q", n)
		}
		cs = append(cs, c)
		res.Samples[n] = &JoinSample{}
	}
	admin, err := dialAdmin(ctx, &cfg.DC)
	if err != nil {
		return nil, fmt.Errorf("bench: join: LDAPS bind to the DC: %w", err)
	}
	defer admin.Close()
	run := make([]byte, 2)
	if _, err := rand.Read(run); err != nil {
		return nil, err
	}
	runID := strings.ToUpper(hex.EncodeToString(run))
	warm := max(cfg.Warmup, 0)
	for round := range warm + cfg.Rounds {
		timed := round >= warm
		for i := range cs {
			c := cs[(i+round)%len(cs)]
			name := computerName(c.name(), runID, round)
			dir := filepath.Join(work, name)
			d, err := joinOnce(ctx, &cfg, admin, c, name, dir)
			if err != nil {
				return nil, fmt.Errorf("%s, round %d (%s): %w", c.name(), round+1, name, err)
			}
			label := "warm-up"
			if timed {
				label = fmt.Sprintf("round %d/%d", round-warm+1, cfg.Rounds)
				s := res.Samples[c.name()]
				s.Times = append(s.Times, d)
				if w, ok := c.(*wkssvcdJoin); ok {
					s.Connect = append(s.Connect, w.connect)
				}
			}
			fmt.Fprintf(cfg.Progress, "  join %-8s %-13s %-10s %v\n", label, c.name(), name, d.Round(time.Millisecond))
		}
	}
	return res, nil
}

// joinOnce prepares, times and finishes one join, then deletes the
// account (all but the join untimed).
func joinOnce(ctx context.Context, cfg *JoinConfig, admin *ldap.Conn, c joinContender, name, dir string) (time.Duration, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	// A leftover of an aborted run would turn the join into a reuse.
	if err := deleteComputer(admin, &cfg.DC, name); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
	defer cancel()
	if err := c.prepare(ctx, name, dir); err != nil {
		c.finish(ctx)
		deleteComputer(admin, &cfg.DC, name)
		return 0, fmt.Errorf("prepare: %w", err)
	}
	start := time.Now()
	jerr := c.join(ctx)
	d := time.Since(start)
	ferr := c.finish(ctx)
	derr := deleteComputer(admin, &cfg.DC, name)
	if jerr != nil {
		return 0, jerr
	}
	if ferr != nil {
		return 0, ferr
	}
	return d, derr
}

// computerName is the NetBIOS name of one join: "BJ", a letter for the
// contender, the run's identifier and the round (at most 15 characters).
func computerName(contender, runID string, round int) string {
	letter := "X"
	switch contender {
	case JoinWkssvcd:
		letter = "W"
	case JoinAdcli:
		letter = "A"
	case JoinNet:
		letter = "N"
	case JoinFloor:
		letter = "F"
	}
	return fmt.Sprintf("BJ%s%s%02d", letter, runID, round%100)
}

// dialAdmin opens LDAPS to the DC, verifying its certificate for
// HostFQDN with CAFile, and binds as the administrator.
func dialAdmin(ctx context.Context, dc *DC) (*ldap.Conn, error) {
	pem, err := os.ReadFile(dc.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", dc.CAFile)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	l, err := ldap.DialURL("ldaps://"+net.JoinHostPort(dc.Addr, "636"),
		ldap.DialWithDialer(d), ldap.DialWithTLSConfig(tlsverify.Config(pool, dc.HostFQDN)))
	if err != nil {
		return nil, err
	}
	l.SetTimeout(30 * time.Second)
	if err := l.Bind(dc.AdminUser+"@"+dc.DNSDomain, dc.AdminPassword); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// findComputer returns the DN of NAME$, or "" when there is none.
func findComputer(l *ldap.Conn, dc *DC, name string, attrs ...string) (*ldap.Entry, error) {
	res, err := l.Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 30, false,
		"(sAMAccountName="+ldap.EscapeFilter(name+"$")+")", append([]string{"distinguishedName"}, attrs...), nil))
	if err != nil {
		return nil, fmt.Errorf("searching %s$: %w", name, err)
	}
	if len(res.Entries) == 0 {
		return nil, nil
	}
	return res.Entries[0], nil
}

// deleteComputer removes NAME$ if it exists.
func deleteComputer(l *ldap.Conn, dc *DC, name string) error {
	e, err := findComputer(l, dc, name)
	if err != nil || e == nil {
		return err
	}
	// The tree-delete control also removes children some joins create.
	if err := l.Del(ldap.NewDelRequest(e.DN, []ldap.Control{ldap.NewControlString(ldap.ControlTypeMicrosoftTreeDelete, true, "")})); err != nil {
		return fmt.Errorf("deleting %s: %w", e.DN, err)
	}
	return nil
}

// checkKeytab fails unless path is a non-empty keytab file.
func checkKeytab(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("keytab: %w", err)
	}
	// A keytab starts with 0x05 0x02 (MIT format version 2).
	if len(b) < 4 || b[0] != 5 || b[1] != 2 {
		return fmt.Errorf("keytab %s: not a version 0x502 keytab (%d bytes)", path, len(b))
	}
	return nil
}

// wkssvcdJoin starts the daemon with the round's computer name and calls
// NetrJoinDomain3 (MS-WKST 3.2.4.13) through go-msrpc: the time is the
// call, from the request to the reply; the daemon replies once the
// account exists and the keytab is written.
type wkssvcdJoin struct {
	cfg     *JoinConfig
	connect time.Duration // SMB connection and RPC bind of the last prepare
	proc    *exec.Cmd
	done    chan struct{}
	dir     string
	cli     *Client
	cctx    context.Context
	cancel  context.CancelFunc
}

func (w *wkssvcdJoin) name() string { return JoinWkssvcd }

const joinLocalAdmin, joinLocalPassword = "admin", "Bench-J01n-Adm1n"

func (w *wkssvcdJoin) prepare(ctx context.Context, name, dir string) error {
	w.dir, w.connect = dir, 0
	dc := &w.cfg.DC
	// The administrator's password goes in a file only this user reads,
	// not on the command line, where every user of the host sees it.
	adminFile := filepath.Join(dir, "admin")
	if err := os.WriteFile(adminFile, []byte(joinLocalAdmin+":"+joinLocalPassword+"\n"), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(w.cfg.WkssvcdBin,
		"--listen", net.JoinHostPort(w.cfg.WkssvcdAddr, "445"),
		"--state-dir", filepath.Join(dir, "state"),
		"--keytab", filepath.Join(dir, "state", "krb5.keytab"),
		"--netbios-name", name,
		"--dns-hostname", strings.ToLower(name)+"."+dc.DNSDomain,
		"--dns-server", dc.Addr,
		"--ldap-ca", dc.CAFile,
		"--admin-file", adminFile,
		"--log-level", "warn")
	logf, err := os.Create(filepath.Join(dir, "wkssvcd.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	w.proc, w.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(w.done) }()
	t := Target{Name: JoinWkssvcd, Host: w.cfg.WkssvcdAddr, User: joinLocalAdmin, Password: joinLocalPassword}
	for {
		c, err := net.DialTimeout("tcp", t.Addr(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-w.done:
			return fmt.Errorf("wkssvcd exited during start-up: %s", w.log())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	// The connection and bind are made before the timed call; their time
	// is recorded separately.
	w.cctx, w.cancel = context.WithCancel(ctx)
	start := time.Now()
	cli, err := Dial(w.cctx, t)
	if err != nil {
		return err
	}
	w.connect = time.Since(start)
	w.cli = cli
	return nil
}

func (w *wkssvcdJoin) join(ctx context.Context) error {
	v, ok := gssapi.GetAttribute(w.cli.cli.Conn().Context(), gssapi.AttributeSMBEffectiveSessionKey)
	key, _ := v.([]byte)
	if !ok || len(key) == 0 {
		return errors.New("no SMB session key to encrypt the password with")
	}
	dc := &w.cfg.DC
	blob, err := wkcrypto.EncryptAES(key, dc.AdminPassword, rand.Reader)
	if err != nil {
		return err
	}
	resp, err := w.cli.cli.JoinDomain3(ctx, &wkssvc.JoinDomain3Request{
		DomainNameParam: dc.DNSDomain,
		AccountName:     dc.Domain + `\` + dc.AdminUser,
		Password: &wkssvc.EncryptedUserPasswordAES{AuthData: blob.AuthData[:], Salt: blob.Salt[:],
			CipherLength: uint32(len(blob.Cipher)), Cipher: blob.Cipher},
		Options: netsetupJoinDomain | netsetupAcctCreate,
	})
	if err != nil {
		return fmt.Errorf("NetrJoinDomain3: %w\n%s", err, w.log())
	}
	if resp.Return != 0 {
		return fmt.Errorf("NetrJoinDomain3: status %#x\n%s", resp.Return, w.log())
	}
	return nil
}

func (w *wkssvcdJoin) finish(ctx context.Context) error {
	var errs []error
	if w.cli != nil {
		w.cli.Close(ctx)
		w.cli = nil
	}
	if w.cancel != nil {
		w.cancel()
	}
	errs = append(errs, checkKeytab(filepath.Join(w.dir, "state", "krb5.keytab")))
	if w.proc != nil {
		w.proc.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			w.proc.Process.Kill()
			<-w.done
			errs = append(errs, errors.New("wkssvcd ignored SIGTERM; killed"))
		}
		w.proc = nil
	}
	return errors.Join(errs...)
}

func (w *wkssvcdJoin) log() string {
	b, _ := os.ReadFile(filepath.Join(w.dir, "wkssvcd.log"))
	return tailString(b, 2000)
}

func tailString(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// adcliJoin runs `adcli join` with the administrator's password on
// standard input, a private krb5.conf and credential cache, the DC named
// explicitly and a keytab of its own.
type adcliJoin struct {
	cfg  *JoinConfig
	args []string
	env  []string
	dir  string
}

func (a *adcliJoin) name() string { return JoinAdcli }

func (a *adcliJoin) prepare(ctx context.Context, name, dir string) error {
	dc := &a.cfg.DC
	if dc.Krb5Conf == "" {
		return errors.New("adcli needs DC.Krb5Conf")
	}
	a.dir = dir
	a.args = adcliArgs(dc, name, filepath.Join(dir, "krb5.keytab"))
	a.env = append(os.Environ(), "KRB5_CONFIG="+dc.Krb5Conf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "ccache"),
		"KRB5_KTNAME=FILE:"+filepath.Join(dir, "krb5.keytab"))
	return nil
}

// adcliArgs is the command line of one adcli join.
func adcliArgs(dc *DC, name, keytabPath string) []string {
	return []string{"join",
		"--domain=" + dc.DNSDomain,
		"--domain-realm=" + dc.Realm,
		"--domain-controller=" + dc.Addr,
		"--computer-name=" + name,
		"--host-fqdn=" + strings.ToLower(name) + "." + dc.DNSDomain,
		"--host-keytab=" + keytabPath,
		"--login-user=" + dc.AdminUser,
		"--stdin-password",
	}
}

func (a *adcliJoin) join(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, a.cfg.AdcliBin, a.args...)
	cmd.Env = a.env
	cmd.Stdin = strings.NewReader(a.cfg.DC.AdminPassword)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("adcli join: %v: %s", err, tailString(out, 2000))
	}
	return nil
}

func (a *adcliJoin) finish(context.Context) error {
	return checkKeytab(filepath.Join(a.dir, "krb5.keytab"))
}

// netJoin runs Samba's `net ads join` with a private smb.conf (its own
// state directories, this round's NetBIOS name, a dedicated keytab), the
// administrator's password in $PASSWD, and no DNS registration. Samba 4.17
// writes no keytab during the join, so a `net ads keytab create` follows
// and is timed with it.
type netJoin struct {
	cfg  *JoinConfig
	res  *JoinResult
	conf string
	dir  string
	env  []string
}

func (n *netJoin) name() string { return JoinNet }

func (n *netJoin) prepare(ctx context.Context, name, dir string) error {
	n.dir = dir
	for _, sub := range []string{"lock", "state", "cache", "private", "pid"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	n.conf = filepath.Join(dir, "smb.conf")
	if err := os.WriteFile(n.conf, []byte(netSMBConf(&n.cfg.DC, name, dir)), 0o600); err != nil {
		return err
	}
	n.env = append(os.Environ(), "PASSWD="+n.cfg.DC.AdminPassword)
	if n.cfg.DC.Krb5Conf != "" {
		n.env = append(n.env, "KRB5_CONFIG="+n.cfg.DC.Krb5Conf)
	}
	// KRB5_KTNAME keeps any keytab net writes out of /etc/krb5.keytab.
	n.env = append(n.env, "KRB5CCNAME=FILE:"+filepath.Join(dir, "ccache"), "KRB5_KTNAME=FILE:"+filepath.Join(dir, "krb5.keytab"))
	return nil
}

// netSMBConf is the client smb.conf of one `net ads join`.
func netSMBConf(dc *DC, name, dir string) string {
	var b strings.Builder
	b.WriteString("[global]\n")
	for _, kv := range [][2]string{
		{"workgroup", dc.Domain},
		{"realm", dc.Realm},
		{"security", "ads"},
		{"netbios name", name},
		{"lock directory", filepath.Join(dir, "lock")},
		{"state directory", filepath.Join(dir, "state")},
		{"cache directory", filepath.Join(dir, "cache")},
		{"private dir", filepath.Join(dir, "private")},
		{"pid directory", filepath.Join(dir, "pid")},
		{"kerberos method", "dedicated keytab"},
		{"dedicated keytab file", "FILE:" + filepath.Join(dir, "krb5.keytab")},
		{"disable netbios", "yes"},
		{"log level", "0"},
	} {
		fmt.Fprintf(&b, "\t%s = %s\n", kv[0], kv[1])
	}
	return b.String()
}

func (n *netJoin) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, n.cfg.NetBin, append([]string{"-s", n.conf}, args...)...)
	cmd.Env = n.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("net %s: %v: %s", strings.Join(args[:min(2, len(args))], " "), err, tailString(out, 2000))
	}
	return nil
}

func (n *netJoin) join(ctx context.Context) error {
	if err := n.run(ctx, "ads", "join", "-U", n.cfg.DC.AdminUser, "--no-dns-updates"); err != nil {
		return err
	}
	if checkKeytab(filepath.Join(n.dir, "krb5.keytab")) == nil {
		n.res.NetKeytab = "join"
		return nil
	}
	n.res.NetKeytab = "keytab create"
	return n.run(ctx, "ads", "keytab", "create", "-P")
}

func (n *netJoin) finish(context.Context) error {
	return checkKeytab(filepath.Join(n.dir, "krb5.keytab"))
}

// floorJoin does only what any join needs, directly: an LDAPS connection
// and administrator bind, one search for the account, one add of the
// complete computer object (with its password), one read of
// msDS-KeyVersionNumber, and the keytab written with joinlogic/keytab.
type floorJoin struct {
	cfg      *JoinConfig
	computer string
	dir      string
}

func (f *floorJoin) name() string { return JoinFloor }

func (f *floorJoin) prepare(ctx context.Context, name, dir string) error {
	f.computer, f.dir = name, dir
	return nil
}

func (f *floorJoin) join(ctx context.Context) error {
	dc := &f.cfg.DC
	l, err := dialAdmin(ctx, dc)
	if err != nil {
		return err
	}
	defer l.Close()
	e, err := findComputer(l, dc, f.computer)
	if err != nil {
		return err
	}
	if e != nil {
		return fmt.Errorf("%s$ already exists", f.computer)
	}
	pw, err := wkcrypto.GenerateMachinePassword(rand.Reader)
	if err != nil {
		return err
	}
	fqdn := strings.ToLower(f.computer) + "." + dc.DNSDomain
	dn := "CN=" + ldap.EscapeDN(f.computer) + ",CN=Computers," + dc.BaseDN
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user", "computer"})
	add.Attribute("cn", []string{f.computer})
	add.Attribute("sAMAccountName", []string{f.computer + "$"})
	add.Attribute("userAccountControl", []string{strconv.Itoa(uacWorkstationTrust)})
	add.Attribute("unicodePwd", []string{quotedUTF16(pw)})
	add.Attribute("dNSHostName", []string{fqdn})
	add.Attribute("servicePrincipalName", []string{"HOST/" + fqdn, "HOST/" + f.computer, "RestrictedKrbHost/" + fqdn, "RestrictedKrbHost/" + f.computer})
	add.Attribute("msDS-SupportedEncryptionTypes", []string{"28"})
	if err := l.Add(add); err != nil {
		return fmt.Errorf("adding %s: %w", dn, err)
	}
	res, err := l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 30, false,
		"(objectClass=*)", []string{"msDS-KeyVersionNumber"}, nil))
	if err != nil {
		return fmt.Errorf("reading msDS-KeyVersionNumber: %w", err)
	}
	if len(res.Entries) != 1 {
		return errors.New("reading msDS-KeyVersionNumber: no entry")
	}
	kvno, err := strconv.ParseUint(res.Entries[0].GetAttributeValue("msDS-KeyVersionNumber"), 10, 32)
	if err != nil {
		return fmt.Errorf("msDS-KeyVersionNumber: %w", err)
	}
	return keytab.Write(filepath.Join(f.dir, "krb5.keytab"), keytab.Entries{
		ComputerName: f.computer, DNSHostName: fqdn, Realm: dc.Realm, Password: pw, KVNO: uint32(kvno),
	})
}

func (f *floorJoin) finish(context.Context) error {
	return checkKeytab(filepath.Join(f.dir, "krb5.keytab"))
}

// quotedUTF16 is the unicodePwd encoding of password: UTF-16LE of the
// password in double quotes (MS-ADTS 3.1.1.3.1.5.1).
func quotedUTF16(password string) string {
	u := utf16.Encode([]rune(`"` + password + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return string(b)
}

// JoinRows are the rows of the join benchmark in the main comparison
// table: wkssvcd's median join against each other contender's.
func (r *JoinResult) JoinRows() []Row {
	w := r.Median(JoinWkssvcd)
	var rows []Row
	add := func(peer, label, goal string, limit float64) {
		p := r.Median(peer)
		if w == 0 || p == 0 {
			return
		}
		v, txt := ratio(float64(w), float64(p))
		met := ""
		if goal != "" {
			met = yesNo(v <= limit)
		}
		rows = append(rows, Row{"Online domain join (account created, keytab written), median: wkssvcd vs " + label,
			formatJoin(w), formatJoin(p), txt, goal, met})
	}
	add(JoinAdcli, "`adcli join` (peer column)", "≤ adcli", GoalJoinAdcliRatio)
	netLabel := "`net ads join` (peer column)"
	if r.NetKeytab == "keytab create" {
		netLabel = "`net ads join` + `net ads keytab create` (peer column)"
	}
	add(JoinNet, netLabel, "", 0)
	add(JoinFloor, "the bare LDAP floor (peer column)", "≤ 1.5× floor", GoalJoinFloorRatio)
	if len(rows) == 0 {
		rows = append(rows, Row{"Online domain join latency vs adcli / net ads join / LDAP floor", "not measured (contenders missing)", "", "", "", ""})
	}
	return rows
}

// JoinMarkdown is the detailed table of the join benchmark: every
// contender's median, minimum and maximum, and wkssvcd ÷ it.
func (r *JoinResult) JoinMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Online domain join against one Samba AD DC (%s at %s), %d timed round(s) after %d warm-up round(s), contenders rotating; each join a fresh computer name, the account deleted between joins (untimed):\n\n",
		r.Config.DC.HostFQDN, r.Config.DC.Addr, r.Config.Rounds, max(r.Config.Warmup, 0))
	b.WriteString("| Contender | median | min | max | joins | wkssvcd ÷ contender |\n|---|---:|---:|---:|---:|---:|\n")
	w := r.Median(JoinWkssvcd)
	for _, n := range r.Config.Contenders {
		s := r.Samples[n]
		if s == nil || len(s.Times) == 0 {
			continue
		}
		lo, hi := slices.Min(s.Times), slices.Max(s.Times)
		_, txt := ratio(float64(w), float64(r.Median(n)))
		label := n
		switch n {
		case JoinWkssvcd:
			label = "wkssvcd (NetrJoinDomain3 call)"
		case JoinNet:
			if r.NetKeytab == "keytab create" {
				label = "net ads join + net ads keytab create"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s |\n", label, formatJoin(r.Median(n)), formatJoin(lo), formatJoin(hi), len(s.Times), txt)
		if n == JoinWkssvcd && len(s.Connect) > 0 {
			c := slices.Clone(s.Connect)
			fmt.Fprintf(&b, "| wkssvcd: SMB connection + RPC bind before the call (not in the line above) | %s | %s | %s | %d |  |\n",
				formatJoin(medianOf(c)), formatJoin(slices.Min(c)), formatJoin(slices.Max(c)), len(c))
		}
	}
	return b.String()
}

// formatJoin prints a join time: as FormatDuration below one second, in
// seconds with two decimals above.
func formatJoin(d time.Duration) string {
	if d < time.Second {
		return FormatDuration(d)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}
