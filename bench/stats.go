package bench

import (
	"math"
	"slices"
	"time"
)

// Summary describes a set of timed operations.
type Summary struct {
	// Count is the number of successful operations; Errors the failed ones.
	Count, Errors int
	// Elapsed is the wall-clock time the operations ran for.
	Elapsed time.Duration
	// Rate is Count per second of Elapsed.
	Rate float64
	// P50, P99 and Max are latency quantiles of the successful operations.
	P50, P99, Max time.Duration
	// ServerCPU is the CPU time the server spent during the run (user +
	// system, over its process tree), when measured.
	ServerCPU time.Duration
	// ClientCPU is the CPU time the load generator itself spent during
	// the run, when measured: client and server share the machine.
	ClientCPU time.Duration
	// ServerSwitches and ClientSwitches are the context switches of the
	// server's threads and of the load generator's during the run, when
	// measured; ServerVoluntary those of the server's that were not
	// preemptions (the others grow with the machine's load).
	ServerSwitches, ServerVoluntary, ClientSwitches uint64
	// FirstError is the first error seen, for the report.
	FirstError error
}

// CPUPerOp is ServerCPU divided by Count.
func (s Summary) CPUPerOp() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.ServerCPU / time.Duration(s.Count)
}

// ClientCPUPerOp is ClientCPU divided by Count.
func (s Summary) ClientCPUPerOp() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.ClientCPU / time.Duration(s.Count)
}

// SwitchesPerOp is ServerSwitches divided by Count.
func (s Summary) SwitchesPerOp() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.ServerSwitches) / float64(s.Count)
}

// VoluntaryPerOp is ServerVoluntary divided by Count.
func (s Summary) VoluntaryPerOp() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.ServerVoluntary) / float64(s.Count)
}

// ClientSwitchesPerOp is ClientSwitches divided by Count.
func (s Summary) ClientSwitchesPerOp() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.ClientSwitches) / float64(s.Count)
}

// Summarize computes a Summary from latencies (which it sorts in place).
func Summarize(lat []time.Duration, errors int, elapsed time.Duration) Summary {
	slices.Sort(lat)
	s := Summary{Count: len(lat), Errors: errors, Elapsed: elapsed}
	if elapsed > 0 {
		s.Rate = float64(len(lat)) / elapsed.Seconds()
	}
	s.P50 = Quantile(lat, 0.50)
	s.P99 = Quantile(lat, 0.99)
	if len(lat) > 0 {
		s.Max = lat[len(lat)-1]
	}
	return s
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of sorted by the
// nearest-rank method, or 0 for an empty slice.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 || math.IsNaN(q) {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank-1, 0), len(sorted)-1)]
}

// Merge combines summaries of repeated runs of the same measurement: the
// rates and latencies are taken as the median over the runs (runs on a
// noisy machine are compared by their middle value), counts are summed.
func Merge(runs []Summary) Summary {
	if len(runs) == 0 {
		return Summary{}
	}
	var out Summary
	for _, r := range runs {
		out.Count += r.Count
		out.Errors += r.Errors
		out.Elapsed += r.Elapsed
		if out.FirstError == nil {
			out.FirstError = r.FirstError
		}
	}
	out.Rate = median(runs, func(s Summary) float64 { return s.Rate })
	out.P50 = time.Duration(median(runs, func(s Summary) float64 { return float64(s.P50) }))
	out.P99 = time.Duration(median(runs, func(s Summary) float64 { return float64(s.P99) }))
	out.Max = time.Duration(median(runs, func(s Summary) float64 { return float64(s.Max) }))
	// ServerCPU is scaled so that CPUPerOp is the median per-op cost.
	perOp := median(runs, func(s Summary) float64 { return float64(s.CPUPerOp()) })
	out.ServerCPU = time.Duration(perOp * float64(out.Count))
	perOp = median(runs, func(s Summary) float64 { return float64(s.ClientCPUPerOp()) })
	out.ClientCPU = time.Duration(perOp * float64(out.Count))
	out.ServerSwitches = uint64(median(runs, Summary.SwitchesPerOp)*float64(out.Count) + 0.5)
	out.ServerVoluntary = uint64(median(runs, Summary.VoluntaryPerOp)*float64(out.Count) + 0.5)
	out.ClientSwitches = uint64(median(runs, Summary.ClientSwitchesPerOp)*float64(out.Count) + 0.5)
	return out
}

func median(runs []Summary, f func(Summary) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
