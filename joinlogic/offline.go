package joinlogic

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Applying an offline domain join (djoin /requestodj,
// NetRequestOfflineDomainJoin): the account was provisioned elsewhere, and
// its provisioning file holds everything the membership and the keytab
// need. Nothing goes over the network: this is phase 3 of a join alone
// (commitLocal), journaled like any join so that a crash leaves the old
// state or the new one.

// IntentOfflineJoin journals an offline join; recovery finishes it
// locally, without a controller.
const IntentOfflineJoin IntentOp = "offline-join"

// DefaultOfflineKVNO is the key version an offline join gives the keytab
// when the caller knows none: the provisioning file carries no key
// version, and an account that was just created with its password has
// version 1 (Windows and Samba both start there). A file made with
// "reuse" (an existing account reset) has a higher one; kinit -k works
// with any version, only service tickets are checked against it.
const DefaultOfflineKVNO = 1

// OfflineJoin is what a provisioning file gives a machine.
type OfflineJoin struct {
	// The domain: DomainDNS is required, as are DomainSID and one of the
	// names.
	DomainNetBIOS, DomainDNS, ForestDNS, DomainSID, DomainGUID string
	// MachineName is the computer's name as the file names it. Unless
	// NetBIOSName is set, it is the NetBIOS name and must be this
	// computer's.
	MachineName string
	// NetBIOSName, SiteName (PersistentSite when it is permanent) and
	// PrimaryDNSDomain are a file's JOIN_PROVIDER2 settings (djoin
	// /netbios, /psite or /dsite, /primarydns). NetBIOSName, when set, is
	// the computer's NetBIOS name (must be this computer's) and
	// MachineName its host name; the computer's DNS name is MachineName
	// followed by PrimaryDNSDomain, by default the domain's DNS name.
	NetBIOSName, SiteName, PrimaryDNSDomain string
	PersistentSite                          bool
	// Password is the machine password. Required.
	Password Secret
	// AccountRID, AccountSID and AccountGUID identify the account, when
	// the file has them.
	AccountRID              uint32
	AccountSID, AccountGUID string
	// DC is the controller the provisioning used (name without "\\",
	// address, sites).
	DC DCInfo
	// KVNO is the key version of Password for the keytab; 0 means
	// DefaultOfflineKVNO.
	KVNO uint32
	// File identifies the provisioning file (Membership.OfflineJoinFile).
	File string
	// Replace lets the join replace a domain membership this computer
	// already has (a computer whose account was provisioned again, with a
	// new password); without it an existing membership is
	// NERR_SetupAlreadyJoined.
	Replace bool
}

// LogValue keeps the password out of logs.
func (o OfflineJoin) LogValue() slog.Value {
	return slog.GroupValue(slog.String("domain", o.DomainDNS), slog.String("machine", o.MachineName),
		slog.String("account_sid", o.AccountSID), slog.String("dc", o.DC.DCName), slog.String("file", o.File))
}

// ApplyOfflineJoin makes this computer a member of the domain of o with
// no network: it checks o against this computer (its NetBIOS name must be
// o.MachineName, as Samba requires), journals the intent, installs the
// keytab and saves the membership. It waits for a join or unjoin in
// progress (until ctx ends). Its errors wrap the Code they surface as.
// Afterwards NetrGetJoinInformation reports the domain and an unjoin
// works as after an online join.
func (j *Joiner) ApplyOfflineJoin(ctx context.Context, o OfflineJoin) error {
	err := j.applyOffline(ctx, o)
	c := codeOf(err, ERROR_GEN_FAILURE)
	if err != nil {
		j.log.InfoContext(ctx, "joinlogic: offline join failed", "join", o, "code", c.String(), "cause", err)
	} else {
		j.log.InfoContext(ctx, "joinlogic: offline join", "join", o, "result", c.String())
	}
	return err
}

func (j *Joiner) applyOffline(ctx context.Context, o OfflineJoin) error {
	if err := lockCtx(ctx, &j.busy); err != nil {
		return fmt.Errorf("%w: waiting for a join in progress: %w", RPC_S_CALL_IN_PROGRESS, err)
	}
	defer j.busy.Unlock()
	unlock, err := j.lockState(ctx)
	if err != nil {
		return fmt.Errorf("%w: waiting for another process changing the membership: %w", RPC_S_CALL_IN_PROGRESS, err)
	}
	defer unlock()
	if c := j.settleBeforeChange(ctx); c != NERR_Success {
		return fmt.Errorf("%w: an interrupted join or unjoin awaits the domain controller", c)
	}
	if j.cfg.IsDomainController {
		return NERR_SetupDomainController
	}
	name := j.netbiosName()
	fileName := firstNonEmpty(o.NetBIOSName, strings.TrimSuffix(o.MachineName, "$"))
	if !strings.EqualFold(fileName, name) {
		return fmt.Errorf("%w: the file is for the computer %q; this computer is %s", NERR_InvalidComputer, fileName, name)
	}
	host := strings.ToLower(strings.TrimSuffix(o.MachineName, "$"))
	if o.PrimaryDNSDomain != "" {
		host += "." + strings.ToLower(strings.TrimSuffix(o.PrimaryDNSDomain, "."))
	}
	switch {
	case o.DomainDNS == "" || o.DomainSID == "":
		return fmt.Errorf("%w: the join data lacks the domain's DNS name or SID", ERROR_INVALID_PARAMETER)
	case o.Password == "":
		return fmt.Errorf("%w: the join data holds no machine password", ERROR_INVALID_PASSWORD)
	case dnsMachineSyntax(o.DomainDNS) != NERR_Success:
		return fmt.Errorf("%w: %q is not a domain name", ERROR_INVALID_DOMAINNAME, o.DomainDNS)
	}
	dom := strings.ToLower(o.DomainDNS)
	dnsHostName := joinedDNSHostName(host, name, dom)
	cur, err := j.cfg.Store.Load()
	if err != nil {
		return fmt.Errorf("%w: loading membership: %w", ERROR_INTERNAL_ERROR, err)
	}
	if cur.Joined() && !o.Replace {
		return fmt.Errorf("%w: this computer is a member of %s; unjoin first", NERR_SetupAlreadyJoined, firstNonEmpty(cur.DomainFQDN, cur.DomainNetBIOS))
	}
	kvno := o.KVNO
	if kvno == 0 {
		kvno = DefaultOfflineKVNO
	}
	sam := name + "$"
	next := Membership{
		DomainNetBIOS:  strings.ToUpper(o.DomainNetBIOS),
		DomainFQDN:     dom,
		DomainSID:      o.DomainSID,
		DomainGUID:     o.DomainGUID,
		ForestFQDN:     strings.ToLower(firstNonEmpty(o.ForestDNS, dom)),
		SiteName:       firstNonEmpty(o.SiteName, o.DC.ClientSite),
		PersistentSite: o.SiteName != "" && o.PersistentSite,
		ClientName:     sam,
		// The account's dNSHostName as provisioning wrote it (djoin, Samba
		// and wkst provision alike).
		DNSHostName:     dnsHostName,
		Password:        o.Password,
		PasswordSetTime: j.cfg.Now().UTC(),
		AccountSID:      o.AccountSID,
		AccountRID:      o.AccountRID,
		AccountGUID:     o.AccountGUID,
		DCName:          o.DC.DCName,
		DCAddress:       o.DC.DCAddress,
		DCSite:          o.DC.DCSiteName,
		OfflineJoinFile: o.File,
	}
	if cur.Joined() && strings.EqualFold(cur.DomainSID, o.DomainSID) {
		next.PreviousPassword = cur.Password
	}
	if err := next.validate(); err != nil {
		return fmt.Errorf("%w: %w", ERROR_INVALID_PARAMETER, err)
	}
	var undo undoStack
	journaled := false
	fail := j.failWith(ctx, &undo, &journaled, sam)
	if err := j.recordIntent(ctx, Intent{Op: IntentOfflineJoin, DC: o.DC, SAMAccountName: sam, Next: next, Previous: cur,
		Keytab: j.cfg.Keytab != nil, KVNO: kvno, Started: j.cfg.Now().UTC()}); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: recording the offline join intent", "err", err)
		return fail(codeOf(err, ERROR_INTERNAL_ERROR))
	}
	journaled = true
	if c := j.commitLocal(ctx, next, func() (uint32, error) { return kvno, nil }, &undo); c != NERR_Success {
		return fail(c)
	}
	return nil
}
