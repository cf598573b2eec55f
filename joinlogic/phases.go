package joinlogic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// A domain join is three phases, which the online join (Joiner.Join), the
// provisioning of offline joins (Provisioner) and the application of an
// offline join (Joiner.ApplyOfflineJoin) share:
//
//  1. locate a controller and bind to it, reading the domain's identity
//     (locateDomain, bindDomain);
//  2. provision the computer account: resolve the container, find the
//     object, and create or reset it in ONE directory write
//     (provisionAccount);
//  3. commit locally: the keytab, then the membership, then the intent
//     journal cleared (Joiner.commitLocal).
//
// Each phase returns an error that wraps the MS-ERREF code of its failure
// (codeOf finds it) together with its cause, and records the reverts of
// what it changed on an undo stack that the caller runs when a later step
// fails.

// domainSession is what phase 1 yields: a session bound on a located
// controller, and the domain's identity as that controller reports it.
type domainSession struct {
	dir  Directory
	dc   DCInfo
	cred Credentials
	sess Session
	info DomainInfo
}

// locateDomain finds (or, with req.DCName, validates) a controller of
// req.Domain: the two DsrGetDcNameEx2 attempts of MS-WKST 3.2.4.13.3 and
// their ERROR_NO_SUCH_DOMAIN / ERROR_INVALID_DOMAIN_ROLE outcomes, which
// the Directory implements.
func locateDomain(ctx context.Context, dir Directory, req LocateRequest) (DCInfo, error) {
	if dir == nil {
		return DCInfo{}, fmt.Errorf("%w: no directory is configured", ERROR_NO_SUCH_DOMAIN)
	}
	dc, err := dir.Locate(ctx, req)
	if err != nil {
		return DCInfo{}, causeErr(err, ERROR_NO_SUCH_DOMAIN)
	}
	return dc, nil
}

// causeErr keeps cause and makes sure the code it surfaces as is in the
// chain: the cause's own code, else fallback (or the code of a cancelled
// or timed-out context).
func causeErr(cause error, fallback Code) error {
	var c Code
	if errors.As(cause, &c) && c != NERR_Success {
		return cause
	}
	return fmt.Errorf("%w: %w", codeOf(cause, fallback), cause)
}

// bindDomain opens the session with dc as cred and queries the domain's
// name and SID (MS-LSAD 3.1.4.4.3). The caller closes the session.
func bindDomain(ctx context.Context, dir Directory, dc DCInfo, cred Credentials) (*domainSession, error) {
	sess, err := dir.Bind(ctx, dc, cred)
	if err != nil {
		return nil, causeErr(err, ERROR_LOGON_FAILURE)
	}
	d := &domainSession{dir: dir, dc: dc, cred: cred, sess: sess}
	info, err := sess.DomainInfo(ctx)
	if err == nil && (info.SID == "" || (info.NetBIOSName == "" && info.DNSName == "")) {
		err = fmt.Errorf("%w: %s reports no domain SID or name", ERROR_NO_SUCH_DOMAIN, dc.DCName)
	}
	if err != nil {
		sess.Close()
		return nil, causeErr(err, ERROR_NO_SUCH_DOMAIN)
	}
	d.info = info
	return d, nil
}

// close ends the session.
func (d *domainSession) close(ctx context.Context, log *slog.Logger) {
	if err := d.sess.Close(); err != nil {
		log.WarnContext(ctx, "joinlogic: closing directory session", "err", err)
	}
}

// rollback returns the session the undo steps of the caller use.
func (d *domainSession) rollback() *rollbackSession {
	return &rollbackSession{dir: d.dir, dc: d.dc, cred: d.cred, sess: d.sess}
}

// domainDNSName is the DNS name of the domain, lower case.
func (d *domainSession) domainDNSName() string {
	return strings.ToLower(firstNonEmpty(d.info.DNSName, d.dc.DomainDNS))
}

// existingAccount says what phase 2 does with a computer object that
// already exists.
type existingAccount int

const (
	// reuseExisting reuses it (NETSETUP_ACCT_CREATE, djoin /reuse), unless
	// an explicit container was asked for and the object lives in another
	// (NERR_UserExists); a missing one is created.
	reuseExisting existingAccount = iota
	// requireExisting needs it (a join without NETSETUP_ACCT_CREATE): a
	// missing one is ERROR_NONE_MAPPED.
	requireExisting
	// refuseExisting fails with NERR_UserExists (djoin /provision without
	// /reuse, as Windows does).
	refuseExisting
)

