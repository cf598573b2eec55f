package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
	"github.com/wkssvcd/wkssvcd/odj"
)

// wkssvcd requestodj: djoin /requestodj for this host. With no network it
// applies a provisioning file (djoin's, Samba's net offlinejoin's or wkst
// provision's) to the state directory the daemon uses: the membership, the
// keytab, the DirectAccess parts. When the daemon runs, the file goes to it
// over the control socket and takes effect at once; otherwise this process
// writes the state directory itself, under its lock.

const groupODJ = "offline join"

// odjConfig is the configuration of requestodj.
type odjConfig struct {
	LoadFile       string
	InstallRootCAs bool
	KVNO           int
	Replace        bool
	CADir          string
}

func odjOptions() []*option {
	return []*option{
		{name: "loadfile", arg: "FILE", group: groupODJ, cliOnly: true,
			usage: "provisioning file to apply (djoin /loadfile; - for standard input): a djoin or Samba savefile, its base64 text, or the binary form",
			bind:  func(c *config) value { return (*stringValue)(&c.ODJ.LoadFile) }},
		{name: "kvno", arg: "N", group: groupODJ, def: "0", defText: "1, the key version of a newly created account",
			usage: "key version number for the keytab (the file carries none; wkst provision prints it, and --reuse accounts have a higher one)",
			bind:  func(c *config) value { return &intValue{p: &c.ODJ.KVNO, min: 0, max: 1<<31 - 1} }},
		{name: "replace-membership", group: groupODJ,
			usage: "replace the domain membership this host has (else an already joined host refuses the file)",
			bind:  func(c *config) value { return (*boolFlag)(&c.ODJ.Replace) }},
		{name: "install-root-cas", group: groupODJ,
			usage: "also install the file's root CA certificates into the system trust store (update-ca-certificates or update-ca-trust)",
			bind:  func(c *config) value { return (*boolFlag)(&c.ODJ.InstallRootCAs) }},
		{name: "ca-dir", arg: "DIR", group: groupODJ, defText: "/usr/local/share/ca-certificates, or /etc/pki/ca-trust/source/anchors",
			usage: "directory of local CA certificates that --install-root-cas writes to",
			bind:  func(c *config) value { return (*stringValue)(&c.ODJ.CADir) }},
	}
}

func requestODJCommand() *command {
	return &command{
		name:    "requestodj",
		summary: "apply an offline domain join file to this host (djoin /requestodj), no network needed",
		about: `Reads a provisioning file made by djoin /provision, Samba's net offlinejoin
provision or wkst provision and makes this host a member of its domain:
the membership and the machine keytab in the state directory, as an online
join leaves them. The file must be for this computer (its NetBIOS name).
Policy settings of the file are kept in STATE-DIR/offline-join/policy.json,
its root CA certificates in STATE-DIR/offline-join/root-cas.pem, for as
long as the host stays joined by that file (an unjoin removes them). When the
daemon runs with the same --state-dir, the file is handed to it and takes
effect at once; otherwise this command writes the state, which the daemon
uses when it starts. Nothing is written when the file is refused.`,
		groups: []string{groupGeneral, groupServer, groupLogging, groupODJ},
		run:    requestODJ,
	}
}

// maxLoadFile bounds what requestodj reads.
const maxLoadFile = odj.MaxSavefileSize

func requestODJ(ctx context.Context, inv *invocation) error {
	cfg := inv.cfg
	level, err := cfg.logLevel()
	if err != nil {
		return err
	}
	logger := slog.New(newLogHandler(inv.env.stderr, cfg.LogFormat, levelVar(level), inv.env.getenv))
	if cfg.ODJ.LoadFile == "" {
		return usagef("requestodj: --loadfile is required")
	}
	data, err := readLoadFile(cfg.ODJ.LoadFile, inv.env.stdin)
	if err != nil {
		return err
	}
	// Refuse a bad file before anything else, with its reason.
	f, err := decodeProvisioningFile(data)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.ODJ.LoadFile, err)
	}
	req := odjRequest{File: data, KVNO: uint32(cfg.ODJ.KVNO), Replace: cfg.ODJ.Replace}

	var res *odjResult
	lock, err := lockStateDir(cfg.StateDir)
	switch {
	case err == nil:
		res, err = applyLocally(ctx, cfg, logger, req)
		lock.release()
	case errors.Is(err, errStateLocked):
		// The daemon (or another requestodj) writes the state directory:
		// the file goes to it.
		logger.Debug("requestodj: the state directory is in use; handing the file to the daemon", "reason", err)
		sctx, cancel := context.WithTimeout(ctx, controlTimeout)
		res, err = sendToDaemon(sctx, cfg.StateDir, req)
		cancel()
		if err != nil {
			err = fmt.Errorf("%w (%v)", err, "the state directory "+cfg.StateDir+" is locked by another process")
		}
	}
	if err != nil {
		return fmt.Errorf("applying %s: %w", cfg.ODJ.LoadFile, err)
	}
	out := inv.env.stdout
	fmt.Fprintf(out, "wkssvcd: joined %s (%s) offline as %s", res.DomainNetBIOS, res.Domain, res.Account)
	if res.AccountSID != "" {
		fmt.Fprintf(out, " (%s)", res.AccountSID)
	}
	fmt.Fprintf(out, ", applied by %s\n", res.AppliedBy)
	fmt.Fprintf(out, "wkssvcd: keytab %s, key version %d\n", res.Keytab, res.KVNO)
	for _, s := range res.StateFiles {
		fmt.Fprintf(out, "wkssvcd: wrote %s\n", s)
	}
	if cfg.ODJ.InstallRootCAs {
		certs := rootCAs(f.join)
		if len(certs) == 0 {
			fmt.Fprintln(out, "wkssvcd: --install-root-cas: the file holds no root CA certificate")
			return nil
		}
		installed, err := installRootCAs(ctx, cfg.ODJ.CADir, f.join.Win7.Domain, certs)
		if err != nil {
			return fmt.Errorf("the host joined, but installing the root CA certificates failed: %w", err)
		}
		for _, p := range installed {
			fmt.Fprintf(out, "wkssvcd: installed %s into the system trust store\n", p)
		}
	}
	return nil
}

