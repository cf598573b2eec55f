package joinlogic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	wkcrypto "github.com/wkssvcd/wkssvcd/crypto"
	"github.com/wkssvcd/wkssvcd/internal/logsafe"
)

// RenameRequest is NetrRenameMachineInDomain2 (Method 2, RC4 password
// blob) or NetrRenameMachineInDomain3 (Method 3, AES).
type RenameRequest struct {
	Method  int
	Protseq string
	Caller  Caller
	// MachineName is the new name; nil keeps the current one (a rename to
	// the same name writes the host names again, <61>).
	MachineName *string
	// AccountName is nil for NULL: the caller's own account.
	AccountName *string
	Password    PasswordSource
	Options     uint32
}

// AlternateNameRequest is NetrAddAlternateComputerName(2),
// NetrRemoveAlternateComputerName(2) or NetrSetPrimaryComputerName(2).
type AlternateNameRequest struct {
	Protseq string
	Caller  Caller
	// Name is AlternateName or PrimaryName; nil for NULL.
	Name *string
	// DomainAccount is nil for NULL: the caller's own account (and then
	// no password, 3.2.4.18).
	DomainAccount *string
	Password      PasswordSource
	// Reserved holds NET_IGNORE_UNSUPPORTED_FLAGS or nothing.
	Reserved uint32
}

// ComputerNamesRequest is NetrEnumerateComputerNames (MS-WKST 3.2.4.21).
type ComputerNamesRequest struct {
	Protseq  string
	Caller   Caller
	NameType uint32
	Reserved uint32
}

// Rename processes NetrRenameMachineInDomain2/3 (MS-WKST 3.2.4.15,
// 3.2.4.24).
//
// Without NETSETUP_ACCT_CREATE it changes the names locally only. With
// it, the computer object is renamed in ONE modify — sAMAccountName
// (unless NETSETUP_DNS_NAME_CHANGES_ONLY), dNSHostName, the HOST/ SPNs of
// the new names and of the alternate names, and a new machine password —
// then its relative name (CN=NEW) with a modify DN; the keytab of the new
// principals is installed, then the names and the membership are saved.
// Like a join it is one recoverable change: the intent is journaled
// before the write, a failure puts the object, the keytab and the local
// state back, and a crash is settled by Recover, which binds as the new
// account with the new password to learn whether the write happened.
func (j *Joiner) Rename(ctx context.Context, r RenameRequest) Code {
	c := j.rename(ctx, r)
	level := j.log.InfoContext
	if c != NERR_Success {
		level = j.log.WarnContext
	}
	newName := ""
	if r.MachineName != nil {
		newName = *r.MachineName
	}
	level(ctx, "joinlogic: rename", "method", r.Method, logsafe.String("name", newName),
		"options", fmt.Sprintf("0x%08x", r.Options), r.Caller.logAttr(), "result", c.String(), "names", j.Names())
	return c
}

func (j *Joiner) rename(ctx context.Context, r RenameRequest) Code {
	if !validMethod(r.Method) {
		return ERROR_NOT_SUPPORTED
	}
	if !isNamedPipe(r.Protseq) {
		return RPC_S_PROTSEQ_NOT_SUPPORTED
	}
	ch, c := j.beginRPCChange(ctx, r.Caller, r.Password)
	if c != NERR_Success {
		return c
	}
	defer ch.end()
	cur, c := j.loadMembership(ctx)
	if c != NERR_Success {
		return c
	}
	if !cur.Joined() || j.cfg.IsDomainController {
		return NERR_SetupNotJoined
	}
	names := j.namesOf(cur)
	// The new name: its leftmost label converted to NetBIOS as Netlogon
	// does (<85>), its DNS name the label with this computer's DNS suffix
	// (<86>: the primary DNS suffix, else the domain's name).
	requested := names.NetBIOS
	if r.MachineName != nil && *r.MachineName != "" {
		requested = *r.MachineName
	}
	if c := dnsMachineSyntax(requested); c != NERR_Success {
		return c
	}
	nb := NetBIOSNameOf(requested)
	if c := machineSyntax(nb); c != NERR_Success {
		return c
	}
	dnsOnly := r.Options&NETSETUP_DNS_NAME_CHANGES_ONLY != 0
	next := names.clone()
	if !dnsOnly {
		next.NetBIOS = nb
	}
	next.FQDN = renamedFQDN(requested, names.FQDN, cur.DomainFQDN)
	if r.Options&NETSETUP_ACCT_CREATE == 0 {
		// "the server MUST apply the new name locally ... and return
		// successfully": the account keeps its name.
		return j.saveNamesLocally(ctx, IntentRename, cur, names, next)
	}
	if !ch.havePw {
		return j.noDelegation(ctx, "a rename with NETSETUP_ACCT_CREATE", "to rename the computer account", r.Caller)
	}
	return j.renameAccount(ctx, r, ch.pw, cur, names, next, !dnsOnly)
}

