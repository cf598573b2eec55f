package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/ldapdir"
)

// groupCheck holds the options of check-dc alone.
const groupCheck = "check"

// checkSettings are check-dc's own settings.
type checkSettings struct {
	// Domain is the domain to check (DNS or NetBIOS name). Required.
	Domain string
	// Account and PasswordFile, when given, are bound with on every
	// transport; the file holds the password on its first line ("-":
	// standard input).
	Account, PasswordFile string
}

// checkOptions are the options of checkSettings (group "check").
func checkOptions() []*option {
	return []*option{
		{name: "domain", arg: "DOMAIN", group: groupCheck,
			usage: "domain to check: its DNS name, or its NetBIOS name with --dc",
			bind:  func(c *config) value { return (*stringValue)(&c.Check.Domain) }},
		{name: "account", arg: "ACCOUNT", group: groupCheck,
			usage: "domain account to bind as on every transport: DOMAIN\\user, user@domain or user (default: no bind)",
			bind:  func(c *config) value { return (*stringValue)(&c.Check.Account) }},
		{name: "password-file", arg: "FILE", group: groupCheck,
			usage: "file whose first line is the password of --account (- for standard input)",
			bind:  func(c *config) value { return (*stringValue)(&c.Check.PasswordFile) }},
	}
}

// checkDCCommand is `wkssvcd check-dc`.
func checkDCCommand() *command {
	return &command{
		name:    "check-dc",
		summary: "check that a domain's controller can be found and reached the way a join reaches it",
		about: "check-dc runs what a domain join does before it writes anything, and prints every step with its outcome: " +
			"the DNS SRV lookup, the LDAP ping, then each transport (sealed SASL GSS-SPNEGO with Kerberos and with NTLM, GSSAPI, LDAPS, StartTLS) " +
			"with a bind as --account (when given) and a read of the rootDSE. It uses the same --dns-server, --dc, --ldap-transport " +
			"and --ldap-ca as the daemon (--config reads them from its configuration file). Exit status 0 when the configured " +
			"transport works, 1 when it does not, 2 for a usage mistake.",
		groups: []string{groupGeneral, groupCheck, groupDirectory, groupLogging},
		run:    checkDC,
	}
}

func checkDC(ctx context.Context, inv *invocation) error {
	cfg, stdout := inv.cfg, inv.env.stdout
	if cfg.Check.Domain == "" {
		return usagef("check-dc: --domain is required")
	}
	var cred *joinlogic.Credentials
	if cfg.Check.Account != "" {
		acct, err := parseDomainAccount(cfg.Check.Account)
		if err != nil {
			return usagef("check-dc: --account: %v", err)
		}
		if cfg.Check.PasswordFile == "" {
			return usagef("check-dc: --account needs --password-file")
		}
		pw, err := readPasswordFile(cfg.Check.PasswordFile, os.Stdin)
		if err != nil {
			return fmt.Errorf("check-dc: --password-file: %w", err)
		}
		cred = &joinlogic.Credentials{Account: acct, Password: pw}
	} else if cfg.Check.PasswordFile != "" {
		return usagef("check-dc: --password-file without --account")
	}
	l, err := cfg.logLevel()
	if err != nil {
		return err
	}
	logger := slog.New(newLogHandler(inv.env.stderr, cfg.LogFormat, l, inv.env.getenv))
	dir := ldapdir.New(cfg.directoryConfig(logger))
	fmt.Fprintf(stdout, "check-dc: domain %s, transport %s\n", cfg.Check.Domain, cfg.Directory.Transport)
	ok := dir.Check(ctx, ldapdir.CheckRequest{Domain: cfg.Check.Domain, DC: firstDC(cfg), Cred: cred}, func(s ldapdir.CheckStep) {
		mark := "FAIL"
		switch {
		case s.OK:
			mark = " OK "
		case s.Skipped:
			mark = "SKIP"
		}
		fmt.Fprintf(stdout, "[%s] %s: %s\n", mark, s.Step, s.Detail)
	})
	if !ok {
		fmt.Fprintf(stdout, "check-dc: the configured transport (%s) does not work with this domain controller\n", cfg.Directory.Transport)
		return errCheckFailed
	}
	fmt.Fprintf(stdout, "check-dc: the configured transport (%s) works\n", cfg.Directory.Transport)
	return nil
}

// errCheckFailed is check-dc's failure; the report says why.
var errCheckFailed = errors.New("check-dc: the domain controller check failed")

// firstDC is the controller check-dc examines: the first --dc, else the
// located one.
func firstDC(cfg *config) string {
	if len(cfg.DomainControllers) > 0 {
		return cfg.DomainControllers[0]
	}
	return ""
}

// parseDomainAccount reads DOMAIN\user, user@domain or user.
func parseDomainAccount(s string) (joinlogic.Account, error) {
	switch {
	case s == "" || strings.ContainsAny(s, "\x00\r\n"):
		return joinlogic.Account{}, errors.New("empty or malformed account")
	case strings.Contains(s, `\`):
		d, u, _ := strings.Cut(s, `\`)
		if d == "" || u == "" || strings.Contains(u, `\`) {
			return joinlogic.Account{}, fmt.Errorf("%q: want DOMAIN\\user", s)
		}
		return joinlogic.Account{User: u, Domain: d}, nil
	case strings.Contains(s, "@"):
		u, d, _ := strings.Cut(s, "@")
		if d == "" || u == "" || strings.Contains(d, "@") {
			return joinlogic.Account{}, fmt.Errorf("%q: want user@domain", s)
		}
		return joinlogic.Account{User: u, Domain: d, UPN: true}, nil
	}
	return joinlogic.Account{User: s}, nil
}

// readPasswordFile returns the first line of path ("-": stdin).
func readPasswordFile(path string, stdin io.Reader) (string, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("no password on the first line")
	}
	return line, nil
}
