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
		Cases: []CallCase{
			{Generator: GenLean, IO: WriteRead, Conns: 1},
			{Generator: GenLean, Seal: true, IO: Transceive, Conns: 64},
			{Generator: GenGoMSRPC, Conns: 1},
		},
	}
	cfg.fill()
	us := time.Microsecond
	return &SuiteResult{
		Config: cfg,
		Calls: map[string]map[string]Summary{
			"lean/signed/WRITE+READ/1": {
				"wkssvcd": {Count: 100, Rate: 6000, P50: 150 * us, P99: 900 * us, ServerCPU: 2 * time.Millisecond, ClientCPU: 300 * us, ServerSwitches: 250},
				"smbd":    {Count: 100, Rate: 2000, P99: 2 * time.Millisecond, ServerCPU: 10 * time.Millisecond, ServerSwitches: 500}},
			"lean/sealed/TRANSCEIVE/64": {
				"wkssvcd": {Count: 100, Rate: 5000, P99: 20 * time.Millisecond, ServerCPU: 2 * time.Millisecond, ClientCPU: time.Millisecond},
				"smbd":    {Count: 100, Rate: 2000, ServerCPU: 10 * time.Millisecond}},
			"go-msrpc/signed/WRITE+READ/1": {"wkssvcd": {Count: 10, Rate: 3000}, "smbd": {Count: 10, Rate: 2000}},
			MeasureConnect:                 {"wkssvcd": {Rate: 1000}, "smbd": {Rate: 100}},
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
	if r := find("Connection establishment"); r.Ratio != "10.00×" {
		t.Errorf("connect: %+v", r)
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
	for _, want := range []string{"CPUs (nproc): 2", "Version 4.17.12", "SMB 3.1.1", "| wkssvcd | 1.0 KiB | 1.5 KiB |", "note",
		"| lean | signed | WRITE+READ | 1 | 6000 | 2000 | 3.00× | 150 µs |",
		"| lean | sealed | TRANSCEIVE | 64 | 20.0 µs | 100 µs | 0.20× | 0.00 (0.00) | 0.00 (0.00) | 10.0 µs |",
		"| go-msrpc | signed | WRITE+READ | 1 | 3000 |"} {
		if !strings.Contains(full, want) {
			t.Errorf("markdown lacks %q:\n%s", want, full)
		}
	}
}

// Each goal is checked on the cases it applies to, missed ones first.
func TestCheckGoals(t *testing.T) {
	goals := sampleSuite().CheckGoals()
	got := map[string]GoalResult{}
	for _, g := range goals {
		got[g.Goal] = g
	}
	for _, tc := range []struct {
		goal       string
		cases, met int
		first      string
	}{
		{"throughput ≥ 2× peer, 1 connection", 1, 1, "lean, signed, WRITE+READ, 1 conn: 3.00×"},
		{"throughput ≥ 3× peer, many connections", 1, 0, "lean, sealed, TRANSCEIVE, 64 conns: 2.50×"},
		{"server CPU per call ≤ 1/4 of the peer's", 2, 2, ""},
		{"p99 ≤ 1 ms, 1 connection", 1, 1, "lean, signed, WRITE+READ, 1 conn: 900 µs"},
		{"server CPU per call ≤ 25 µs, 1 connection", 1, 1, "lean, signed, WRITE+READ, 1 conn: 20.0 µs"},
		{"server CPU per call ≤ 15 µs, many connections", 1, 0, "lean, sealed, TRANSCEIVE, 64 conns: 20.0 µs"},
		{"≤ 3 server context switches per call, 1 connection", 1, 1, "lean, signed, WRITE+READ, 1 conn: 2.50"},
		{"load generator CPU per call ≤ 1/5 of the server's", 2, 1, "lean, sealed, TRANSCEIVE, 64 conns: 0.50×"},
	} {
		g, ok := got[tc.goal]
		if !ok {
			t.Errorf("goal %q not checked", tc.goal)
			continue
		}
		if g.Cases != tc.cases || g.Met != tc.met || (tc.first != "" && g.Values[0] != tc.first) {
			t.Errorf("%s: %+v", tc.goal, g)
		}
	}
	if len(goals) != len(Goals) {
		t.Errorf("%d goals checked, %d defined", len(goals), len(Goals))
	}
	if txt := sampleSuite().CallText(); !strings.Contains(txt, "missed: lean, sealed, TRANSCEIVE, 64 conns: 2.50×") {
		t.Errorf("text:\n%s", txt)
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

// With floor servers, the report has their table, and the CPU goals show
// the floor of each case and the subject's cost beyond it.
func TestFloorReport(t *testing.T) {
	r := sampleSuite()
	r.Config.Floors = []Server{{Target: Target{Name: "floor (goroutine)"}}, {Target: Target{Name: "floor (thread)"}}}
	us := time.Microsecond
	r.Calls["lean/signed/WRITE+READ/1"]["floor (goroutine)"] = Summary{Count: 100, Rate: 9000, ServerCPU: 1200 * us, ClientCPU: 1100 * us, ServerSwitches: 150, ServerVoluntary: 100}
	r.Calls["lean/signed/WRITE+READ/1"]["floor (thread)"] = Summary{Count: 100, Rate: 9500, ServerCPU: 900 * us, ClientCPU: 1000 * us, ServerSwitches: 200}
	md := r.Markdown(Machine{}, "")
	for _, want := range []string{
		"| server CPU floor (goroutine) | switches floor (goroutine) | generator CPU (floor (goroutine) run) | generator ÷ floor (goroutine) |",
		"| lean | signed | WRITE+READ | 1 | 20.0 µs | 3.0 µs | 12.0 µs | 1.50 (1.00) | 11.0 µs | 0.92× | 9.0 µs | 2.00 (0.00) | 10.0 µs | 1.11× | 8.0 µs |",
		"lean, signed, WRITE+READ, 1 conn: 20.0 µs (floor: floor (goroutine) 12.0 µs, floor (thread) 9.0 µs; beyond floor (goroutine) 8.0 µs)",
		"lean, signed, WRITE+READ, 1 conn: 2.50 (floor: floor (goroutine) 1.50, floor (thread) 2.00)",
		"lean, signed, WRITE+READ, 1 conn: 0.15× (floor: against floor (goroutine) 11.0 µs ÷ 12.0 µs = 0.92×",
		"lean, signed, WRITE+READ, 1 conn: 3.00× (floor: floor (goroutine) 9000 calls/s, floor (thread) 9500 calls/s)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// The case without floor results has no floor row nor annotation.
	if strings.Contains(md, "64 conns: 20.0 µs (floor") {
		t.Errorf("a case without floor results is annotated:\n%s", md)
	}
	if txt := r.CallText(); !strings.Contains(txt, "floor (thread): server CPU/call 9.0 µs") {
		t.Errorf("text:\n%s", txt)
	}
	if sampleSuite().FloorTable() != "" {
		t.Error("a floor table without floors")
	}
}
