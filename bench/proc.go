package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Memory is the resident memory of one process or a set of processes.
type Memory struct {
	// RSS is the resident set size in bytes: pages shared between
	// processes (fork, shared libraries) count in full for each.
	RSS uint64
	// PSS is the proportional set size in bytes: a page shared by n
	// processes counts 1/n for each, so sums over process trees are fair.
	PSS uint64
}

// Add returns m + o.
func (m Memory) Add(o Memory) Memory { return Memory{RSS: m.RSS + o.RSS, PSS: m.PSS + o.PSS} }

// ParseSmapsRollup reads the Rss and Pss lines of a /proc/PID/smaps_rollup
// (or smaps) file; values there are in kB. Repeated lines are summed.
func ParseSmapsRollup(data []byte) (Memory, error) {
	var m Memory
	var sawRSS bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "Rss" && key != "Pss") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("smaps: malformed %s line", key)
		}
		kb, err := strconv.ParseUint(f[0], 10, 40) // < 1 PiB: no overflow when scaled
		if err != nil {
			return Memory{}, fmt.Errorf("smaps: %s: %w", key, err)
		}
		if key == "Rss" {
			m.RSS += kb * 1024
			sawRSS = true
		} else {
			m.PSS += kb * 1024
		}
	}
	if err := sc.Err(); err != nil {
		return Memory{}, err
	}
	if !sawRSS {
		return Memory{}, errors.New("smaps: no Rss line")
	}
	return m, nil
}

// Stat is what the bench reads from /proc/PID/stat.
type Stat struct {
	// PPID is the parent process id.
	PPID int
	// CPUTicks is user + system CPU time in clock ticks (USER_HZ) of the
	// process and of its children that exited and were waited for: a
	// helper process that exits (Samba's RPC workers do) then moves its
	// time to its parent instead of taking it out of the tree's total.
	CPUTicks uint64
}

// ParseStat parses the contents of /proc/PID/stat ("pid (comm) state ppid
// ..."; comm may itself hold spaces and parentheses; utime, stime, cutime
// and cstime are fields 14 to 17, proc(5)).
func ParseStat(data []byte) (Stat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return Stat{}, errors.New("stat: no command field")
	}
	f := strings.Fields(string(data[i+1:])) // f[0] is field 3 (state)
	if len(f) < 15 {
		return Stat{}, errors.New("stat: short line")
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil || ppid < 0 {
		return Stat{}, fmt.Errorf("stat: bad ppid %q", f[1])
	}
	var ticks uint64
	for _, s := range f[11:15] {
		n, err := strconv.ParseUint(s, 10, 62)
		if err != nil {
			return Stat{}, errors.New("stat: bad utime, stime, cutime or cstime")
		}
		ticks += n
	}
	return Stat{PPID: ppid, CPUTicks: ticks}, nil
}

// ClockTicks is USER_HZ, the unit of CPU times in /proc on Linux.
const ClockTicks = 100

