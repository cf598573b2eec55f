package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/buildinfo"
)

// env is everything run needs from the process; tests replace it.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	dial   dialFunc
	// prompt asks for a password without echo; nil when standard input is
	// not a terminal.
	prompt promptFunc
}

// dialFunc opens an authenticated wkssvc session.
type dialFunc func(ctx context.Context, cfg connConfig, log *slog.Logger) (session, error)

// session is the set of MS-WKST calls the commands make.
type session interface {
	// WorkstationInfo calls NetrWkstaGetInfo level 100 (MS-WKST 3.2.4.1).
	WorkstationInfo(ctx context.Context) (wkstaInfo, error)
	// JoinInformation calls NetrGetJoinInformation (MS-WKST 3.2.4.16).
	JoinInformation(ctx context.Context) (joinInfo, error)
	// Join calls NetrJoinDomain3 or NetrJoinDomain2.
	Join(ctx context.Context, req joinRequest) error
	// Unjoin calls NetrUnjoinDomain3 or NetrUnjoinDomain2.
	Unjoin(ctx context.Context, req unjoinRequest) error
	// Rename calls NetrRenameMachineInDomain3 or 2 (names.go).
	Rename(ctx context.Context, req renameRequest) error
	// ChangeName calls NetrAddAlternateComputerName2,
	// NetrRemoveAlternateComputerName2 or NetrSetPrimaryComputerName2
	// (or the RC4 methods without the 2).
	ChangeName(ctx context.Context, req nameRequest) error
	// ComputerNames calls NetrEnumerateComputerNames.
	ComputerNames(ctx context.Context, nameType uint32) ([]string, error)
	Close(ctx context.Context) error
}

// connConfig says how to reach and authenticate to the server.
type connConfig struct {
	Host     string        // server host name or address; required
	Port     int           // SMB TCP port; default 445
	User     account       // connecting user; required
	Password string        // password of User; never logged
	Dialect  string        // "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"; "" negotiates the highest
	Seal     bool          // request SMB3 encryption; default false
	Timeout  time.Duration // bound on the whole command; default 30s
}

type wkstaInfo struct {
	PlatformID   uint32
	ComputerName string
	LANGroup     string
	VerMajor     uint32
	VerMinor     uint32
}

type joinInfo struct {
	Name   string
	Status uint16 // NETSETUP_JOIN_STATUS, MS-WKST 2.2.3.3
}

// Password-carrying call methods.
const (
	methodAES = 3 // NetrJoinDomain3 / NetrUnjoinDomain3, AES blob
	methodRC4 = 2 // NetrJoinDomain2 / NetrUnjoinDomain2, RC4 blob
)

type joinRequest struct {
	Method   int     // methodAES or methodRC4
	Domain   string  // DomainNameParam; may be "domain\dc"
	OU       string  // MachineAccountOU; "" sends NULL
	Account  string  // AccountName; "" sends NULL
	Password *string // nil sends a NULL Password
	Options  uint32
}

type unjoinRequest struct {
	Method   int
	Account  string
	Password *string
	Options  uint32
}

const defaultTimeout = 30 * time.Second

