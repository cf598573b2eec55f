package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// option is one setting of the daemon. It is a command-line flag
// (--NAME) and a key of the configuration file under the same NAME, so the
// two can never disagree: the flag parser, the configuration file reader,
// --print-config and the help all read the table that options returns.
type option struct {
	// name is the flag name and the configuration key.
	name string
	// arg names the value in the help ("ADDR:PORT"); empty for booleans.
	arg string
	// usage is one line of help, without the default.
	usage string
	// def is applied before the configuration file and the flags, and the
	// help states it; defText replaces it in the help when the real
	// default is computed later (from the host name, the state directory,
	// a package constant).
	def, defText string
	// group orders the help and --print-config, and decides which
	// commands take the option (see command.groups).
	group string
	// bind returns the value of the option inside cfg.
	bind func(cfg *config) value
	// secret values (passwords) are neither printed nor accepted from a
	// configuration file.
	secret bool
	// cliOnly options (--config, --print-config) have no meaning inside a
	// configuration file.
	cliOnly bool
	// reload marks what SIGHUP re-applies; everything else needs a
	// restart.
	reload bool
}

// Option groups, in help order.
const (
	groupGeneral   = "general"
	groupServer    = "server"
	groupAccounts  = "accounts"
	groupDirectory = "directory"
	groupLogging   = "logging"
	groupLimits    = "limits"
)

var groupTitles = map[string]string{
	groupGeneral:   "General",
	groupServer:    "Server",
	groupAccounts:  "Local accounts",
	groupDirectory: "Domain controllers",
	groupMember:    "Domain membership",
	groupLogging:   "Logging",
	groupLimits:    "Resource limits (docs/limits.md)",
	groupCheck:     "Domain controller check",
	groupODJ:       "Offline domain join",
}

var groupOrder = []string{groupGeneral, groupCheck, groupServer, groupAccounts, groupDirectory, groupMember, groupLogging, groupLimits, groupODJ}

// value is a typed setting inside a config.
type value interface {
	// Set parses one occurrence, from a flag or a configuration file.
	Set(s string) error
	// get returns the value for --print-config: string, int64, bool or
	// []string.
	get() any
}

// listValue is a repeatable option: every occurrence adds one value, and a
// layer (the configuration file, the command line) that names the option
// replaces what an earlier layer gave.
type listValue interface {
	value
	reset()
}

// boolValue marks options that take no argument on the command line.
type boolValue interface {
	value
	isBool()
}

