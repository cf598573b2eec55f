package kerberos

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oiweiwei/gokrb5.fork/v9/keytab"
)

// Key is one long-term key of the service account.
type Key struct {
	KVNO  uint32
	EType int32
	Value []byte
}

// ServiceKeys are the keys of the account whose service tickets this host
// accepts (the machine account, whatever SPN the ticket names).
type ServiceKeys struct {
	// Realm is the account's realm, upper case.
	Realm string
	// Aliases are other names of the realm that a ticket may carry (the
	// domain's NetBIOS name, which Active Directory KDCs accept as a
	// realm name and put in the tickets they issue for it).
	Aliases []string
	// Account is the account name, e.g. "WKHOST$".
	Account string
	// Keys holds every key version kept (current and previous).
	Keys []Key
}

// isOwnRealm reports whether realm names the account's realm: the realm
// or one of its aliases, in any case.
func (k ServiceKeys) isOwnRealm(realm string) bool {
	if strings.EqualFold(realm, k.Realm) {
		return true
	}
	for _, a := range k.Aliases {
		if strings.EqualFold(a, realm) {
			return true
		}
	}
	return false
}

// KeySource supplies the service keys. ServiceKeys returns ok=false while
// there are none (the host is not joined); Kerberos is then not offered.
// It is called for every logon, so it must be cheap.
type KeySource interface {
	ServiceKeys() (keys ServiceKeys, ok bool, err error)
}

// StaticKeys is a fixed KeySource (tests).
type StaticKeys ServiceKeys

// ServiceKeys returns the fixed keys.
func (s StaticKeys) ServiceKeys() (ServiceKeys, bool, error) {
	return ServiceKeys(s), len(s.Keys) > 0, nil
}

// maxKeytabSize bounds the keytab read; a machine keytab is a few KiB.
const maxKeytabSize = 1 << 20

// KeytabKeys reads the machine account's keys from a keytab file. The
// file is parsed again whenever it changes (size, modification time or
// inode), so a join, a password change or an unjoin takes effect on the
// next logon without a restart.
type KeytabKeys struct {
	// Path is the keytab file.
	Path string
	// Account returns the account (NAME$) and realm whose keys are used;
	// ok=false while the host is not a domain member.
	Account func() (account, realm string, ok bool)
	// Aliases, if set, returns the other names of the realm (see
	// ServiceKeys.Aliases).
	Aliases func() []string

	mu     sync.Mutex
	stamp  fileStamp
	forAcc string
	keys   ServiceKeys
	ok     bool
}

type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
	dev   uint64
}

// ServiceKeys implements KeySource.
func (k *KeytabKeys) ServiceKeys() (ServiceKeys, bool, error) {
	acct, realm, joined := k.Account()
	if !joined {
		return ServiceKeys{}, false, nil
	}
	fi, err := os.Stat(k.Path)
	if errors.Is(err, os.ErrNotExist) {
		return ServiceKeys{}, false, nil
	}
	if err != nil {
		return ServiceKeys{}, false, fmt.Errorf("kerberos: keytab: %w", err)
	}
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino, st.dev = sys.Ino, uint64(sys.Dev)
	}
	id := strings.ToUpper(acct) + "@" + strings.ToUpper(realm)
	k.mu.Lock()
	defer k.mu.Unlock()
	var aliases []string
	if k.Aliases != nil {
		aliases = k.Aliases()
	}
	if st == k.stamp && id == k.forAcc {
		out := k.keys
		out.Aliases = aliases
		return out, k.ok, nil
	}
	keys, err := readKeytab(k.Path, acct, realm)
	if err != nil {
		return ServiceKeys{}, false, err
	}
	k.stamp, k.forAcc, k.keys, k.ok = st, id, keys, len(keys.Keys) > 0
	keys.Aliases = aliases
	return keys, k.ok, nil
}

// readKeytab returns the keys of account@realm in the keytab at path. A
// keytab written by another tool may lack the NAME$ principal; the keys of
// host/... entries of the same realm (the same account's keys) are used
// then.
func readKeytab(path, account, realm string) (ServiceKeys, error) {
	f, err := os.Open(path)
	if err != nil {
		return ServiceKeys{}, fmt.Errorf("kerberos: keytab: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeytabSize+1))
	if err != nil {
		return ServiceKeys{}, fmt.Errorf("kerberos: keytab %s: %w", path, err)
	}
	defer clear(b)
	if len(b) > maxKeytabSize {
		return ServiceKeys{}, fmt.Errorf("kerberos: keytab %s is larger than %d bytes", path, maxKeytabSize)
	}
	kt := keytab.New()
	if err := unmarshalKeytab(kt, b); err != nil {
		return ServiceKeys{}, fmt.Errorf("kerberos: keytab %s: %w", path, err)
	}
	out := ServiceKeys{Realm: strings.ToUpper(realm), Account: account}
	add := func(match func(keytab.Principal) bool) {
		for _, e := range kt.Entries {
			if !strings.EqualFold(e.Principal.Realm, realm) || !match(e.Principal) {
				continue
			}
			kvno := e.KVNO
			if kvno == 0 {
				kvno = uint32(e.KVNO8)
			}
			dup := false
			for _, have := range out.Keys {
				if have.KVNO == kvno && have.EType == e.Key.KeyType {
					dup = true
					break
				}
			}
			if !dup {
				out.Keys = append(out.Keys, Key{KVNO: kvno, EType: e.Key.KeyType, Value: append([]byte(nil), e.Key.KeyValue...)})
			}
		}
	}
	add(func(p keytab.Principal) bool {
		return len(p.Components) == 1 && strings.EqualFold(p.Components[0], account)
	})
	if len(out.Keys) == 0 {
		host := strings.TrimSuffix(account, "$")
		add(func(p keytab.Principal) bool {
			return len(p.Components) == 2 && strings.EqualFold(p.Components[0], "host") &&
				strings.EqualFold(strings.SplitN(p.Components[1], ".", 2)[0], host)
		})
	}
	for _, e := range kt.Entries {
		clear(e.Key.KeyValue)
	}
	return out, nil
}

// unmarshalKeytab parses b, turning a panic of the parser on a corrupt
// file into an error.
func unmarshalKeytab(kt *keytab.Keytab, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("corrupt keytab")
		}
	}()
	return kt.Unmarshal(b)
}
