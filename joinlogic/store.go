package joinlogic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
)

// StoreFormatVersion is the version of the membership file this package
// writes and the only one it reads.
const StoreFormatVersion = 1

// DefaultWorkgroup is the workgroup of a machine that has no membership
// file yet.
const DefaultWorkgroup = "WORKGROUP"

// maxStoreFileSize bounds what OpenStore reads; a real file is a few
// hundred bytes.
const maxStoreFileSize = 1 << 20

// Secret is a password kept in the membership. It prints, logs and
// %#v-formats as "[REDACTED]"; Reveal returns the value.
type Secret string

// String redacts the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// GoString redacts the value for %#v.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue redacts the value in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the password itself.
func (s Secret) Reveal() string { return string(s) }

// Membership is the domain membership ADM of MS-WKST 3.2.1.6, persisted by
// Store. A machine is joined to a domain exactly when DomainSID is set
// (MS-WKST 3.2.4.14 tests DomainSid); otherwise Workgroup, if set, names
// its workgroup (DomainName.NetBIOS of a machine not in a domain).
type Membership struct {
	// DomainNetBIOS is DomainName.NetBIOS of the joined domain.
	DomainNetBIOS string `json:"domain_netbios,omitempty"`
	// DomainFQDN is the DNS name of the joined domain.
	DomainFQDN string `json:"domain_fqdn,omitempty"`
	// DomainSID is the domain's SID in string form; empty when not joined.
	DomainSID string `json:"domain_sid,omitempty"`
	// DomainGUID is the domain's GUID in string form.
	DomainGUID string `json:"domain_guid,omitempty"`
	// ForestFQDN is ForestNameFQDN.
	ForestFQDN string `json:"forest_fqdn,omitempty"`
	// SiteName is the client site learnt from the locator, or the one an
	// offline join's file names.
	SiteName string `json:"site_name,omitempty"`
	// PersistentSite is set when SiteName is the computer's permanent
	// site, not a hint (djoin /psite, OP_JP2_FLAG_PERSISTENTSITE).
	PersistentSite bool `json:"persistent_site,omitempty"`
	// ClientName is the sAMAccountName of the computer object ("NAME$").
	ClientName string `json:"client_name,omitempty"`
	// DNSHostName is the dNSHostName the join wrote (ComputerNameFQDN).
	DNSHostName string `json:"dns_host_name,omitempty"`
	// Password is the current machine password (domain-secret).
	Password Secret `json:"password,omitempty"`
	// PreviousPassword is the machine password before the last change.
	PreviousPassword Secret `json:"previous_password,omitempty"`
	// PasswordSetTime is when Password was set.
	PasswordSetTime time.Time `json:"password_set_time,omitzero"`
	// Workgroup is the workgroup name when not joined to a domain.
	Workgroup string `json:"workgroup,omitempty"`

	// The fields below are known after an offline join, whose file
	// carries them (an online join leaves them empty).

	// AccountSID and AccountRID identify the machine account;
	// AccountGUID is its objectGUID.
	AccountSID  string `json:"account_sid,omitempty"`
	AccountRID  uint32 `json:"account_rid,omitempty"`
	AccountGUID string `json:"account_guid,omitempty"`
	// DCName, DCAddress and DCSite are the domain controller the
	// provisioning used, a hint for the first contact.
	DCName    string `json:"dc_name,omitempty"`
	DCAddress string `json:"dc_address,omitempty"`
	DCSite    string `json:"dc_site,omitempty"`
	// OfflineJoinFile identifies the provisioning file an offline join
	// applied ("sha256:" and the hex digest of its binary form).
	OfflineJoinFile string `json:"offline_join_file,omitempty"`
}

// DefaultMembership is the state of a machine without a membership file:
// in workgroup WORKGROUP.
func DefaultMembership() Membership { return Membership{Workgroup: DefaultWorkgroup} }

// Joined reports whether the membership is a domain membership.
func (m Membership) Joined() bool { return m.DomainSID != "" }

// LogValue lists the non-secret fields.
func (m Membership) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("domain_netbios", m.DomainNetBIOS),
		slog.String("domain_fqdn", m.DomainFQDN),
		slog.String("domain_sid", m.DomainSID),
		slog.String("client_name", m.ClientName),
		slog.String("site", m.SiteName),
		slog.String("workgroup", m.Workgroup),
		slog.Bool("has_password", m.Password != ""),
	)
}

// validate checks the invariants a stored membership must hold.
func (m Membership) validate() error {
	if m.Joined() {
		if m.DomainNetBIOS == "" && m.DomainFQDN == "" {
			return errors.New("joined membership without a domain name")
		}
		if m.Password == "" {
			return errors.New("joined membership without a machine password")
		}
	}
	return nil
}

// stateFile is the on-disk form.
type stateFile struct {
	Version    int             `json:"version"`
	Membership json.RawMessage `json:"membership"`
}

// parseState decodes a membership file. A file that is not exactly one JSON
// object of a known version with known fields is an error.
func parseState(data []byte) (Membership, error) {
	var f stateFile
	if err := decodeStrict(data, &f); err != nil {
		return Membership{}, fmt.Errorf("membership file: %w", err)
	}
	var m Membership
	if err := decodePayload("membership", f.Version, StoreFormatVersion, f.Membership, &m); err != nil {
		return Membership{}, err
	}
	return m, nil
}

