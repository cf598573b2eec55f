package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// config is everything a command is started with. The option table
// (options.go) fills it from defaults, the configuration file and the
// flags, in that order.
type config struct {
	// ConfigFile is the TOML file given with --config; "" for none.
	ConfigFile string
	// PrintConfig asks for the effective settings instead of a run.
	PrintConfig bool

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
	// Admins are the local administrators given on the command line;
	// Users the other local accounts.
	Admins, Users credList
	// AdminFiles and UserFiles name files of such accounts, one
	// USER:PASSWORD or USER:$NT$HASH a line. Together with the systemd
	// credentials "admin" and "user" they are re-read on SIGHUP. With no
	// administrator anywhere, it comes from $WKSSVCD_ADMIN or is generated
	// and saved in StateDir (loadAccounts).
	AdminFiles, UserFiles stringList
	// AllowAnonymous lets null sessions connect (they get only what
	// MS-WKST grants anonymous callers). Default true.
	AllowAnonymous bool
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string
	// LogFormat is auto, text, json or journal (logging.go). Default auto.
	LogFormat string

	// DNSServer is the ADDR[:PORT] of the DNS server used to locate
	// domain controllers (SRV records) and resolve their names. Default:
	// the system resolver.
	DNSServer string
	// DomainControllers are DC host names or addresses tried before DNS;
	// they also let a domain be named by its NetBIOS name. Default none.
	DomainControllers stringList
	// LDAPCAFile holds the certificates that may sign the DCs'
	// certificates for LDAPS and StartTLS. Default: the system roots.
	LDAPCAFile string
	// Directory is how joins reach a DC's directory (directory.go).
	Directory directorySettings
	// Check are check-dc's settings (checkdc.go).
	Check checkSettings
	// Keytab is where the machine account's Kerberos keys are written
	// when the host joins a domain. Default: /etc/krb5.keytab as root,
	// else krb5.keytab in StateDir (defaultKeytab).
	Keytab string

	// Member holds the settings of a domain member (member_options.go).
	Member memberSettings

	// Limits bound the resources one client can take.
	Limits limits

	// ODJ configures requestodj.
	ODJ odjConfig

	// Workstation are the settings of the workstation interface
	// (workstation.go).
	Workstation workstation
}

// fillDefaults computes the defaults that depend on the host or on other
// settings, and checks what one value alone cannot, for the option groups
// a command takes (a command without server options has no workgroup to
// check).
func (c *config) fillDefaults(groups []string) error {
	has := func(g string) bool { return slices.Contains(groups, g) }
	if has(groupServer) {
		if c.StateDir == "" {
			c.StateDir = defaultStateDir()
		}
		if c.Keytab == "" {
			c.Keytab = defaultKeytab(c.StateDir)
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
		if c.Workgroup == "" {
			return errors.New("--workgroup must not be empty")
		}
		c.Workgroup = strings.ToUpper(c.Workgroup)
	}
	if has(groupDirectory) {
		if c.DNSServer != "" {
			if _, _, err := net.SplitHostPort(c.DNSServer); err != nil {
				c.DNSServer = net.JoinHostPort(c.DNSServer, "53")
			}
		}
		c.Directory.fillOSDefaults()
	}
	if has(groupAccounts) {
		for _, a := range c.Admins {
			for _, u := range c.Users {
				if strings.EqualFold(a.User, u.User) {
					return fmt.Errorf("account %q given both as --admin and --user", a.User)
				}
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

// takeReloadable copies from next the settings that SIGHUP applies to a
// running daemon: the options marked reload in the table.
func (c *config) takeReloadable(next *config) {
	c.Admins, c.Users = next.Admins, next.Users
	c.AdminFiles, c.UserFiles = next.AdminFiles, next.UserFiles
	c.LogLevel = next.LogLevel
}
