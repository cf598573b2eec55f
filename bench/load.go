package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// CallTimeout bounds one RPC call or one connection establishment, so a
// stuck server fails a run instead of hanging it.
const CallTimeout = 10 * time.Second

// DialN opens n connections to t, at most parallel at a time (default 16).
// On any failure it closes what it opened and returns the first error.
// The clients live as long as ctx.
func DialN(ctx context.Context, t Target, n, parallel int) ([]*Client, error) {
	if parallel <= 0 {
		parallel = 16
	}
	clients := make([]*Client, n)
	errs := make([]error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			errs[i] = ctx.Err()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			clients[i], errs[i] = dialTimed(ctx, t)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		CloseAll(clients)
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("opening %d connections: %w", n, e)
			}
		}
	}
	return clients, nil
}

// dialTimed dials with CallTimeout on the establishment while the session
// itself stays bound to ctx.
func dialTimed(ctx context.Context, t Target) (*Client, error) {
	type result struct {
		c   *Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := Dial(ctx, t)
		ch <- result{c, err}
	}()
	timer := time.NewTimer(CallTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-timer.C:
		// Close the late connection as soon as it completes.
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close(context.Background())
			}
		}()
		return nil, fmt.Errorf("%s: connection establishment took longer than %v", t.Name, CallTimeout)
	}
}

// CloseAll closes every non-nil client, in parallel.
func CloseAll(clients []*Client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range clients {
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

// RunCalls repeats op on every client concurrently, one goroutine per
// client, each call waiting for the previous one and bounded by
// CallTimeout, for duration d. It returns the summary of the calls that
// completed.
func RunCalls(ctx context.Context, clients []*Client, op Op, d time.Duration) Summary {
	return runLoop(ctx, clients, func(ctx context.Context, c *Client) error {
		cctx, cancel := context.WithTimeout(ctx, CallTimeout)
		defer cancel()
		return op.Do(cctx, c)
	}, d)
}

// RunConnect measures connection establishment — TCP connect, SMB
// NEGOTIATE, SESSION_SETUP (NTLM), TREE_CONNECT to IPC$, CREATE of the
// wkssvc pipe and the RPC bind — with workers goroutines each connecting,
// then closing (untimed), for duration d. Latencies are of the
// establishment alone; Rate counts establishments per second of the run.
func RunConnect(ctx context.Context, t Target, workers int, d time.Duration) Summary {
	if workers <= 0 {
		workers = 1
	}
	type worker struct {
		lat    []time.Duration
		errors int
		first  error
	}
	ws := make([]worker, workers)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ws[i]
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				c, err := dialTimed(ctx, t)
				if err != nil {
					w.errors++
					if w.first == nil {
						w.first = err
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
				cctx, cancel := context.WithTimeout(ctx, CallTimeout)
				c.Close(cctx)
				cancel()
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

// MemoryProbe measures a server's resident memory and the number of
// processes it counted.
type MemoryProbe func() (Memory, int, error)

// IdleResult is the resident memory of a server with N idle connections.
type IdleResult struct {
	// N is the number of connections held open.
	N int
	// Idle is the server's memory before the connections, Loaded with all
	// N open and idle, After once they were closed again.
	Idle, Loaded, After Memory
	// IdleProcs and LoadedProcs count the processes measured.
	IdleProcs, LoadedProcs int
	// Open is how long opening the N connections took.
	Open time.Duration
}

// PerConn is (Loaded − Idle) / N.
func (r IdleResult) PerConn() Memory {
	if r.N == 0 {
		return Memory{}
	}
	sub := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	return Memory{
		RSS: sub(r.Loaded.RSS, r.Idle.RSS) / uint64(r.N),
		PSS: sub(r.Loaded.PSS, r.Idle.PSS) / uint64(r.N),
	}
}

// RunIdle opens n authenticated connections (each bound to wkssvc and
// having made one NetrWkstaGetInfo call), waits settle, measures, then
// closes them and measures again after settle.
func RunIdle(ctx context.Context, t Target, n int, settle time.Duration, probe MemoryProbe) (IdleResult, error) {
	r := IdleResult{N: n}
	var err error
	if r.Idle, r.IdleProcs, err = probe(); err != nil {
		return r, err
	}
	start := time.Now()
	clients, err := DialN(ctx, t, n, 16)
	if err != nil {
		return r, err
	}
	r.Open = time.Since(start)
	defer func() { CloseAll(clients) }()
	for _, c := range clients {
		cctx, cancel := context.WithTimeout(ctx, CallTimeout)
		err := c.GetInfo(cctx)
		cancel()
		if err != nil {
			return r, err
		}
	}
	if err := sleep(ctx, settle); err != nil {
		return r, err
	}
	if r.Loaded, r.LoadedProcs, err = probe(); err != nil {
		return r, err
	}
	CloseAll(clients)
	clients = nil
	if err := sleep(ctx, settle); err != nil {
		return r, err
	}
	if r.After, _, err = probe(); err != nil {
		return r, err
	}
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
