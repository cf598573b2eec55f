package bench

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Row is one line of a comparison table.
type Row struct {
	// Metric names what was measured.
	Metric string
	// Subject and Peer are the formatted values for the two servers.
	Subject, Peer string
	// Ratio is Subject ÷ Peer, formatted; empty when not meaningful.
	Ratio string
	// Goal is the target the subject should meet, empty for none.
	Goal string
	// Met is "yes", "no" or empty when there is no goal.
	Met string
}

// Goals of the subject server, printed next to the results (they are not
// asserted: a missed goal is reported and analysed, not a failed run).
const (
	GoalMemoryRatio = 0.10           // at most 1/10 of the peer's memory per connection
	goalMemoryText  = "≤ 0.10× peer" //
	joinPlaceholder = "not measured (run scripts/bench with a DC: --join)"
)

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func ratio(a, b float64) (float64, string) {
	if b == 0 {
		return 0, "n/a"
	}
	r := a / b
	return r, fmt.Sprintf("%.2f×", r)
}

// FormatDuration prints d in µs below 10 ms and in ms above.
func FormatDuration(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// FormatBytes prints n in KiB or MiB.
func FormatBytes(n uint64) string {
	if n < 10<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// Rows turns the connection, memory and join results into the comparison
// table (the calls have tables of their own: CallTables).
func (r *SuiteResult) Rows() []Row {
	subj, peer := r.Config.Subject.Target.Name, r.Config.Peer.Target.Name
	var rows []Row
	s, p := r.Calls[MeasureConnect][subj], r.Calls[MeasureConnect][peer]
	label := fmt.Sprintf("Connection establishment (negotiate → bind), %d parallel", r.Config.ConnectWorkers)
	_, txt := ratio(s.Rate, p.Rate)
	rows = append(rows, Row{label + ": rate (conn/s)", fmt.Sprintf("%.0f", s.Rate), fmt.Sprintf("%.0f", p.Rate), txt, "", ""})
	_, txt = ratio(float64(s.P50), float64(p.P50))
	rows = append(rows, Row{label + ": latency p50", FormatDuration(s.P50), FormatDuration(p.P50), txt, "", ""})
	_, txt = ratio(float64(s.P99), float64(p.P99))
	rows = append(rows, Row{label + ": latency p99", FormatDuration(s.P99), FormatDuration(p.P99), txt, "", ""})

	si, pi := r.Idle[subj].PerConn(), r.Idle[peer].PerConn()
	label = fmt.Sprintf("Memory per idle authenticated connection (%d open)", r.Config.IdleConns)
	v, txt := ratio(float64(si.PSS), float64(pi.PSS))
	rows = append(rows, Row{label + ": PSS", FormatBytes(si.PSS), FormatBytes(pi.PSS), txt, goalMemoryText, yesNo(pi.PSS > 0 && v <= GoalMemoryRatio)})
	_, txt = ratio(float64(si.RSS), float64(pi.RSS))
	rows = append(rows, Row{label + ": RSS (shared pages counted per process)", FormatBytes(si.RSS), FormatBytes(pi.RSS), txt, "", ""})

	if r.JoinRow != nil {
		rows = append(rows, r.JoinRow...)
	} else {
		rows = append(rows, Row{"Online domain join latency vs adcli / net ads join / LDAP floor", joinPlaceholder, "", "", "", ""})
	}
	return rows
}

// MarkdownTable renders rows with the two servers' names as headers.
func MarkdownTable(subject, peer string, rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| Metric | %s | %s | %s ÷ %s | Goal | Met |\n", subject, peer, subject, peer)
	b.WriteString("|---|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Metric, r.Subject, r.Peer, r.Ratio, r.Goal, r.Met)
	}
	return b.String()
}

// TextTable renders rows for a terminal.
func TextTable(subject, peer string, rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-78s %14s %14s %9s  %-14s %s\n", "metric", subject, peer, "ratio", "goal", "met")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-78s %14s %14s %9s  %-14s %s\n", r.Metric, r.Subject, r.Peer, r.Ratio, r.Goal, r.Met)
	}
	return b.String()
}

// Machine describes the host a measurement ran on.
type Machine struct {
	// CPUs is the number of CPUs Go sees (nproc); CPUModel their name.
	CPUs     int
	CPUModel string
	// MemTotal, Kernel: /proc/meminfo's MemTotal and the kernel release.
	MemTotal, Kernel string
	// GoVersion is the toolchain wkload was built with (the daemon is
	// built by the same script with the same one).
	GoVersion string
	// SambaVersion is what `smbd --version` printed.
	SambaVersion string
	// LoadAvg is /proc/loadavg's 1-, 5- and 15-minute load when the run
	// started: other work on the machine skews every number.
	LoadAvg string
	// Date is when the run started, in UTC.
	Date time.Time
}

