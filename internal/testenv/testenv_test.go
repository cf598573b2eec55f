package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records a fatal failure instead of
// stopping the calling test.
type recorder struct {
	testing.TB
	msg    string
	failed bool
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(string, ...any) { panic("testenv must never skip") }
func (r *recorder) Skip(...any)          { panic("testenv must never skip") }

func check(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
	return r
}

func TestMissingFailsWithRemedy(t *testing.T) {
	r := check(t, func(tb testing.TB) { Tool(tb, "wkssvcd-no-such-program", "no-such-package") })
	if !r.failed || !strings.Contains(r.msg, "apt-get install no-such-package") || !strings.Contains(r.msg, "wkssvcd-no-such-program") {
		t.Fatalf("missing tool: failed=%v %q", r.failed, r.msg)
	}
	r = check(t, func(tb testing.TB) { PythonModules(tb, "python3-nothing", "wkssvcd_no_such_module") })
	if !r.failed || !strings.Contains(r.msg, "python3-nothing") {
		t.Fatalf("missing module: failed=%v %q", r.failed, r.msg)
	}
	r = check(t, func(tb testing.TB) { Addr(tb, "192.0.2.77") })
	if !r.failed || !strings.Contains(r.msg, "ip addr add") {
		t.Fatalf("missing address: failed=%v %q", r.failed, r.msg)
	}
	r = check(t, func(tb testing.TB) { Env(tb, "WKSSVCD_TESTENV_UNSET_VARIABLE", "scripts/test sets it") })
	if !r.failed || !strings.Contains(r.msg, "scripts/test sets it") {
		t.Fatalf("missing variable: failed=%v %q", r.failed, r.msg)
	}
}

func TestPresentPasses(t *testing.T) {
	r := check(t, func(tb testing.TB) { Tool(tb, "sh", "dash") })
	if r.failed {
		t.Fatalf("sh reported missing: %s", r.msg)
	}
	r = check(t, func(tb testing.TB) { Addr(tb, "127.0.0.1") })
	if r.failed {
		t.Fatalf("127.0.0.1 reported missing: %s", r.msg)
	}
}
