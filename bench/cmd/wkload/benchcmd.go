package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/bench"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wkload bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	subj := targetFlags(fs, "wkssvcd-", "wkssvcd", "127.0.0.3", "admin")
	peer := targetFlags(fs, "peer-", "smbd", "127.0.0.4", "root")
	peerNS := fs.Bool("peer-mount-ns", true, "count every process in the peer's mount namespace as part of it")
	quick := fs.Bool("quick", false, "short run: 1 round, 2 s per throughput run, 200 idle connections")
	rounds := fs.Int("rounds", 3, "`N` rounds per measurement, alternating the servers")
	dur := fs.Duration("duration", 3*time.Second, "length of one throughput run")
	conc := fs.Int("concurrency", 64, "connections of the concurrent throughput runs")
	sel := caseFlags(fs)
	floors := addFloorFlags(fs)
	cdur := fs.Duration("connect-duration", 5*time.Second, "length of one connection-rate run")
	cworkers := fs.Int("connect-workers", 4, "goroutines establishing connections at once")
	idle := fs.Int("idle-conns", 1000, "idle connections of the memory measurement")
	out := fs.String("out", "", "Markdown `FILE` whose generated section receives the report (none when empty)")
	samba := fs.String("samba-version", "", "peer version string for the report")
	notes := fs.String("notes", "", "extra Markdown `TEXT` appended to the generated section")
	limit := fs.Duration("timeout", 45*time.Minute, "hard limit for the whole run")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the load generator to `FILE` (for profiling runs)")
	join := fs.Bool("join", false, "also measure online domain join latency (needs a DC; see the join flags)")
	jopts := joinFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if subj.PID <= 0 || peer.PID <= 0 {
		return usageError{fmt.Errorf("bench: --wkssvcd-pid and --peer-pid are required")}
	}
	cases, err := sel.cases(*conc)
	if err != nil {
		return err
	}
	fl, err := floors.servers()
	if err != nil {
		return err
	}
	cfg := bench.SuiteConfig{
		Floors:          fl,
		Subject:         bench.Server{Target: subj.Target, PID: subj.PID},
		Peer:            bench.Server{Target: peer.Target, PID: peer.PID, SameMountNS: *peerNS},
		Cases:           cases,
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
		cfg.Rounds, cfg.CallDuration, cfg.ConnectDuration, cfg.IdleConns, cfg.Settle = 1, 2*time.Second, 2*time.Second, 200, time.Second
	}
	for _, t := range []*target{subj, peer} {
		if err := t.resolvePassword(os.Getenv); err != nil {
			return err
		}
	}
	cfg.Subject.Target.Password, cfg.Peer.Target.Password = subj.Password, peer.Password
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
	fmt.Fprint(stdout, res.CallText())
	fmt.Fprint(stdout, bench.TextTable(subj.Name, peer.Name, rows))
	if *out != "" {
		if err := bench.UpdateDoc(*out, "Benchmarks", res.Markdown(machine, extra)); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "report written to", *out)
	}
	return nil
}

// caseSelection is which throughput cases a command runs.
type caseSelection struct {
	generators, protections, pipeIO, conns *string
}

func caseFlags(fs *flag.FlagSet) caseSelection {
	return caseSelection{
		generators:  fs.String("generators", "lean,go-msrpc", "load `GENERATORS` to run, comma-separated: lean, go-msrpc"),
		protections: fs.String("protections", "signed,sealed", "message `PROTECTIONS`, comma-separated: signed, sealed"),
		pipeIO:      fs.String("pipe-io", "write-read,pipelined,transceive", "how the lean generator reaches the pipe, comma-separated: write-read, pipelined, transceive"),
		conns:       fs.String("conns", "", "connection `COUNTS`, comma-separated (default 1 and --concurrency)"),
	}
}

// cases returns the default cases that the selection keeps.
func (s caseSelection) cases(concurrency int) ([]bench.CallCase, error) {
	set := func(flag, list string, valid ...string) (map[string]bool, error) {
		m := map[string]bool{}
		for _, v := range strings.Split(list, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if !slices.Contains(valid, v) {
				return nil, usageError{fmt.Errorf("--%s: %q is none of %s", flag, v, strings.Join(valid, ", "))}
			}
			m[v] = true
		}
		if len(m) == 0 {
			return nil, usageError{fmt.Errorf("--%s: nothing selected", flag)}
		}
		return m, nil
	}
	gens, err := set("generators", *s.generators, bench.GenLean, bench.GenGoMSRPC)
	if err != nil {
		return nil, err
	}
	prots, err := set("protections", *s.protections, "signed", "sealed")
	if err != nil {
		return nil, err
	}
	ios, err := set("pipe-io", *s.pipeIO, "write-read", "pipelined", "transceive")
	if err != nil {
		return nil, err
	}
	counts := []int{1, concurrency}
	if *s.conns != "" {
		counts = nil
		for _, v := range strings.Split(*s.conns, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return nil, usageError{fmt.Errorf("--conns: %q is not a positive number", v)}
			}
			counts = append(counts, n)
		}
	}
	var out []bench.CallCase
	for _, n := range counts {
		for _, cc := range bench.DefaultCases(n) {
			if cc.Conns != n {
				continue
			}
			io := "write-read"
			switch cc.IO {
			case bench.Transceive:
				io = "transceive"
			case bench.Pipelined:
				io = "pipelined"
			}
			if gens[cc.Generator] && prots[cc.Protection()] && (cc.Generator != bench.GenLean || ios[io]) {
				out = append(out, cc)
			}
		}
	}
	if len(out) == 0 {
		return nil, usageError{errors.New("no throughput case selected")}
	}
	return out, nil
}
