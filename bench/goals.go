package bench

import (
	"fmt"
	"strings"
	"time"
)

// Goal is a target for the subject server, checked on every throughput
// case it applies to. Goals are printed beside the results, not asserted:
// a missed goal is reported and analysed, not a failed run.
type Goal struct {
	// Text states the goal, e.g. "throughput ≥ 2× peer".
	Text string
	// Applies selects the cases the goal is checked on.
	Applies func(CallCase) bool
	// Check returns the value of subject s against peer p, formatted,
	// and whether it meets the goal.
	Check func(s, p Summary) (string, bool)
}

func lean1(c CallCase) bool { return c.Generator == GenLean && c.Conns == 1 }
func leanN(c CallCase) bool { return c.Generator == GenLean && c.Conns > 1 }
func lean(c CallCase) bool  { return c.Generator == GenLean }

// Goals are the targets of the call measurements with the lean generator:
// what the server needs per call, measured with a client that needs far
// less.
var Goals = []Goal{
	{"throughput ≥ 2× peer, 1 connection", lean1, func(s, p Summary) (string, bool) {
		v, t := ratio(s.Rate, p.Rate)
		return t, p.Rate > 0 && v >= 2
	}},
	{"throughput ≥ 3× peer, many connections", leanN, func(s, p Summary) (string, bool) {
		v, t := ratio(s.Rate, p.Rate)
		return t, p.Rate > 0 && v >= 3
	}},
	{"server CPU per call ≤ 1/4 of the peer's", lean, func(s, p Summary) (string, bool) {
		v, t := ratio(float64(s.CPUPerOp()), float64(p.CPUPerOp()))
		return t, p.CPUPerOp() > 0 && v <= 0.25
	}},
	{"p99 ≤ 1 ms, 1 connection", lean1, func(s, p Summary) (string, bool) {
		return FormatDuration(s.P99), s.Count > 0 && s.P99 <= time.Millisecond
	}},
	{"server CPU per call ≤ 25 µs, 1 connection", lean1, func(s, p Summary) (string, bool) {
		return FormatMicros(s.CPUPerOp()), s.Count > 0 && s.CPUPerOp() <= 25*time.Microsecond
	}},
	{"server CPU per call ≤ 15 µs, many connections", leanN, func(s, p Summary) (string, bool) {
		return FormatMicros(s.CPUPerOp()), s.Count > 0 && s.CPUPerOp() <= 15*time.Microsecond
	}},
	{"≤ 3 server context switches per call, 1 connection", lean1, func(s, p Summary) (string, bool) {
		return fmt.Sprintf("%.2f", s.SwitchesPerOp()), s.Count > 0 && s.SwitchesPerOp() <= 3
	}},
	{"load generator CPU per call ≤ 1/5 of the server's", lean, func(s, p Summary) (string, bool) {
		v, t := ratio(float64(s.ClientCPUPerOp()), float64(s.CPUPerOp()))
		return t, s.CPUPerOp() > 0 && v <= 0.2
	}},
}

// FormatMicros prints d in µs with one decimal below 100 µs.
func FormatMicros(d time.Duration) string {
	if d < 100*time.Microsecond {
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	}
	return FormatDuration(d)
}

// GoalResult is one goal over the cases it applies to.
type GoalResult struct {
	Goal string
	// Cases and Met count the cases checked and those meeting the goal.
	Cases, Met int
	// Values lists every case with its value, the missed ones first.
	Values []string
}

// CheckGoals checks every goal on the cases of the result.
func (r *SuiteResult) CheckGoals() []GoalResult {
	subj, peer := r.Config.Subject.Target.Name, r.Config.Peer.Target.Name
	var out []GoalResult
	for _, g := range Goals {
		gr := GoalResult{Goal: g.Text}
		var missed, met []string
		for _, cc := range r.Config.Cases {
			if !g.Applies(cc) {
				continue
			}
			s, ok1 := r.Calls[cc.Key()][subj]
			p, ok2 := r.Calls[cc.Key()][peer]
			if !ok1 || !ok2 {
				continue
			}
			v, ok := g.Check(s, p)
			gr.Cases++
			label := cc.Label() + ": " + v
			if ok {
				gr.Met++
				met = append(met, label)
			} else {
				missed = append(missed, label)
			}
		}
		if gr.Cases > 0 {
			gr.Values = append(missed, met...)
			out = append(out, gr)
		}
	}
	return out
}

// Label names a case in tables, e.g. "lean, signed, WRITE+READ, 1 conn".
func (c CallCase) Label() string {
	conns := "1 conn"
	if c.Conns != 1 {
		conns = fmt.Sprintf("%d conns", c.Conns)
	}
	return fmt.Sprintf("%s, %s, %s, %s", c.Generator, c.Protection(), c.pipeIO(), conns)
}

