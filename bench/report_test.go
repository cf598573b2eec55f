package bench

import (
	"strings"
	"testing"
	"time"
)

func TestReplaceGenerated(t *testing.T) {
	doc := ReplaceGenerated(nil, "Title", "one")
	want := "# Title\n\n" + BeginGenerated + "\none\n" + EndGenerated + "\n"
	if string(doc) != want {
		t.Fatalf("new doc:\n%s", doc)
	}
	doc = append([]byte("intro\n"), doc...)
	doc = append(doc, "\n## Analysis\nkept\n"...)
	doc = ReplaceGenerated(doc, "Title", "two\n")
	s := string(doc)
	if !strings.Contains(s, "intro\n") || !strings.Contains(s, "\ntwo\n") || strings.Contains(s, "one") || !strings.HasSuffix(s, "## Analysis\nkept\n") {
		t.Fatalf("replaced doc:\n%s", s)
	}
	if strings.Count(s, BeginGenerated) != 1 || strings.Count(s, EndGenerated) != 1 {
		t.Fatalf("markers:\n%s", s)
	}
	// A document without markers keeps its text and gets the section appended.
	s = string(ReplaceGenerated([]byte("hand written\n"), "T", "x"))
	if !strings.HasPrefix(s, "hand written\n\n"+BeginGenerated) {
		t.Fatalf("appended:\n%s", s)
	}
	// Markers in the wrong order are not a section.
	s = string(ReplaceGenerated([]byte(EndGenerated+"\n"+BeginGenerated+"\n"), "T", "x"))
	if strings.Count(s, BeginGenerated) != 2 {
		t.Fatalf("reversed markers:\n%s", s)
	}
}

func sampleSuite() *SuiteResult {
	cfg := SuiteConfig{
		Subject: Server{Target: Target{Name: "wkssvcd", Host: "127.0.0.3"}},
		Peer:    Server{Target: Target{Name: "smbd", Host: "127.0.0.4"}},
	}
	cfg.fill()
	return &SuiteResult{
		Config: cfg,
		Calls: map[string]map[string]Summary{
			MeasureSequential: {"wkssvcd": {Count: 100, Rate: 6000, P50: 150 * time.Microsecond, P99: 900 * time.Microsecond, ServerCPU: 5 * time.Millisecond}, "smbd": {Count: 100, Rate: 2000, P99: 2 * time.Millisecond, ServerCPU: 10 * time.Millisecond}},
			MeasureConcurrent: {"wkssvcd": {Rate: 3000, P99: 20 * time.Millisecond}, "smbd": {Rate: 2000}},
			MeasureConnect:    {"wkssvcd": {Rate: 1000}, "smbd": {Rate: 100}},
		},
		Idle: map[string]IdleResult{
			"wkssvcd": {N: 10, Idle: Memory{PSS: 1000}, Loaded: Memory{PSS: 1500, RSS: 1500}},
			"smbd":    {N: 10, Idle: Memory{PSS: 1000}, Loaded: Memory{PSS: 11000, RSS: 50000}},
		},
	}
}

func TestRows(t *testing.T) {
	rows := sampleSuite().Rows()
	find := func(prefix string) Row {
		for _, r := range rows {
			if strings.HasPrefix(r.Metric, prefix) {
				return r
			}
		}
		t.Fatalf("no row %q", prefix)
		return Row{}
	}
	if r := find("NetrWkstaGetInfo(100), 1 connection, sequential: throughput"); r.Ratio != "3.00×" || r.Met != "yes" {
		t.Errorf("sequential throughput: %+v", r)
	}
	if r := find("NetrWkstaGetInfo(100), 1 connection, sequential: latency p99"); r.Met != "yes" || r.Subject != "900 µs" {
		t.Errorf("sequential p99: %+v", r)
	}
	if r := find("NetrWkstaGetInfo(100), 1 connection, sequential: server CPU"); r.Subject != "50 µs" || r.Ratio != "0.50×" {
		t.Errorf("cpu: %+v", r)
	}
	if r := find("NetrWkstaGetInfo(100), 64 concurrent connections: throughput"); r.Met != "no" {
		t.Errorf("concurrent throughput: %+v", r)
	}
	if r := find("NetrWkstaGetInfo(100), 64 concurrent connections: latency p99"); r.Met != "no" || r.Subject != "20.0 ms" {
		t.Errorf("concurrent p99: %+v", r)
	}
	if r := find("Memory per idle authenticated connection (1000 open): PSS"); r.Ratio != "0.05×" || r.Met != "yes" {
		t.Errorf("memory: %+v", r)
	}
	if r := find("Online domain join latency"); r.Subject != joinPlaceholder {
		t.Errorf("join placeholder: %+v", r)
	}
	md := MarkdownTable("wkssvcd", "smbd", rows)
	if strings.Count(md, "\n") != len(rows)+2 || !strings.HasPrefix(md, "| Metric | wkssvcd | smbd |") {
		t.Errorf("table:\n%s", md)
	}
	full := sampleSuite().Markdown(Machine{CPUs: 2, SambaVersion: "Version 4.17.12"}, "note")
	for _, want := range []string{"CPUs (nproc): 2", "Version 4.17.12", "SMB 3.1.1", "| wkssvcd | 1.0 KiB | 1.5 KiB |", "note"} {
		if !strings.Contains(full, want) {
			t.Errorf("markdown lacks %q:\n%s", want, full)
		}
	}
}

func TestRowsWithJoin(t *testing.T) {
	r := sampleSuite()
	r.JoinRow = []Row{{Metric: "join", Subject: "1 s"}}
	rows := r.Rows()
	if last := rows[len(rows)-1]; last.Metric != "join" {
		t.Fatalf("join row: %+v", last)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{1500 * time.Nanosecond, "1 µs"}, {9 * time.Millisecond, "9000 µs"}, {12500 * time.Microsecond, "12.5 ms"}} {
		if got := FormatDuration(tc.d); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q", tc.d, got)
		}
	}
	if FormatBytes(2048) != "2.0 KiB" || FormatBytes(20<<20) != "20.0 MiB" {
		t.Error(FormatBytes(2048), FormatBytes(20<<20))
	}
	if dialectText(0x0311) != "3.1.1" || dialectText(0x0202) != "2.0.2" {
		t.Error("dialect text")
	}
}

func TestProcField(t *testing.T) {
	if got := procField([]byte("MemTotal:       24684084 kB\nMemFree: 1 kB\n"), "MemTotal"); got != "24684084 kB" {
		t.Fatal(got)
	}
	if procField([]byte("x"), "MemTotal") != "" {
		t.Fatal("missing key")
	}
}