// ReadMachine fills Machine from /proc and the Go runtime; sambaVersion
// is passed in as `smbd --version` printed it.
func ReadMachine(p ProcFS, sambaVersion string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), SambaVersion: sambaVersion, Date: time.Now().UTC()}
	if b, err := os.ReadFile(p.path("sys", "kernel", "osrelease")); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(p.path("meminfo")); err == nil {
		m.MemTotal = procField(b, "MemTotal")
	}
	if b, err := os.ReadFile(p.path("cpuinfo")); err == nil {
		m.CPUModel = procField(b, "model name")
	}
	if b, err := os.ReadFile(p.path("loadavg")); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

// procField returns the value of the first "key: value" line for key.
func procField(data []byte, key string) string {
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Markdown renders the machine description as a list.
func (m Machine) Markdown() string {
	return fmt.Sprintf("- Date: %s\n- CPUs (nproc): %d (%s)\n- Memory: %s\n- Kernel: %s\n- Go: %s\n- Samba: %s\n- Load average when the run started (1, 5, 15 min): %s\n",
		m.Date.Format(time.RFC3339), m.CPUs, m.CPUModel, m.MemTotal, m.Kernel, m.GoVersion, m.SambaVersion, m.LoadAvg)
}

// Generated-section markers of the documents the tools write.
const (
	BeginGenerated = "<!-- BEGIN GENERATED by bench/cmd/wkload: do not edit by hand -->"
	EndGenerated   = "<!-- END GENERATED -->"
)

// ReplaceGenerated returns doc with the text between the generated-section
// markers replaced by content. A doc without both markers (in order) gets
// the section appended; an empty doc becomes title + section.
func ReplaceGenerated(doc []byte, title, content string) []byte {
	section := BeginGenerated + "\n" + strings.TrimRight(content, "\n") + "\n" + EndGenerated + "\n"
	i := bytes.Index(doc, []byte(BeginGenerated))
	j := bytes.Index(doc, []byte(EndGenerated))
	if i >= 0 && j > i {
		var out []byte
		out = append(out, doc[:i]...)
		out = append(out, section...)
		rest := doc[j+len(EndGenerated):]
		rest = bytes.TrimPrefix(rest, []byte("\n"))
		return append(out, rest...)
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return []byte("# " + title + "\n\n" + section)
	}
	out := append(bytes.TrimRight(doc, "\n"), "\n\n"...)
	return append(out, section...)
}

// UpdateDoc rewrites the generated section of the Markdown file at path.
func UpdateDoc(path, title, content string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(path, ReplaceGenerated(old, title, content), 0o644)
}

// Markdown renders the whole generated section of docs/benchmarks.md.
func (r *SuiteResult) Markdown(m Machine, extra string) string {
	c := r.Config
	subj, peer := c.Subject.Target.Name, c.Peer.Target.Name
	var b strings.Builder
	b.WriteString("## Last run\n\n")
	b.WriteString(m.Markdown())
	fmt.Fprintf(&b, "- Load generators (bench/cmd/wkload, on the same machine): lean (raw SMB %s messages encoded once, NTLM in SPNEGO) and go-msrpc v1.5.2 (ncacn_np); signed (AES-CMAC) or sealed (AES-128-GCM)\n",
		dialectText(c.Subject.Target.dialect()))
	fmt.Fprintf(&b, "- %s at %s, %s at %s; %d round(s) alternating the servers, median shown; %v per throughput run after %v of warm-up, %v per connection-rate run\n\n",
		subj, c.Subject.Target.Addr(), peer, c.Peer.Target.Addr(), c.Rounds, c.CallDuration, c.Warmup, c.ConnectDuration)
	b.WriteString(r.CallTables())
	b.WriteString("\nConnections, memory and domain join:\n\n")
	b.WriteString(MarkdownTable(subj, peer, r.Rows()))
	b.WriteString("\nMemory totals (PSS summed over the process tree; for smbd every process in its mount namespace):\n\n")
	b.WriteString("| Server | idle | with connections open | after closing | processes idle → loaded | open time |\n|---|---:|---:|---:|---|---:|\n")
	for _, name := range []string{subj, peer} {
		ir := r.Idle[name]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d → %d | %v |\n", name, FormatBytes(ir.Idle.PSS), FormatBytes(ir.Loaded.PSS),
			FormatBytes(ir.After.PSS), ir.IdleProcs, ir.LoadedProcs, ir.Open.Round(time.Millisecond))
	}
	if extra != "" {
		b.WriteString("\n" + extra + "\n")
	}
	return b.String()
}

func dialectText(d uint16) string {
	return fmt.Sprintf("%d.%d.%d", d>>8, (d>>4)&0xf, d&0xf)
}