// CallTables renders the call measurements as two Markdown tables
// (throughput and latency; cost per call) and the goals.
func (r *SuiteResult) CallTables() string {
	subj, peer := r.Config.Subject.Target.Name, r.Config.Peer.Target.Name
	var b strings.Builder
	caseCols := func(cc CallCase) string {
		return fmt.Sprintf("| %s | %s | %s | %d ", cc.Generator, cc.Protection(), cc.pipeIO(), cc.Conns)
	}
	fmt.Fprintf(&b, "Throughput and latency of NetrWkstaGetInfo(100), each connection calling in a loop:\n\n")
	fmt.Fprintf(&b, "| Generator | Protection | Pipe I/O | Conns | calls/s %s | calls/s %s | %s ÷ %s | p50 %s | p50 %s | p99 %s | p99 %s |\n",
		subj, peer, subj, peer, subj, peer, subj, peer)
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, cc := range r.Config.Cases {
		s, p := r.Calls[cc.Key()][subj], r.Calls[cc.Key()][peer]
		_, rt := ratio(s.Rate, p.Rate)
		fmt.Fprintf(&b, "%s| %.0f | %.0f | %s | %s | %s | %s | %s |\n", caseCols(cc), s.Rate, p.Rate, rt,
			FormatDuration(s.P50), FormatDuration(p.P50), FormatDuration(s.P99), FormatDuration(p.P99))
	}
	fmt.Fprintf(&b, "\nCost per call: CPU time (user + system) and context switches of the server's process tree (all, and in parentheses the voluntary ones: a thread blocked; the rest are preemptions, which grow with the machine's other load), and the CPU time of the load generator itself, over the timed run divided by the calls:\n\n")
	fmt.Fprintf(&b, "| Generator | Protection | Pipe I/O | Conns | server CPU %s | server CPU %s | %s ÷ %s | switches %s | switches %s | generator CPU (%s run) | generator CPU (%s run) | generator ÷ %s |\n",
		subj, peer, subj, peer, subj, peer, subj, peer, subj)
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, cc := range r.Config.Cases {
		s, p := r.Calls[cc.Key()][subj], r.Calls[cc.Key()][peer]
		_, rc := ratio(float64(s.CPUPerOp()), float64(p.CPUPerOp()))
		_, rg := ratio(float64(s.ClientCPUPerOp()), float64(s.CPUPerOp()))
		fmt.Fprintf(&b, "%s| %s | %s | %s | %.2f (%.2f) | %.2f (%.2f) | %s | %s | %s |\n", caseCols(cc),
			FormatMicros(s.CPUPerOp()), FormatMicros(p.CPUPerOp()), rc, s.SwitchesPerOp(), s.VoluntaryPerOp(), p.SwitchesPerOp(), p.VoluntaryPerOp(),
			FormatMicros(s.ClientCPUPerOp()), FormatMicros(p.ClientCPUPerOp()), rg)
	}
	goals := r.CheckGoals()
	if len(goals) > 0 {
		fmt.Fprintf(&b, "\nGoals of %s with the lean generator (printed, not asserted), each checked on every case it applies to; missed cases first:\n\n", subj)
		b.WriteString("| Goal | Met | Cases |\n|---|---|---|\n")
		for _, g := range goals {
			fmt.Fprintf(&b, "| %s | %d of %d | %s |\n", g.Goal, g.Met, g.Cases, strings.Join(g.Values, "; "))
		}
	}
	return b.String()
}

// CallText renders the call measurements for a terminal.
func (r *SuiteResult) CallText() string {
	subj, peer := r.Config.Subject.Target.Name, r.Config.Peer.Target.Name
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %9s %9s %7s %8s %8s %9s %9s %7s %6s %6s %9s\n", "case", "calls/s", peer, "ratio", "p99", peer,
		"CPU/call", peer, "ratio", "cs", peer, "gen CPU")
	for _, cc := range r.Config.Cases {
		s, p := r.Calls[cc.Key()][subj], r.Calls[cc.Key()][peer]
		_, rt := ratio(s.Rate, p.Rate)
		_, rc := ratio(float64(s.CPUPerOp()), float64(p.CPUPerOp()))
		fmt.Fprintf(&b, "%-40s %9.0f %9.0f %7s %8s %8s %9s %9s %7s %6.2f %6.2f %9s\n", cc.Label(), s.Rate, p.Rate, rt,
			FormatDuration(s.P99), FormatDuration(p.P99), FormatMicros(s.CPUPerOp()), FormatMicros(p.CPUPerOp()), rc,
			s.SwitchesPerOp(), p.SwitchesPerOp(), FormatMicros(s.ClientCPUPerOp()))
	}
	for _, g := range r.CheckGoals() {
		fmt.Fprintf(&b, "goal %-52s met %d of %d", g.Goal, g.Met, g.Cases)
		if g.Met < g.Cases {
			fmt.Fprintf(&b, " (missed: %s)", strings.Join(g.Values[:g.Cases-g.Met], "; "))
		}
		b.WriteString("\n")
	}
	return b.String()
}
