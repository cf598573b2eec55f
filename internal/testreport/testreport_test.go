package testreport

import (
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
	for _, want := range []string{"wrong answer", "FAIL: e2e: not run", "not json: a build error", "ok   example/a", "ran 2: 1 passed, 0 failed, 1 skipped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	var tab strings.Builder
	sum.WriteTable(&tab)
	if !strings.HasSuffix(tab.String(), "tests: 1 passed, 3 failed, 1 skipped\n") {
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
