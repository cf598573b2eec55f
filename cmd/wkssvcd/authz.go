package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// domainAdminsRID is the RID of Domain Admins (MS-DTYP 2.4.2.4:
// DOMAIN_GROUP_RID_ADMINS), which a join puts into the local
// Administrators group on Windows.
const domainAdminsRID = "512"

// authorizer decides which domain callers are local administrators: the
// members of the joined domain's Domain Admins, and of the groups (or
// the accounts) named by --admin-group. Local accounts keep the rights
// their definition gives them.
type authorizer struct {
	m *member

	mu       sync.Mutex
	resolved map[string]string // --admin-group name (upper case) -> SID, for the domain below
	domain   string            // DomainSID the names were resolved in
	running  bool              // a resolution is under way
	lastTry  time.Time
	ctx      context.Context // the member's life, for resolutions a logon starts
}

// resolveSoon starts a background resolution when names are unresolved,
// at most one at a time and one every resolveEvery.
func (a *authorizer) resolveSoon() {
	_, names := a.split()
	if len(names) == 0 {
		return
	}
	a.mu.Lock()
	if a.running || a.ctx == nil || time.Since(a.lastTry) < resolveEvery || len(a.resolved) == len(names) {
		a.mu.Unlock()
		return
	}
	a.running, a.lastTry = true, time.Now()
	ctx := a.ctx
	a.mu.Unlock()
	go func() {
		a.resolve(ctx)
		a.mu.Lock()
		a.running = false
		a.mu.Unlock()
	}()
}

// resolveEvery spaces the resolutions logons start.
const resolveEvery = 10 * time.Second

// configured SIDs and the names still to resolve.
func (a *authorizer) split() (sids, names []string) {
	for _, g := range a.m.cfg.Member.AdminGroups {
		if isSID(g) {
			sids = append(sids, strings.ToUpper(g))
		} else {
			names = append(names, g)
		}
	}
	return sids, names
}

// adminSIDs returns the SIDs that make a caller a local administrator,
// for the saved membership.
func (a *authorizer) adminSIDs() []string {
	ms, err := a.m.store.Load()
	if err != nil || !ms.Joined() {
		return nil
	}
	sids, names := a.split()
	sids = append(sids, ms.DomainSID+"-"+domainAdminsRID)
	a.mu.Lock()
	defer a.mu.Unlock()
	if strings.EqualFold(a.domain, ms.DomainSID) {
		for _, n := range names {
			if sid, ok := a.resolved[strings.ToUpper(n)]; ok {
				sids = append(sids, sid)
			}
		}
	}
	return sids
}

// authorize completes the identity of an established logon (spnego's
// Authorize hook): a domain caller holding one of the administrator SIDs
// is an administrator, any other a plain user. Every logon is logged with
// the caller's SIDs and the decision.
func (a *authorizer) authorize(id ipc.Identity) ipc.Identity {
	if len(id.SIDs) == 0 {
		return id // a local account: Admin comes from its definition
	}
	a.resolveSoon()
	id.Admin = false
	var why string
	for _, admin := range a.adminSIDs() {
		if id.HasSID(admin) {
			id.Admin, why = true, admin
			break
		}
	}
	a.m.logger.Info("domain logon", "user", id.User, "domain", id.Domain, "mechanism", id.Mechanism,
		"user_sid", id.UserSID(), "sids", strings.Join(id.SIDs, ","), "admin", id.Admin, "admin_by", why)
	return id
}

// resolve looks up the --admin-group names that are not SIDs in the
// joined domain's directory, bound as the machine account. Names already
// resolved for the same domain are kept; a failure is retried later.
func (a *authorizer) resolve(ctx context.Context) {
	_, names := a.split()
	ms, err := a.m.store.Load()
	if len(names) == 0 || err != nil || !ms.Joined() {
		return
	}
	a.mu.Lock()
	if !strings.EqualFold(a.domain, ms.DomainSID) {
		a.domain, a.resolved = ms.DomainSID, map[string]string{}
	}
	var todo []string
	for _, n := range names {
		if _, ok := a.resolved[strings.ToUpper(n)]; !ok {
			todo = append(todo, n)
		}
	}
	a.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	log := a.m.logger.With("component", "authz")
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	dc, err := a.m.dir.Locate(ctx, joinlogic.LocateRequest{Domain: firstNonEmptyStr(ms.DomainFQDN, ms.DomainNetBIOS)})
	if err != nil {
		log.Warn("cannot resolve --admin-group names yet: no domain controller", "err", err)
		return
	}
	sess, err := a.m.dir.Bind(ctx, dc, joinlogic.Credentials{
		Account: joinlogic.Account{User: ms.ClientName, Domain: ms.DomainNetBIOS}, Password: ms.Password.Reveal()})
	if err != nil {
		log.Warn("cannot resolve --admin-group names yet: directory bind as the machine account failed", "err", err)
		return
	}
	defer sess.Close()
	lookup, ok := sess.(interface {
		LookupSID(ctx context.Context, name string) (string, error)
	})
	if !ok {
		log.Error("the directory cannot look up SIDs; name --admin-group entries by SID")
		return
	}
	for _, n := range todo {
		sid, err := lookup.LookupSID(ctx, n)
		if err != nil {
			log.Warn("--admin-group: lookup failed", "name", n, "err", err)
			continue
		}
		a.mu.Lock()
		if strings.EqualFold(a.domain, ms.DomainSID) {
			a.resolved[strings.ToUpper(n)] = sid
		}
		a.mu.Unlock()
		log.Info("--admin-group resolved", "name", n, "sid", sid)
	}
}

func firstNonEmptyStr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
