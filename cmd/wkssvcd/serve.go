package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/wkssvcd/wkssvcd/server/smb2"
)

// serve starts the daemon and serves until ctx ends, then shuts down
// cleanly. SIGHUP (inv.env.hup) reloads the configuration file, the
// accounts and the log level; connections and sessions stay. Under systemd
// with Type=notify it reports READY=1 once it listens, RELOADING=1 and
// READY=1 around a reload, and STOPPING=1.
func serve(ctx context.Context, inv *invocation) error {
	cfg, stdout, stderr, getenv := inv.cfg, inv.env.stdout, inv.env.stderr, inv.env.getenv
	level := new(slog.LevelVar)
	l, err := cfg.logLevel()
	if err != nil {
		return err
	}
	level.Set(l)
	logger := slog.New(newLogHandler(stderr, cfg.LogFormat, level, getenv))

	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if err := checkStateTrust(cfg); err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	warnPasswordFlags(inv.cli, logger)
	accts, err := loadAccounts(cfg, getenv)
	if err != nil {
		return err
	}
	live := &liveAccounts{}
	live.store(accts)

	// One writer of the state directory at a time (statelock.go).
	lock, err := lockStateDir(cfg.StateDir)
	if err != nil {
		return fmt.Errorf("%w; is another wkssvcd running with --state-dir %s?", err, cfg.StateDir)
	}
	defer lock.release()
	d, err := newDaemon(cfg, live, logger)
	if err != nil {
		return err
	}
	ctl, err := startODJControl(cfg, d, logger)
	if err != nil {
		d.joiner.Close()
		return err
	}
	defer ctl.close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		d.joiner.Close()
		return err
	}
	fmt.Fprintf(stdout, "wkssvcd: serving \\\\%s\\IPC$\\PIPE\\wkssvc on %s (state in %s)\n", d.names.NetBIOSName(), ln.Addr(), cfg.StateDir)
	for _, a := range accts {
		if a.Admin {
			fmt.Fprintf(stdout, "wkssvcd: administrator %q, password from %s\n", a.User, a.From)
		}
	}
	status := fmt.Sprintf("serving \\\\%s on %s", d.names.NetBIOSName(), ln.Addr())

	d.member.start()
	errc := make(chan error, 1)
	go func() { errc <- d.smb.Serve(ln) }()
	notify(logger, sddaemon.SdNotifyReady+"\nSTATUS="+status)
	for done := false; !done; {
		select {
		case err := <-errc:
			notify(logger, sddaemon.SdNotifyStopping+"\nSTATUS=stopped: "+err.Error())
			d.joiner.Close()
			d.member.close()
			return err
		case <-inv.env.hup:
			notify(logger, sddaemon.SdNotifyReloading+"\n"+sddaemon.SdNotifyMonotonicUsec()+"STATUS=reloading")
			if err := reload(inv, level, live, logger); err != nil {
				logger.Error("reload failed; the running settings stay", "err", err)
			}
			notify(logger, sddaemon.SdNotifyReady+"\nSTATUS="+status)
		case <-ctx.Done():
			done = true
		}
	}
	logger.Info("shutting down")
	notify(logger, sddaemon.SdNotifyStopping+"\nSTATUS=shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.smb.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Stops the background recovery of an interrupted join, if any.
	if err := d.joiner.Close(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	d.member.close()
	if err := <-errc; err != nil && !errors.Is(err, smb2.ErrServerClosed) {
		return err
	}
	return nil
}

// notify sends a state to the service manager when there is one
// ($NOTIFY_SOCKET, sd_notify(3)).
func notify(logger *slog.Logger, state string) {
	if _, err := sddaemon.SdNotify(false, state); err != nil {
		logger.Warn("cannot notify the service manager", "err", err)
	}
}

// warnPasswordFlags warns about passwords given as flags: every user of
// the host reads them in the process list.
func warnPasswordFlags(cli *layer, logger *slog.Logger) {
	for _, name := range []string{"admin", "user"} {
		if _, ok := cli.lookup(name); ok {
			logger.Warn("--" + name + " puts a password on the command line, where every user of this host can read it (ps); use --" + name + "-file FILE or a systemd credential (LoadCredential=" + name + ":FILE)")
		}
	}
}

// reload reads the configuration again (the file, then the same command
// line) and applies what can change while serving: the accounts and the
// log level. A setting that needs a restart is named in a warning. On any
// error nothing changes.
func reload(inv *invocation, level *slog.LevelVar, live *liveAccounts, logger *slog.Logger) error {
	next, file, err := loadConfig(inv.cmd, inv.cli)
	if err != nil {
		return err
	}
	l, err := next.logLevel()
	if err != nil {
		return err
	}
	accts, err := loadAccounts(next, inv.env.getenv)
	if err != nil {
		return err
	}
	var restart []string
	for _, o := range inv.cmd.options(options()) {
		if o.reload || o.cliOnly {
			continue
		}
		if fmt.Sprint(o.bind(inv.cfg).get()) != fmt.Sprint(o.bind(next).get()) {
			restart = append(restart, o.name)
		}
	}
	live.store(accts)
	level.Set(l)
	inv.cfg.takeReloadable(next)
	inv.file = file
	var admins, users []string
	for _, a := range accts {
		if a.Admin {
			admins = append(admins, a.User)
		} else {
			users = append(users, a.User)
		}
	}
	logger.Info("reloaded", "log_level", inv.cfg.LogLevel, "admins", strings.Join(admins, ","), "users", strings.Join(users, ","))
	if len(restart) > 0 {
		logger.Warn("changed settings take effect only after a restart", "settings", strings.Join(restart, ","))
	}
	return nil
}
