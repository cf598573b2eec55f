package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/wkssvcd/wkssvcd/bench"
)

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wkload soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := targetFlags(fs, "", "wkssvcd", "127.0.0.3", "admin")
	conns := fs.Int("conns", 1000, "concurrent connections")
	dur := fs.Duration("duration", 60*time.Second, "length of the load")
	think := fs.Duration("think", 0, "pause of each connection between calls")
	after := fs.Duration("after", 10*time.Second, "how long the daemon is sampled after the load")
	before := fs.Int("goroutines-before", -1, "goroutine count of an idle daemon (from wkload goroutines), for the growth check")
	quitLog := fs.String("quit-log", "", "daemon's stderr `FILE`: after the soak, stop the daemon with SIGQUIT and count its goroutines from the dump written there")
	out := fs.String("out", "", "Markdown `FILE` whose generated section receives the report (none when empty)")
	samba := fs.String("samba-version", "", "Samba version string for the machine description")
	limit := fs.Duration("timeout", 5*time.Minute, "hard limit for the whole run")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the load generator to `FILE` (for profiling runs)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if t.PID <= 0 {
		return usageError{errors.New("soak: --pid is required")}
	}
	if err := t.resolvePassword(os.Getenv); err != nil {
		return err
	}
	ctx, stop := withDeadline(ctx, *limit, stderr)
	defer stop()
	stopProf, err := startProfile(*cpuprof)
	if err != nil {
		return err
	}
	proc := bench.ProcFS{}
	fmt.Fprintf(stdout, "soak: %d connections to %s for %v\n", *conns, t.Addr(), *dur)
	machine := bench.ReadMachine(proc, *samba)
	res, err := bench.RunSoak(ctx, bench.SoakConfig{
		Target: t.Target, Conns: *conns, Duration: *dur, Think: *think, After: *after,
		Sample: bench.PIDSampler(proc, t.PID), Progress: stdout,
	})
	stopProf()
	if err != nil {
		return err
	}
	res.GoroutinesBefore = *before
	if *quitLog != "" {
		n, err := quitAndCount(ctx, proc, t.PID, *quitLog)
		if err != nil {
			return err
		}
		res.GoroutinesAfter = n
	}
	md := res.Markdown(machine)
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, md)
	if *out != "" {
		if err := bench.UpdateDoc(*out, "Soak test", md); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "report written to", *out)
	}
	if failed, _ := res.Verdict(); len(failed) > 0 {
		return fmt.Errorf("soak failed: %d check(s)", len(failed))
	}
	return nil
}

// quitAndCount sends SIGQUIT to the daemon, waits for it to exit and
// counts the goroutines in the stack dump it wrote to logPath.
func quitAndCount(ctx context.Context, proc bench.ProcFS, pid int, logPath string) (int, error) {
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		return 0, fmt.Errorf("SIGQUIT to %d: %w", pid, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for proc.Alive(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("process %d did not exit after SIGQUIT", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the log writer flush
	dump, err := os.ReadFile(logPath)
	if err != nil {
		return 0, err
	}
	n := bench.CountGoroutines(dump)
	if n < 0 {
		return 0, fmt.Errorf("no goroutine dump in %s (is GOTRACEBACK=all set for the daemon?)", logPath)
	}
	return n, nil
}

func runGoroutines(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wkload goroutines", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := targetFlags(fs, "", "wkssvcd", "127.0.0.3", "admin")
	logPath := fs.String("log", "", "daemon's stderr `FILE` (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if t.PID <= 0 || *logPath == "" {
		return usageError{errors.New("goroutines: --pid and --log are required")}
	}
	if err := t.resolvePassword(os.Getenv); err != nil {
		return err
	}
	ctx, stop := withDeadline(ctx, time.Minute, stderr)
	defer stop()
	// One full connection first, so lazily started parts of the daemon
	// are counted in the idle baseline as well.
	c, err := bench.Dial(ctx, t.Target)
	if err != nil {
		return err
	}
	for _, op := range bench.SoakOps(nil, nil) {
		cctx, cancel := context.WithTimeout(ctx, bench.CallTimeout)
		err = op.Do(cctx, c)
		cancel()
		if err != nil {
			c.Close(ctx)
			return err
		}
	}
	if err := c.Close(ctx); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	n, err := quitAndCount(ctx, bench.ProcFS{}, t.PID, *logPath)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, n)
	return nil
}
