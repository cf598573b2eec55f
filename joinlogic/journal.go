package joinlogic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
)

// A domain join or unjoin changes two places that cannot be changed
// together: the directory (one LDAP write, atomic on the controller) and
// the local membership and keytab (atomic file replacements). A process
// killed between the two would leave them disagreeing: an enabled computer
// account whose password only the dead process knew, or a membership
// naming an account the directory has disabled. So before the directory
// write the state machine saves an Intent — everything needed to finish
// the operation without the caller's credentials — and deletes it only
// once the local state agrees with the directory. An Intent found later
// (at start-up, or by the next join or unjoin) is settled by asking the
// directory which side of the write it is on; see Joiner.Recover.

// IntentFormatVersion is the version of the intent file this package
// writes and the only one it reads.
const IntentFormatVersion = 1

// IntentOp names the operation an Intent records.
type IntentOp string

// The operations an Intent records.
const (
	IntentJoin   IntentOp = "join"
	IntentUnjoin IntentOp = "unjoin"
	// IntentRename is a rename (NetrRenameMachineInDomain2/3, or
	// NetrSetPrimaryComputerName2 of a joined machine): its directory
	// write sets a new machine password, so recovery binds with it.
	IntentRename IntentOp = "rename"
	// IntentNames adds or removes an alternate name: recovery reads the
	// object's msDS-AdditionalDnsHostName to learn whether the write
	// happened.
	IntentNames IntentOp = "names"
)

// Intent is the journal record of a domain join or unjoin in progress.
// The passwords in its memberships are Secrets: they print and log
// redacted, and the file holding them has mode 0600, like the membership
// file that holds the same passwords.
type Intent struct {
	// Op is IntentJoin or IntentUnjoin.
	Op IntentOp `json:"op"`
	// DC is the controller the directory write went to; recovery asks
	// that controller, which has the write even before replication.
	DC DCInfo `json:"dc"`
	// SAMAccountName is the computer object's name ("NAME$").
	SAMAccountName string `json:"sam_account_name"`
	// DirectoryWrite is false when the operation writes nothing to the
	// directory (read-only joins, unjoins without NETSETUP_ACCT_DELETE or
	// whose account is gone): recovery then finishes it locally.
	DirectoryWrite bool `json:"directory_write"`
	// Next is the membership the operation saves when it completes. For a
	// join it holds the new machine password.
	Next Membership `json:"next"`
	// Previous is the membership before the operation. For an unjoin it
	// holds the machine password recovery binds with.
	Previous Membership `json:"previous"`
	// Keytab tells whether the operation keeps a keytab in step.
	Keytab bool `json:"keytab"`
	// KVNO is the key version of an offline join's keytab (no controller
	// is asked for it).
	KVNO uint32 `json:"kvno,omitempty"`
	// Started is when the intent was recorded.
	Started time.Time `json:"started"`
	// Names is set for IntentRename and IntentNames.
	Names *NamesIntent `json:"names,omitempty"`
}

// NamesIntent is what a rename or an alternate-name change records
// besides the memberships.
type NamesIntent struct {
	// Previous and Next are the computer's names before and after.
	Previous ComputerName `json:"previous"`
	Next     ComputerName `json:"next"`
	// CN, when set, is the relative name the computer object gets after
	// the write (a rename of the object itself).
	CN string `json:"cn,omitempty"`
	// Alternate is the alternate name an IntentNames adds (Present) or
	// removes; the directory holds it in msDS-AdditionalDnsHostName
	// exactly when the write happened.
	Alternate string `json:"alternate,omitempty"`
	Present   bool   `json:"present,omitempty"`
}

// LogValue lists the non-secret fields.
func (in Intent) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("op", string(in.Op)),
		slog.String("dc", in.DC.DCName),
		slog.String("account", in.SAMAccountName),
		slog.Bool("directory_write", in.DirectoryWrite),
		slog.Time("started", in.Started),
	)
}

