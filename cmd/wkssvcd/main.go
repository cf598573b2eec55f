package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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
	// SIGHUP reloads (serve); caught from the start, so that an early one
	// never kills the daemon.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, hup: hup})
	stop()
	os.Exit(code)
}

// daemon is the assembled server: SMB front, RPC runtime, wkssvc adapter,
// join state machine.
type daemon struct {
	smb    *smb2.Server
	joiner *joinlogic.Joiner
	names  *joinlogic.FileNameStore
	store  *joinlogic.Store
	member *member
}

func newDaemon(cfg *config, accounts ntlm.AccountDB, logger *slog.Logger) (*daemon, error) {
	names, err := openNames(cfg, logger)
	if err != nil {
		return nil, err
	}
	warnShortDNSName(names, logger)
	store, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	dir := ldapdir.New(cfg.directoryConfig(logger))
	member := newMember(cfg, names, store, dir, logger)
	auth := member.authenticator(accounts)
	kt, err := keytab.NewFileStore(cfg.Keytab)
	if err != nil {
		return nil, err
	}
	joiner, err := joinlogic.New(joinlogic.Config{
		Names:           names,
		Store:           store,
		Directory:       dir,
		Keytab:          kt,
		NameChecks:      cfg.Workstation.nameChecks(),
		PasswordChanger: member,
		Logger:          logger.With("component", "join"),
	})
	if err != nil {
		return nil, err
	}
	member.joiner = joiner
	// Settle a join or unjoin a crash interrupted before serving; retries
	// in the background while the domain controller is unreachable.
	if err := joiner.StartRecovery(context.Background()); err != nil {
		return nil, err
	}
	host := &hostSources{}
	wkCfg := wkssvc.Config{
		Names:  names,
		Join:   joiner,
		Logger: logger.With("component", "wkssvc"),
	}
	if err := cfg.Workstation.apply(cfg, &wkCfg, host, time.Now()); err != nil {
		joiner.Close()
		return nil, err
	}
	wk := wkssvc.New(wkCfg)
	rpcCfg := dcerpc.Config{Auth: auth, Logger: logger.With("component", "dcerpc")}
	smbCfg := smb2.Config{Auth: auth, Logger: logger.With("component", "smb2")}
	cfg.Limits.apply(&smbCfg, &rpcCfg)
	rpc := dcerpc.NewServer(rpcCfg)
	rpc.Register("wkssvc", wkssvc.Interfaces(wk)...)
	rpc.Register("srvsvc", srvsvc.Interfaces(srvsvc.New(srvsvc.Config{Names: names}))...)

	smbCfg.Pipes = rpc
	smb, err := smb2.NewServer(smbCfg)
	if err != nil {
		return nil, err
	}
	host.smb = smb
	return &daemon{smb: smb, joiner: joiner, names: names, store: store, member: member}, nil
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

// namesFile keeps the computer's names once a rename or an alternate-name
// method changed them; until then --netbios-name and --dns-hostname name
// the computer.
const namesFile = "computer-names.json"

// openNames opens the computer's names in the state directory. Names
// saved there (by a rename) win over the flags, which the log says.
func openNames(cfg *config, logger *slog.Logger) (*joinlogic.FileNameStore, error) {
	path := filepath.Join(cfg.StateDir, namesFile)
	names, err := joinlogic.OpenNameStore(path, joinlogic.ComputerName{NetBIOS: cfg.NetBIOSName, FQDN: cfg.DNSHostName})
	if err != nil {
		return nil, fmt.Errorf("computer names: %w", err)
	}
	if n := names.Names(); !strings.EqualFold(n.NetBIOS, cfg.NetBIOSName) || !strings.EqualFold(n.FQDN, cfg.DNSHostName) {
		logger.Warn("the computer was renamed: the names saved in the state directory win over --netbios-name and --dns-hostname",
			"netbios_name", n.NetBIOS, "dns_hostname", n.FQDN, "file", path)
	}
	return names, nil
}