// namesOf is the computer's names with, for a member of a domain whose
// names have no DNS name, the dNSHostName its join wrote.
func (j *Joiner) namesOf(m Membership) ComputerName {
	n := j.Names()
	if n.FQDN == "" && m.Joined() {
		n.FQDN = strings.ToLower(m.DNSHostName)
	}
	return n
}

// renamedFQDN is DNSComputerNameString: a requested name with a dot is
// taken whole; a bare label gets the suffix of the current DNS name, or
// the domain's DNS name when there is none.
func renamedFQDN(requested, current, domain string) string {
	if strings.Contains(requested, ".") {
		return strings.ToLower(requested)
	}
	label := strings.ToLower(requested)
	if _, suffix, ok := strings.Cut(current, "."); ok && suffix != "" {
		return label + "." + strings.ToLower(suffix)
	}
	if domain != "" {
		return label + "." + strings.ToLower(domain)
	}
	return label
}

// saveNamesLocally applies a change of names that touches no directory:
// journaled (so that a crash between the names file and the membership
// file is rolled forward), then saved.
func (j *Joiner) saveNamesLocally(ctx context.Context, op IntentOp, cur Membership, prev, next ComputerName) Code {
	in := Intent{Op: op, Next: cur, Previous: cur, SAMAccountName: firstNonEmpty(cur.ClientName, prev.NetBIOS+"$"),
		Started: j.cfg.Now().UTC(), Names: &NamesIntent{Previous: prev, Next: next}}
	if err := j.recordIntent(ctx, in); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: recording the intent", "err", err)
		return codeOf(err, ERROR_INTERNAL_ERROR)
	}
	if err := j.cfg.Names.Save(ctx, next); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: saving the computer names", "err", err)
		j.clearIntent(ctx)
		return codeOf(err, ERROR_INTERNAL_ERROR)
	}
	j.clearIntent(ctx)
	return NERR_Success
}

// renameAccount is the domain side of a rename (3.2.4.15 from "If the
// Options parameter contains NETSETUP_ACCT_CREATE").
func (j *Joiner) renameAccount(ctx context.Context, r RenameRequest, pw string, cur Membership, prev, next ComputerName, samToo bool) Code {
	d, c := j.bindMemberDomain(ctx, r.AccountName, r.Caller, pw, cur)
	if c != NERR_Success {
		return c
	}
	defer d.close(ctx, j.log)
	return j.changeAccountNames(ctx, d, cur, prev, next, samToo, true)
}