func levelVar(l slog.Level) *slog.LevelVar {
	v := new(slog.LevelVar)
	v.Set(l)
	return v
}

func readLoadFile(path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		if stdin == nil {
			return nil, errors.New("--loadfile -: no standard input")
		}
		r = stdin
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	data, err := io.ReadAll(io.LimitReader(r, maxLoadFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxLoadFile {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a provisioning file", path, maxLoadFile)
	}
	return data, nil
}

// applyLocally applies req with a join state machine of its own on the
// state directory, whose lock the caller holds (no daemon runs).
func applyLocally(ctx context.Context, cfg *config, logger *slog.Logger, req odjRequest) (*odjResult, error) {
	a, closeFn, err := newODJApplier(cfg, logger, "wkssvcd requestodj (no daemon was running)")
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return a.apply(ctx, req)
}

// newODJApplier opens the state directory as the daemon does (names,
// membership, keytab, journal) with no directory: an offline join needs
// none.
func newODJApplier(cfg *config, logger *slog.Logger, by string) (*odjApplier, func(), error) {
	names, err := openNames(cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	kt, err := keytab.NewFileStore(cfg.Keytab)
	if err != nil {
		return nil, nil, err
	}
	joiner, err := joinlogic.New(joinlogic.Config{Names: names, Store: store, Keytab: kt, Logger: logger.With("component", "join")})
	if err != nil {
		return nil, nil, err
	}
	if err := settleODJArtifacts(cfg.StateDir, store); err != nil {
		logger.Warn("offline join files", "err", err)
	}
	followMembership(cfg.StateDir, store, logger)
	a := &odjApplier{joiner: joiner, store: store, stateDir: cfg.StateDir, keytab: cfg.Keytab, log: logger, by: by}
	return a, func() { joiner.Close() }, nil
}

// trustStores are the distributions' system trust stores: where local CA
// certificates go and the tool that rebuilds the store from them.
var trustStores = []struct {
	tool string
	args []string
	dir  string
}{
	{"update-ca-certificates", nil, "/usr/local/share/ca-certificates"},          // Debian, Ubuntu
	{"update-ca-trust", []string{"extract"}, "/etc/pki/ca-trust/source/anchors"}, // Fedora, RHEL
}

// trustStoreTool is the command that rebuilds this system's trust store.
func trustStoreTool() string {
	for _, ts := range trustStores {
		if lookPath(ts.tool) {
			return strings.Join(append([]string{ts.tool}, ts.args...), " ")
		}
	}
	return "update-ca-certificates"
}

// rootCAFileName names the file of one installed certificate: after the
// domain and the certificate's digest, so that installing the same file
// again changes nothing.
func rootCAFileName(domain string, der []byte) string {
	sum := sha256.Sum256(der)
	return "wkssvcd-" + safeName(strings.ToLower(domain)) + "-" + hex.EncodeToString(sum[:8]) + ".crt"
}

// installedRootCAs lists the certificates requestodj --install-root-cas
// put into dir, or into the distributions' directories when dir is "".
func installedRootCAs(dir string) []string {
	dirs := []string{dir}
	if dir == "" {
		dirs = dirs[:0]
		for _, ts := range trustStores {
			dirs = append(dirs, ts.dir)
		}
	}
	var out []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, "wkssvcd-*.crt"))
		out = append(out, m...)
	}
	return out
}

// installRootCAs writes certs as local CA certificates of the system
// trust store and has the distribution's tool rebuild it: Debian's
// update-ca-certificates (from /usr/local/share/ca-certificates) or
// Fedora's update-ca-trust (from /etc/pki/ca-trust/source/anchors).
func installRootCAs(ctx context.Context, dir, domain string, certs [][]byte) ([]string, error) {
	tool, args, defDir := "", []string(nil), ""
	for _, ts := range trustStores {
		if lookPath(ts.tool) {
			tool, args, defDir = ts.tool, ts.args, ts.dir
			break
		}
	}
	if tool == "" {
		return nil, errors.New("neither update-ca-certificates (Debian: apt-get install ca-certificates) nor update-ca-trust (Fedora) is installed")
	}
	if dir == "" {
		dir = defDir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, der := range certs {
		p := filepath.Join(dir, rootCAFileName(domain, der))
		if err := atomicfile.Write(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, tool, args...).CombinedOutput()
	if err != nil {
		return written, fmt.Errorf("%s: %v: %s", tool, err, strings.TrimSpace(string(out)))
	}
	return written, nil
}

func lookPath(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
