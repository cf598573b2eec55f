package joinlogic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wkssvcd/wkssvcd/internal/logsafe"
)

// The alternate-name methods keep alternate-computer-names (MS-WKST
// 3.2.1.2) as Windows does: locally in the NameStore, and on the
// computer object of a joined machine in msDS-AdditionalDnsHostName and
// the HOST/ SPNs of each name, with the keytab holding their principals
// (not msDS-AdditionalSamAccountName: see NameChange). Each change is journaled; a failure
// puts the directory, the keytab and the names back.

// altOp is one of the three alternate-name methods.
type altOp int

const (
	altAdd altOp = iota
	altRemove
	altSetPrimary
)

func (o altOp) String() string {
	return [...]string{"add alternate name", "remove alternate name", "set primary name"}[o]
}

// AddAlternateName processes NetrAddAlternateComputerName(2) (MS-WKST
// 3.2.4.18, 3.2.4.26).
func (j *Joiner) AddAlternateName(ctx context.Context, r AlternateNameRequest) Code {
	return j.alternate(ctx, altAdd, r)
}

// RemoveAlternateName processes NetrRemoveAlternateComputerName(2)
// (MS-WKST 3.2.4.19, 3.2.4.27).
func (j *Joiner) RemoveAlternateName(ctx context.Context, r AlternateNameRequest) Code {
	return j.alternate(ctx, altRemove, r)
}

// SetPrimaryName processes NetrSetPrimaryComputerName(2) (MS-WKST
// 3.2.4.20, 3.2.4.28): an alternate name becomes the primary one and the
// primary one an alternate. On a joined machine this renames the
// computer account as a rename does (sAMAccountName, dNSHostName, SPNs,
// msDS-Additional*, a new password), not its relative name.
func (j *Joiner) SetPrimaryName(ctx context.Context, r AlternateNameRequest) Code {
	return j.alternate(ctx, altSetPrimary, r)
}

func (j *Joiner) alternate(ctx context.Context, op altOp, r AlternateNameRequest) Code {
	c := j.alternateName(ctx, op, r)
	level := j.log.InfoContext
	if c != NERR_Success {
		level = j.log.WarnContext
	}
	name := ""
	if r.Name != nil {
		name = *r.Name
	}
	level(ctx, "joinlogic: "+op.String(), logsafe.String("name", name), r.Caller.logAttr(), "result", c.String(), "names", j.Names())
	return c
}

// checkReserved is the rule of the Reserved parameter (3.2.4.18): with
// NET_IGNORE_UNSUPPORTED_FLAGS the other bits are ignored, without it
// they must be 0.
func checkReserved(v uint32) Code {
	if v&NET_IGNORE_UNSUPPORTED_FLAGS == 0 && v != 0 {
		return ERROR_INVALID_FLAGS
	}
	return NERR_Success
}

// alternateNameSyntax validates AlternateName or PrimaryName as
// 3.2.4.18 lists the rules: ERROR_INVALID_NAME for the structure,
// DNS_ERROR_INVALID_NAME_CHAR for the characters.
func alternateNameSyntax(name string) Code {
	if c := dnsMachineSyntax(name); c != NERR_Success {
		return c
	}
	if machineSyntax(NetBIOSNameOf(name)) != NERR_Success {
		return ERROR_INVALID_NAME
	}
	return NERR_Success
}