// wkstCommands are the commands, in help order.
var wkstCommands = []struct{ name, summary, synopsis, about string }{
	{"join", "join the server to a domain or a workgroup (NetrJoinDomain3, or 2)",
		"wkst join --server HOST[:PORT] --user USER --domain DOMAIN [--account ACCOUNT] [flags]",
		`Options default to JOIN_DOMAIN,ACCT_CREATE: join a domain, creating the
computer account. A workgroup join needs --options 0 (and the workgroup's
name as --domain). --account names the domain account that creates the
computer account; its password comes from --password-file, or is asked for
on a terminal; without --account the server gets no password (NULL).`},
	{"unjoin", "leave the domain (NetrUnjoinDomain3, or 2)",
		"wkst unjoin --server HOST[:PORT] --user USER [--account ACCOUNT] [flags]",
		`Options default to 0 (the computer account stays); ACCT_DELETE disables it.
The --account password is taken as for join.`},
	{"info", "show the server's name, LAN group and join status (NetrWkstaGetInfo 100, NetrGetJoinInformation)",
		"wkst info --server HOST[:PORT] --user USER [flags]", ""},
	{"rename", "rename the server in its domain (NetrRenameMachineInDomain3, or 2)",
		"wkst rename --server HOST[:PORT] --user USER --name NEWNAME [--account ACCOUNT] [flags]",
		renameAbout},
	{"names", "list, add, remove or promote the server's computer names (NetrEnumerateComputerNames, NetrAdd/RemoveAlternateComputerName2, NetrSetPrimaryComputerName2)",
		"wkst names --server HOST[:PORT] --user USER [--add NAME | --remove NAME | --primary NAME] [--account ACCOUNT] [flags]",
		namesAbout},
	{"provision", "create a computer account and write an offline join file for it (djoin /provision)",
		"wkst provision --domain DOMAIN --machine NAME --account ACCOUNT --savefile FILE [flags]",
		`Creates the computer account NAME over LDAP (or, with --reuse, resets an
existing one), as an online join would: password, dNSHostName, SPNs,
encryption types. Writes the file djoin /requestodj, Samba's net offlinejoin
requestodj and wkssvcd requestodj read. Without --reuse an existing account
is refused (NERR_UserExists), as Windows does. --policy-names and
--root-ca-certs add the DirectAccess parts (the GPOs' computer registry
settings, read from SYSVOL; the enterprise's root CA certificates).
--netbios, --primary-dns and --persistent-site or --dynamic-site (djoin
/netbios, /primarydns, /psite, /dsite) name the computer's NetBIOS name,
DNS suffix and site. --cert-template (/certtemplate) is refused.
--machines-file provisions many computers in one session, one file each.
A file is never overwritten; one that cannot be written takes its account
back. Exit status 1 names the directory's Win32 code.`},
	{"odjinfo", "show what an offline join file holds",
		"wkst odjinfo --loadfile FILE [--json] [--show-password]",
		`Reads a file made by djoin, Samba or wkst provision (savefile, base64 text
or binary) and prints the domain, the machine, its account, the domain
controller and every part. The password is shown only with
--show-password. Exit status 1: the file cannot be read or decoded.`},
	{"version", "print the version", "wkst version", ""},
	{"help", "show the help of a command", "wkst help [COMMAND]", ""},
}

const connHelp = `USER is DOMAIN\user, user@domain or user: the account that logs on to the
server. Its password comes from --user-password-file FILE (- for standard
input), else $WKST_PASSWORD, else a prompt on a terminal. Passwords are
never taken from the command line, and a prompt does not echo.
`

const exitHelp = `Exit status: 0 success; 1 the server returned an error (its Win32 code is
printed); 2 a mistake on the command line; 3 the server could not be reached
or refused the logon; 130 interrupted.
`

// writeUsage prints the overview: commands, the connecting user, exit
// status.
func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: wkst COMMAND [flags]   (wkst COMMAND --help for its flags)\n\nCommands:\n")
	for _, c := range wkstCommands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\n" + connHelp + "\n" + exitHelp)
	io.WriteString(w, b.String())
}

