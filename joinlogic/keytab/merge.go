package keytab

import (
	"errors"
	"fmt"
	"strings"
	"time"

	gokeytab "github.com/oiweiwei/gokrb5.fork/v9/keytab"
)

// A machine's keytab is shared: /etc/krb5.keytab holds the keys of other
// services too (nfs/, HTTP/, cifs/ added with ktutil, adcli or net ads
// keytab). So the account's keys are merged into what the file holds and
// removed from it, never written over it.

// Parse reads a keytab file's content (format version 1 or 2). A malformed
// file is an error, never a panic.
func Parse(b []byte) (kt *gokeytab.Keytab, err error) {
	defer func() {
		if r := recover(); r != nil {
			kt, err = nil, fmt.Errorf("keytab: malformed keytab (%v)", r)
		}
	}()
	kt = gokeytab.New()
	if err := kt.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("keytab: malformed keytab: %w", err)
	}
	return kt, nil
}

// entryKVNO is the key version of an entry: the 32-bit field when it is
// present, else the 8-bit one.
func entryKVNO(ent gokeytab.Entry) uint32 {
	if ent.KVNO != 0 {
		return ent.KVNO
	}
	return uint32(ent.KVNO8)
}

// owns reports whether ent is a key of the account e describes: one of
// e.Principals() in e's realm, compared without regard to case as Active
// Directory compares them (another tool may have written the same names
// in another case).
func (e Entries) owns(ent gokeytab.Entry) bool {
	if !strings.EqualFold(ent.Principal.Realm, e.Realm) {
		return false
	}
	name := strings.Join(ent.Principal.Components, "/")
	for _, p := range e.Principals() {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// Merge returns existing (a keytab file's content; nil or empty for none)
// with the keys of e in it: the entries of other principals stay as they
// are; of e's account, the entries of the highest key version below
// e.KVNO stay too — tickets the KDC issued before the password change
// still decrypt, as adcli keeps them — and every other version goes.
func Merge(existing []byte, e Entries) ([]byte, error) {
	add, err := Build(e)
	if err != nil {
		return nil, err
	}
	kvno := e.KVNO
	if kvno == 0 {
		kvno = 1
	}
	out := gokeytab.New()
	if len(existing) > 0 {
		kt, err := Parse(existing)
		if err != nil {
			return nil, err
		}
		var prev uint32
		for _, ent := range kt.Entries {
			if v := entryKVNO(ent); e.owns(ent) && v < kvno && v > prev {
				prev = v
			}
		}
		var newest time.Time
		for _, ent := range kt.Entries {
			if !e.owns(ent) || (prev != 0 && entryKVNO(ent) == prev) {
				out.Entries = append(out.Entries, ent)
			}
			if e.owns(ent) && ent.Timestamp.After(newest) {
				newest = ent.Timestamp
			}
		}
		// A keytab's timestamps have whole seconds, and readers that pick
		// "the newest entry" by timestamp for a principal and type
		// (gokrb5's GetEncryptionKey, when no key version is asked for)
		// keep the first of equal ones: the previous version, written
		// earlier in the file. A password change within a second of the
		// last one would then log on with the old key (the KDC answers
		// PREAUTH_FAILED). So the new version is stamped after every key
		// of the account the file holds.
		if floor := newest.Truncate(time.Second).Add(time.Second); !newest.IsZero() {
			for i := range add.Entries {
				if add.Entries[i].Timestamp.Before(floor) {
					add.Entries[i].Timestamp = floor
				}
			}
		}
	}
	out.Entries = append(out.Entries, add.Entries...)
	b, err := out.Marshal()
	if err != nil {
		return nil, fmt.Errorf("keytab: encoding: %w", err)
	}
	return b, nil
}

// Without returns existing without any key of e's account, every
// version; empty is true when nothing else is left, and changed false
// when the account had no key in it.
func Without(existing []byte, e Entries) (out []byte, empty, changed bool, err error) {
	if e.ComputerName == "" || e.Realm == "" {
		return nil, false, false, errors.New("keytab: no account to remove")
	}
	kt, err := Parse(existing)
	if err != nil {
		return nil, false, false, err
	}
	rest := gokeytab.New()
	for _, ent := range kt.Entries {
		if e.owns(ent) {
			changed = true
			continue
		}
		rest.Entries = append(rest.Entries, ent)
	}
	if !changed {
		return existing, len(kt.Entries) == 0, false, nil
	}
	if len(rest.Entries) == 0 {
		return nil, true, true, nil
	}
	out, err = rest.Marshal()
	if err != nil {
		return nil, false, false, fmt.Errorf("keytab: encoding: %w", err)
	}
	return out, false, true, nil
}
