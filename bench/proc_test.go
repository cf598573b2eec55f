package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

const smapsRollupSample = `55d4c8a4f000-7ffd4e1fd000 ---p 00000000 00:00 0                          [rollup]
Rss:               14336 kB
Pss:                9123 kB
Pss_Dirty:          5000 kB
Pss_Anon:           4000 kB
Shared_Clean:       6000 kB
Private_Dirty:      5000 kB
Swap:                  0 kB
SwapPss:               0 kB
`

func TestParseSmapsRollup(t *testing.T) {
	m, err := ParseSmapsRollup([]byte(smapsRollupSample))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 14336*1024 || m.PSS != 9123*1024 {
		t.Fatalf("got %+v", m)
	}
	for name, bad := range map[string]string{
		"empty":     "",
		"no rss":    "Pss: 10 kB\n",
		"bad unit":  "Rss: 10 MB\n",
		"bad value": "Rss: x kB\n",
		"too big":   "Rss: 99999999999999999999 kB\n",
		"no value":  "Rss:\n",
	} {
		if _, err := ParseSmapsRollup([]byte(bad)); err == nil {
			t.Errorf("%s: accepted %q", name, bad)
		}
	}
}

func TestParseStat(t *testing.T) {
	// comm with spaces and parentheses, as a process may name itself.
	line := "1234 (smbd: client (x) ) S 77 1234 1234 0 -1 4194560 500 0 0 0 250 125 40 2 20 0 1 0 100 1000 10 18446744073709551615\n"
	st, err := ParseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != 77 || st.CPUTicks != 417 { // its own 250 + 125, its waited children's 40 + 2
		t.Fatalf("got %+v", st)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S", "1 (x) S -4 1 1 0 -1 0 0 0 0 0 1 1", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a 1 0 0", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 x", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// fakeProc builds a proc tree: pid → (ppid, mount namespace).
func fakeProc(t *testing.T, procs map[int][2]any) ProcFS {
	t.Helper()
	root := t.TempDir()
	for pid, v := range procs {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		stat := strconv.Itoa(pid) + " (p) S " + strconv.Itoa(v[0].(int)) + " 1 1 0 -1 0 0 0 0 0 10 5 0 0\n"
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(v[1].(string), filepath.Join(dir, "ns", "mnt")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "smaps_rollup"), []byte("Rss: 100 kB\nPss: 40 kB\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "task", strconv.Itoa(pid)), 0o755); err != nil {
			t.Fatal(err)
		}
		status := "Name:\tp\nvoluntary_ctxt_switches:\t7\nnonvoluntary_ctxt_switches:\t2\n"
		if err := os.WriteFile(filepath.Join(dir, "task", strconv.Itoa(pid), "status"), []byte(status), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ProcFS{Root: root}
}

func TestTree(t *testing.T) {
	p := fakeProc(t, map[int][2]any{
		1:  {0, "mnt:[1]"},
		10: {1, "mnt:[2]"},  // the server
		11: {10, "mnt:[2]"}, // its child
		12: {11, "mnt:[2]"}, // grandchild
		13: {1, "mnt:[2]"},  // re-parented helper in the same namespace
		14: {1, "mnt:[1]"},  // unrelated
	})
	got, err := p.Tree(10, false)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{10, 11, 12}) {
		t.Fatalf("tree: %v", got)
	}
	got, err = p.Tree(10, true)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{10, 11, 12, 13}) {
		t.Fatalf("tree with namespace: %v", got)
	}
	m, n, err := p.TreeMemory(10, true)
	if err != nil || n != 4 || m.RSS != 400*1024 || m.PSS != 160*1024 {
		t.Fatalf("memory %+v %d %v", m, n, err)
	}
	cpu, err := p.TreeCPU(10, false)
	if err != nil || cpu != 3*15*10*time.Millisecond {
		t.Fatalf("cpu %v %v", cpu, err)
	}
	if cs, err := p.TreeSwitches(10, true); err != nil || cs != (Switches{4 * 7, 4 * 2}) || cs.Total() != 36 {
		t.Fatalf("context switches %d %v", cs, err)
	}
	if th, err := p.Threads(10); err != nil || th != 1 {
		t.Fatalf("threads %d %v", th, err)
	}
	if _, err := p.Tree(99, false); err == nil {
		t.Fatal("tree of a missing process")
	}
}

func TestProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/smaps_rollup"); err != nil {
		t.Fatalf("no /proc/self/smaps_rollup (Linux 4.14 or newer has it): %v", err)
	}
	var p ProcFS
	m, err := p.Memory(os.Getpid())
	if err != nil || m.RSS == 0 || m.PSS == 0 {
		t.Fatalf("memory of self: %+v %v", m, err)
	}
	if th, err := p.Threads(os.Getpid()); err != nil || th < 1 {
		t.Fatalf("threads of self: %d %v", th, err)
	}
	if cs, err := p.TreeSwitches(os.Getpid(), false); err != nil || cs.Total() == 0 {
		t.Fatalf("context switches of self: %d %v", cs, err)
	}
	if _, err := ParseSwitches([]byte("voluntary_ctxt_switches:\t1\n")); err == nil {
		t.Fatal("status without involuntary switches accepted")
	}
	if !p.Alive(os.Getpid()) {
		t.Fatal("self not alive")
	}
}

// The switches since a snapshot count each thread's difference and new
// threads whole; a thread that ended does not take its count off the
// others (a server's per-connection processes exit during a run).
func TestTaskSwitchesSince(t *testing.T) {
	old := TaskSwitches{{1, 1}: {10, 5}, {2, 2}: {100, 50}, {3, 3}: {7, 7}}
	now := TaskSwitches{{1, 1}: {15, 6}, {4, 4}: {3, 1}, {3, 3}: {2, 0}}
	// thread 1: +5, +1; thread 2 ended: left out; thread 4 new: 3, 1;
	// thread 3's TID reused (counts fell): 2, 0.
	if got := now.Since(old); got != (Switches{5 + 3 + 2, 1 + 1 + 0}) {
		t.Fatalf("since: %+v", got)
	}
	if got := now.Since(nil); got != (Switches{20, 7}) {
		t.Fatalf("since nothing: %+v", got)
	}
}
