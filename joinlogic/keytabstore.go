package joinlogic

import (
	"context"
	"errors"
	"log/slog"
)

// KeytabEntries describes the Kerberos keys of the machine account that a
// domain join installs next to the membership. Password is a Secret, so the
// value prints and logs redacted.
type KeytabEntries struct {
	// ComputerName is ComputerNameNetBIOS, without the trailing '$'.
	ComputerName string
	// DNSHostName is the dNSHostName the join wrote (ComputerNameFQDN).
	DNSHostName string
	// Realm is the Kerberos realm: the DNS name of the domain in upper case.
	Realm string
	// Password is the machine password the join set.
	Password Secret
	// KVNO is msDS-KeyVersionNumber of the account, read after the
	// password was set: the version the KDC stamps on tickets for it.
	KVNO uint32
	// Aliases are the computer's alternate names (DNS and NetBIOS), whose
	// host/ principals the keytab holds too. Default none.
	Aliases []string
}

// LogValue lists the non-secret fields.
func (e KeytabEntries) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("computer", e.ComputerName),
		slog.String("dns_host_name", e.DNSHostName),
		slog.String("realm", e.Realm),
		slog.Uint64("kvno", uint64(e.KVNO)),
		slog.Any("aliases", e.Aliases),
	)
}

// KeytabStore keeps the machine account's keytab in step with the
// membership. Both methods return, on success, an undo function that puts
// the keytab back exactly as it was before the call (the previous file, or
// no file); the state machine runs it when a later step of the same join or
// unjoin fails. An undo function may be called at most once.
type KeytabStore interface {
	// Install puts the keys of e into the keytab. The keytab may hold
	// other principals' keys (it may be the host's /etc/krb5.keytab): they
	// stay, and so do the account's keys of the previous key version, so
	// that tickets issued before the password change still decrypt.
	Install(ctx context.Context, e KeytabEntries) (undo func(context.Context) error, err error)
	// Remove takes out every key of the account e names (e.Password and
	// e.KVNO do not matter); other principals' keys stay, and the file
	// goes only when nothing is left. A missing keytab, or an e without a
	// computer name and realm, is not an error: nothing changes.
	Remove(ctx context.Context, e KeytabEntries) (undo func(context.Context) error, err error)
}

// errNoKeyVersion reports a controller that gives no key version number.
var errNoKeyVersion = errors.New("joinlogic: the domain controller reports no key version number")
