package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// One process at a time writes the state directory: the daemon for as
// long as it runs, or a wkssvcd requestodj when no daemon does. The
// writer holds an exclusive flock on STATE-DIR/lock; the kernel drops it
// when the process ends, however it ends. A requestodj that finds the lock
// taken hands its file to the daemon over the control socket (control.go)
// instead of writing itself.

const stateLockFile = "lock"

// errStateLocked reports a state directory another process writes.
var errStateLocked = errors.New("the state directory is in use")

// stateLock is a held lock on a state directory.
type stateLock struct{ f *os.File }

// lockStateDir takes the lock of dir without waiting. A lock another
// process holds is errStateLocked, with that process's id when it wrote it.
func lockStateDir(dir string) (*stateLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	path := filepath.Join(dir, stateLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid := strings.TrimSpace(string(b)); pid != "" {
				holder = " by process " + pid
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked%s", errStateLocked, dir, holder)
		}
		return nil, fmt.Errorf("state directory lock %s: %w", path, err)
	}
	// The holder's process id, for the message of the next one.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &stateLock{f: f}, nil
}

// release drops the lock.
func (l *stateLock) release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
