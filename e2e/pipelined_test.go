package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/bench"
)

// writeSyscalls is the number of write-like system calls process pid has
// made (syscw of /proc/PID/io).
func writeSyscalls(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		t.Fatalf("the daemon's I/O counters: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no syscw in /proc/%d/io:\n%s", pid, b)
	return 0
}

// TestPipelinedAnsweredWithOneWrite: the daemon answers a pipe WRITE and
// its READ sent back to back (pipelined, as SMB2 credits allow) with one
// write(2), signed and sealed, and still two when the client waits for
// the WRITE's response before sending the READ; a TRANSCEIVE costs one.
// Counted on the real daemon's process by the kernel, over 200
// NetrWkstaGetInfo calls each, every answer checked by the client.
func TestPipelinedAnsweredWithOneWrite(t *testing.T) {
	d := startDaemon(t)
	pid := d.cmd.Process.Pid
	tgt := bench.Target{Name: "wkssvcd", Host: d.host(), Port: 445, User: adminUser, Password: adminPass}
	const calls = 200
	for _, seal := range []bool{false, true} {
		for _, c := range []struct {
			io      bench.PipeIO
			perCall float64
		}{{bench.Pipelined, 1}, {bench.WriteRead, 2}, {bench.Transceive, 1}} {
			t.Run(fmt.Sprintf("seal=%v/%v", seal, c.io), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cl, err := bench.DialLean(ctx, tgt, bench.LeanOptions{Seal: seal, IO: c.io, Blocking: true})
				if err != nil {
					t.Fatalf("%v\n%s", err, d.Output())
				}
				defer cl.Close(ctx)
				// One call first: the session may still be gaining the
				// credits a pipelined call needs.
				if err := cl.GetInfo(ctx); err != nil {
					t.Fatal(err)
				}
				before, waited := writeSyscalls(t, pid), cl.Unpipelined
				for i := range calls {
					if err := cl.GetInfo(ctx); err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
				}
				got := float64(writeSyscalls(t, pid)-before) / calls
				// A little slack for writes of the daemon's own (a log line).
				if got < c.perCall || got > c.perCall+0.1 {
					t.Fatalf("%.2f write system calls per call, want %v", got, c.perCall)
				}
				if c.io == bench.Pipelined && cl.Unpipelined != waited {
					t.Fatalf("%d calls were not pipelined", cl.Unpipelined-waited)
				}
			})
		}
	}
}