// changeAccountNames renames the computer object (and, with object, its
// relative name) to next in one write with a new machine password, then
// commits locally. It is the directory part of a rename and of
// NetrSetPrimaryComputerName2 on a joined machine.
func (j *Joiner) changeAccountNames(ctx context.Context, d *domainSession, cur Membership, prev, next ComputerName, samToo, object bool) Code {
	nw, ok := d.sess.(NameWriter)
	if !ok {
		return ERROR_NOT_SUPPORTED
	}
	oldSAM := firstNonEmpty(cur.ClientName, prev.NetBIOS+"$")
	before, err := nw.ReadNames(ctx, oldSAM)
	if err != nil {
		return j.failed(ctx, "reading the computer account "+oldSAM, err, ERROR_NONE_MAPPED)
	}
	newSAM := oldSAM
	if samToo {
		newSAM = strings.ToUpper(next.NetBIOS) + "$"
	}
	if !strings.EqualFold(newSAM, oldSAM) {
		// Another object may hold the name already.
		if _, found, err := d.sess.FindComputer(ctx, newSAM); err != nil {
			return j.failed(ctx, "searching for "+newSAM, err, ERROR_GEN_FAILURE)
		} else if found {
			return NERR_UserExists
		}
	}
	password, err := wkcrypto.GenerateMachinePassword(j.cfg.Rand)
	if err != nil {
		j.log.ErrorContext(ctx, "joinlogic: generating machine password", "err", err)
		return ERROR_INTERNAL_ERROR
	}
	change := NameChange{DNSHostName: strings.ToLower(next.FQDN), Password: password,
		SPNs: append(hostSPNs(next), otherSPNs(before.SPNs)...)}
	if !strings.EqualFold(newSAM, before.SAMAccountName) {
		change.SAMAccountName = newSAM
	}
	// A name that was an alternate and becomes the primary (or the other
	// way round) moves between dNSHostName and msDS-Additional*.
	change.AddDNS, change.RemoveDNS = alternateDelta(prev, next)
	if next.FQDN == "" {
		change.DNSHostName = ""
	}
	nextM := cur
	nextM.ClientName = newSAM
	nextM.DNSHostName = strings.ToLower(next.FQDN)
	nextM.Password = Secret(password)
	nextM.PreviousPassword = cur.Password
	nextM.PasswordSetTime = j.cfg.Now().UTC()
	cn := ""
	if object && !strings.EqualFold(rdnValue(before.DN), strings.ToUpper(next.NetBIOS)) {
		cn = strings.ToUpper(next.NetBIOS)
	}

	var undo undoStack
	rb := d.rollback()
	defer rb.close(ctx, j.log)
	journaled := false
	fail := j.failWith(ctx, &undo, &journaled, newSAM)
	in := Intent{Op: IntentRename, DC: d.dc, SAMAccountName: newSAM, DirectoryWrite: true, Next: nextM, Previous: cur,
		Keytab: j.cfg.Keytab != nil, Started: j.cfg.Now().UTC(), Names: &NamesIntent{Previous: prev, Next: next, CN: cn}}
	if err := j.recordIntent(ctx, in); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: recording the rename intent", "err", err)
		return codeOf(err, ERROR_INTERNAL_ERROR)
	}
	journaled = true
	// The revert is pushed before the write: a write that failed on the
	// way may still have been applied.
	oldDN, dn := before.DN, before.DN
	back := change.revert(before, cur.Password.Reveal())
	undo.push("restore the computer account's names", func(ctx context.Context) error {
		return rb.do(ctx, func(s Session) error {
			w, ok := s.(NameWriter)
			if !ok {
				return errors.New("joinlogic: the rollback session cannot write names")
			}
			// The object is under its old DN again: the revert of its
			// relative name, pushed later, runs first.
			if err := changeNames(ctx, w, oldDN, oldSAM, back); err != nil {
				return err
			}
			// The old password, set again, has a new key version: the
			// keytab, put back by then, gets it. Should that fail, the
			// keytab keeps the right keys under the former version.
			if j.cfg.Keytab == nil {
				return nil
			}
			kvno, err := s.KeyVersionNumber(ctx, oldDN)
			if err == nil && kvno == 0 {
				err = errNoKeyVersion
			}
			if err == nil {
				_, err = j.cfg.Keytab.Install(ctx, keytabEntriesWithNames(cur, prev, kvno))
			}
			if err != nil {
				j.log.WarnContext(ctx, "joinlogic: the keytab keeps the previous key version of the restored password", "err", err)
			}
			return nil
		})
	})
	if err := changeNames(ctx, nw, dn, newSAM, change); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: renaming the computer account", "dn", dn, "change", change, "err", err)
		return fail(codeOf(err, ERROR_GEN_FAILURE))
	}
	if cn != "" {
		newDN, err := nw.RenameObject(ctx, dn, cn)
		if err != nil {
			j.log.ErrorContext(ctx, "joinlogic: renaming the computer object", "dn", dn, "cn", cn, "err", err)
			return fail(codeOf(err, ERROR_GEN_FAILURE))
		}
		oldCN := rdnValue(dn)
		undo.push("give the computer object its former name", func(ctx context.Context) error {
			return rb.do(ctx, func(s Session) error {
				w, ok := s.(NameWriter)
				if !ok {
					return errors.New("joinlogic: the rollback session cannot rename objects")
				}
				_, err := w.RenameObject(ctx, newDN, oldCN)
				return err
			})
		})
		dn = newDN
	}
	if c := j.commitNames(ctx, cur, nextM, prev, next, func() (uint32, error) { return d.sess.KeyVersionNumber(ctx, dn) }, &undo); c != NERR_Success {
		return fail(c)
	}
	j.log.InfoContext(ctx, "joinlogic: computer account renamed", "from", oldSAM, "to", newSAM, "dn", dn)
	if object && samToo {
		// "Update Display Name using SAMR" (3.2.4.15, 3.2.4.24;
		// 3.2.4.29.5): SAMR looks the account up by its sAMAccountName,
		// NEW$, and sets its FullName — the displayName attribute — to
		// it. "The result of this operation MUST be ignored", so it runs
		// once the rename is committed and nothing reverts it.
		if err := nw.SetDisplayName(ctx, dn, newSAM); err != nil {
			j.log.InfoContext(ctx, "joinlogic: the computer account keeps its display name", "dn", dn, "err", err)
		}
	}
	return NERR_Success
}

