package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
	"github.com/wkssvcd/wkssvcd/joinlogic/ldapdir"
	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ntlm"
	"github.com/wkssvcd/wkssvcd/server/smb2"
	"github.com/wkssvcd/wkssvcd/server/srvsvc"
	"github.com/wkssvcd/wkssvcd/wkssvc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// serve starts the daemon and serves until ctx ends, then shuts down
// cleanly.
func serve(ctx context.Context, inv *invocation) error {
	cfg, stdout, stderr, getenv := inv.cfg, inv.env.stdout, inv.env.stderr, inv.env.getenv
	level, err := cfg.logLevel()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	for _, name := range []string{"admin", "user"} {
		if _, ok := inv.cli.lookup(name); ok {
			logger.Warn("--" + name + " puts a password on the command line, where every user of this host can read it (ps); use --" + name + "-file FILE or a systemd credential (LoadCredential=" + name + ":FILE)")
		}
	}
	accts, err := loadAccounts(cfg, getenv)
	if err != nil {
		return err
	}
	live := &liveAccounts{}
	live.store(accts)

	d, err := newDaemon(cfg, live, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wkssvcd: serving \\\\%s\\IPC$\\PIPE\\wkssvc on %s (state in %s)\n", cfg.NetBIOSName, ln.Addr(), cfg.StateDir)
	for _, a := range accts {
		if a.Admin {
			fmt.Fprintf(stdout, "wkssvcd: administrator %q, password from %s\n", a.User, a.From)
		}
	}

	errc := make(chan error, 1)
	go func() { errc <- d.smb.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.smb.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Stops the background recovery of an interrupted join, if any.
	if err := d.joiner.Close(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, smb2.ErrServerClosed) {
		return err
	}
	return nil
}

// daemon is the assembled server: SMB front, RPC runtime, wkssvc adapter,
// join state machine.
type daemon struct {
	smb    *smb2.Server
	joiner *joinlogic.Joiner
}

func newDaemon(cfg *config, accounts ntlm.AccountDB, logger *slog.Logger) (*daemon, error) {
	auth := ntlm.NewAuthenticator(ntlm.Config{
		NetBIOSComputer: cfg.NetBIOSName,
		NetBIOSDomain:   cfg.NetBIOSName, // local accounts: the computer is its own domain
		DNSComputer:     cfg.DNSHostName,
		DNSDomain:       cfg.DNSHostName,
		Accounts:        accounts,
		AllowAnonymous:  cfg.AllowAnonymous,
		Logger:          logger.With("component", "ntlm"),
	})

	store, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	dir := ldapdir.New(ldapdir.Config{
		DNSServer:              cfg.DNSServer,
		DomainControllers:      cfg.DomainControllers,
		CAFile:                 cfg.LDAPCAFile,
		DangerousSkipTLSVerify: cfg.DangerousSkipLDAPTLSVerify,
		OperatingSystem:        "wkssvcd",
		Logger:                 logger.With("component", "ldap"),
	})
	kt, err := keytab.NewFileStore(cfg.Keytab)
	if err != nil {
		return nil, err
	}
	joiner, err := joinlogic.New(joinlogic.Config{
		ComputerName: cfg.NetBIOSName,
		DNSHostName:  cfg.DNSHostName,
		Store:        store,
		Directory:    dir,
		Keytab:       kt,
		Logger:       logger.With("component", "join"),
	})
	if err != nil {
		return nil, err
	}
	// Settle a join or unjoin a crash interrupted before serving; retries
	// in the background while the domain controller is unreachable.
	if err := joiner.StartRecovery(context.Background()); err != nil {
		return nil, err
	}
	membership := wkssvc.NewMembership(joiner)
	wk := wkssvc.New(wkssvc.Config{
		ComputerName: cfg.NetBIOSName,
		DNSHostName:  cfg.DNSHostName,
		Membership:   membership,
		Join:         membership,
		Logger:       logger.With("component", "wkssvc"),
	})
	rpcCfg := dcerpc.Config{Logger: logger.With("component", "dcerpc")}
	smbCfg := smb2.Config{Auth: auth, Logger: logger.With("component", "smb2")}
	cfg.Limits.apply(&smbCfg, &rpcCfg)
	rpc := dcerpc.NewServer(rpcCfg)
	rpc.Register("wkssvc", wkssvc.Interfaces(wk)...)
	rpc.Register("srvsvc", srvsvc.Interfaces(srvsvc.New(srvsvc.Config{ComputerName: cfg.NetBIOSName}))...)

	smbCfg.Pipes = rpc
	smb, err := smb2.NewServer(smbCfg)
	if err != nil {
		return nil, err
	}
	return &daemon{smb: smb, joiner: joiner}, nil
}

// openStore opens the membership file in the state directory. A host with
// no saved membership starts in the configured workgroup; a file that
// cannot be read stops the daemon (it is never silently reset).
func openStore(cfg *config) (*joinlogic.Store, error) {
	path := filepath.Join(cfg.StateDir, membershipFile)
	_, statErr := os.Stat(path)
	store, err := joinlogic.OpenStore(path)
	if err != nil {
		return nil, fmt.Errorf("membership state: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) && cfg.Workgroup != joinlogic.DefaultWorkgroup {
		m := joinlogic.DefaultMembership()
		m.Workgroup = cfg.Workgroup
		if err := store.Save(context.Background(), m); err != nil {
			return nil, fmt.Errorf("membership state: %w", err)
		}
	}
	return store, nil
}

const membershipFile = "membership.json"
