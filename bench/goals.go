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
	// Floor, when set, formats what the floor servers of the case
	// measured (floors, named by names) beside the value.
	Floor func(s Summary, names []string, floors []Summary) string
}

// floorCPU shows each floor's server CPU per call and the subject's cost
// beyond the first floor's (what its own code needs).
func floorCPU(s Summary, names []string, fs []Summary) string {
	var parts []string
	for i, f := range fs {
		parts = append(parts, fmt.Sprintf("%s %s", names[i], FormatMicros(f.CPUPerOp())))
	}
	return fmt.Sprintf("%s; beyond %s %s", strings.Join(parts, ", "), names[0], FormatMicros(s.CPUPerOp()-fs[0].CPUPerOp()))
}

// floorRate shows each floor's calls per second.
func floorRate(s Summary, names []string, fs []Summary) string {
	var parts []string
	for i, f := range fs {
		parts = append(parts, fmt.Sprintf("%s %.0f calls/s", names[i], f.Rate))
	}
	return strings.Join(parts, ", ")
}

// floorSwitches shows each floor's context switches per call.
func floorSwitches(s Summary, names []string, fs []Summary) string {
	var parts []string
	for i, f := range fs {
		parts = append(parts, fmt.Sprintf("%s %.2f", names[i], f.SwitchesPerOp()))
	}
	return strings.Join(parts, ", ")
}

// floorGenerator shows the generator's CPU per call against each floor
// over that floor's.
func floorGenerator(s Summary, names []string, fs []Summary) string {
	var parts []string
	for i, f := range fs {
		_, t := ratio(float64(f.ClientCPUPerOp()), float64(f.CPUPerOp()))
		parts = append(parts, fmt.Sprintf("against %s %s ÷ %s = %s", names[i], FormatMicros(f.ClientCPUPerOp()), FormatMicros(f.CPUPerOp()), t))
	}
	return strings.Join(parts, ", ")
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
	}, floorRate},
	{"throughput ≥ 3× peer, many connections", leanN, func(s, p Summary) (string, bool) {
		v, t := ratio(s.Rate, p.Rate)
		return t, p.Rate > 0 && v >= 3
	}, floorRate},
	{"server CPU per call ≤ 1/4 of the peer's", lean, func(s, p Summary) (string, bool) {
		v, t := ratio(float64(s.CPUPerOp()), float64(p.CPUPerOp()))
		return t, p.CPUPerOp() > 0 && v <= 0.25
	}, floorCPU},
	{"p99 ≤ 1 ms, 1 connection", lean1, func(s, p Summary) (string, bool) {
		return FormatDuration(s.P99), s.Count > 0 && s.P99 <= time.Millisecond
	}, nil},
	{"server CPU per call ≤ 25 µs, 1 connection", lean1, func(s, p Summary) (string, bool) {
		return FormatMicros(s.CPUPerOp()), s.Count > 0 && s.CPUPerOp() <= 25*time.Microsecond
	}, floorCPU},
	{"server CPU per call ≤ 15 µs, many connections", leanN, func(s, p Summary) (string, bool) {
		return FormatMicros(s.CPUPerOp()), s.Count > 0 && s.CPUPerOp() <= 15*time.Microsecond
	}, floorCPU},
	{"≤ 3 server context switches per call, 1 connection", lean1, func(s, p Summary) (string, bool) {
		return fmt.Sprintf("%.2f", s.SwitchesPerOp()), s.Count > 0 && s.SwitchesPerOp() <= 3
	}, floorSwitches},
	{"load generator CPU per call ≤ 1/5 of the server's", lean, func(s, p Summary) (string, bool) {
		v, t := ratio(float64(s.ClientCPUPerOp()), float64(s.CPUPerOp()))
		return t, s.CPUPerOp() > 0 && v <= 0.2
	}, floorGenerator},
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
			if names, fs := r.floors(cc); g.Floor != nil && len(fs) > 0 {
				label += " (floor: " + g.Floor(s, names, fs) + ")"
			}
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

// floors returns the names and results of the floor servers measured on
// case cc.
func (r *SuiteResult) floors(cc CallCase) ([]string, []Summary) {
	var names []string
	var out []Summary
	for _, f := range r.Config.Floors {
		if s, ok := r.Calls[cc.Key()][f.Target.Name]; ok {
			names = append(names, f.Target.Name)
			out = append(out, s)
		}
	}
	return names, out
}

// FloorTable renders what the floor servers cost per call, beside the
// subject, for the cases they were measured on; empty without floors.
func (r *SuiteResult) FloorTable() string {
	subj := r.Config.Subject.Target.Name
	var b strings.Builder
	var names []string
	for _, f := range r.Config.Floors {
		names = append(names, f.Target.Name)
	}
	rows := 0
	for _, cc := range r.Config.Cases {
		fn, fs := r.floors(cc)
		if len(fs) != len(names) || len(fs) == 0 {
			continue
		}
		if rows == 0 {
			fmt.Fprintf(&b, "| Generator | Protection | Pipe I/O | Conns | server CPU %s | generator CPU (%s run) |", subj, subj)
			for _, n := range fn {
				fmt.Fprintf(&b, " server CPU %s | switches %s | generator CPU (%s run) | generator ÷ %s |", n, n, n, n)
			}
			fmt.Fprintf(&b, " %s − %s |\n|---|---|---|---:|---:|---:|", subj, fn[0])
			b.WriteString(strings.Repeat("---:|---:|---:|---:|", len(fn)) + "---:|\n")
		}
		rows++
		s := r.Calls[cc.Key()][subj]
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s |", cc.Generator, cc.Protection(), cc.pipeIO(), cc.Conns,
			FormatMicros(s.CPUPerOp()), FormatMicros(s.ClientCPUPerOp()))
		for _, f := range fs {
			_, rg := ratio(float64(f.ClientCPUPerOp()), float64(f.CPUPerOp()))
			fmt.Fprintf(&b, " %s | %.2f (%.2f) | %s | %s |", FormatMicros(f.CPUPerOp()), f.SwitchesPerOp(), f.VoluntaryPerOp(),
				FormatMicros(f.ClientCPUPerOp()), rg)
		}
		fmt.Fprintf(&b, " %s |\n", FormatMicros(s.CPUPerOp()-fs[0].CPUPerOp()))
	}
	return b.String()
}

// CallTables renders the call measurements as Markdown tables
// (throughput and latency; cost per call; the floors) and the goals.
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
	if ft := r.FloorTable(); ft != "" {
		var fl []string
		for _, f := range r.Config.Floors {
			fl = append(fl, f.Target.Name)
		}
		fmt.Fprintf(&b, "\nThe floor, measured in the same rounds with the same generator: bare TCP servers (%s; `wkload floor-server`) answering each request frame with a frame of the length %s answers it with, without parsing, signing, encryption or RPC; the generator signs or seals its requests as against %s and checks only the framing and length of the answers. Server CPU and context switches (voluntary in parentheses) per call of the floor, the generator's CPU per call against it, and %s's CPU per call beyond the first floor's:\n\n",
			strings.Join(fl, ", "), subj, subj, subj)
		b.WriteString(ft)
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
	for _, f := range r.Config.Floors {
		for _, cc := range r.Config.Cases {
			fs, ok := r.Calls[cc.Key()][f.Target.Name]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "%-40s %9.0f %s: server CPU/call %s, cs/call %.2f, generator CPU/call %s\n", cc.Label(), fs.Rate, f.Target.Name,
				FormatMicros(fs.CPUPerOp()), fs.SwitchesPerOp(), FormatMicros(fs.ClientCPUPerOp()))
		}
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
