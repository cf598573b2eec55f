package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
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
	// Floors are floor servers (ServeFloor, wkload floor-server), each
	// measured on every lean case with the lengths of the Subject's
	// answers, in the same rounds. Default none.
	Floors []Server
	// Rounds is how many times each call/connect measurement is repeated
	// per server, alternating which server goes first; the report shows
	// the median. Default 3.
	Rounds int
	// Cases are the throughput measurements. Default DefaultCases with
	// Concurrency.
	Cases []CallCase
	// CallDuration is the length of one throughput run. Default 5 s.
	CallDuration time.Duration
	// Warmup is the length of the calls made, untimed, before each
	// throughput run. Default 300 ms.
	Warmup time.Duration
	// Concurrency is the number of connections of the concurrent
	// throughput runs. Default 64.
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
		c.CallDuration = 5 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = 300 * time.Millisecond
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if len(c.Cases) == 0 {
		c.Cases = DefaultCases(c.Concurrency)
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

// DefaultCases are the throughput measurements of a full run: the lean
// generator signed and sealed, over WRITE+READ, pipelined WRITE+READ and
// TRANSCEIVE, and go-msrpc signed and sealed, each over one connection
// and over conns.
func DefaultCases(conns int) []CallCase {
	var out []CallCase
	counts := []int{1}
	if conns != 1 {
		counts = append(counts, conns)
	}
	for _, n := range counts {
		for _, seal := range []bool{false, true} {
			for _, io := range []PipeIO{WriteRead, Pipelined, Transceive} {
				out = append(out, CallCase{Generator: GenLean, Seal: seal, IO: io, Conns: n})
			}
		}
		for _, seal := range []bool{false, true} {
			out = append(out, CallCase{Generator: GenGoMSRPC, Seal: seal, IO: WriteRead, Conns: n})
		}
	}
	return out
}

// MeasureConnect is the key of the connection-rate measurement in
// SuiteResult.Calls (the throughput measurements are keyed by
// CallCase.Key).
const MeasureConnect = "connect"

// SuiteResult holds everything RunSuite measured, keyed by measurement
// then by server name.
type SuiteResult struct {
	// Config is the configuration the suite ran with, defaults filled in.
	Config SuiteConfig
	// Calls holds the median Summary of each measurement (CallCase.Key,
	// MeasureConnect) per server.
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
		fmt.Fprintf(cfg.Progress, "  %-34s %-8s %8.0f/s  p50 %-9v p99 %-9v server CPU/call %-8v cs/call %5.2f  generator CPU/call %-8v errors %d\n",
			m, server, s.Rate, s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond), s.CPUPerOp(), s.SwitchesPerOp(), s.ClientCPUPerOp(), s.Errors)
		if s.Errors > 0 {
			return fmt.Errorf("%s against %s: %d errors, first: %w", m, server, s.Errors, s.FirstError)
		}
		return nil
	}
	// The floors answer with the lengths of the subject's answers to each
	// lean case, probed once.
	shapes := map[string]*FloorShape{}
	floorTarget := func(srv Server, cc CallCase) (Target, error) {
		k := fmt.Sprintf("%v/%v", cc.Seal, cc.IO)
		if shapes[k] == nil {
			sh, err := ProbeShape(ctx, cfg.Subject.Target, cc.Seal, cc.IO)
			if err != nil {
				return Target{}, fmt.Errorf("the lengths of %s's answers: %w", cfg.Subject.Target.Name, err)
			}
			shapes[k] = &sh
		}
		t := srv.Target
		t.Floor = shapes[k]
		return t, nil
	}
	for round := range cfg.Rounds {
		order := []Server{cfg.Subject, cfg.Peer}
		if round%2 == 1 {
			order = []Server{cfg.Peer, cfg.Subject}
		}
		fmt.Fprintf(cfg.Progress, "round %d/%d\n", round+1, cfg.Rounds)
		for _, cc := range cfg.Cases {
			servers := order
			if cc.Generator == GenLean {
				servers = append(slices.Clone(order), cfg.Floors...)
			}
			for _, srv := range servers {
				if srv.Target.Floor == nil && slices.ContainsFunc(cfg.Floors, func(f Server) bool { return f.Target.Name == srv.Target.Name }) {
					t, err := floorTarget(srv, cc)
					if err != nil {
						return nil, err
					}
					srv.Target = t
				}
				s, err := MeasureCase(ctx, srv.Target, cc, cfg.Warmup, cfg.CallDuration,
					ProcessUsage(cfg.Proc, srv.PID, srv.SameMountNS), SelfUsage(cfg.Proc))
				if err != nil {
					return nil, fmt.Errorf("%s against %s: %w", cc.Key(), srv.Target.Name, err)
				}
				if err := record(cc.Key(), srv.Target.Name, s); err != nil {
					return nil, err
				}
			}
		}
		for _, srv := range order {
			// Server CPU is not attributed here: smbd's per-connection
			// processes exit with their connections, taking their CPU time.
			s := RunConnect(ctx, srv.Target, cfg.ConnectWorkers, cfg.ConnectDuration)
			if err := record(MeasureConnect, srv.Target.Name, s); err != nil {
				return nil, err
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