// decodePayload checks the format version of one of this package's files
// (what names it in errors) and decodes its payload strictly into v, which
// must then validate.
func decodePayload(what string, version, want int, payload json.RawMessage, v interface{ validate() error }) error {
	if version != want {
		return fmt.Errorf("%s file: unsupported format version %d (want %d)", what, version, want)
	}
	if len(payload) == 0 || bytes.Equal(payload, []byte("null")) {
		return fmt.Errorf("%s file: no %s", what, what)
	}
	if err := decodeStrict(payload, v); err != nil {
		return fmt.Errorf("%s file: %w", what, err)
	}
	if err := v.validate(); err != nil {
		return fmt.Errorf("%s file: %w", what, err)
	}
	return nil
}

// encodeFile renders one of this package's files: an envelope (a struct
// holding the version and the payload's JSON) indented, with a newline.
func encodeFile(payload any, envelope func(raw json.RawMessage) any) ([]byte, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(envelope(raw), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// encodeState is the inverse of parseState.
func encodeState(m Membership) ([]byte, error) {
	return encodeFile(m, func(raw json.RawMessage) any {
		return stateFile{Version: StoreFormatVersion, Membership: raw}
	})
}

// Store persists a Membership in one file, written atomically: a temporary
// file in the same directory is written, synced and renamed over the old
// one, then the directory is synced. The file has mode 0600. It is safe for
// concurrent use.
type Store struct {
	path string

	saveMu sync.Mutex // serializes Save
	// mu guards cur, stamp and onSaved; never held across a Save's write
	// and fsync, so Load never waits on the disk.
	mu      sync.Mutex
	cur     Membership
	stamp   fileStamp // of the file cur was read from or saved to
	checked time.Time // when Load last looked at the file (monotonic)
	onSaved []func(Membership)
}

// OnSave registers f to be called with every membership Save has just
// persisted, after the save and outside the store's lock: state that
// belongs to a membership (an offline join's files) follows it. f must
// not call Save.
func (s *Store) OnSave(f func(Membership)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSaved = append(s.onSaved, f)
}

// fileStamp identifies one version of a file: another process replacing it
// (atomically, with a rename) changes the inode.
type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stampOf(path string) (fileStamp, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, false
	}
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, true
}

// OpenStore reads the membership file at path. A missing file yields the
// default state (workgroup WORKGROUP) and is created by the first Save; a
// file that cannot be parsed or has an unknown version is an error, never a
// silent reset. Leftover temporary files of an interrupted Save are removed.
func OpenStore(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("joinlogic: empty membership file path")
	}
	s := &Store{path: path}
	atomicfile.RemoveStale(path)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		s.cur = DefaultMembership()
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("joinlogic: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStoreFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("joinlogic: reading %s: %w", path, err)
	}
	if len(data) > maxStoreFileSize {
		return nil, fmt.Errorf("joinlogic: %s is larger than %d bytes", path, maxStoreFileSize)
	}
	m, err := parseState(data)
	if err != nil {
		return nil, fmt.Errorf("joinlogic: %s: %w", path, err)
	}
	s.cur = m
	s.stamp, _ = stampOf(path)
	return s, nil
}

// readMembershipFile reads and parses the membership file again.
func readMembershipFile(path string) (Membership, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return DefaultMembership(), nil
	}
	if err != nil {
		return Membership{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStoreFileSize+1))
	if err != nil {
		return Membership{}, err
	}
	if len(data) > maxStoreFileSize {
		return Membership{}, fmt.Errorf("%s is larger than %d bytes", path, maxStoreFileSize)
	}
	return parseState(data)
}

var _ MembershipStore = (*Store)(nil)

// Path returns the file the store writes.
func (s *Store) Path() string { return s.path }

// Load returns the current membership: as last opened or saved, or as
// another process (wkssvcd rotate-password) saved it since — the file is
// read again when it changed on disk. A changed file that cannot be read
// is an error; the last good value is kept.
func (s *Store) Load() (Membership, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked()
}

// LoadRecent is Load for queries that only report the membership
// (NetrGetJoinInformation, NetrWkstaGetInfo): the file is looked at on disk
// at most once per maxAge, and in between the membership this process
// last saved or read is returned, so that a change saved by another
// process shows within maxAge. On this machine the look (a stat(2)) is a
// few microseconds, a tenth of such a call's whole cost.
func (s *Store) LoadRecent(maxAge time.Duration) (Membership, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.checked.IsZero() && time.Since(s.checked) < maxAge {
		return s.cur, nil
	}
	return s.loadLocked()
}

// loadLocked is Load; caller holds mu.
func (s *Store) loadLocked() (Membership, error) {
	s.checked = time.Now()
	if st, ok := stampOf(s.path); ok && st != s.stamp {
		m, err := readMembershipFile(s.path)
		if err != nil {
			return s.cur, fmt.Errorf("joinlogic: re-reading %s: %w", s.path, err)
		}
		s.cur, s.stamp = m, st
	}
	return s.cur, nil
}

// Save replaces the persisted membership with m. On error the previous
// file is intact (or, if only the final directory sync failed, m is in place
// but may not survive a power loss) and Load still returns the old value.
func (s *Store) Save(ctx context.Context, m Membership) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.validate(); err != nil {
		return fmt.Errorf("joinlogic: refusing to save: %w", err)
	}
	data, err := encodeState(m)
	if err != nil {
		return fmt.Errorf("joinlogic: encoding membership: %w", err)
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if err := atomicfile.Write(s.path, data, 0o600); err != nil {
		return fmt.Errorf("joinlogic: saving membership: %w", err)
	}
	s.mu.Lock()
	s.cur = m
	s.stamp, _ = stampOf(s.path)
	hooks := s.onSaved
	s.mu.Unlock()
	for _, f := range hooks {
		f(m)
	}
	return nil
}