// options returns the table of every setting of every command. Subcommands
// add their options here under a group of their own (or an existing one).
func options() []*option {
	opts := []*option{
		{name: "config", arg: "FILE", group: groupGeneral, cliOnly: true,
			usage: "read settings from this TOML `FILE` (keys are the flag names without dashes); flags given on the command line win",
			bind:  func(c *config) value { return (*stringValue)(&c.ConfigFile) }},
		{name: "print-config", group: groupGeneral, cliOnly: true,
			usage: "print the effective settings as a configuration file (without passwords) and exit",
			bind:  func(c *config) value { return (*boolFlag)(&c.PrintConfig) }},

		{name: "listen", arg: "ADDR:PORT", group: groupServer, def: "127.0.0.1:1445",
			usage: "TCP address of the SMB server; Windows and Samba clients need port 445",
			bind:  func(c *config) value { return (*stringValue)(&c.Listen) }},
		{name: "state-dir", arg: "DIR", group: groupServer,
			defText: "$STATE_DIRECTORY, else /var/lib/wkssvcd as root, else ~/.local/state/wkssvcd",
			usage:   "directory of the membership state and the generated credential",
			bind:    func(c *config) value { return (*stringValue)(&c.StateDir) }},
		{name: "netbios-name", arg: "NAME", group: groupServer, defText: "the host name, upper case, 15 characters",
			usage: "this computer's NetBIOS name",
			bind:  func(c *config) value { return (*stringValue)(&c.NetBIOSName) }},
		{name: "dns-hostname", arg: "FQDN", group: groupServer, defText: "the host name",
			usage: "this computer's DNS host name",
			bind:  func(c *config) value { return (*stringValue)(&c.DNSHostName) }},
		{name: "workgroup", arg: "NAME", group: groupServer, def: "WORKGROUP",
			usage: "workgroup of a host with no saved membership",
			bind:  func(c *config) value { return (*stringValue)(&c.Workgroup) }},
		{name: "allow-anonymous", group: groupServer, def: "true",
			usage: "accept null sessions (they get only what MS-WKST grants anonymous callers)",
			bind:  func(c *config) value { return (*boolFlag)(&c.AllowAnonymous) }},
		{name: "keytab", arg: "PATH", group: groupServer, defText: "/etc/krb5.keytab as root, else STATE-DIR/krb5.keytab",
			usage: "keytab a domain join merges the machine account's keys into (mode 0600; other keys in it stay)",
			bind:  func(c *config) value { return (*stringValue)(&c.Keytab) }},

		{name: "admin-file", arg: "FILE", group: groupAccounts, reload: true,
			usage: "file of local administrators, one USER:PASSWORD or USER:$NT$HASH a line, mode 0600 or 0640 (repeatable)",
			bind:  func(c *config) value { return &c.AdminFiles }},
		{name: "user-file", arg: "FILE", group: groupAccounts, reload: true,
			usage: "file of local non-administrators, in the form of --admin-file (repeatable)",
			bind:  func(c *config) value { return &c.UserFiles }},
		{name: "admin", arg: "USER:PASSWORD", group: groupAccounts, secret: true, reload: true,
			usage: "local administrator (repeatable); every user of the host sees the password with ps: use --admin-file",
			bind:  func(c *config) value { return &c.Admins }},
		{name: "user", arg: "USER:PASSWORD", group: groupAccounts, secret: true, reload: true,
			usage: "local non-administrator (repeatable); every user of the host sees the password with ps: use --user-file",
			bind:  func(c *config) value { return &c.Users }},

		{name: "dns-server", arg: "ADDR[:PORT]", group: groupDirectory, defText: "the system resolver",
			usage: "DNS server that locates domain controllers (_ldap._tcp.dc._msdcs.DOMAIN)",
			bind:  func(c *config) value { return (*stringValue)(&c.DNSServer) }},
		{name: "dc", arg: "HOST", group: groupDirectory,
			usage: "domain controller to try before DNS (repeatable); also lets a domain be named by its NetBIOS name",
			bind:  func(c *config) value { return &c.DomainControllers }},
		{name: "ldap-ca", arg: "FILE", group: groupDirectory, defText: "the system roots",
			usage: "PEM file of the CAs that sign the domain controllers' certificates (--ldap-transport ldaps or starttls)",
			bind:  func(c *config) value { return (*stringValue)(&c.LDAPCAFile) }},

		{name: "log-level", arg: "LEVEL", group: groupLogging, def: "info", reload: true,
			usage: "debug, info, warn or error",
			bind:  func(c *config) value { return &levelValue{&c.LogLevel} }},
		{name: "log-format", arg: "FORMAT", group: groupLogging, def: logAuto,
			usage: "text (key=value lines), json (one object a line), journal (lines led by a syslog priority such as <4>, without time stamps) or auto: journal when standard error is the systemd journal ($JOURNAL_STREAM), else text",
			bind:  func(c *config) value { return &logFormatValue{&c.LogFormat} }},
	}
	opts = append(opts, directoryOptions()...)
	opts = append(opts, checkOptions()...)
	opts = append(opts, memberOptions()...)
	opts = append(opts, limitOptions()...)
	opts = append(opts, odjOptions()...)
	opts = append(opts, workstationOptions()...)
	return opts
}

// lookupOption finds an option by name in opts.
func lookupOption(opts []*option, name string) *option {
	for _, o := range opts {
		if o.name == name {
			return o
		}
	}
	return nil
}

// helpDefault is the default stated in the help, or "".
func (o *option) helpDefault() string {
	if o.defText != "" {
		return o.defText
	}
	return o.def
}

// stringValue is a plain string option.
type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) get() any           { return string(*v) }

// boolFlag is a boolean option.
type boolFlag bool

func (v *boolFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = boolFlag(b)
	return nil
}
func (v *boolFlag) get() any { return bool(*v) }
func (v *boolFlag) isBool()  {}

// levelValue is a log level: debug, info, warn or error.
type levelValue struct{ p *string }

func (v *levelValue) Set(s string) error {
	switch l := strings.ToLower(s); l {
	case "debug", "info", "warn", "error":
		*v.p = l
		return nil
	}
	return errors.New("want debug, info, warn or error")
}
func (v *levelValue) get() any { return *v.p }

// stringList is a repeatable string option.
type stringList []string

func (l *stringList) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}
func (l *stringList) get() any { return []string(append([]string{}, *l...)) }
func (l *stringList) reset()   { *l = nil }

// intValue is an integer restricted to [min, max].
type intValue struct {
	p        *int
	min, max int
}

func (f *intValue) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return errors.New("not an integer")
	}
	if int(v) < f.min {
		if f.min == 0 {
			return errors.New("must not be negative")
		}
		return fmt.Errorf("must be at least %d", f.min)
	}
	if int(v) > f.max {
		return fmt.Errorf("must be at most %d", f.max)
	}
	*f.p = int(v)
	return nil
}
func (f *intValue) get() any { return int64(*f.p) }

// durationValue is a time.Duration that may refuse negative values.
type durationValue struct {
	p             *time.Duration
	allowNegative bool
}

func (f *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (e.g. 30s, 5m)")
	}
	if v < 0 && !f.allowNegative {
		return errors.New("must not be negative")
	}
	*f.p = v
	return nil
}
func (f *durationValue) get() any { return f.p.String() }