func (j *Joiner) alternateName(ctx context.Context, op altOp, r AlternateNameRequest) Code {
	if !isNamedPipe(r.Protseq) {
		return RPC_S_PROTSEQ_NOT_SUPPORTED
	}
	end, ok := j.tryBeginChange()
	if !ok {
		return RPC_S_CALL_IN_PROGRESS // <103>, <110>, <117>
	}
	defer end()
	if c := checkChangeConfig(r.Caller); c != NERR_Success {
		return c
	}
	if c := checkReserved(r.Reserved); c != NERR_Success {
		return c
	}
	if c := j.settleBeforeChange(ctx); c != NERR_Success {
		return c
	}
	// "If EncryptedPassword is NULL or DomainAccount is NULL,
	// PasswordString MUST be NULL."
	var pw string
	havePw := false
	if r.DomainAccount != nil {
		var c Code
		if pw, havePw, c = decryptPassword(r.Password); c != NERR_Success {
			return c
		}
	}
	if r.Name == nil {
		return ERROR_INVALID_PARAMETER
	}
	name := strings.TrimSuffix(*r.Name, ".")
	if c := alternateNameSyntax(name); c != NERR_Success {
		return c
	}
	cur, c := j.loadMembership(ctx)
	if c != NERR_Success {
		return c
	}
	prev := j.namesOf(cur)
	next := prev.clone()
	tuple := AlternateName{NetBIOS: NetBIOSNameOf(name), FQDN: strings.ToLower(name)}
	i := prev.alternate(name)
	switch op {
	case altAdd:
		if strings.EqualFold(name, prev.FQDN) || i >= 0 {
			// Already a name of this computer: nothing to add.
			return NERR_Success
		}
		next.Alternates = append(next.Alternates, tuple)
	case altRemove:
		if i < 0 {
			return ERROR_NOT_FOUND
		}
		next.Alternates = slices.Delete(next.Alternates, i, i+1)
	case altSetPrimary:
		if i < 0 {
			// PrimaryName must be one of the alternate names.
			return ERROR_NOT_FOUND
		}
		next.Alternates = slices.Delete(next.Alternates, i, i+1)
		if prev.FQDN != "" {
			next.Alternates = append(next.Alternates, AlternateName{NetBIOS: prev.NetBIOS, FQDN: strings.ToLower(prev.FQDN)})
		}
		next.NetBIOS, next.FQDN = tuple.NetBIOS, tuple.FQDN
	}
	if !cur.Joined() {
		// "If the server is not joined to a domain, proceed to step 22":
		// the names are local only.
		return j.saveNamesLocally(ctx, IntentNames, cur, prev, next)
	}

	// The domain side, with DomainAccount's credentials.
	if !havePw {
		return j.noDelegation(ctx, "a change of names of a domain member", "to change the computer account", r.Caller)
	}
	d, c := j.bindMemberDomain(ctx, r.DomainAccount, r.Caller, pw, cur)
	if c != NERR_Success {
		return c
	}
	defer d.close(ctx, j.log)
	if op == altSetPrimary {
		return j.changeAccountNames(ctx, d, cur, prev, next, true, false)
	}
	return j.changeAlternate(ctx, d, cur, prev, next, tuple, op == altAdd)
}

// changeAlternate adds or removes one alternate name of a joined
// machine's computer object in one modify, then commits locally.
func (j *Joiner) changeAlternate(ctx context.Context, d *domainSession, cur Membership, prev, next ComputerName, tuple AlternateName, add bool) Code {
	nw, ok := d.sess.(NameWriter)
	if !ok {
		return ERROR_NOT_SUPPORTED
	}
	sam := firstNonEmpty(cur.ClientName, prev.NetBIOS+"$")
	before, err := nw.ReadNames(ctx, sam)
	if err != nil {
		return j.failed(ctx, "reading the computer account "+sam, err, ERROR_NONE_MAPPED)
	}
	change := NameChange{SPNs: append(hostSPNs(next), otherSPNs(before.SPNs)...)}
	change.AddDNS, change.RemoveDNS = alternateDelta(prev, next)

	var undo undoStack
	rb := d.rollback()
	defer rb.close(ctx, j.log)
	journaled := false
	fail := j.failWith(ctx, &undo, &journaled, sam)
	in := Intent{Op: IntentNames, DC: d.dc, SAMAccountName: sam, DirectoryWrite: true, Next: cur, Previous: cur,
		Keytab: j.cfg.Keytab != nil, Started: j.cfg.Now().UTC(),
		Names: &NamesIntent{Previous: prev, Next: next, Alternate: tuple.FQDN, Present: add}}
	if err := j.recordIntent(ctx, in); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: recording the names intent", "err", err)
		return codeOf(err, ERROR_INTERNAL_ERROR)
	}
	journaled = true
	dn := before.DN
	back := change.revert(before, "")
	undo.push("restore the computer account's names", func(ctx context.Context) error {
		return rb.do(ctx, func(s Session) error {
			w, ok := s.(NameWriter)
			if !ok {
				return errors.New("joinlogic: the rollback session cannot write names")
			}
			return w.ChangeNames(ctx, dn, back)
		})
	})
	if err := nw.ChangeNames(ctx, dn, change); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: changing the alternate names", "dn", dn, "change", change, "err", err)
		return fail(codeOf(err, ERROR_GEN_FAILURE))
	}
	if c := j.commitNames(ctx, cur, cur, prev, next, func() (uint32, error) { return d.sess.KeyVersionNumber(ctx, dn) }, &undo); c != NERR_Success {
		return fail(c)
	}
	return NERR_Success
}

