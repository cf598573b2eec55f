package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/bench"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wkload bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	subj, subjPID := targetFlags(fs, "wkssvcd-", "wkssvcd", "127.0.0.3", "admin", "")
	peer, peerPID := targetFlags(fs, "peer-", "smbd", "127.0.0.4", "root", "")
	peerNS := fs.Bool("peer-mount-ns", true, "count every process in the peer's mount namespace as part of it")
	quick := fs.Bool("quick", false, "short run: 1 round, 3 s per throughput run, 200 idle connections")
	rounds := fs.Int("rounds", 3, "`N` rounds per measurement, alternating the servers")
	dur := fs.Duration("duration", 10*time.Second, "length of one throughput run")
	conc := fs.Int("concurrency", 64, "connections of the concurrent throughput run")
	cdur := fs.Duration("connect-duration", 5*time.Second, "length of one connection-rate run")
	cworkers := fs.Int("connect-workers", 4, "goroutines establishing connections at once")
	idle := fs.Int("idle-conns", 1000, "idle connections of the memory measurement")
	out := fs.String("out", "", "Markdown `FILE` whose generated section receives the report (none when empty)")
	samba := fs.String("samba-version", "", "peer version string for the report")
	notes := fs.String("notes", "", "extra Markdown `TEXT` appended to the generated section")
	limit := fs.Duration("timeout", 10*time.Minute, "hard limit for the whole run")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the load generator to `FILE` (for profiling runs)")
	join := fs.Bool("join", false, "also measure online domain join latency (needs a DC; see the join flags)")
	jopts := joinFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *subjPID <= 0 || *peerPID <= 0 {
		return usageError{fmt.Errorf("bench: --wkssvcd-pid and --peer-pid are required")}
	}
	cfg := bench.SuiteConfig{
		Subject:         bench.Server{Target: *subj, PID: *subjPID},
		Peer:            bench.Server{Target: *peer, PID: *peerPID, SameMountNS: *peerNS},
		Rounds:          *rounds,
		CallDuration:    *dur,
		Concurrency:     *conc,
		ConnectDuration: *cdur,
		ConnectWorkers:  *cworkers,
		IdleConns:       *idle,
		Progress:        stdout,
	}
	var joinDetail string
	if *join {
		jc, err := jopts.config(stdout)
		if err != nil {
			return err
		}
		cfg.Join = func(ctx context.Context) ([]bench.Row, error) {
			fmt.Fprintln(stdout, "online domain join")
			res, err := bench.RunJoin(ctx, jc)
			if err != nil {
				return nil, err
			}
			joinDetail = res.JoinMarkdown()
			return res.JoinRows(), nil
		}
	}
	if *quick {
		cfg.Rounds, cfg.CallDuration, cfg.ConnectDuration, cfg.IdleConns, cfg.Settle = 1, 3*time.Second, 2*time.Second, 200, time.Second
	}
	ctx, stop := withDeadline(ctx, *limit, stderr)
	defer stop()
	stopProf, err := startProfile(*cpuprof)
	if err != nil {
		return err
	}
	machine := bench.ReadMachine(bench.ProcFS{}, *samba)
	res, err := bench.RunSuite(ctx, cfg)
	stopProf()
	if err != nil {
		return err
	}
	rows := res.Rows()
	extra := *notes
	if joinDetail != "" {
		extra = strings.TrimSpace(joinDetail + "\n" + extra)
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, joinDetail)
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, bench.TextTable(subj.Name, peer.Name, rows))
	if *out != "" {
		if err := bench.UpdateDoc(*out, "Benchmarks", res.Markdown(machine, extra)); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "report written to", *out)
	}
	return nil
}
