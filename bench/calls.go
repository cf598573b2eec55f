package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

// Load generators.
const (
	// GenLean is the lean generator (LeanClient): raw SMB2 messages
	// encoded once, a few microseconds of CPU per call.
	GenLean = "lean"
	// GenGoMSRPC is go-msrpc's client (Client), a realistic client that
	// spends about as much CPU per call as the servers.
	GenGoMSRPC = "go-msrpc"
)

// CallCase is one throughput measurement: a load generator with its
// options over a number of connections, each making NetrWkstaGetInfo(100)
// calls one after another.
type CallCase struct {
	// Generator is GenLean or GenGoMSRPC.
	Generator string
	// Seal encrypts every message (AES-128-GCM) instead of signing it.
	Seal bool
	// IO is how the lean generator reaches the pipe; go-msrpc always
	// sends a WRITE, then a READ.
	IO PipeIO
	// Conns is the number of connections, each driven by one goroutine.
	Conns int
}

// Protection is "sealed" or "signed".
func (c CallCase) Protection() string {
	if c.Seal {
		return "sealed"
	}
	return "signed"
}

// Key identifies the case in results, e.g. "lean/signed/WRITE+READ/1".
func (c CallCase) Key() string {
	return fmt.Sprintf("%s/%s/%s/%d", c.Generator, c.Protection(), c.pipeIO(), c.Conns)
}

func (c CallCase) pipeIO() PipeIO {
	if c.Generator == GenGoMSRPC {
		return WriteRead
	}
	return c.IO
}

// Caller is one established connection of a load generator.
type Caller interface {
	// GetInfo makes one NetrWkstaGetInfo(100) call and checks its answer.
	GetInfo(ctx context.Context) error
	// Close logs off and closes the connection.
	Close(ctx context.Context) error
}

// msrpcCaller bounds each go-msrpc call by CallTimeout.
type msrpcCaller struct{ *Client }

func (c msrpcCaller) GetInfo(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	return c.Client.GetInfo(cctx)
}

// DialCase establishes one connection of case cc to t. The connection
// lives as long as ctx; the establishment is bounded by CallTimeout.
func DialCase(ctx context.Context, t Target, cc CallCase) (Caller, error) {
	if t.Floor != nil && cc.Generator != GenLean {
		return nil, fmt.Errorf("bench: only the lean generator calls a floor server")
	}
	switch cc.Generator {
	case GenLean:
		dctx, cancel := context.WithTimeout(ctx, CallTimeout)
		defer cancel()
		// Threads blocked in read(2) are the cheapest wait while there
		// are no more connections than processors; beyond that the
		// network poller's collected wake-ups are.
		opts := LeanOptions{Seal: cc.Seal, IO: cc.IO, Blocking: cc.Conns <= runtime.GOMAXPROCS(0)}
		var c *LeanClient
		var err error
		if t.Floor != nil {
			c, err = DialFloor(dctx, t, *t.Floor, opts)
		} else {
			c, err = DialLean(dctx, t, opts)
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	case GenGoMSRPC:
		t.Seal = cc.Seal
		c, err := dialTimed(ctx, t)
		if err != nil {
			return nil, err
		}
		return msrpcCaller{c}, nil
	}
	return nil, fmt.Errorf("bench: unknown load generator %q", cc.Generator)
}

// DialCallers opens cc.Conns connections, at most 16 at a time. On any
// failure it closes what it opened and returns the first error.
func DialCallers(ctx context.Context, t Target, cc CallCase) ([]Caller, error) {
	out := make([]Caller, cc.Conns)
	errs := make([]error, cc.Conns)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range out {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = DialCase(ctx, t, cc)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		CloseCallers(out)
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("opening %d connections: %w", cc.Conns, e)
			}
		}
	}
	return out, nil
}

// CloseCallers closes every non-nil caller, in parallel.
func CloseCallers(cs []Caller) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range cs {
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
			defer cancel()
			c.Close(ctx)
		}()
	}
	wg.Wait()
}

// runLoop repeats do on every client concurrently, one goroutine per
// client, each call waiting for the previous one, for duration d, and
// summarises the calls that completed.
func runLoop[C any](ctx context.Context, clients []C, do func(context.Context, C) error, d time.Duration) Summary {
	type worker struct {
		lat    []time.Duration
		errors int
		first  error
	}
	ws := make([]worker, len(clients))
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ws[i]
			w.lat = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				if err := do(ctx, c); err != nil {
					w.errors++
					if w.first == nil {
						w.first = err
					}
					if w.errors > 100 {
						return // a broken connection fails the run, not the CPU
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	errs := 0
	var first error
	for _, w := range ws {
		all = append(all, w.lat...)
		errs += w.errors
		if first == nil {
			first = w.first
		}
	}
	s := Summarize(all, errs, elapsed)
	s.FirstError = first
	return s
}

// RunCallers makes GetInfo calls on every caller for duration d.
func RunCallers(ctx context.Context, cs []Caller, d time.Duration) Summary {
	return runLoop(ctx, cs, func(ctx context.Context, c Caller) error { return c.GetInfo(ctx) }, d)
}

// Usage reads what a process tree has spent: CPU time and context
// switches.
type Usage func() (cpu time.Duration, switches TaskSwitches)

// ProcessUsage is the Usage of the process tree of pid (with every
// process of its mount namespace when sameMountNS); errors read as zero.
func ProcessUsage(p ProcFS, pid int, sameMountNS bool) Usage {
	return func() (time.Duration, TaskSwitches) {
		cpu, _ := p.TreeCPU(pid, sameMountNS)
		cs, _ := p.TreeTaskSwitches(pid, sameMountNS)
		return cpu, cs
	}
}

// MeasureCase establishes cc's connections to t, warms up for warm (the
// first calls pay for helpers a server starts on demand), then calls for
// d and attributes what server and self (the load generator's process)
// spent meanwhile.
func MeasureCase(ctx context.Context, t Target, cc CallCase, warm, d time.Duration, server, self Usage) (Summary, error) {
	cs, err := DialCallers(ctx, t, cc)
	if err != nil && ctx.Err() == nil {
		// A server that forks per connection may not answer within
		// CallTimeout on a busy machine: one more try before a run of
		// many cases fails.
		if sleep(ctx, 2*time.Second) == nil {
			cs, err = DialCallers(ctx, t, cc)
		}
	}
	if err != nil {
		return Summary{}, err
	}
	defer CloseCallers(cs)
	if w := RunCallers(ctx, cs, warm); w.Errors > 0 {
		return Summary{}, fmt.Errorf("%s warm-up: %w", t.Name, w.FirstError)
	}
	sCPU, sCS := server()
	cCPU, cCS := self()
	s := RunCallers(ctx, cs, d)
	sCPU2, sCS2 := server()
	cCPU2, cCS2 := self()
	s.ServerCPU = max(sCPU2-sCPU, 0)
	s.ClientCPU = max(cCPU2-cCPU, 0)
	sw := sCS2.Since(sCS)
	s.ServerSwitches, s.ServerVoluntary = sw.Total(), sw.Voluntary
	s.ClientSwitches = cCS2.Since(cCS).Total()
	return s, nil
}

// SelfUsage is the Usage of the running process.
func SelfUsage(p ProcFS) Usage { return ProcessUsage(p, os.Getpid(), false) }
