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
)

// env is everything run needs from the process; tests replace it.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	dial   dialFunc
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

const usageText = `usage:
  wkst join   --server HOST[:PORT] --domain D [--ou OU] [--account A]
              [--password-file F|-] [--options FLAGS] [--method 3|2] CONN
  wkst unjoin --server HOST[:PORT] [--account A] [--password-file F|-]
              [--options FLAGS] [--method 3|2] CONN
  wkst info   --server HOST[:PORT] CONN
CONN: --user DOMAIN\user|user@domain [--user-password-file F|-]
      [--dialect 2.0.2|2.1|3.0|3.0.2|3.1.1] [--seal] [--timeout 30s] [-v]
The connecting user's password is read from --user-password-file, or from
$WKST_PASSWORD. FLAGS are NETSETUP_* names separated by commas (with or
without the NETSETUP_ prefix) or a number such as 0x23.
`

// run executes one command line and returns the process exit status.
func run(ctx context.Context, args []string, e env) int {
	err := runErr(ctx, args, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "wkst: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprint(e.stderr, usageText)
		}
	}
	return exitCode(err)
}

func runErr(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return usagef("no command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "join", "unjoin", "info":
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usageText)
		return nil
	default:
		return usagef("unknown command %q", cmd)
	}
	c, err := parseCommand(cmd, rest)
	if err != nil {
		return err
	}
	secrets := &secretSource{stdin: e.stdin}
	c.conn.Password, err = connectionPassword(secrets, c.userPasswordFile, e.getenv)
	if err != nil {
		return err
	}
	var password *string
	if c.passwordFile != "" {
		pw, err := secrets.read(c.passwordFile)
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
}

// parseCommand parses the flags of join, unjoin or info. It reads no files.
func parseCommand(name string, args []string) (*command, error) {
	c := &command{name: name}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var server, user, options string
	fs.StringVar(&server, "server", "", "server HOST[:PORT]")
	fs.StringVar(&user, "user", "", `connecting user, DOMAIN\user or user@domain`)
	fs.StringVar(&c.userPasswordFile, "user-password-file", "", "file (or - for stdin) holding the connecting user's password")
	fs.StringVar(&c.conn.Dialect, "dialect", "", "SMB dialect: 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1")
	fs.BoolVar(&c.conn.Seal, "seal", false, "request SMB3 encryption")
	fs.DurationVar(&c.conn.Timeout, "timeout", defaultTimeout, "time limit for the whole command")
	fs.BoolVar(&c.verbose, "v", false, "log progress to standard error")
	method := methodAES
	if name != "info" {
		fs.StringVar(&c.account, "account", "", "AccountName sent to the server (domain account used for the join)")
		fs.StringVar(&c.passwordFile, "password-file", "", "file (or - for stdin) holding the AccountName password")
		fs.StringVar(&options, "options", "", "NETSETUP_* flags, names or number")
		fs.IntVar(&method, "method", methodAES, "3: NetrJoinDomain3/NetrUnjoinDomain3 (AES), 2: ...Domain2 (RC4)")
	}
	if name == "join" {
		fs.StringVar(&c.domain, "domain", "", "domain (or domain\\dc) to join")
		fs.StringVar(&c.ou, "ou", "", "MachineAccountOU, an RFC 1779 DN")
	}
	if err := fs.Parse(args); err != nil {
		return nil, usagef("%s: %v", name, err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("%s: unexpected argument %q", name, fs.Arg(0))
	}

	var err error
	if c.conn.Host, c.conn.Port, err = parseServer(server); err != nil {
		return nil, usagef("%s: --server: %v", name, err)
	}
	if user == "" {
		return nil, usagef("%s: --user is required", name)
	}
	if c.conn.User, err = parseUser(user); err != nil {
		return nil, usagef("%s: --user: %v", name, err)
	}
	if _, err := smbDialect(c.conn.Dialect); err != nil {
		return nil, usagef("%s: --dialect: %v", name, err)
	}
	if c.conn.Timeout <= 0 {
		return nil, usagef("%s: --timeout must be positive", name)
	}
	if method != methodAES && method != methodRC4 {
		return nil, usagef("%s: --method must be 3 or 2", name)
	}
	c.method = method

	switch name {
	case "join":
		if c.domain == "" {
			return nil, usagef("join: --domain is required")
		}
		if options == "" {
			options = "JOIN_DOMAIN,ACCT_CREATE"
		}
	case "unjoin":
		if options == "" {
			options = "0"
		}
	}
	if name != "info" {
		if c.options, err = parseOptions(options); err != nil {
			return nil, usagef("%s: --options: %v", name, err)
		}
	}
	if c.passwordFile == "-" && c.userPasswordFile == "-" {
		return nil, usagef("%s: --password-file and --user-password-file cannot both be standard input", name)
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
