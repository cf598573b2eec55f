package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/wkssvcd/wkssvcd/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"bench":        {"compare wkssvcd with a peer server and write docs/benchmarks.md", runBench},
		"calls":        {"call one server in a loop and print what a call costs it (for profiling)", runCalls},
		"soak":         {"hold many connections under load and check the daemon for growth", runSoak},
		"join":         {"time online domain joins: wkssvcd vs adcli join vs net ads join vs the bare LDAP operations", runJoin},
		"floor-server": {"serve the floor: a bare TCP server answering each frame with a frame of a given length", runFloorServer},
		"goroutines":   {"count the goroutines of an idle daemon after one connection (stops it with SIGQUIT)", runGoroutines},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: wkload COMMAND [flags]   (wkload COMMAND -h for its flags)")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, cmds[n].summary)
	}
}

// run returns the exit status: 0 success, 1 failure, 2 usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "wkload: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	raiseNoFile(stderr)
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "wkload:", err)
			return 2
		}
		fmt.Fprintf(stderr, "wkload %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

type usageError struct{ error }

// parseFlags parses args; a bad flag is a usage error, -h is flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err}
}

// raiseNoFile lifts the soft open-file limit to the hard one: a run holds
// one socket per connection.
func raiseNoFile(stderr io.Writer) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			fmt.Fprintln(stderr, "wkload: raising RLIMIT_NOFILE:", err)
		}
	}
}

// target is one server as the command line describes it.
type target struct {
	bench.Target
	// PID is the server's main process.
	PID    int
	pwFile string
	flag   string // name of the password-file flag
	env    string
}

// targetFlags registers the flags describing one server. The password is
// never a flag (every user of the host would see it with ps): it is the
// first line of --PREFIXpassword-file, else $WKLOAD_PREFIXPASSWORD (e.g.
// WKLOAD_PEER_PASSWORD for the prefix "peer-").
func targetFlags(fs *flag.FlagSet, prefix, name, host, user string) *target {
	t := &target{Target: bench.Target{Name: name}}
	t.env = "WKLOAD_" + strings.ToUpper(strings.ReplaceAll(prefix, "-", "_")) + "PASSWORD"
	fs.StringVar(&t.Name, prefix+"name", name, "label of the "+name+" server in reports")
	fs.StringVar(&t.Host, prefix+"host", host, "IP `ADDRESS` of the "+name+" server")
	fs.IntVar(&t.Port, prefix+"port", 445, "SMB `PORT` of the "+name+" server")
	fs.StringVar(&t.User, prefix+"user", user, "`USER` to log on to the "+name+" server as")
	t.flag = prefix + "password-file"
	fs.StringVar(&t.pwFile, t.flag, "", "`FILE` whose first line is that user's password (default: $"+t.env+")")
	fs.IntVar(&t.PID, prefix+"pid", 0, "`PID` of the "+name+" server's main process (required)")
	return t
}

// resolvePassword sets the password from the file or the environment.
func (t *target) resolvePassword(getenv func(string) string) error {
	if t.pwFile == "" {
		t.Password = getenv(t.env)
		if t.Password == "" {
			return usageError{fmt.Errorf("the password of %s: give --%s or set $%s", t.Name, t.flag, t.env)}
		}
		return nil
	}
	b, err := os.ReadFile(t.pwFile)
	if err != nil {
		return err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	clear(b)
	t.Password = strings.TrimRight(line, "\r")
	if t.Password == "" {
		return fmt.Errorf("%s: empty password", t.pwFile)
	}
	return nil
}

// withDeadline bounds a whole command: ctx ends after d, and if the
// command has not called stop within a grace period after that, the
// process exits.
func withDeadline(ctx context.Context, d time.Duration, stderr io.Writer) (_ context.Context, stop func()) {
	ctx, cancel := context.WithTimeout(ctx, d)
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(30 * time.Second)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			fmt.Fprintln(stderr, "wkload: still running 30 s after its deadline; exiting")
			os.Exit(1)
		}
	}()
	return ctx, func() {
		close(done)
		cancel()
	}
}

// startProfile writes a CPU profile of the load generator to path, when
// path is not empty.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