// writeCommandHelp prints the synopsis of one command and its flags with
// their defaults.
func writeCommandHelp(w io.Writer, name string) {
	var b strings.Builder
	for _, c := range wkstCommands {
		if c.name != name {
			continue
		}
		fmt.Fprintf(&b, "usage: %s\n\n%s.\n", c.synopsis, upperFirst(c.summary))
		if c.about != "" {
			b.WriteString("\n" + c.about + "\n")
		}
	}
	var fs *flag.FlagSet
	switch name {
	case "join", "unjoin", "info", "rename", "names":
		fs, _, _ = newFlagSet(name)
	case "provision":
		fs, _ = newProvisionFlagSet()
	case "odjinfo":
		fs, _ = newODJInfoFlagSet()
	}
	if fs != nil {
		b.WriteString("\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			arg, usage := flag.UnquoteUsage(f)
			dash := "--"
			if len(f.Name) == 1 {
				dash = "-"
			}
			fmt.Fprintf(&b, "  %s%s", dash, f.Name)
			if arg != "" {
				fmt.Fprintf(&b, " %s", arg)
			}
			fmt.Fprintf(&b, "\n        %s", usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(&b, " (default %s)", f.DefValue)
			}
			b.WriteString("\n")
		})
		if name == "join" || name == "unjoin" || name == "info" || name == "rename" || name == "names" {
			b.WriteString("\n" + connHelp)
		}
	}
	b.WriteString("\n" + exitHelp)
	io.WriteString(w, b.String())
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// run executes one command line and returns the process exit status.
func run(ctx context.Context, args []string, e env) int {
	err := runErr(ctx, args, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "wkst: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			for _, c := range wkstCommands {
				if c.name == ue.cmd {
					fmt.Fprintf(e.stderr, "usage: %s\n", c.synopsis)
				}
			}
			if ue.cmd == "" {
				fmt.Fprint(e.stderr, "usage: wkst COMMAND [flags]\n")
			}
			fmt.Fprintf(e.stderr, "See wkst %s--help.\n", strings.TrimPrefix(ue.cmd+" ", " "))
		}
	}
	return exitCode(err)
}

func runErr(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return usagef("no command (commands: join, unjoin, info, rename, names, provision, odjinfo, version, help)")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "join", "unjoin", "info", "rename", "names":
	case "provision", "odjinfo":
		var err error
		if cmd == "provision" {
			err = runProvision(ctx, rest, e)
		} else {
			err = runODJInfo(rest, e)
		}
		if errors.Is(err, flag.ErrHelp) {
			writeCommandHelp(e.stdout, cmd)
			return nil
		}
		return err
	case "help", "-h", "--help", "-help":
		if len(rest) > 0 && cmd == "help" {
			switch rest[0] {
			case "join", "unjoin", "info", "rename", "names", "provision", "odjinfo", "version", "help":
				writeCommandHelp(e.stdout, rest[0])
				return nil
			}
			return usagef("help: unknown command %q", rest[0])
		}
		writeUsage(e.stdout)
		return nil
	case "version", "--version", "-version":
		if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
			writeCommandHelp(e.stdout, "version")
			return nil
		}
		fmt.Fprintln(e.stdout, buildinfo.String("wkst"))
		return nil
	default:
		return usagef("unknown command %q (commands: join, unjoin, info, rename, names, provision, odjinfo, version, help)", cmd)
	}
	c, err := parseCommand(cmd, rest)
	if errors.Is(err, flag.ErrHelp) {
		writeCommandHelp(e.stdout, cmd)
		return nil
	}
	if err != nil {
		return err
	}
	secrets := &secretSource{stdin: e.stdin, prompt: e.prompt, ctx: ctx}
	c.conn.Password, err = connectionPassword(secrets, c.userPasswordFile, e.getenv, c.conn.User)
	if err != nil {
		return err
	}
	var password *string
	switch {
	case c.passwordFile != "":
		pw, err := secrets.read(c.passwordFile, "Password for "+c.account+" (--account)")
		if err != nil {
			return err
		}
		password = &pw
	case c.account != "" && e.prompt != nil:
		// --account without --password-file on a terminal: ask.
		pw, err := secrets.ask("Password for " + c.account + " (--account)")
		if err != nil {
			return err
		}
		password = &pw
	}

	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithTimeout(ctx, c.conn.Timeout)
	defer cancel()
	s, err := e.dial(ctx, c.conn, log)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))

	switch cmd {
	case "info":
		return doInfo(ctx, s, e.stdout, c.conn.Host)
	case "join":
		req := joinRequest{Method: c.method, Domain: c.domain, OU: c.ou, Account: c.account, Password: password, Options: c.options}
		if err := s.Join(ctx, req); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s joined %s (%s, options %s)\n", c.conn.Host, c.domain, joinOpName(c.method), formatOptions(c.options))
	case "unjoin":
		req := unjoinRequest{Method: c.method, Account: c.account, Password: password, Options: c.options}
		if err := s.Unjoin(ctx, req); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s unjoined (%s, options %s)\n", c.conn.Host, unjoinOpName(c.method), formatOptions(c.options))
	case "rename", "names":
		return runNames(ctx, s, e.stdout, c, password)
	}
	return nil
}