// accountRequest describes the computer object of phase 2.
type accountRequest struct {
	// Name is ComputerNameNetBIOS, upper case: the object's CN and, with
	// '$', its sAMAccountName (ComputerAccountString).
	Name string
	// OU is MachineAccountOUString; "" means the domain's well-known
	// computers container.
	OU       string
	Existing existingAccount
	// Update is the one write: password, and the host names when
	// Update.HostNames.
	Update ComputerUpdate
	// NoWrite leaves the directory alone (read-only joins): the object is
	// found and, with VerifyPassword, checked only.
	NoWrite bool
	// VerifyPassword checks Update.Password against an existing object
	// before anything is written (unsecure joins, MS-WKST 3.2.4.13.3).
	VerifyPassword bool
	// RestorePassword, when not empty, is the password an existing object
	// is known to hold (a re-join of this machine's own account): a
	// rollback of the reset writes it back.
	RestorePassword string
}

// sam is ComputerAccountString.
func (r accountRequest) sam() string { return r.Name + "$" }

// provisionedAccount is what phase 2 yields.
type provisionedAccount struct {
	ComputerAccount
	// Created is true when the object was added; false when an existing
	// one was reused (reset, or only checked with NoWrite).
	Created bool
	// Container is the resolved MachineAccountOUString.
	Container string
}

// provisionAccount is phase 2 (MS-WKST 3.2.4.13.3): it resolves the
// container (ERROR_FILE_NOT_FOUND when absent), finds the object, applies
// req.Existing, snapshots an existing object for rollback, verifies the
// password when asked, calls beforeWrite (which journals the intent; a
// failure stops before the write), and writes: one add for a new object,
// one modify for an existing one. Reverts go on undo, run through rb.
func provisionAccount(ctx context.Context, d *domainSession, rb *rollbackSession, undo *undoStack, req accountRequest, beforeWrite func() error) (provisionedAccount, error) {
	sess := d.sess
	var out provisionedAccount
	ouDN, explicitOU := req.OU, req.OU != ""
	if !explicitOU {
		var err error
		if ouDN, err = sess.ComputersContainer(ctx); err != nil {
			return out, causeErr(err, ERROR_FILE_NOT_FOUND)
		}
	}
	exists, err := sess.ContainerExists(ctx, ouDN)
	if err != nil {
		return out, causeErr(err, ERROR_FILE_NOT_FOUND)
	}
	if !exists {
		return out, fmt.Errorf("%w: the container %s does not exist", ERROR_FILE_NOT_FOUND, ouDN)
	}
	out.Container = ouDN

	sam := req.sam()
	acct, found, err := sess.FindComputer(ctx, sam)
	if err != nil {
		return out, causeErr(err, ERROR_GEN_FAILURE)
	}
	switch req.Existing {
	case reuseExisting:
		if found && explicitOU && !sameDN(acct.ParentDN, ouDN) {
			return out, fmt.Errorf("%w: %s exists as %s, outside %s", NERR_UserExists, sam, acct.DN, ouDN)
		}
		// An existing object in the requested (or the default) container
		// is reused. The specification words this case as "return
		// NERR_Success", yet the remaining statements (password, SPNs,
		// local state) are what make the machine joined, so processing
		// continues with the existing object.
	case requireExisting:
		if !found {
			return out, fmt.Errorf("%w: no computer account %s", ERROR_NONE_MAPPED, sam)
		}
	case refuseExisting:
		if found {
			return out, fmt.Errorf("%w: the computer account %s exists (%s)", NERR_UserExists, sam, acct.DN)
		}
	}
	if found && !req.NoWrite {
		// Remember what the write overwrites (<78>: the original state is
		// kept in memory for the duration of the call).
		snap, err := sess.Snapshot(ctx, acct.DN)
		if err != nil {
			return out, causeErr(err, ERROR_GEN_FAILURE)
		}
		undo.push("restore computer account", func(ctx context.Context) error {
			return rb.do(ctx, func(s Session) error { return s.Restore(ctx, snap) })
		})
	}
	if found && req.VerifyPassword {
		if err := sess.VerifyMachinePassword(ctx, sam, req.Update.Password); err != nil {
			return out, causeErr(err, ERROR_LOGON_FAILURE)
		}
	}
	if beforeWrite != nil {
		if err := beforeWrite(); err != nil {
			return out, causeErr(err, ERROR_INTERNAL_ERROR)
		}
	}

	// The directory side: ONE LDAP operation, applied atomically by the
	// controller.
	upd := req.Update
	switch {
	case !found:
		acct, err = sess.CreateComputer(ctx, NewComputer{ContainerDN: ouDN, CommonName: req.Name, SAMAccountName: sam, ComputerUpdate: upd})
		if err != nil {
			c := codeOf(err, ERROR_GEN_FAILURE)
			if answerMayBeLost(c) {
				// The add may have been applied before the connection
				// broke; remove what it would have left.
				undo.push("delete computer account of an unanswered create", func(ctx context.Context) error {
					return rb.do(ctx, func(s Session) error { return deleteUnfinished(ctx, s, sam, ouDN, upd.Password) })
				})
			}
			return out, causeErr(err, ERROR_GEN_FAILURE)
		}
		dn := acct.DN
		undo.push("delete created computer account", func(ctx context.Context) error {
			return rb.do(ctx, func(s Session) error { return s.DeleteComputer(ctx, dn) })
		})
		out.Created = true
	case !req.NoWrite:
		// unicodePwd cannot be read back, so a rollback can give an
		// existing account its former password only when this machine
		// knows it. The push comes before the change, since a failed
		// modify may still have been applied.
		if prev := req.RestorePassword; prev != "" && prev != upd.Password {
			dn := acct.DN
			undo.push("restore previous machine password", func(ctx context.Context) error {
				return rb.do(ctx, func(s Session) error { return s.ResetComputer(ctx, dn, ComputerUpdate{Password: prev}) })
			})
		}
		if err := sess.ResetComputer(ctx, acct.DN, upd); err != nil {
			return out, causeErr(err, ERROR_GEN_FAILURE)
		}
	}
	out.ComputerAccount = acct
	return out, nil
}