// TreeCPU sums the CPU time of Tree(root, sameMountNS). Processes that
// exited are not counted, so measure while the processes doing the work
// are alive.
func (p ProcFS) TreeCPU(root int, sameMountNS bool) (time.Duration, error) {
	pids, err := p.Tree(root, sameMountNS)
	if err != nil {
		return 0, err
	}
	var ticks uint64
	for _, pid := range pids {
		data, err := os.ReadFile(p.path(strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		st, err := ParseStat(data)
		if err != nil {
			continue
		}
		ticks += st.CPUTicks
	}
	return time.Duration(ticks) * (time.Second / ClockTicks), nil
}

// ProcFS reads process information from a proc file system.
type ProcFS struct {
	// Root is the mount point. Default "/proc".
	Root string
}

func (p ProcFS) path(elem ...string) string {
	root := p.Root
	if root == "" {
		root = "/proc"
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// Memory returns the memory of one process, from smaps_rollup.
func (p ProcFS) Memory(pid int) (Memory, error) {
	data, err := os.ReadFile(p.path(strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return Memory{}, err
	}
	return ParseSmapsRollup(data)
}

// Threads returns the number of threads (tasks) of a process.
func (p ProcFS) Threads(pid int) (int, error) {
	ents, err := os.ReadDir(p.path(strconv.Itoa(pid), "task"))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

// Alive reports whether pid still exists and is not a zombie.
func (p ProcFS) Alive(pid int) bool {
	data, err := os.ReadFile(p.path(strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && !bytes.HasPrefix(bytes.TrimSpace(data[i+1:]), []byte("Z"))
}

// Tree returns root and all its descendants. With sameMountNS it also
// returns every process in root's mount namespace, which catches helpers
// a server starts that re-parent themselves (Samba's samba-dcerpcd and
// rpcd_* processes when smbd runs in its own namespace).
func (p ProcFS) Tree(root int, sameMountNS bool) ([]int, error) {
	if _, err := os.Stat(p.path(strconv.Itoa(root))); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p.path())
	if err != nil {
		return nil, err
	}
	var rootNS string
	if sameMountNS {
		rootNS, err = os.Readlink(p.path(strconv.Itoa(root), "ns", "mnt"))
		if err != nil {
			return nil, err
		}
	}
	children := make(map[int][]int)
	in := map[int]bool{root: true}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		data, err := os.ReadFile(p.path(e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		st, err := ParseStat(data)
		if err != nil {
			continue
		}
		ppid := st.PPID
		children[ppid] = append(children[ppid], pid)
		if sameMountNS {
			if ns, err := os.Readlink(p.path(e.Name(), "ns", "mnt")); err == nil && ns == rootNS {
				in[pid] = true
			}
		}
	}
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			if !in[c] {
				in[c] = true
				queue = append(queue, c)
			}
		}
	}
	out := make([]int, 0, len(in))
	for pid := range in {
		out = append(out, pid)
	}
	return out, nil
}

// TreeMemory sums Memory over Tree(root, sameMountNS). Processes that
// exit while being read are skipped. It returns the number of processes
// counted.
func (p ProcFS) TreeMemory(root int, sameMountNS bool) (Memory, int, error) {
	pids, err := p.Tree(root, sameMountNS)
	if err != nil {
		return Memory{}, 0, err
	}
	var total Memory
	n := 0
	for _, pid := range pids {
		m, err := p.Memory(pid)
		if err != nil {
			if pid == root {
				return Memory{}, 0, err
			}
			continue
		}
		total = total.Add(m)
		n++
	}
	return total, n, nil
}

// Switches counts context switches: Voluntary when a thread blocked or
// slept, Involuntary when it was preempted (which grows with the other
// load on the machine).
type Switches struct {
	Voluntary, Involuntary uint64
}

// Total is Voluntary + Involuntary.
func (s Switches) Total() uint64 { return s.Voluntary + s.Involuntary }

// ParseSwitches reads voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches from a /proc/PID/task/TID/status file.
func ParseSwitches(data []byte) (Switches, error) {
	var s Switches
	seen := 0
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "voluntary_ctxt_switches" && k != "nonvoluntary_ctxt_switches") {
			continue
		}
		x, err := strconv.ParseUint(strings.TrimSpace(v), 10, 63)
		if err != nil {
			return Switches{}, fmt.Errorf("status: %s: %w", k, err)
		}
		if k == "voluntary_ctxt_switches" {
			s.Voluntary = x
		} else {
			s.Involuntary = x
		}
		seen++
	}
	if seen != 2 {
		return Switches{}, errors.New("status: no context switch counts")
	}
	return s, nil
}

// TreeSwitches sums the context switches of every thread of Tree(root,
// sameMountNS). Threads that exited are not counted, so measure while the
// threads doing the work are alive.
func (p ProcFS) TreeSwitches(root int, sameMountNS bool) (Switches, error) {
	ts, err := p.TreeTaskSwitches(root, sameMountNS)
	var total Switches
	for _, n := range ts {
		total.Voluntary += n.Voluntary
		total.Involuntary += n.Involuntary
	}
	return total, err
}

// TaskSwitches are the context switches of each thread, by PID and TID,
// of a process tree at one moment.
type TaskSwitches map[[2]int]Switches

// Since is what the threads of now spent since old: for a thread in both,
// the difference; for a thread new since old, its whole count. Threads
// that ended in between are left out (their last switches with them)
// instead of taking their whole count off the total, as a difference of
// sums would when a server's per-connection processes exit meanwhile.
func (now TaskSwitches) Since(old TaskSwitches) Switches {
	var d Switches
	for id, n := range now {
		o, ok := old[id]
		if !ok || n.Voluntary < o.Voluntary || n.Involuntary < o.Involuntary {
			o = Switches{} // new, or its TID reused by a new thread
		}
		d.Voluntary += n.Voluntary - o.Voluntary
		d.Involuntary += n.Involuntary - o.Involuntary
	}
	return d
}

// TreeTaskSwitches reads the context switches of every thread of
// Tree(root, sameMountNS).
func (p ProcFS) TreeTaskSwitches(root int, sameMountNS bool) (TaskSwitches, error) {
	pids, err := p.Tree(root, sameMountNS)
	if err != nil {
		return nil, err
	}
	out := TaskSwitches{}
	for _, pid := range pids {
		tasks, err := os.ReadDir(p.path(strconv.Itoa(pid), "task"))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			data, err := os.ReadFile(p.path(strconv.Itoa(pid), "task", t.Name(), "status"))
			if err != nil {
				continue
			}
			if n, err := ParseSwitches(data); err == nil {
				out[[2]int{pid, tid}] = n
			}
		}
	}
	return out, nil
}
