package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sample is the state of the server process at one moment of a soak.
type Sample struct {
	// At is the time since the soak started.
	At time.Duration
	// Phase is "before", "during" or "after" the load.
	Phase string
	// Memory of the server process.
	Memory Memory
	// Threads is the number of OS threads (/proc/PID/task).
	Threads int
	// Open is the number of connections the load generator held.
	Open int
}

// Sampler reads the server's state.
type Sampler func() (Memory, int, error)

// PIDSampler samples one process's memory and thread count.
func PIDSampler(p ProcFS, pid int) Sampler {
	return func() (Memory, int, error) {
		m, err := p.Memory(pid)
		if err != nil {
			return Memory{}, 0, err
		}
		th, err := p.Threads(pid)
		return m, th, err
	}
}

// SoakConfig configures RunSoak. Every zero field takes its default.
type SoakConfig struct {
	// Target is the server. Required.
	Target Target
	// Conns is the number of concurrent connections. Default 1000.
	Conns int
	// Duration is how long the load runs once all connections are open.
	// Default 60 s.
	Duration time.Duration
	// Ops is the operation mix; each connection picks operations in
	// weighted round-robin. Default SoakOps().
	Ops []Op
	// Think is the pause of each connection between two calls. Default 0.
	Think time.Duration
	// Sample reads the server's state. Required.
	Sample Sampler
	// Every is the sampling interval. Default 1 s.
	Every time.Duration
	// Before and After are how long the server is sampled idle before
	// the connections open and after they are closed. Defaults 3 s, 10 s.
	Before, After time.Duration
	// Progress receives one line per sample. Default: discarded.
	Progress io.Writer
}

// SoakOps is the default soak mix, equally weighted: NetrWkstaGetInfo
// level 100, NetrGetJoinInformation, and NetrJoinDomain3 joining one of
// two workgroups in turn (the daemon runs one join at a time and refuses
// the others with RPC_S_CALL_IN_PROGRESS). joined and refused, when not
// nil, count the joins' outcomes.
func SoakOps(joined, refused *atomic.Int64) []Op {
	return []Op{GetInfoOp(), GetJoinInformationOp(), WorkgroupJoinOp(joined, refused)}
}