// hostNames returns dNSHostName and the SPNs of a computer named name
// (upper case) whose DNS host name is dnsName: Spn1 = "HOST/" +
// DNSComputerNameString and the NetBIOS-based SPN. The text of
// 3.2.4.13.3 builds Spn2 from ComputerAccountString, which would give
// "HOST/NAME$"; the attribute table of 3.2.4.13.2 calls it the
// NetBIOS-based SPN and 3.2.4.15 builds it from the bare computer name,
// which is what AD and its clients use, so the '$' is left out.
func hostNames(name, dnsName string) []string {
	return []string{"HOST/" + dnsName, "HOST/" + name}
}

// joinedDNSHostName is the dNSHostName a join writes for the computer
// named name (NetBIOS) into the domain whose DNS name is domain: the
// configured ComputerNameFQDN when it is a fully qualified name, else its
// single label (or the NetBIOS name in lower case) followed by the
// domain's DNS name — what Samba's net ads join writes for a host whose
// name has no domain part, so that HOST/ SPNs and Kerberos service names
// are fully qualified.
func joinedDNSHostName(configured, name, domain string) string {
	h := strings.TrimSuffix(configured, ".")
	if h == "" {
		h = strings.ToLower(name)
	}
	if !strings.Contains(h, ".") && domain != "" {
		h += "." + strings.ToLower(strings.TrimSuffix(domain, "."))
	}
	return h
}

// commitLocal is phase 3: the keytab of the account at the key version
// kvno returns (asked only when a keytab is kept), installed last before
// the membership so that every failure up to the save puts the previous
// keytab back; then the membership, saved atomically; then the intent
// cleared. Reverts go on undo; the caller runs them on failure.
func (j *Joiner) commitLocal(ctx context.Context, next Membership, kvno func() (uint32, error), undo *undoStack) Code {
	if kt := j.cfg.Keytab; kt != nil {
		v, err := kvno()
		if err == nil && v == 0 {
			err = errNoKeyVersion
		}
		if err != nil {
			j.log.ErrorContext(ctx, "joinlogic: reading the key version number", "account", next.ClientName, "err", err)
			return codeOf(err, ERROR_GEN_FAILURE)
		}
		ent := keytabEntries(next, v)
		restore, err := kt.Install(ctx, ent)
		if err != nil {
			j.log.ErrorContext(ctx, "joinlogic: installing keytab", "keytab", ent, "err", err)
			return codeOf(err, ERROR_INTERNAL_ERROR)
		}
		undo.push("restore previous keytab", restore)
	}
	if err := j.cfg.Store.Save(ctx, next); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: saving domain membership", "err", err)
		return codeOf(err, ERROR_INTERNAL_ERROR)
	}
	j.clearIntent(ctx)
	return NERR_Success
}
