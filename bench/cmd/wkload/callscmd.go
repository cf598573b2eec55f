package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wkssvcd/wkssvcd/bench"
)

// runCalls measures the throughput cases against one server: the command
// to profile a server with (perf stat -p, pprof) while it runs.
func runCalls(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wkload calls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := targetFlags(fs, "", "wkssvcd", "127.0.0.3", "admin")
	mountNS := fs.Bool("mount-ns", false, "count every process in the server's mount namespace as part of it (smbd)")
	dur := fs.Duration("duration", 5*time.Second, "length of one run")
	warm := fs.Duration("warmup", 300*time.Millisecond, "untimed calls before each run")
	conc := fs.Int("concurrency", 64, "connections of the concurrent runs")
	sel := caseFlags(fs)
	floors := addFloorFlags(fs)
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the load generator to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if t.PID <= 0 {
		return usageError{errors.New("calls: --pid is required")}
	}
	cases, err := sel.cases(*conc)
	if err != nil {
		return err
	}
	fl, err := floors.servers()
	if err != nil {
		return err
	}
	if err := t.resolvePassword(os.Getenv); err != nil {
		return err
	}
	ctx, stop := withDeadline(ctx, time.Duration(len(cases)*(1+len(fl)))*(*dur+*warm+time.Minute), stderr)
	defer stop()
	stopProf, err := startProfile(*cpuprof)
	if err != nil {
		return err
	}
	defer stopProf()
	proc := bench.ProcFS{}
	fmt.Fprintf(stdout, "%-40s %9s %9s %9s %10s %6s %6s %10s %6s\n", "case", "calls/s", "p50", "p99", "server CPU", "cs", "(vol)", "gen CPU", "gen cs")
	for _, cc := range cases {
		s, err := bench.MeasureCase(ctx, t.Target, cc, *warm, *dur, bench.ProcessUsage(proc, t.PID, *mountNS), bench.SelfUsage(proc))
		if err != nil {
			return fmt.Errorf("%s: %w", cc.Label(), err)
		}
		if s.Errors > 0 {
			return fmt.Errorf("%s: %d errors, first: %w", cc.Label(), s.Errors, s.FirstError)
		}
		fmt.Fprintf(stdout, "%-40s %9.0f %9s %9s %10s %6.2f %6.2f %10s %6.2f\n", cc.Label(), s.Rate, bench.FormatDuration(s.P50), bench.FormatDuration(s.P99),
			bench.FormatMicros(s.CPUPerOp()), s.SwitchesPerOp(), s.VoluntaryPerOp(), bench.FormatMicros(s.ClientCPUPerOp()), s.ClientSwitchesPerOp())
		if cc.Generator != bench.GenLean || len(fl) == 0 {
			continue
		}
		// The floors, answering with the lengths of this server's answers.
		shape, err := bench.ProbeShape(ctx, t.Target, cc.Seal, cc.IO)
		if err != nil {
			return fmt.Errorf("%s: the lengths of the answers: %w", cc.Label(), err)
		}
		for _, f := range fl {
			f.Target.Floor = &shape
			s, err := bench.MeasureCase(ctx, f.Target, cc, *warm, *dur, bench.ProcessUsage(proc, f.PID, false), bench.SelfUsage(proc))
			if err == nil && s.Errors > 0 {
				err = fmt.Errorf("%d errors, first: %w", s.Errors, s.FirstError)
			}
			if err != nil {
				return fmt.Errorf("%s, %s: %w", cc.Label(), f.Target.Name, err)
			}
			fmt.Fprintf(stdout, "  %-38s %9.0f %9s %9s %10s %6.2f %6.2f %10s %6.2f\n", f.Target.Name, s.Rate, bench.FormatDuration(s.P50), bench.FormatDuration(s.P99),
				bench.FormatMicros(s.CPUPerOp()), s.SwitchesPerOp(), s.VoluntaryPerOp(), bench.FormatMicros(s.ClientCPUPerOp()), s.ClientSwitchesPerOp())
		}
	}
	return nil
}
