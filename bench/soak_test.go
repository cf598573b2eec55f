package bench

import (
	"strings"
	"testing"
	"time"
)

const dumpSample = `wkssvcd: serving ...
SIGQUIT: quit
PC=0x47c1e1 m=0 sigcode=0

goroutine 0 gp=0x8f3ee0 m=0 mp=0x8f4d80 [idle]:
runtime.futex(...)

goroutine 1 gp=0xc000002380 m=nil [chan receive]:
main.run(...)

goroutine 7 [IO wait]:
internal/poll.runtime_pollWait(...)

goroutine 238 gp=0x1e512bdad4a0 m=nil [GC worker (idle)]:
runtime.gopark(0x2a4791582ec?, 0x2?, 0x5c?, 0x32?, 0x0?)
	/usr/local/go/src/runtime/proc.go:462 +0xce fp=0x1e512bd6df38 sp=0x1e512bd6df18 pc=0x4795ce
runtime.gcBgMarkWorker(0x1e512bf14310)
	/usr/local/go/src/runtime/mgc.go:1463 +0xeb fp=0x1e512bd6dfc8 sp=0x1e512bd6df38 pc=0x41fc6b
created by runtime.gcBgMarkStartWorkers in goroutine 1
	/usr/local/go/src/runtime/mgc.go:1373 +0x105 fp=0x1e512bd6dfe0 sp=0x1e512bd6dfc8 pc=0x41fb45
`

func TestCountGoroutines(t *testing.T) {
	// goroutine 0 and the GC worker run only runtime code.
	if n := CountGoroutines([]byte(dumpSample)); n != 2 {
		t.Fatalf("got %d", n)
	}
	// Only the last dump counts.
	two := dumpSample + "\n" + "SIGQUIT: quit\ngoroutine 1 [running]:\nmain.main()\n\t/x/main.go:1\n"
	if n := CountGoroutines([]byte(two)); n != 1 {
		t.Fatalf("last dump: got %d", n)
	}
	if n := CountGoroutines([]byte("SIGQUIT: quit\ngoroutine 3 [GC worker (idle)]:\nruntime.gopark(0x0)\n")); n != 0 {
		t.Fatalf("runtime only: got %d", n)
	}
	if n := CountGoroutines([]byte("no dump here\ngoroutines are fine\n")); n != -1 {
		t.Fatalf("no dump: got %d", n)
	}
}

func soakResult(after []Memory, afterThreads int, errs int) *SoakResult {
	r := &SoakResult{Ops: map[string]Summary{"op": {Count: 10}}, Errors: errs, GoroutinesBefore: 2, GoroutinesAfter: 2}
	r.Samples = append(r.Samples, Sample{Phase: "before", Memory: Memory{RSS: 10 << 20}, Threads: 5})
	r.Samples = append(r.Samples, Sample{Phase: "during", Memory: Memory{RSS: 30 << 20}, Threads: 10})
	for i, m := range after {
		r.Samples = append(r.Samples, Sample{At: time.Duration(i) * time.Second, Phase: "after", Memory: m, Threads: afterThreads})
	}
	return r
}

func TestVerdict(t *testing.T) {
	ok := soakResult([]Memory{{RSS: 20 << 20}, {RSS: 20 << 20}}, 10, 0)
	if failed, checks := ok.Verdict(); len(failed) != 0 || len(checks) < 5 {
		t.Fatalf("healthy soak failed: %v", failed)
	}
	for name, r := range map[string]*SoakResult{
		"errors":             soakResult([]Memory{{RSS: 20 << 20}}, 10, 1),
		"rss grows after":    soakResult([]Memory{{RSS: 20 << 20}, {RSS: 25 << 20}}, 10, 0),
		"rss above the peak": soakResult([]Memory{{RSS: 40 << 20}}, 10, 0),
		"threads grow":       soakResult([]Memory{{RSS: 20 << 20}}, 11, 0),
		"no after samples":   soakResult(nil, 10, 0),
	} {
		if failed, _ := r.Verdict(); len(failed) == 0 {
			t.Errorf("%s: passed", name)
		}
	}
	leak := soakResult([]Memory{{RSS: 20 << 20}}, 10, 0)
	leak.GoroutinesAfter = 3
	if failed, _ := leak.Verdict(); len(failed) != 1 || !strings.Contains(failed[0], "goroutines") {
		t.Errorf("goroutine leak: %v", failed)
	}
	noJoin := soakResult([]Memory{{RSS: 20 << 20}}, 10, 0)
	noJoin.JoinRefused = 7
	if failed, _ := noJoin.Verdict(); len(failed) != 1 || !strings.Contains(failed[0], "workgroup joins") {
		t.Errorf("joins all refused: %v", failed)
	}
	noJoin.Joined = 1
	if failed, _ := noJoin.Verdict(); len(failed) != 0 {
		t.Errorf("one join took effect: %v", failed)
	}
	md := leak.Markdown(Machine{})
	if !strings.Contains(md, "Verdict: **FAIL**") || !strings.Contains(md, "- FAIL: goroutines") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestIdlePerConn(t *testing.T) {
	r := IdleResult{N: 4, Idle: Memory{RSS: 100, PSS: 100}, Loaded: Memory{RSS: 500, PSS: 50}}
	if pc := r.PerConn(); pc.RSS != 100 || pc.PSS != 0 {
		t.Fatalf("%+v", pc)
	}
	if (IdleResult{}).PerConn() != (Memory{}) {
		t.Fatal("zero")
	}
}
