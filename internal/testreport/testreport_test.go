package testreport

import (
	"regexp"
	"strings"
	"testing"
)

const stream = `{"Action":"start","Package":"example/a"}
{"Action":"run","Package":"example/a","Test":"TestOK"}
{"Action":"output","Package":"example/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"example/a","Test":"TestOK","Elapsed":0.01}
{"Action":"run","Package":"example/a","Test":"TestPeer"}
{"Action":"output","Package":"example/a","Test":"TestPeer","Output":"    peer_test.go:9: smbclient is not installed\n"}
{"Action":"output","Package":"example/a","Test":"TestPeer","Output":"--- SKIP: TestPeer (0.00s)\n"}
{"Action":"skip","Package":"example/a","Test":"TestPeer","Elapsed":0}
{"Action":"pass","Package":"example/a","Elapsed":0.5}
{"Action":"start","Package":"example/b"}
{"Action":"run","Package":"example/b","Test":"TestBad"}
{"Action":"run","Package":"example/b","Test":"TestBad/sub"}
{"Action":"output","Package":"example/b","Test":"TestBad/sub","Output":"    b_test.go:3: wrong answer\n"}
{"Action":"fail","Package":"example/b","Test":"TestBad/sub","Elapsed":0}
{"Action":"fail","Package":"example/b","Test":"TestBad","Elapsed":0}
{"Action":"fail","Package":"example/b","Elapsed":0.2}
{"Action":"start","Package":"example/c"}
{"Action":"output","Package":"example/c","Output":"FAIL: e2e: not run\n"}
{"Action":"fail","Package":"example/c","Elapsed":0.1}
{"Action":"skip","Package":"example/d","Elapsed":0}
not json: a build error
`

func TestRead(t *testing.T) {
	var out strings.Builder
	sum, err := Read(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Packages) != 4 {
		t.Fatalf("packages %+v", sum.Packages)
	}
	a, b, c, d := sum.Packages[0], sum.Packages[1], sum.Packages[2], sum.Packages[3]
	if a.Passed != 1 || a.Skip != 1 || a.Ran() != 2 || a.PackageFailed {
		t.Errorf("a: %+v", a)
	}
	if b.Failed != 2 || !b.PackageFailed {
		t.Errorf("b: %+v", b)
	}
	if c.Ran() != 0 || !c.PackageFailed {
		t.Errorf("c: %+v", c)
	}
	if !d.NoTests {
		t.Errorf("d: %+v", d)
	}
	if sum.OK() || len(sum.Skipped) != 1 || !strings.Contains(sum.Skipped[0], "smbclient is not installed") {
		t.Errorf("skipped %v", sum.Skipped)
	}
	if len(sum.Failed) != 3 {
		t.Errorf("failed %v", sum.Failed)
	}
	for _, want := range []string{"wrong answer", "FAIL: e2e: not run", "not json: a build error", "package example/a: all passed in 0.5s (2 run, 0 failed, 1 skipped)", "package example/d: no test files"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	var tab strings.Builder
	sum.WriteTable(&tab)
	if !strings.HasSuffix(tab.String(), "verdict: FAIL\ntests: 1 passed, 3 failed, 1 skipped\n") {
		t.Errorf("table:\n%s", tab.String())
	}
}

func TestReadGood(t *testing.T) {
	sum, err := Read(strings.NewReader(`{"Action":"run","Package":"p","Test":"T"}
{"Action":"pass","Package":"p","Test":"T"}
{"Action":"pass","Package":"p"}
`), &strings.Builder{})
	if err != nil || !sum.OK() {
		t.Fatalf("%+v %v", sum, err)
	}
}

func TestReadTruncated(t *testing.T) {
	sum, _ := Read(strings.NewReader(`{"Action":"run","Package":"p","Test":"T"}
`), &strings.Builder{})
	if sum.OK() || !sum.Packages[0].PackageFailed {
		t.Fatalf("a stream cut inside a package passed: %+v", sum)
	}
}

// closingLine is how a reader that knows no test runner recognises a
// run's result: "N passed, N failed" alone on a line, maybe with
// ", N skipped" after it and one word with a colon before it.
var closingLine = regexp.MustCompile(`^(\w+: )?\d+ passed, \d+ failed(, \d+ skipped)?$`)

// goTestLine matches the lines by which go test's own output is
// recognised: "ok  \tpkg", "FAIL\tpkg", "?   \tpkg [no test files]",
// "PASS", "FAIL", "--- PASS".
var goTestLine = regexp.MustCompile(`^(ok\s|FAIL(\s|$)|\?\s|PASS$|--- PASS)`)

// TestOutputEndsWithTheClosingLine runs the whole report on a passing and
// a failing stream: the only line a reader can take for the result is the
// last one, and no line imitates go test's own lines (which would make
// the output read as a go test run that printed no test).
func TestOutputEndsWithTheClosingLine(t *testing.T) {
	good := `{"Action":"run","Package":"p","Test":"T"}
{"Action":"pass","Package":"p","Test":"T"}
{"Action":"pass","Package":"p","Elapsed":0.1}
{"Action":"skip","Package":"q","Elapsed":0}
`
	for name, tc := range map[string]struct {
		stream, last string
		ok           bool
	}{
		"passing": {good, "tests: 1 passed, 0 failed, 0 skipped", true},
		"failing": {stream, "tests: 1 passed, 3 failed, 1 skipped", false},
	} {
		var out strings.Builder
		sum, err := Read(strings.NewReader(tc.stream), &out)
		if err != nil {
			t.Fatal(err)
		}
		sum.WriteTable(&out)
		if _, ok := sum.Verdict(); ok != tc.ok {
			t.Errorf("%s: verdict ok=%v", name, ok)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if got := lines[len(lines)-1]; got != tc.last {
			t.Errorf("%s: last line %q, want %q", name, got, tc.last)
		}
		for i, l := range lines {
			if closingLine.MatchString(l) && i != len(lines)-1 {
				t.Errorf("%s: line %d %q reads as a closing line", name, i, l)
			}
			if goTestLine.MatchString(l) {
				t.Errorf("%s: line %d %q imitates go test", name, i, l)
			}
		}
	}
}

func TestVerdictNoTest(t *testing.T) {
	sum, _ := Read(strings.NewReader(`{"Action":"skip","Package":"q","Elapsed":0}
`), &strings.Builder{})
	if v, ok := sum.Verdict(); ok || !strings.Contains(v, "no test ran") {
		t.Fatalf("%q %v", v, ok)
	}
}
