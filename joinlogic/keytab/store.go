package keytab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

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

// Install implements joinlogic.KeytabStore: it writes the keys of e for
// the principals of Entries.Principals and the default encryption types.
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
	err = Write(s.path, Entries{
		ComputerName: e.ComputerName,
		DNSHostName:  e.DNSHostName,
		Realm:        e.Realm,
		Password:     e.Password.Reveal(),
		KVNO:         e.KVNO,
	})
	if err != nil {
		clear(prev)
		return nil, err
	}
	return s.undo(prev, existed), nil
}

// Remove implements joinlogic.KeytabStore.
func (s *FileStore) Remove(ctx context.Context) (func(context.Context) error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, existed, err := s.read()
	if err != nil {
		return nil, err
	}
	if existed {
		if err := os.Remove(s.path); err != nil {
			clear(prev)
			return nil, fmt.Errorf("keytab: %w", err)
		}
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			return nil, errors.Join(err, s.restore(prev, true))
		}
	}
	return s.undo(prev, existed), nil
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
