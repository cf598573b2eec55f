package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// Server is one server the suite measures.
type Server struct {
	// Target is how to reach it.
	Target Target
	// PID is its main process, for memory measurements. Required.
	PID int
	// SameMountNS counts, besides PID's descendants, every process in
	// PID's mount namespace (for a server started in its own namespace
	// whose helpers re-parent themselves). Default false.
	SameMountNS bool
}

// JoinFunc measures online domain join latency for the report; it returns
// the rows to print. A nil JoinFunc leaves the placeholder row.
type JoinFunc func(ctx context.Context) ([]Row, error)

// SuiteConfig configures RunSuite. Every zero field takes its default.
type SuiteConfig struct {
	// Subject is the server being judged (wkssvcd); Peer the reference
	// (smbd). Ratios are Subject ÷ Peer. Required.
	Subject, Peer Server
	// Rounds is how many times each call/connect measurement is repeated
	// per server, alternating which server goes first; the report shows
	// the median. Default 3.
	Rounds int
	// CallDuration is the length of one throughput run. Default 10 s.
	CallDuration time.Duration
	// Concurrency is the number of connections of the concurrent
	// throughput run. Default 64.
	Concurrency int
	// ConnectDuration is the length of one connection-rate run. Default 5 s.
	ConnectDuration time.Duration
	// ConnectWorkers is the number of goroutines establishing
	// connections at once. Default 4.
	ConnectWorkers int
	// IdleConns is the number of idle connections of the memory
	// measurement. Default 1000.
	IdleConns int
	// Settle is the pause before each memory reading. Default 2 s.
	Settle time.Duration
	// Join measures domain join latency. Default nil: not measured.
	Join JoinFunc
	// Progress receives one line per step. Default: discarded.
	Progress io.Writer
	// Proc reads process information. Default ProcFS{Root: "/proc"}.
	Proc ProcFS
}