// validate checks what recovery relies on.
func (in Intent) validate() error {
	switch in.Op {
	case IntentJoin, IntentOfflineJoin, IntentRotate:
		if !in.Next.Joined() || in.Next.Password == "" {
			return errors.New("join intent without the joined membership")
		}
		if err := in.Next.validate(); err != nil {
			return err
		}
	case IntentUnjoin:
		if !in.Previous.Joined() {
			return errors.New("unjoin intent without the joined membership")
		}
		if err := in.Previous.validate(); err != nil {
			return err
		}
	case IntentRename, IntentNames:
		if in.Names == nil {
			return fmt.Errorf("%s intent without the names", in.Op)
		}
		if err := in.Names.Next.validate(); err != nil {
			return err
		}
		if err := in.Next.validate(); err != nil {
			return err
		}
		if in.Op == IntentNames && in.DirectoryWrite && in.Names.Alternate == "" {
			return errors.New("names intent without the alternate name")
		}
		if !in.DirectoryWrite {
			return nil // finished locally: no account, no controller
		}
		if !in.Next.Joined() {
			return fmt.Errorf("%s intent with a directory write but no membership", in.Op)
		}
	default:
		return fmt.Errorf("unknown operation %q", in.Op)
	}
	if in.SAMAccountName == "" || !strings.HasSuffix(in.SAMAccountName, "$") {
		return fmt.Errorf("bad account name %q", in.SAMAccountName)
	}
	// Recovery of a join always asks the controller (also for read-only
	// joins, whose key version it reads), of an unjoin only after a write.
	if (isJoinLike(in.Op) || in.DirectoryWrite) && in.DC.DCName == "" && in.DC.DCAddress == "" {
		return errors.New("no domain controller to settle the intent with")
	}
	return nil
}

// IntentJournal keeps at most one Intent.
type IntentJournal interface {
	// Load returns the recorded intent; ok is false when there is none.
	Load() (in Intent, ok bool, err error)
	// Save records in durably, replacing any previous intent.
	Save(ctx context.Context, in Intent) error
	// Clear deletes the intent durably; no intent is not an error.
	Clear(ctx context.Context) error
}

// intentFile is the on-disk form.
type intentFile struct {
	Version int             `json:"version"`
	Intent  json.RawMessage `json:"intent"`
}

// parseIntent decodes an intent file. Anything but exactly one JSON
// object of the known version, with known fields and a valid intent, is
// an error.
func parseIntent(data []byte) (Intent, error) {
	var f intentFile
	if err := decodeStrict(data, &f); err != nil {
		return Intent{}, fmt.Errorf("intent file: %w", err)
	}
	var in Intent
	if err := decodePayload("intent", f.Version, IntentFormatVersion, f.Intent, &in); err != nil {
		return Intent{}, err
	}
	return in, nil
}

// encodeIntent is the inverse of parseIntent.
func encodeIntent(in Intent) ([]byte, error) {
	return encodeFile(in, func(raw json.RawMessage) any {
		return intentFile{Version: IntentFormatVersion, Intent: raw}
	})
}

// FileJournal implements IntentJournal with one file, written like the
// membership Store: a synced temporary file renamed over the old one and
// a synced directory, mode 0600. It is safe for concurrent use.
type FileJournal struct {
	path string
	mu   sync.Mutex
}

var _ IntentJournal = (*FileJournal)(nil)

// IntentPath is the journal file kept next to the membership file at
// membershipPath.
func IntentPath(membershipPath string) string { return membershipPath + ".intent" }

// OpenFileJournal returns the journal at path, removing temporary files
// an interrupted Save left. The file need not exist.
func OpenFileJournal(path string) (*FileJournal, error) {
	if path == "" {
		return nil, errors.New("joinlogic: empty intent file path")
	}
	atomicfile.RemoveStale(path)
	return &FileJournal{path: path}, nil
}

// Path returns the journal file.
func (f *FileJournal) Path() string { return f.path }

// Load implements IntentJournal. A file that cannot be parsed is an error,
// never a silently dropped intent.
func (f *FileJournal) Load() (Intent, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return Intent{}, false, nil
	}
	if err != nil {
		return Intent{}, false, fmt.Errorf("joinlogic: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxStoreFileSize+1))
	if err != nil {
		return Intent{}, false, fmt.Errorf("joinlogic: reading %s: %w", f.path, err)
	}
	if len(data) > maxStoreFileSize {
		return Intent{}, false, fmt.Errorf("joinlogic: %s is larger than %d bytes", f.path, maxStoreFileSize)
	}
	in, err := parseIntent(data)
	if err != nil {
		return Intent{}, false, fmt.Errorf("joinlogic: %s: %w", f.path, err)
	}
	return in, true, nil
}

// Save implements IntentJournal.
func (f *FileJournal) Save(ctx context.Context, in Intent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return fmt.Errorf("joinlogic: refusing to record intent: %w", err)
	}
	data, err := encodeIntent(in)
	if err != nil {
		return fmt.Errorf("joinlogic: encoding intent: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := atomicfile.Write(f.path, data, 0o600); err != nil {
		return fmt.Errorf("joinlogic: recording intent: %w", err)
	}
	return nil
}

// Clear implements IntentJournal: the file is removed and the directory
// synced, so that the removal survives a crash.
func (f *FileJournal) Clear(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := os.Remove(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("joinlogic: clearing intent: %w", err)
	}
	return syncDir(f.path)
}

// syncDir syncs the directory holding path.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
