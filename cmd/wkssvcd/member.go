package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/netlogon"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/kerberos"
	"github.com/wkssvcd/wkssvcd/server/ntlm"
	"github.com/wkssvcd/wkssvcd/server/spnego"
)

// member is what makes the host behave as a domain member once joined:
// Kerberos logons with the machine keytab, NTLM logons of domain accounts
// checked by a DC over the Netlogon secure channel.
type member struct {
	cfg    *config
	names  ipc.ComputerNames
	store  *joinlogic.Store
	netlog *netlogon.Client
	logger *slog.Logger
	dir    joinlogic.Directory
	authz  *authorizer
	joiner *joinlogic.Joiner // set once built: the password rotation

	stop context.CancelFunc
	done chan struct{}
}

func newMember(cfg *config, names ipc.ComputerNames, store *joinlogic.Store, dir joinlogic.Directory, logger *slog.Logger) *member {
	m := &member{cfg: cfg, names: names, store: store, dir: dir, logger: logger}
	m.netlog = netlogon.New(netlogon.Config{
		Machine: m.machine,
		Locate:  m.locate,
		Logger:  logger.With("component", "netlogon"),
	})
	m.authz = &authorizer{m: m}
	return m
}

// start runs the member's background work until close: resolving
// --admin-group names once a domain controller answers.
func (m *member) start() {
	ctx, stop := context.WithCancel(context.Background())
	m.stop, m.done = stop, make(chan struct{})
	m.authz.mu.Lock()
	m.authz.ctx = ctx
	m.authz.mu.Unlock()
	tick := time.Minute
	if r := m.cfg.Member.RotationRetry; r > 0 && r < tick {
		tick = r
	}
	go func() {
		defer close(m.done)
		t := time.NewTicker(tick)
		defer t.Stop()
		var retryAt time.Time
		for {
			m.authz.resolve(ctx)
			if time.Now().After(retryAt) && !m.rotate(ctx) {
				retryAt = time.Now().Add(m.retryWait())
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// retryWait is --machine-password-retry with its default.
func (m *member) retryWait() time.Duration {
	if r := m.cfg.Member.RotationRetry; r > 0 {
		return r
	}
	return DefaultRotationRetry
}

// rotate changes the machine password once it is older than
// --machine-password-max-age; false means a change failed and is retried
// after --machine-password-retry.
func (m *member) rotate(ctx context.Context) bool {
	if m.joiner == nil || m.cfg.Member.MachinePasswordMaxAge <= 0 {
		return true
	}
	res, err := m.joiner.RotatePassword(ctx, joinlogic.RotateRequest{MaxAge: m.cfg.Member.MachinePasswordMaxAge})
	switch {
	case errors.Is(err, joinlogic.ErrNotJoined), ctx.Err() != nil:
		return true
	case err != nil:
		m.logger.Warn("machine password change failed; retrying later", "err", err, "retry_in", m.retryWait().String())
		return false
	case res.Rotated:
		m.netlog.Reset()
	}
	return true
}

// ChangeMachinePassword implements joinlogic.PasswordChanger with the
// Netlogon secure channel (NetrServerPasswordSet2) at dc.
func (m *member) ChangeMachinePassword(ctx context.Context, dc joinlogic.DCInfo, _ joinlogic.Membership, next string) error {
	err := m.netlog.ChangePasswordAt(ctx, netlogon.DC{Name: dc.DCName, Address: dc.DCAddress}, next)
	var se *netlogon.StatusError
	if errors.Is(err, netlogon.ErrAccessDenied) || errors.As(err, &se) {
		// The DC answered: it refused the secure channel's password or
		// the change.
		err = fmt.Errorf("%w: %w", joinlogic.ErrChangeRefused, err)
	}
	if errors.Is(err, netlogon.ErrNotSent) {
		return fmt.Errorf("%w: %w", joinlogic.ErrChangeNotSent, err)
	}
	return err
}

// authenticator builds the SPNEGO acceptor of SESSION_SETUP: Kerberos
// with the machine keytab, offered while the host is a domain member and
// the keytab holds its keys, then NTLM for the local accounts and, through
// the secure channel, the domain's.
func (m *member) authenticator(accounts ntlm.AccountDB) *spnego.Acceptor {
	krb := kerberos.NewMechanism(kerberos.Config{
		Keys:   &kerberos.KeytabKeys{Path: m.cfg.Keytab, Account: m.account, Aliases: m.realmAliases},
		Logger: m.logger.With("component", "kerberos"),
	})
	nt := ntlm.NewMechanism(ntlm.Config{
		// Local accounts: the computer is its own domain, and both follow
		// a rename.
		Names:          m.names,
		Accounts:       accounts,
		AllowAnonymous: m.cfg.AllowAnonymous,
		PassThrough:    passThrough{m},
		Logger:         m.logger.With("component", "ntlm"),
	})
	return spnego.New(spnego.Config{
		Mechanisms: []spnego.Mechanism{krb, nt},
		Authorize:  m.authz.authorize,
		Logger:     m.logger.With("component", "spnego"),
	})
}

// close stops the background work and drops the secure channel.
func (m *member) close() {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
	m.netlog.Close()
}

// account returns the machine account and realm of the saved membership,
// for the keytab lookup; ok is false while not joined.
func (m *member) account() (string, string, bool) {
	ms, err := m.store.Load()
	if err != nil || !ms.Joined() || ms.ClientName == "" || ms.DomainFQDN == "" {
		return "", "", false
	}
	return ms.ClientName, strings.ToUpper(ms.DomainFQDN), true
}

// realmAliases are the other names of the domain's realm tickets may
// carry: its NetBIOS name.
func (m *member) realmAliases() []string {
	ms, err := m.store.Load()
	if err != nil || !ms.Joined() || ms.DomainNetBIOS == "" {
		return nil
	}
	return []string{ms.DomainNetBIOS}
}

// machine is the secure channel's view of the membership.
func (m *member) machine() (netlogon.Machine, bool) {
	ms, err := m.store.Load()
	if err != nil || !ms.Joined() || ms.Password == "" {
		return netlogon.Machine{}, false
	}
	acct := ms.ClientName
	if acct == "" {
		acct = strings.ToUpper(m.names.NetBIOSName()) + "$"
	}
	return netlogon.Machine{
		Domain:     ms.DomainNetBIOS,
		DomainFQDN: ms.DomainFQDN,
		Computer:   strings.TrimSuffix(acct, "$"),
		Account:    acct,
		Password:   ms.Password.Reveal(),
		Previous:   ms.PreviousPassword.Reveal(),
	}, true
}

// locate finds a DC of the domain with the join's locator.
func (m *member) locate(ctx context.Context, domain string) (netlogon.DC, error) {
	dc, err := m.dir.Locate(ctx, joinlogic.LocateRequest{Domain: domain})
	if err != nil {
		return netlogon.DC{}, err
	}
	return netlogon.DC{Name: dc.DCName, Address: dc.DCAddress}, nil
}

// passThrough adapts the secure channel to ntlm.PassThrough.
type passThrough struct{ m *member }

func (p passThrough) Domain() (string, string, bool) {
	ms, err := p.m.store.Load()
	if err != nil || !ms.Joined() {
		return "", "", false
	}
	return ms.DomainNetBIOS, ms.DomainFQDN, true
}

func (p passThrough) Logon(ctx context.Context, l ntlm.NetworkLogon) (*ntlm.Validation, error) {
	v, err := p.m.netlog.NetworkLogon(ctx, netlogon.NetworkLogon{
		User: l.User, Domain: l.Domain, Workstation: l.Workstation,
		ServerChallenge: l.ServerChallenge, NTResponse: l.NTResponse, LMResponse: l.LMResponse,
	})
	if err != nil {
		var se *netlogon.StatusError
		if errors.As(err, &se) && se.Status != 0xC0000022 /* STATUS_ACCESS_DENIED: the channel, not the user */ {
			return nil, refused{se}
		}
		return nil, err
	}
	return &ntlm.Validation{User: v.User, Domain: v.Domain, SIDs: v.SIDs, SessionKey: v.SessionKey}, nil
}

// refused is a logon the DC refused: it wraps ntlm.ErrPassThroughRefused
// and carries the DC's status as the reason.
type refused struct{ se *netlogon.StatusError }

func (r refused) Error() string  { return r.se.Error() }
func (r refused) Reason() string { return r.se.Reason() }
func (r refused) Unwrap() []error {
	errs := []error{ntlm.ErrPassThroughRefused, r.se}
	if r.se.Status == 0xC0000064 { // STATUS_NO_SUCH_USER
		errs = append(errs, ntlm.ErrPassThroughNoSuchUser)
	}
	return errs
}