func (c *SoakConfig) fill() {
	if c.Conns <= 0 {
		c.Conns = 1000
	}
	if c.Duration <= 0 {
		c.Duration = 60 * time.Second
	}
	if c.Every <= 0 {
		c.Every = time.Second
	}
	if c.Before <= 0 {
		c.Before = 3 * time.Second
	}
	if c.After <= 0 {
		c.After = 10 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// SoakResult is what RunSoak observed.
type SoakResult struct {
	Config SoakConfig
	// Ops summarises each operation of the mix, by name.
	Ops map[string]Summary
	// Samples of the server, in time order.
	Samples []Sample
	// Open is how long opening all connections took.
	Open time.Duration
	// Errors counts failed operations; FirstErrors keeps up to 10.
	Errors      int
	FirstErrors []string
	// Joined and JoinRefused count the workgroup joins of the default mix
	// that took effect and that were refused because another one was
	// running.
	Joined, JoinRefused int64
	// GoroutinesBefore and GoroutinesAfter are exact goroutine counts of
	// the daemon from runtime stack dumps, when the caller obtained them
	// (-1 when unknown).
	GoroutinesBefore, GoroutinesAfter int
}

// RunSoak samples the idle server, opens Conns connections, runs the mix
// on all of them for Duration, closes them and samples the server again.
// An error is returned only when the run could not be carried out;
// failed calls are counted in the result.
func RunSoak(ctx context.Context, cfg SoakConfig) (*SoakResult, error) {
	var joined, refused atomic.Int64
	if len(cfg.Ops) == 0 {
		cfg.Ops = SoakOps(&joined, &refused)
	}
	cfg.fill()
	res := &SoakResult{Config: cfg, Ops: map[string]Summary{}, GoroutinesBefore: -1, GoroutinesAfter: -1}
	start := time.Now()
	var open atomic.Int64
	var mu sync.Mutex
	phase := "before"
	sample := func() error {
		m, th, err := cfg.Sample()
		if err != nil {
			return fmt.Errorf("sampling the server: %w", err)
		}
		mu.Lock()
		s := Sample{At: time.Since(start), Phase: phase, Memory: m, Threads: th, Open: int(open.Load())}
		res.Samples = append(res.Samples, s)
		mu.Unlock()
		fmt.Fprintf(cfg.Progress, "  t=%5.1fs %-6s RSS %-10s threads %-4d connections %d\n",
			s.At.Seconds(), s.Phase, FormatBytes(s.Memory.RSS), s.Threads, s.Open)
		return nil
	}
	setPhase := func(p string) {
		mu.Lock()
		phase = p
		mu.Unlock()
	}
	// Idle samples.
	for deadline := start.Add(cfg.Before); time.Now().Before(deadline); {
		if err := sample(); err != nil {
			return nil, err
		}
		if err := sleep(ctx, cfg.Every); err != nil {
			return nil, err
		}
	}
	setPhase("during")
	// Sampling continues in the background during the load.
	sctx, stopSampling := context.WithCancel(ctx)
	samplerDone := make(chan error, 1)
	go func() {
		t := time.NewTicker(cfg.Every)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				samplerDone <- nil
				return
			case <-t.C:
				if err := sample(); err != nil {
					samplerDone <- err
					return
				}
			}
		}
	}()
	t0 := time.Now()
	clients, err := DialN(ctx, cfg.Target, cfg.Conns, 32)
	if err != nil {
		stopSampling()
		<-samplerDone
		return nil, err
	}
	res.Open = time.Since(t0)
	open.Store(int64(len(clients)))
	res.runMix(ctx, cfg, clients)
	CloseAll(clients)
	open.Store(0)
	stopSampling()
	if err := <-samplerDone; err != nil {
		return nil, err
	}
	setPhase("after")
	for deadline := time.Now().Add(cfg.After); ; {
		if err := sample(); err != nil {
			return nil, err
		}
		if !time.Now().Before(deadline) {
			break
		}
		if err := sleep(ctx, cfg.Every); err != nil {
			return nil, err
		}
	}
	res.Joined, res.JoinRefused = joined.Load(), refused.Load()
	return res, nil
}