// ComputerNames processes NetrEnumerateComputerNames (MS-WKST 3.2.4.21):
// administrators only; NetPrimaryComputerName gives ComputerNameFQDN,
// NetAlternateComputerNames the alternate names' FQDNs, NetAllComputerNames
// both.
func (j *Joiner) ComputerNames(ctx context.Context, r ComputerNamesRequest) ([]string, Code) {
	if !isNamedPipe(r.Protseq) {
		return nil, RPC_S_PROTSEQ_NOT_SUPPORTED
	}
	if c := checkChangeConfig(r.Caller); c != NERR_Success {
		return nil, c
	}
	if c := checkReserved(r.Reserved); c != NERR_Success {
		return nil, c
	}
	if r.NameType >= NetComputerNameTypeMax {
		return nil, ERROR_INVALID_PARAMETER
	}
	if err := ctx.Err(); err != nil {
		return nil, codeOf(err, ERROR_CANCELLED)
	}
	n := j.Names()
	primary := firstNonEmpty(n.FQDN, n.NetBIOS)
	var out []string
	if r.NameType == NetPrimaryComputerName || r.NameType == NetAllComputerNames {
		out = append(out, primary)
	}
	if r.NameType == NetAlternateComputerNames || r.NameType == NetAllComputerNames {
		for _, a := range n.Alternates {
			out = append(out, a.FQDN)
		}
	}
	return out, NERR_Success
}

// settleNames settles a rename or alternate-name intent; the caller
// holds busy. Without a directory write it rolls forward locally. A
// rename binds as the new account with the new password, which works
// exactly when its one write happened; an alternate-name change binds as
// the machine account and reads whether the name is on the object.
func (j *Joiner) settleNames(ctx context.Context, in Intent) (pending bool, err error) {
	log := j.log.With("intent", in)
	if !in.DirectoryWrite {
		log.InfoContext(ctx, "joinlogic: recovery: finishing an interrupted local change of the computer names")
		return j.finishNames(ctx, in, nil)
	}
	dir := j.cfg.Directory
	if dir == nil {
		return true, nil
	}
	cred := Credentials{Account: Account{User: in.SAMAccountName, Domain: in.Next.DomainNetBIOS}, Password: in.Next.Password.Reveal()}
	sess, err := dir.Bind(ctx, in.DC, cred)
	c := codeOf(err, ERROR_GEN_FAILURE)
	switch {
	case err == nil:
		defer func() {
			if cerr := sess.Close(); cerr != nil {
				log.WarnContext(ctx, "joinlogic: closing the recovery session", "err", cerr)
			}
		}()
	case c == ERROR_LOGON_FAILURE && in.Op == IntentRename:
		log.InfoContext(ctx, "joinlogic: recovery: the rename's directory write was not applied; the previous names stand")
		return false, j.journal.Clear(ctx)
	default:
		log.WarnContext(ctx, "joinlogic: recovery: domain controller unreachable", "err", err)
		return true, nil
	}
	if in.Op == IntentRename {
		log.InfoContext(ctx, "joinlogic: recovery: the rename's directory write was applied; completing the rename")
		return j.finishNames(ctx, in, sess)
	}
	nw, ok := sess.(NameWriter)
	if !ok {
		return true, nil
	}
	names, err := nw.ReadNames(ctx, in.SAMAccountName)
	if err != nil {
		log.WarnContext(ctx, "joinlogic: recovery: reading the computer account", "err", err)
		return true, nil
	}
	present := slices.ContainsFunc(names.AdditionalDNS, func(v string) bool { return strings.EqualFold(v, in.Names.Alternate) })
	if present != in.Names.Present {
		log.InfoContext(ctx, "joinlogic: recovery: the alternate-name change was not applied; the previous names stand")
		return false, j.journal.Clear(ctx)
	}
	log.InfoContext(ctx, "joinlogic: recovery: the alternate-name change was applied; completing it")
	return j.finishNames(ctx, in, sess)
}

