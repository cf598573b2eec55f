package joinlogic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
)

// NamesFormatVersion is the version of the computer-names file this
// package writes and the only one it reads.
const NamesFormatVersion = 1

// ComputerName is the ComputerName element of MS-WKST 3.2.1.2: the names
// this computer answers to. Renames (NetrRenameMachineInDomain2/3) and
// the alternate-name methods (3.2.4.18–3.2.4.20, 3.2.4.26–3.2.4.28)
// change it; everything that shows the computer's name reads it.
type ComputerName struct {
	// NetBIOS is ComputerName.NetBIOS (ComputerNameNetBIOS), upper case.
	NetBIOS string `json:"netbios"`
	// FQDN is ComputerName.FQDN (ComputerNameFQDN); empty when unknown.
	FQDN string `json:"fqdn,omitempty"`
	// Alternates is alternate-computer-names, in the order they were added.
	Alternates []AlternateName `json:"alternates,omitempty"`
}

// AlternateName is one tuple of alternate-computer-names.
type AlternateName struct {
	NetBIOS string `json:"netbios"`
	FQDN    string `json:"fqdn"`
}

// clone returns a copy of n that shares no slice with it.
func (n ComputerName) clone() ComputerName {
	n.Alternates = slices.Clone(n.Alternates)
	return n
}

// alternate returns the index of the alternate name whose FQDN is fqdn
// (compared as DNS names are, without regard to case), or -1.
func (n ComputerName) alternate(fqdn string) int {
	return slices.IndexFunc(n.Alternates, func(a AlternateName) bool { return strings.EqualFold(a.FQDN, fqdn) })
}

// validate checks what a stored ComputerName must hold.
func (n ComputerName) validate() error {
	if c := machineSyntax(n.NetBIOS); c != NERR_Success {
		return fmt.Errorf("invalid NetBIOS name %q: %v", n.NetBIOS, c)
	}
	if n.FQDN != "" {
		if c := dnsMachineSyntax(n.FQDN); c != NERR_Success {
			return fmt.Errorf("invalid DNS host name %q: %v", n.FQDN, c)
		}
	}
	for _, a := range n.Alternates {
		if c := dnsMachineSyntax(a.FQDN); c != NERR_Success {
			return fmt.Errorf("invalid alternate name %q: %v", a.FQDN, c)
		}
	}
	return nil
}

// NetBIOSNameOf converts a DNS host name to the NetBIOS name of the same
// computer the way Windows does (MS-WKST <85>, <105>): the leftmost label,
// upper-cased, cut to 15 characters. ("OEM characters" are measured here
// as runes, which agrees for every single-byte OEM code page.)
func NetBIOSNameOf(dnsName string) string {
	label, _, _ := strings.Cut(dnsName, ".")
	r := []rune(strings.ToUpper(label))
	if len(r) > maxNetBIOSNameLen {
		r = r[:maxNetBIOSNameLen]
	}
	return string(r)
}

// NameStore keeps the computer's names. Names returns the current value;
// Save replaces it durably.
type NameStore interface {
	Names() ComputerName
	Save(ctx context.Context, n ComputerName) error
}

// FileNameStore keeps the ComputerName in one file, written like the
// membership Store (atomically, mode 0600, versioned). It is safe for
// concurrent use, and it implements server/ipc.ComputerNames, so that the
// network front reads the names it holds.
type FileNameStore struct {
	path string // "" keeps the names in memory only

	mu  sync.RWMutex
	cur ComputerName
}

var _ NameStore = (*FileNameStore)(nil)

// namesFile is the on-disk form.
type namesFile struct {
	Version int             `json:"version"`
	Names   json.RawMessage `json:"names"`
}

// OpenNameStore reads the names file at path. A missing file yields
// initial (written by the first Save); a file that cannot be parsed is an
// error, never a silent reset. initial must be valid when the file is
// missing.
func OpenNameStore(path string, initial ComputerName) (*FileNameStore, error) {
	if path == "" {
		return nil, errors.New("joinlogic: empty computer-names file path")
	}
	atomicfile.RemoveStale(path)
	data, ok, err := readStateFile(path)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := initial.validate(); err != nil {
			return nil, fmt.Errorf("joinlogic: computer name: %w", err)
		}
		return &FileNameStore{path: path, cur: initial.clone()}, nil
	}
	var f namesFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("joinlogic: %s: names file: %w", path, err)
	}
	var n ComputerName
	if err := decodePayload("names", f.Version, NamesFormatVersion, f.Names, &n); err != nil {
		return nil, fmt.Errorf("joinlogic: %s: %w", path, err)
	}
	return &FileNameStore{path: path, cur: n}, nil
}

// MemoryNameStore returns a NameStore that keeps n in memory only.
func MemoryNameStore(n ComputerName) (*FileNameStore, error) {
	if err := n.validate(); err != nil {
		return nil, fmt.Errorf("joinlogic: computer name: %w", err)
	}
	return &FileNameStore{cur: n.clone()}, nil
}

// Path returns the file the store writes ("" for a memory store).
func (s *FileNameStore) Path() string { return s.path }

// Names returns the current names.
func (s *FileNameStore) Names() ComputerName {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur.clone()
}

// NetBIOSName returns ComputerName.NetBIOS.
func (s *FileNameStore) NetBIOSName() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur.NetBIOS
}

// DNSHostName returns ComputerName.FQDN.
func (s *FileNameStore) DNSHostName() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur.FQDN
}

// Save replaces the names with n. On error the previous file is intact
// and Names still returns the old value.
func (s *FileNameStore) Save(ctx context.Context, n ComputerName) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := n.validate(); err != nil {
		return fmt.Errorf("joinlogic: refusing to save computer names: %w", err)
	}
	n = n.clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path != "" {
		data, err := encodeFile(n, func(raw json.RawMessage) any {
			return namesFile{Version: NamesFormatVersion, Names: raw}
		})
		if err != nil {
			return fmt.Errorf("joinlogic: encoding computer names: %w", err)
		}
		if err := atomicfile.Write(s.path, data, 0o600); err != nil {
			return fmt.Errorf("joinlogic: saving computer names: %w", err)
		}
	}
	s.cur = n
	return nil
}

// readStateFile reads one of this package's state files, bounded by
// maxStoreFileSize. ok is false when the file does not exist.
func readStateFile(path string) (data []byte, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("joinlogic: %w", err)
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, maxStoreFileSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("joinlogic: reading %s: %w", path, err)
	}
	if len(data) > maxStoreFileSize {
		return nil, false, fmt.Errorf("joinlogic: %s is larger than %d bytes", path, maxStoreFileSize)
	}
	return data, true, nil
}
