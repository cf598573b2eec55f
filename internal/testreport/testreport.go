package testreport

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output, build-fail
	Test       string
	Elapsed    float64
	Output     string
}

// Counts are the results of one package.
type Counts struct {
	Package              string
	Passed, Failed, Skip int
	// PackageFailed is set when the package as a whole failed: a build
	// error, a TestMain that exited non-zero, a panic or a timeout.
	PackageFailed bool
	// NoTests is set for a package without test files.
	NoTests bool
	Elapsed time.Duration
}

// Ran is the number of tests (subtests included) that ran.
func (c Counts) Ran() int { return c.Passed + c.Failed + c.Skip }

// Summary is the result of a whole run.
type Summary struct {
	Packages []Counts
	// Skipped lists "package TestName: reason" for every skipped test.
	Skipped []string
	// Failed lists "package TestName" for every failed test, and
	// "package" for a package that failed outside any test.
	Failed []string
}

// Totals adds up all packages.
func (s Summary) Totals() (passed, failed, skipped int) {
	for _, c := range s.Packages {
		passed += c.Passed
		failed += c.Failed
		skipped += c.Skip
	}
	return
}

// OK reports whether the run had no failure and no skip.
func (s Summary) OK() bool { return len(s.Failed) == 0 && len(s.Skipped) == 0 }

type pkgState struct {
	counts  Counts
	done    bool
	pkgOut  []string            // output outside any test
	testOut map[string][]string // output of tests still running
}

// Read consumes the stream r. As tests end it writes to w the output of
// every failed or skipped test and one line per finished package; lines
// that are not JSON events (build errors on older Go) are copied to w.
func Read(r io.Reader, w io.Writer) (Summary, error) {
	pkgs := map[string]*pkgState{}
	var order []string
	get := func(name string) *pkgState {
		p := pkgs[name]
		if p == nil {
			p = &pkgState{counts: Counts{Package: name}, testOut: map[string][]string{}}
			pkgs[name] = p
			order = append(order, name)
		}
		return p
	}
	var sum Summary
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
			continue
		case "build-fail":
			continue
		}
		if e.Package == "" {
			continue
		}
		p := get(e.Package)
		if e.Test == "" {
			switch e.Action {
			case "output":
				p.pkgOut = append(p.pkgOut, e.Output)
			case "pass", "fail", "skip":
				p.done = true
				p.counts.Elapsed = time.Duration(e.Elapsed * float64(time.Second))
				switch {
				case e.Action == "skip":
					p.counts.NoTests = true
				case e.Action == "fail":
					p.counts.PackageFailed = true
				}
				finishPackage(w, p, &sum)
			}
			continue
		}
		switch e.Action {
		case "output":
			p.testOut[e.Test] = append(p.testOut[e.Test], e.Output)
		case "pass":
			p.counts.Passed++
			delete(p.testOut, e.Test)
		case "fail":
			p.counts.Failed++
			sum.Failed = append(sum.Failed, e.Package+" "+e.Test)
			fmt.Fprintf(w, "--- FAIL: %s %s (%.2fs)\n%s", e.Package, e.Test, e.Elapsed, strings.Join(p.testOut[e.Test], ""))
			delete(p.testOut, e.Test)
		case "skip":
			p.counts.Skip++
			reason := skipReason(p.testOut[e.Test])
			sum.Skipped = append(sum.Skipped, e.Package+" "+e.Test+": "+reason)
			fmt.Fprintf(w, "--- SKIP (counts as a failure): %s %s: %s\n", e.Package, e.Test, reason)
			delete(p.testOut, e.Test)
		}
	}
	if err := sc.Err(); err != nil {
		return sum, err
	}
	for _, name := range order {
		p := pkgs[name]
		if !p.done {
			// The stream ended inside the package: go test was killed.
			p.counts.PackageFailed = true
			finishPackage(w, p, &sum)
		}
		sum.Packages = append(sum.Packages, p.counts)
	}
	sort.Slice(sum.Packages, func(i, j int) bool { return sum.Packages[i].Package < sum.Packages[j].Package })
	return sum, nil
}

func finishPackage(w io.Writer, p *pkgState, sum *Summary) {
	c := p.counts
	if c.PackageFailed && c.Failed == 0 {
		// Failed outside any test (build, TestMain, panic, timeout): show
		// what it printed, including tests that never finished.
		sum.Failed = append(sum.Failed, c.Package)
		fmt.Fprintf(w, "--- FAIL: %s (outside any test)\n%s", c.Package, strings.Join(p.pkgOut, ""))
		for name, out := range p.testOut {
			fmt.Fprintf(w, "    (unfinished %s)\n%s", name, strings.Join(out, ""))
		}
	}
	// The per-package line is worded unlike go test's own "ok"/"FAIL"/"?"
	// lines: a reader of the output (a person or a CI that recognises test
	// runners by their closing lines) must find the counts only in the
	// closing line WriteTable prints last.
	switch {
	case c.NoTests:
		fmt.Fprintf(w, "package %s: no test files\n", c.Package)
	case c.PackageFailed || c.Failed > 0:
		fmt.Fprintf(w, "package %s: FAILED in %.1fs (%s)\n", c.Package, c.Elapsed.Seconds(), countLine(c))
	default:
		fmt.Fprintf(w, "package %s: all passed in %.1fs (%s)\n", c.Package, c.Elapsed.Seconds(), countLine(c))
	}
}

func countLine(c Counts) string {
	return fmt.Sprintf("%d run, %d failed, %d skipped", c.Ran(), c.Failed, c.Skip)
}

// skipReason is the message of t.Skip in a test's output.
func skipReason(out []string) string {
	for i := len(out) - 1; i >= 0; i-- {
		s := strings.TrimSpace(out[i])
		if s == "" || strings.HasPrefix(s, "--- SKIP") || strings.HasPrefix(s, "=== ") {
			continue
		}
		return s
	}
	return "(no reason given)"
}

// Verdict is the run's outcome in one line, and whether it passed: a run
// passes when tests ran and none failed or was skipped.
func (s Summary) Verdict() (string, bool) {
	p, f, sk := s.Totals()
	switch {
	case p+f+sk == 0 && len(s.Failed) == 0:
		return "verdict: FAIL: no test ran", false
	case len(s.Skipped) > 0 && len(s.Failed) == 0:
		return "verdict: FAIL: skipped tests count as failures (a missing prerequisite must fail, saying what to install)", false
	case !s.OK():
		return "verdict: FAIL", false
	}
	return "verdict: PASS", true
}

// WriteTable writes the per-package counts, the verdict and, as the very
// last line, "tests: N passed, N failed, N skipped".
func (s Summary) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-60s %6s %6s %6s %6s\n", "package", "ran", "passed", "failed", "skipped")
	for _, c := range s.Packages {
		if c.NoTests {
			continue
		}
		mark := ""
		if c.PackageFailed {
			mark = "  (package failed)"
		}
		fmt.Fprintf(w, "%-60s %6d %6d %6d %6d%s\n", c.Package, c.Ran(), c.Passed, c.Failed, c.Skip, mark)
	}
	for _, sk := range s.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", sk)
	}
	for _, f := range s.Failed {
		fmt.Fprintf(w, "failed: %s\n", f)
	}
	verdict, _ := s.Verdict()
	fmt.Fprintln(w, verdict)
	p, f, sk := s.Totals()
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", p, f+packageFailures(s), sk)
}

func packageFailures(s Summary) int {
	n := 0
	for _, c := range s.Packages {
		if c.PackageFailed && c.Failed == 0 {
			n++
		}
	}
	return n
}
