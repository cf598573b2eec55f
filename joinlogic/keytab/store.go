package keytab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/wkssvcd/wkssvcd/joinlogic"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
)

// maxKeytabSize bounds the previous keytab a FileStore keeps in memory to
// put back on rollback; a machine keytab is a few kilobytes.
const maxKeytabSize = 1 << 20

// FileStore implements joinlogic.KeytabStore with one keytab file. Every
// change replaces the file atomically (mode 0600) and remembers the bytes
// it replaced, so that the returned undo function restores them exactly.
// It is safe for concurrent use.
type FileStore struct {
	path string
	mu   sync.Mutex
}

var _ joinlogic.KeytabStore = (*FileStore)(nil)

// NewFileStore returns a store for the keytab at path. The file need not
// exist; its directory must when the first change is made.
func NewFileStore(path string) (*FileStore, error) {
	if path == "" {
		return nil, errors.New("keytab: empty keytab path")
	}
	return &FileStore{path: path}, nil
}

// Path returns the keytab file.
func (s *FileStore) Path() string { return s.path }

// Install implements joinlogic.KeytabStore: it merges the keys of e (the
// principals of Entries.Principals, the default encryption types) into
// the file — other principals' entries and the account's previous key
// version stay (Merge) — and keeps the file's mode (never readable by
// others) and group.
func (s *FileStore) Install(ctx context.Context, e joinlogic.KeytabEntries) (func(context.Context) error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, existed, err := s.read()
	if err != nil {
		return nil, err
	}
	out, err := Merge(prev, entriesOf(e))
	if err != nil {
		clear(prev)
		return nil, s.unusable(err)
	}
	defer clear(out)
	if err := s.write(out); err != nil {
		clear(prev)
		return nil, err
	}
	return s.undo(prev, existed), nil
}

// Remove implements joinlogic.KeytabStore: it removes the keys of e's
// account, every version, and leaves the other principals' entries; the
// file goes only when nothing is left in it. A missing file, or one
// without the account's keys, is left alone; so is everything when e
// names no account.
func (s *FileStore) Remove(ctx context.Context, e joinlogic.KeytabEntries) (func(context.Context) error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	noop := func(context.Context) error { return nil }
	if e.ComputerName == "" || e.Realm == "" {
		return noop, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, existed, err := s.read()
	if err != nil {
		return nil, err
	}
	if !existed {
		return noop, nil
	}
	out, empty, changed, err := Without(prev, entriesOf(e))
	if err != nil {
		clear(prev)
		return nil, s.unusable(err)
	}
	switch {
	case !changed:
		clear(prev)
		return noop, nil
	case empty:
		if err := os.Remove(s.path); err != nil {
			clear(prev)
			return nil, fmt.Errorf("keytab: %w", err)
		}
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			return nil, errors.Join(err, s.restore(prev, true))
		}
	default:
		defer clear(out)
		if err := s.write(out); err != nil {
			clear(prev)
			return nil, err
		}
	}
	return s.undo(prev, existed), nil
}

// entriesOf converts the state machine's description of the keys.
func entriesOf(e joinlogic.KeytabEntries) Entries {
	return Entries{
		ComputerName: e.ComputerName,
		DNSHostName:  e.DNSHostName,
		Realm:        e.Realm,
		Password:     e.Password.Reveal(),
		KVNO:         e.KVNO,
		Aliases:      e.Aliases,
	}
}

// unusable says that the file at the path is not one this store can
// change without losing what it holds.
func (s *FileStore) unusable(err error) error {
	return fmt.Errorf("keytab: %s cannot be updated without losing its content (move it aside, or choose another keytab path): %w", s.path, err)
}

// write replaces the file with b atomically, keeping the mode (without
// any permission for others) and the group of the file it replaces; a new
// file gets mode 0600.
func (s *FileStore) write(b []byte) error {
	perm := os.FileMode(0o600)
	gid := -1
	if fi, err := os.Stat(s.path); err == nil {
		perm = fi.Mode().Perm() &^ 0o137 // no execute, no group write, nothing for others
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Gid) != os.Getegid() {
			gid = int(st.Gid)
		}
	}
	if err := atomicfile.Write(s.path, b, perm|0o600); err != nil {
		return fmt.Errorf("keytab: %w", err)
	}
	if gid >= 0 {
		// The group that may read the keytab (sssd's, say) stays.
		if err := os.Chown(s.path, -1, gid); err != nil {
			return fmt.Errorf("keytab: keeping the group of %s: %w", s.path, err)
		}
	}
	return nil
}

// undo returns the function that puts prev (or no file) back; it wipes
// prev from memory once it ran.
func (s *FileStore) undo(prev []byte, existed bool) func(context.Context) error {
	var once sync.Once
	var err error
	return func(context.Context) error {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			err = s.restore(prev, existed)
			clear(prev)
		})
		return err
	}
}

func (s *FileStore) restore(prev []byte, existed bool) error {
	if existed {
		return atomicfile.Write(s.path, prev, 0o600)
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keytab: %w", err)
	}
	return syncDir(filepath.Dir(s.path))
}

// read returns the current file's bytes; existed is false when there is
// no file. A file that is not regular or is too large is an error, so that
// a change never replaces what it could not put back.
func (s *FileStore) read() (b []byte, existed bool, err error) {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("keytab: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("keytab: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("keytab: %s is not a regular file", s.path)
	}
	b, err = io.ReadAll(io.LimitReader(f, maxKeytabSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("keytab: reading %s: %w", s.path, err)
	}
	if len(b) > maxKeytabSize {
		clear(b)
		return nil, false, fmt.Errorf("keytab: %s is larger than %d bytes", s.path, maxKeytabSize)
	}
	return b, true, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keytab: syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keytab: syncing %s: %w", dir, err)
	}
	return nil
}