// runMix runs the weighted operation mix on every client for the
// configured duration.
func (res *SoakResult) runMix(ctx context.Context, cfg SoakConfig, clients []*Client) {
	var schedule []int // operation indexes, each repeated by its weight
	for i, op := range cfg.Ops {
		for range max(op.Weight, 1) {
			schedule = append(schedule, i)
		}
	}
	type worker struct {
		lat    [][]time.Duration // by op
		errors []int
		first  []string
	}
	ws := make([]worker, len(clients))
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ws[i]
			w.lat = make([][]time.Duration, len(cfg.Ops))
			w.errors = make([]int, len(cfg.Ops))
			for k := i; ctx.Err() == nil; k++ {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				oi := schedule[k%len(schedule)]
				cctx, cancel := context.WithTimeout(ctx, CallTimeout)
				err := cfg.Ops[oi].Do(cctx, c)
				cancel()
				if err != nil {
					w.errors[oi]++
					if len(w.first) < 2 {
						w.first = append(w.first, err.Error())
					}
				} else {
					w.lat[oi] = append(w.lat[oi], time.Since(t0))
				}
				if cfg.Think > 0 && sleep(ctx, cfg.Think) != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for oi, op := range cfg.Ops {
		var lat []time.Duration
		errs := 0
		for _, w := range ws {
			lat = append(lat, w.lat[oi]...)
			errs += w.errors[oi]
		}
		res.Ops[op.Name] = Summarize(lat, errs, elapsed)
		res.Errors += errs
	}
	for _, w := range ws {
		for _, e := range w.first {
			if len(res.FirstErrors) < 10 {
				res.FirstErrors = append(res.FirstErrors, e)
			}
		}
	}
}

// phaseStats returns the first, last and largest sample of a phase.
func (res *SoakResult) phaseStats(phase string) (first, last, peak Sample, ok bool) {
	for _, s := range res.Samples {
		if s.Phase != phase {
			continue
		}
		if !ok {
			first, peak, ok = s, s, true
		}
		last = s
		if s.Memory.RSS > peak.Memory.RSS {
			peak.Memory = s.Memory
		}
		if s.Threads > peak.Threads {
			peak.Threads = s.Threads
		}
	}
	return first, last, peak, ok
}

// Soak verdict tolerances: RSS may wobble by this much after the load
// stops (the Go scavenger returns memory slowly but must not grow it), and
// the daemon may keep this many more goroutines than when idle (none).
const (
	SoakRSSSlack       = 1 << 20
	SoakGoroutineSlack = 0
)

// Verdict checks the soak: no failed call, and no growth once the load
// stopped — RSS does not rise over the after-phase, the thread count does
// not exceed its peak under load, and (when known) the goroutine count
// returns to its idle value. It returns the failed checks, empty when the
// soak passed, and the list of checks made.
func (res *SoakResult) Verdict() (failed, checks []string) {
	check := func(ok bool, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		checks = append(checks, msg)
		if !ok {
			failed = append(failed, msg)
		}
	}
	total := 0
	for _, s := range res.Ops {
		total += s.Count
	}
	check(res.Errors == 0, "unexpected errors: %d (of %d calls)", res.Errors, total+res.Errors)
	check(total > 0, "calls completed: %d", total)
	if res.Joined+res.JoinRefused > 0 {
		check(res.Joined > 0, "workgroup joins took effect, one at a time: %d (and %d refused with RPC_S_CALL_IN_PROGRESS while another ran)",
			res.Joined, res.JoinRefused)
	}
	_, _, duringPeak, okD := res.phaseStats("during")
	afterFirst, afterLast, afterPeak, okA := res.phaseStats("after")
	check(okD && okA, "samples during and after the load: %v", okD && okA)
	if okD && okA {
		check(afterLast.Memory.RSS <= afterFirst.Memory.RSS+SoakRSSSlack,
			"RSS after the load does not grow: %s right after → %s %.0f s later (slack %s)",
			FormatBytes(afterFirst.Memory.RSS), FormatBytes(afterLast.Memory.RSS), (afterLast.At - afterFirst.At).Seconds(), FormatBytes(SoakRSSSlack))
		check(afterPeak.Memory.RSS <= duringPeak.Memory.RSS+SoakRSSSlack,
			"RSS after the load stays below its peak under load: %s ≤ %s", FormatBytes(afterPeak.Memory.RSS), FormatBytes(duringPeak.Memory.RSS))
		check(afterPeak.Threads <= duringPeak.Threads,
			"threads after the load stay at or below the peak under load: %d ≤ %d", afterPeak.Threads, duringPeak.Threads)
	}
	if res.GoroutinesBefore >= 0 && res.GoroutinesAfter >= 0 {
		check(res.GoroutinesAfter <= res.GoroutinesBefore+SoakGoroutineSlack,
			"goroutines return to the idle count: %d idle → %d after the load", res.GoroutinesBefore, res.GoroutinesAfter)
	}
	return failed, checks
}

var goroutineHeader = regexp.MustCompile(`^goroutine [0-9]+ (\S+=\S+ )*\[`)

// CountGoroutines counts the application goroutines in a Go runtime stack
// dump (the output of SIGQUIT with GOTRACEBACK=all): those with at least
// one frame outside the runtime. The runtime's own goroutines (GC
// workers, which start with the first collection, the scavenger, the
// finalizer) are left out, so an idle and a loaded process compare. When
// the text holds several dumps, only the last one (after the last
// "SIGQUIT: quit" line) counts. It returns -1 when the text holds no dump.
func CountGoroutines(dump []byte) int {
	if i := bytes.LastIndex(dump, []byte("SIGQUIT: quit")); i >= 0 {
		dump = dump[i:]
	}
	n, headers := 0, 0
	inGoroutine, counted := false, false
	sc := bufio.NewScanner(bytes.NewReader(dump))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case goroutineHeader.MatchString(line):
			headers++
			inGoroutine, counted = true, false
		case line == "":
			inGoroutine = false
		case !inGoroutine || counted || line[0] == ' ' || line[0] == '\t' || strings.HasPrefix(line, "created by "):
			// file:line lines, the creator, or outside a goroutine
		case !strings.HasPrefix(line, "runtime.") && !strings.HasPrefix(line, "internal/runtime/") && line != "...additional frames elided...":
			n++
			counted = true
		}
	}
	if headers == 0 {
		return -1
	}
	return n
}