// commitNames is the local side of a name change in the domain from
// (prevM, prev) to (m, names): the keytab of the account's names at the
// key version kvno returns (the former names' keys out first), the
// computer names, then the membership, then the intent cleared. Reverts
// go on undo.
func (j *Joiner) commitNames(ctx context.Context, prevM, m Membership, prev, names ComputerName, kvno func() (uint32, error), undo *undoStack) Code {
	if kt := j.cfg.Keytab; kt != nil {
		v, err := kvno()
		if err == nil && v == 0 {
			err = errNoKeyVersion
		}
		if err != nil {
			j.log.ErrorContext(ctx, "joinlogic: reading the key version number", "account", m.ClientName, "err", err)
			return codeOf(err, ERROR_GEN_FAILURE)
		}
		if principalsGo(prevM, m, prev, names) {
			// The keys of names the computer no longer has leave the
			// keytab (Install keeps other principals' keys).
			restore, err := kt.Remove(ctx, keytabEntriesWithNames(prevM, prev, 0))
			if err != nil {
				j.log.ErrorContext(ctx, "joinlogic: removing the former names' keys from the keytab", "err", err)
				return codeOf(err, ERROR_INTERNAL_ERROR)
			}
			undo.push("restore the former names' keys", restore)
		}
		restore, err := kt.Install(ctx, keytabEntriesWithNames(m, names, v))
		if err != nil {
			j.log.ErrorContext(ctx, "joinlogic: installing keytab", "err", err)
			return codeOf(err, ERROR_INTERNAL_ERROR)
		}
		undo.push("restore previous keytab", restore)
	}
	prevNames := j.Names()
	if err := j.cfg.Names.Save(ctx, names); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: saving the computer names", "err", err)
		return codeOf(err, ERROR_INTERNAL_ERROR)
	}
	undo.push("restore the computer names", func(ctx context.Context) error { return j.cfg.Names.Save(ctx, prevNames) })
	if err := j.cfg.Store.Save(ctx, m); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: saving domain membership", "err", err)
		return codeOf(err, ERROR_INTERNAL_ERROR)
	}
	j.clearIntent(ctx)
	return NERR_Success
}

// principalsGo reports whether a change of names from (prevM, prev) to
// (m, next) takes principals away: the account name, the DNS name or an
// alternate name.
func principalsGo(prevM, m Membership, prev, next ComputerName) bool {
	if !strings.EqualFold(prevM.ClientName, m.ClientName) || !strings.EqualFold(prevM.DNSHostName, m.DNSHostName) {
		return true
	}
	for _, a := range prev.Alternates {
		if next.alternate(a.FQDN) < 0 {
			return true
		}
	}
	return false
}

// keytabEntriesWithNames are the keys of the account of m under every
// name of names: the primary and the alternates.
func keytabEntriesWithNames(m Membership, names ComputerName, kvno uint32) KeytabEntries {
	e := keytabEntries(m, kvno)
	for _, a := range names.Alternates {
		e.Aliases = append(e.Aliases, strings.ToLower(a.FQDN), strings.ToUpper(a.NetBIOS))
	}
	return e
}

// alternateDelta is the change of msDS-AdditionalDnsHostName from prev's
// alternates to next's.
func alternateDelta(prev, next ComputerName) (addDNS, removeDNS []string) {
	in := func(list []AlternateName, a AlternateName) bool {
		return slices.ContainsFunc(list, func(x AlternateName) bool { return strings.EqualFold(x.FQDN, a.FQDN) })
	}
	for _, a := range next.Alternates {
		if !in(prev.Alternates, a) {
			addDNS = append(addDNS, strings.ToLower(a.FQDN))
		}
	}
	for _, a := range prev.Alternates {
		if !in(next.Alternates, a) {
			removeDNS = append(removeDNS, strings.ToLower(a.FQDN))
		}
	}
	return
}

// rdnValue is the value of the first RDN of dn ("CN=WS1,CN=Computers,..."
// gives "WS1"), unescaped only as far as names of computers need.
func rdnValue(dn string) string {
	first := dn
	for i := 0; i < len(dn); i++ {
		if dn[i] == '\\' {
			i++
			continue
		}
		if dn[i] == ',' {
			first = dn[:i]
			break
		}
	}
	_, v, _ := strings.Cut(first, "=")
	return strings.TrimSpace(v)
}

// bindMemberDomain binds to a writable DC of the domain cur is joined to,
// as the account the caller named (or the caller itself), for a change of
// the computer object; the caller closes the session.
func (j *Joiner) bindMemberDomain(ctx context.Context, account *string, caller Caller, pw string, cur Membership) (*domainSession, Code) {
	acct, c := callerAccount(account, caller)
	if c != NERR_Success {
		return nil, c
	}
	dc, err := locateDomain(ctx, j.cfg.Directory, LocateRequest{Domain: firstNonEmpty(cur.DomainFQDN, cur.DomainNetBIOS), Writable: true})
	if err != nil {
		return nil, j.failed(ctx, "locating a domain controller", err, ERROR_NO_SUCH_DOMAIN)
	}
	d, err := bindDomain(ctx, j.cfg.Directory, dc, Credentials{Account: acct, Password: pw})
	if err != nil {
		return nil, j.failed(ctx, "binding to "+dc.DCName, err, ERROR_LOGON_FAILURE)
	}
	return d, NERR_Success
}