func joinOpName(method int) string {
	if method == methodRC4 {
		return "NetrJoinDomain2"
	}
	return "NetrJoinDomain3"
}

func unjoinOpName(method int) string {
	if method == methodRC4 {
		return "NetrUnjoinDomain2"
	}
	return "NetrUnjoinDomain3"
}

// joinStatusNames are the NETSETUP_JOIN_STATUS values (MS-WKST 2.2.3.3).
var joinStatusNames = map[uint16]string{
	0: "NetSetupUnknownStatus",
	1: "NetSetupUnjoined",
	2: "NetSetupWorkgroupName",
	3: "NetSetupDomainName",
}

func doInfo(ctx context.Context, s session, out io.Writer, host string) error {
	wi, err := s.WorkstationInfo(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Server:          %s\n", host)
	fmt.Fprintf(out, "Computer name:   %s\n", wi.ComputerName)
	fmt.Fprintf(out, "LAN group:       %s\n", wi.LANGroup)
	fmt.Fprintf(out, "Platform ID:     %d\n", wi.PlatformID)
	fmt.Fprintf(out, "Version:         %d.%d\n", wi.VerMajor, wi.VerMinor)
	ji, err := s.JoinInformation(ctx)
	if errors.Is(err, errServerLacksOp) {
		fmt.Fprintf(out, "Join status:     not available (the server does not implement NetrGetJoinInformation)\n")
		return nil
	}
	if err != nil {
		return err
	}
	status := joinStatusNames[ji.Status]
	if status == "" {
		status = fmt.Sprintf("unknown (%d)", ji.Status)
	}
	fmt.Fprintf(out, "Join status:     %s\n", status)
	fmt.Fprintf(out, "Joined to:       %s\n", ji.Name)
	return nil
}

// command is a parsed command line.
type command struct {
	name             string
	conn             connConfig
	userPasswordFile string
	verbose          bool

	domain       string
	ou           string
	account      string
	passwordFile string
	options      uint32
	method       int
	names        namesFlags // rename and names (names.go)
}

// flagVars are the raw flag values of one command line.
type flagVars struct {
	server, user, options string
	method                int
}

// newFlagSet defines the flags of join, unjoin or info; the help prints the
// same set with its defaults.
func newFlagSet(name string) (*flag.FlagSet, *command, *flagVars) {
	c := &command{name: name}
	v := &flagVars{method: methodAES}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&v.server, "server", "", "`HOST[:PORT]` of the server (port 445 unless given)")
	fs.StringVar(&v.user, "user", "", "`USER` that logs on to the server: DOMAIN\\user, user@domain or user")
	fs.StringVar(&c.userPasswordFile, "user-password-file", "", "`FILE` (- for standard input) holding the password of --user")
	fs.StringVar(&c.conn.Dialect, "dialect", "", "SMB `DIALECT`: 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1 (default: the highest both sides speak)")
	fs.BoolVar(&c.conn.Seal, "seal", false, "ask for SMB3 encryption")
	fs.DurationVar(&c.conn.Timeout, "timeout", defaultTimeout, "time limit for the whole command")
	fs.BoolVar(&c.verbose, "v", false, "log progress to standard error")
	if name != "info" {
		def := map[string]string{"join": "JOIN_DOMAIN,ACCT_CREATE", "unjoin": "0", "rename": "ACCT_CREATE"}[name]
		what := map[string]string{"join": "creates the computer account", "unjoin": "disables the computer account",
			"rename": "renames the computer account", "names": "changes the computer account"}[name]
		fs.StringVar(&c.account, "account", "", "AccountName sent to the server: the domain `ACCOUNT` that "+what)
		fs.StringVar(&c.passwordFile, "password-file", "", "`FILE` (- for standard input, or a prompt on a terminal) holding the password of --account")
		if name != "names" {
			fs.StringVar(&v.options, "options", def, "NETSETUP_* `FLAGS`: names joined by commas (with or without NETSETUP_) or a number such as 0x23")
		}
		fs.IntVar(&v.method, "method", methodAES, "`N`: 3 calls the AES methods (NetrJoinDomain3, NetrRenameMachineInDomain3, NetrAddAlternateComputerName2, ...), 2 the RC4 ones")
	}
	if name == "rename" || name == "names" {
		defineNamesFlags(fs, name, &c.names)
	}
	if name == "join" {
		fs.StringVar(&c.domain, "domain", "", "`DOMAIN` (or DOMAIN\\DC) to join; a workgroup's name with --options 0")
		fs.StringVar(&c.ou, "ou", "", "MachineAccountOU: the `DN` of the OU for the computer account")
	}
	return fs, c, v
}

