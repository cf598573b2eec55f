package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// credential is one local account given on the command line.
type credential struct {
	User, Password string
}

func parseCredential(s string) (credential, error) {
	user, pw, ok := strings.Cut(s, ":")
	if !ok || user == "" || pw == "" {
		return credential{}, errors.New("want USER:PASSWORD")
	}
	if strings.ContainsAny(user, `\/@:`) {
		return credential{}, fmt.Errorf("user name %q: must not contain \\ / @ or :", user)
	}
	return credential{User: user, Password: pw}, nil
}

// credList is a repeatable USER:PASSWORD flag. Its String never shows passwords.
type credList []credential

func (c *credList) String() string {
	if c == nil {
		return ""
	}
	names := make([]string, len(*c))
	for i, cr := range *c {
		names[i] = cr.User + ":***"
	}
	return strings.Join(names, ",")
}

func (c *credList) Set(s string) error {
	cr, err := parseCredential(s)
	if err != nil {
		return err
	}
	*c = append(*c, cr)
	return nil
}

// config is everything the daemon is started with. Flags only fill it.
type config struct {
	// Listen is the TCP address of the SMB server. Default 127.0.0.1:1445,
	// a loopback port a non-root user can bind; use :445 for real clients.
	Listen string
	// StateDir holds the membership state and generated credentials.
	// Default: $STATE_DIRECTORY, else /var/lib/wkssvcd for root, else
	// $XDG_STATE_HOME/wkssvcd (~/.local/state/wkssvcd).
	StateDir string
	// NetBIOSName is this computer's NetBIOS name. Default: the host name,
	// upper-cased, cut at the first dot and to 15 characters.
	NetBIOSName string
	// DNSHostName is this computer's DNS name. Default: the host name.
	DNSHostName string
	// Workgroup is the workgroup reported while not joined. Default WORKGROUP.
	Workgroup string
	// Admins are the local administrators; Users the other local accounts.
	// With neither, the administrator comes from $WKSSVCD_ADMIN
	// (USER:PASSWORD) or is generated and saved in StateDir.
	Admins, Users credList
	// AllowAnonymous lets null sessions connect (they get only what
	// MS-WKST grants anonymous callers). Default true.
	AllowAnonymous bool
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string

	// DNSServer is the ADDR[:PORT] of the DNS server used to locate
	// domain controllers (SRV records) and resolve their names. Default:
	// the system resolver.
	DNSServer string
	// DomainControllers are DC host names or addresses tried before DNS;
	// they also let a domain be named by its NetBIOS name. Default none.
	DomainControllers stringList
	// LDAPCAFile holds the certificates that may sign the DCs' LDAPS
	// certificates. Default: the system roots.
	LDAPCAFile string
	// Keytab is where the machine account's Kerberos keys are written
	// when the host joins a domain. Default: krb5.keytab in StateDir.
	Keytab string
	// DangerousSkipLDAPTLSVerify accepts any LDAPS certificate, so the
	// domain administrator's password goes to whoever answers. Labs only.
	DangerousSkipLDAPTLSVerify bool

	// Limits bound the resources one client can take.
	Limits limits
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("wkssvcd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:1445", "TCP `ADDR:PORT` of the SMB server (use :445 for real clients)")
	fs.StringVar(&cfg.StateDir, "state-dir", "", "`DIR` for membership state (default /var/lib/wkssvcd as root, else ~/.local/state/wkssvcd)")
	fs.StringVar(&cfg.NetBIOSName, "netbios-name", "", "this computer's NetBIOS `NAME` (default from the host name)")
	fs.StringVar(&cfg.DNSHostName, "dns-hostname", "", "this computer's DNS host name `FQDN` (default the host name)")
	fs.StringVar(&cfg.Workgroup, "workgroup", "WORKGROUP", "workgroup `NAME` of a host with no saved membership")
	fs.Var(&cfg.Admins, "admin", "local administrator `USER:PASSWORD` (repeatable)")
	fs.Var(&cfg.Users, "user", "local non-administrator `USER:PASSWORD` (repeatable)")
	fs.BoolVar(&cfg.AllowAnonymous, "allow-anonymous", true, "accept null sessions")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "log `LEVEL`: debug, info, warn, error")
	fs.StringVar(&cfg.DNSServer, "dns-server", "", "DNS server `ADDR[:PORT]` that locates domain controllers (default: the system resolver)")
	fs.Var(&cfg.DomainControllers, "dc", "domain controller `HOST` to try before DNS (repeatable)")
	fs.StringVar(&cfg.Keytab, "keytab", "", "`PATH` of the machine account keytab written by a domain join (default STATE-DIR/krb5.keytab)")
	fs.StringVar(&cfg.LDAPCAFile, "ldap-ca", "", "PEM `FILE` of the CAs that sign the DCs' LDAPS certificates (default: system roots)")
	fs.BoolVar(&cfg.DangerousSkipLDAPTLSVerify, "dangerous-skip-ldap-tls-verify", false, "accept any LDAPS certificate: the domain password goes to whoever answers (labs only)")
	cfg.Limits.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := cfg.fillDefaults(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *config) fillDefaults() error {
	if c.StateDir == "" {
		c.StateDir = defaultStateDir()
	}
	if c.Keytab == "" {
		c.Keytab = filepath.Join(c.StateDir, "krb5.keytab")
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if c.DNSHostName == "" {
		c.DNSHostName = strings.ToLower(host)
	}
	if c.NetBIOSName == "" {
		name, _, _ := strings.Cut(c.DNSHostName, ".")
		c.NetBIOSName = name
	}
	c.NetBIOSName = strings.ToUpper(c.NetBIOSName)
	if len(c.NetBIOSName) > 15 {
		c.NetBIOSName = c.NetBIOSName[:15]
	}
	if c.DNSServer != "" {
		if _, _, err := net.SplitHostPort(c.DNSServer); err != nil {
			c.DNSServer = net.JoinHostPort(c.DNSServer, "53")
		}
	}
	if c.Workgroup == "" {
		return errors.New("--workgroup must not be empty")
	}
	c.Workgroup = strings.ToUpper(c.Workgroup)
	for _, a := range c.Admins {
		for _, u := range c.Users {
			if strings.EqualFold(a.User, u.User) {
				return fmt.Errorf("account %q given both as --admin and --user", a.User)
			}
		}
	}
	return nil
}

func (c *config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("--log-level: %w", err)
	}
	return l, nil
}

func defaultStateDir() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/wkssvcd"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "wkssvcd")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "wkssvcd")
	}
	return filepath.Join(os.TempDir(), "wkssvcd")
}

// generatePassword returns a random password of n characters that local
// tools accept on a command line without quoting.
func generatePassword(n int) (string, error) {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b), nil
}