// Markdown renders the generated section of docs/soak.md.
func (res *SoakResult) Markdown(m Machine) string {
	c := res.Config
	var b strings.Builder
	b.WriteString("## Last run\n\n")
	b.WriteString(m.Markdown())
	fmt.Fprintf(&b, "- Target: %s at %s; %d concurrent connections (SMB %s, signed), opened in %v, load for %v, think time %v\n\n",
		c.Target.Name, c.Target.Addr(), c.Conns, dialectText(c.Target.dialect()), res.Open.Round(time.Millisecond), c.Duration, c.Think)
	b.WriteString("| Operation | calls | errors | calls/s | p50 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, op := range c.Ops {
		s := res.Ops[op.Name]
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %s | %s | %s |\n", op.Name, s.Count, s.Errors, s.Rate,
			FormatDuration(s.P50), FormatDuration(s.P99), FormatDuration(s.Max))
	}
	b.WriteString("\nDaemon process (from /proc/PID/smaps_rollup and /proc/PID/task):\n\n")
	b.WriteString("| Phase | samples | RSS first | RSS last | RSS peak | threads first → last (peak) |\n|---|---:|---:|---:|---:|---|\n")
	for _, ph := range []string{"before", "during", "after"} {
		first, last, peak, ok := res.phaseStats(ph)
		if !ok {
			continue
		}
		n := 0
		for _, s := range res.Samples {
			if s.Phase == ph {
				n++
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %d → %d (%d) |\n", ph, n, FormatBytes(first.Memory.RSS),
			FormatBytes(last.Memory.RSS), FormatBytes(peak.Memory.RSS), first.Threads, last.Threads, peak.Threads)
	}
	if res.GoroutinesBefore >= 0 || res.GoroutinesAfter >= 0 {
		fmt.Fprintf(&b, "\nApplication goroutines (runtime stack dump on SIGQUIT, GOTRACEBACK=all; the runtime's own goroutines left out): idle daemon after one connection %d; this daemon after the soak %d.\n",
			res.GoroutinesBefore, res.GoroutinesAfter)
	}
	failed, checks := res.Verdict()
	b.WriteString("\nChecks:\n\n")
	for _, c := range checks {
		mark := "pass"
		for _, f := range failed {
			if f == c {
				mark = "FAIL"
			}
		}
		fmt.Fprintf(&b, "- %s: %s\n", mark, c)
	}
	if len(res.FirstErrors) > 0 {
		b.WriteString("\nFirst errors:\n\n")
		for _, e := range res.FirstErrors {
			fmt.Fprintf(&b, "- `%s`\n", e)
		}
	}
	if len(failed) == 0 {
		b.WriteString("\nVerdict: **PASS**\n")
	} else {
		b.WriteString("\nVerdict: **FAIL**\n")
	}
	return b.String()
}