// finishNames rolls a names intent forward: the keytab (its key version
// read through sess, bound as the machine account), the names, the
// membership; then, for a rename of the object, its relative name,
// which the machine account may not be allowed to change (a warning says
// so). A failure leaves the intent pending.
func (j *Joiner) finishNames(ctx context.Context, in Intent, sess Session) (pending bool, err error) {
	fail := func(err error) (bool, error) {
		j.log.ErrorContext(ctx, "joinlogic: recovery: completing the interrupted change of names failed; will retry", "intent", in, "err", err)
		return true, nil
	}
	var dn string
	if sess != nil {
		acct, found, err := sess.FindComputer(ctx, in.SAMAccountName)
		if err == nil && !found {
			err = fmt.Errorf("joinlogic: %s not found: %w", in.SAMAccountName, ERROR_NONE_MAPPED)
		}
		if err != nil {
			return fail(err)
		}
		dn = acct.DN
		if j.cfg.Keytab != nil && in.Keytab {
			kvno, err := sess.KeyVersionNumber(ctx, dn)
			if err == nil && kvno == 0 {
				err = errNoKeyVersion
			}
			if err != nil {
				return fail(err)
			}
			if principalsGo(in.Previous, in.Next, in.Names.Previous, in.Names.Next) {
				if _, err := j.cfg.Keytab.Remove(ctx, keytabEntriesWithNames(in.Previous, in.Names.Previous, 0)); err != nil {
					return fail(fmt.Errorf("joinlogic: recovery: removing the former names' keys: %w", err))
				}
			}
			if _, err := j.cfg.Keytab.Install(ctx, keytabEntriesWithNames(in.Next, in.Names.Next, kvno)); err != nil {
				return fail(fmt.Errorf("joinlogic: recovery: installing keytab: %w", err))
			}
		}
	}
	if err := j.cfg.Names.Save(ctx, in.Names.Next); err != nil {
		return fail(err)
	}
	if err := j.cfg.Store.Save(ctx, in.Next); err != nil {
		return fail(err)
	}
	if in.Names.CN != "" && dn != "" && !strings.EqualFold(rdnValue(dn), in.Names.CN) {
		if nw, ok := sess.(NameWriter); ok {
			if _, err := nw.RenameObject(ctx, dn, in.Names.CN); err != nil {
				j.log.WarnContext(ctx, "joinlogic: recovery: the computer object keeps its former relative name; rename it to CN="+in.Names.CN+" as a domain administrator",
					"dn", dn, "err", err)
			}
		}
	}
	if err := j.journal.Clear(ctx); err != nil {
		return true, err
	}
	j.log.InfoContext(ctx, "joinlogic: recovery: completed", "names", in.Names.Next)
	return false, nil
}