func (c *SuiteConfig) fill() {
	if c.Rounds <= 0 {
		c.Rounds = 3
	}
	if c.CallDuration <= 0 {
		c.CallDuration = 10 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.ConnectDuration <= 0 {
		c.ConnectDuration = 5 * time.Second
	}
	if c.ConnectWorkers <= 0 {
		c.ConnectWorkers = 4
	}
	if c.IdleConns <= 0 {
		c.IdleConns = 1000
	}
	if c.Settle <= 0 {
		c.Settle = 2 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// Measurement names, in report order.
const (
	MeasureSequential = "sequential"
	MeasureConcurrent = "concurrent"
	MeasureConnect    = "connect"
)

// SuiteResult holds everything RunSuite measured, keyed by measurement
// then by server name.
type SuiteResult struct {
	// Config is the configuration the suite ran with, defaults filled in.
	Config SuiteConfig
	// Calls holds the median Summary of each call or connect measurement
	// (MeasureSequential, MeasureConcurrent, MeasureConnect) per server.
	Calls map[string]map[string]Summary
	// Idle holds the memory measurement per server.
	Idle map[string]IdleResult
	// JoinRow holds the join latency rows; nil when not measured.
	JoinRow []Row
}

// RunSuite runs every measurement against both servers, alternating them.
func RunSuite(ctx context.Context, cfg SuiteConfig) (*SuiteResult, error) {
	cfg.fill()
	res := &SuiteResult{Config: cfg, Calls: map[string]map[string]Summary{}, Idle: map[string]IdleResult{}}
	runs := map[string]map[string][]Summary{}
	record := func(m, server string, s Summary) error {
		if runs[m] == nil {
			runs[m] = map[string][]Summary{}
		}
		runs[m][server] = append(runs[m][server], s)
		fmt.Fprintf(cfg.Progress, "  %-10s %-8s %8.0f/s  p50 %-10v p99 %-10v CPU/call server %-8v client %-8v errors %d\n",
			m, server, s.Rate, s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond), s.CPUPerOp(), s.ClientCPUPerOp(), s.Errors)
		if s.Errors > 0 {
			return fmt.Errorf("%s against %s: %d errors, first: %w", m, server, s.Errors, s.FirstError)
		}
		return nil
	}
	for round := range cfg.Rounds {
		order := []Server{cfg.Subject, cfg.Peer}
		if round%2 == 1 {
			order = []Server{cfg.Peer, cfg.Subject}
		}
		fmt.Fprintf(cfg.Progress, "round %d/%d\n", round+1, cfg.Rounds)
		for _, m := range []string{MeasureSequential, MeasureConcurrent, MeasureConnect} {
			for _, srv := range order {
				s, err := runOne(ctx, cfg, m, srv)
				if err != nil {
					return nil, err
				}
				if err := record(m, srv.Target.Name, s); err != nil {
					return nil, err
				}
			}
		}
	}
	for m, bySrv := range runs {
		res.Calls[m] = map[string]Summary{}
		for name, ss := range bySrv {
			res.Calls[m][name] = Merge(ss)
		}
	}
	for _, srv := range []Server{cfg.Subject, cfg.Peer} {
		fmt.Fprintf(cfg.Progress, "memory: %d idle connections to %s\n", cfg.IdleConns, srv.Target.Name)
		probe := func() (Memory, int, error) { return cfg.Proc.TreeMemory(srv.PID, srv.SameMountNS) }
		r, err := RunIdle(ctx, srv.Target, cfg.IdleConns, cfg.Settle, probe)
		if err != nil {
			return nil, fmt.Errorf("memory of %s: %w", srv.Target.Name, err)
		}
		pc := r.PerConn()
		fmt.Fprintf(cfg.Progress, "  %-8s idle PSS %s (%d procs), loaded PSS %s (%d procs), per connection PSS %s RSS %s, opened in %v\n",
			srv.Target.Name, FormatBytes(r.Idle.PSS), r.IdleProcs, FormatBytes(r.Loaded.PSS), r.LoadedProcs,
			FormatBytes(pc.PSS), FormatBytes(pc.RSS), r.Open.Round(time.Millisecond))
		res.Idle[srv.Target.Name] = r
	}
	if cfg.Join != nil {
		rows, err := cfg.Join(ctx)
		if err != nil {
			return nil, fmt.Errorf("join latency: %w", err)
		}
		res.JoinRow = rows
	}
	return res, nil
}

// runOne performs one measurement m against srv.
func runOne(ctx context.Context, cfg SuiteConfig, m string, srv Server) (Summary, error) {
	t := srv.Target
	cpu := func() time.Duration {
		d, err := cfg.Proc.TreeCPU(srv.PID, srv.SameMountNS)
		if err != nil {
			return 0
		}
		return d
	}
	switch m {
	case MeasureConnect:
		// Server CPU is not attributed here: smbd's per-connection
		// processes exit with their connections, taking their CPU time.
		return RunConnect(ctx, t, cfg.ConnectWorkers, cfg.ConnectDuration), nil
	case MeasureSequential, MeasureConcurrent:
		n := 1
		if m == MeasureConcurrent {
			n = cfg.Concurrency
		}
		clients, err := DialN(ctx, t, n, 16)
		if err != nil {
			return Summary{}, err
		}
		defer CloseAll(clients)
		// Warm up: the first calls pay for lazily started server helpers
		// (Samba spawns its RPC daemons on demand).
		if w := RunCalls(ctx, clients, GetInfoOp(), 300*time.Millisecond); w.Errors > 0 {
			return Summary{}, fmt.Errorf("%s warm-up: %w", t.Name, w.FirstError)
		}
		self := func() time.Duration {
			d, err := cfg.Proc.TreeCPU(os.Getpid(), false)
			if err != nil {
				return 0
			}
			return d
		}
		before, selfBefore := cpu(), self()
		s := RunCalls(ctx, clients, GetInfoOp(), cfg.CallDuration)
		s.ServerCPU = max(cpu()-before, 0)
		s.ClientCPU = max(self()-selfBefore, 0)
		return s, nil
	}
	return Summary{}, fmt.Errorf("unknown measurement %q", m)
}