// parseCommand parses the flags of join, unjoin or info. It reads no files.
func parseCommand(name string, args []string) (*command, error) {
	fs, c, v := newFlagSet(name)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, cmdUsagef(name, "%s: %v", name, err)
	}
	if fs.NArg() > 0 {
		return nil, cmdUsagef(name, "%s: unexpected argument %q", name, fs.Arg(0))
	}

	var err error
	if c.conn.Host, c.conn.Port, err = parseServer(v.server); err != nil {
		return nil, cmdUsagef(name, "%s: --server: %v", name, err)
	}
	if v.user == "" {
		return nil, cmdUsagef(name, "%s: --user is required", name)
	}
	if c.conn.User, err = parseUser(v.user); err != nil {
		return nil, cmdUsagef(name, "%s: --user: %v", name, err)
	}
	if _, err := smbDialect(c.conn.Dialect); err != nil {
		return nil, cmdUsagef(name, "%s: --dialect: %v", name, err)
	}
	if c.conn.Timeout <= 0 {
		return nil, cmdUsagef(name, "%s: --timeout must be positive", name)
	}
	if v.method != methodAES && v.method != methodRC4 {
		return nil, cmdUsagef(name, "%s: --method must be 3 or 2", name)
	}
	c.method = v.method
	if name == "join" && c.domain == "" {
		return nil, cmdUsagef(name, "join: --domain is required")
	}
	if name != "info" && name != "names" {
		if c.options, err = parseOptions(v.options); err != nil {
			return nil, cmdUsagef(name, "%s: --options: %v", name, err)
		}
	}
	if name == "rename" || name == "names" {
		if err := c.names.check(name); err != nil {
			return nil, err
		}
	}
	if c.passwordFile == "-" && c.userPasswordFile == "-" {
		return nil, cmdUsagef(name, "%s: --password-file and --user-password-file cannot both be standard input", name)
	}
	return c, nil
}

// parseServer splits HOST[:PORT]; IPv6 addresses with a port need brackets
// ("[::1]:445"). The port defaults to 445.
func parseServer(s string) (string, int, error) {
	if s == "" {
		return "", 0, fmt.Errorf("required")
	}
	host, portStr := s, ""
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		var err error
		if host, portStr, err = net.SplitHostPort(s); err != nil {
			if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
				host, portStr = s[1:len(s)-1], ""
			} else {
				return "", 0, err
			}
		}
	}
	if host == "" || strings.ContainsAny(host, "[]/\\ ") {
		return "", 0, fmt.Errorf("bad host %q", host)
	}
	port := 445
	if portStr != "" {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 {
			return "", 0, fmt.Errorf("bad port %q", portStr)
		}
		port = p
	}
	return host, port, nil
}
