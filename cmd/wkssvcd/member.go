package main

import (
	"log/slog"
	"strings"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/kerberos"
	"github.com/wkssvcd/wkssvcd/server/ntlm"
	"github.com/wkssvcd/wkssvcd/server/spnego"
)

// memberAuth is what the logons of a domain member need from the rest of
// the daemon.
type memberAuth struct {
	cfg      *config
	names    ipc.ComputerNames
	accounts ntlm.AccountDB
	store    *joinlogic.Store
	logger   *slog.Logger
}

// newAuthenticator builds the SPNEGO acceptor of SESSION_SETUP: Kerberos
// with the machine keytab, offered while the host is a domain member and
// the keytab holds its keys, then NTLM for the local accounts.
func newAuthenticator(m memberAuth) *spnego.Acceptor {
	krb := kerberos.NewMechanism(kerberos.Config{
		Keys:   &kerberos.KeytabKeys{Path: m.cfg.Keytab, Account: membershipAccount(m.store)},
		Logger: m.logger.With("component", "kerberos"),
	})
	nt := ntlm.NewMechanism(ntlm.Config{
		// Local accounts: the computer is its own domain, and both follow
		// a rename.
		Names:          m.names,
		Accounts:       m.accounts,
		AllowAnonymous: m.cfg.AllowAnonymous,
		Logger:         m.logger.With("component", "ntlm"),
	})
	return spnego.New(spnego.Config{
		Mechanisms: []spnego.Mechanism{krb, nt},
		Logger:     m.logger.With("component", "spnego"),
	})
}

// membershipAccount returns the machine account and realm of the saved
// membership, for the keytab lookup; ok is false while not joined.
func membershipAccount(store *joinlogic.Store) func() (string, string, bool) {
	return func() (string, string, bool) {
		m, err := store.Load()
		if err != nil || !m.Joined() || m.ClientName == "" || m.DomainFQDN == "" {
			return "", "", false
		}
		return m.ClientName, strings.ToUpper(m.DomainFQDN), true
	}
}
