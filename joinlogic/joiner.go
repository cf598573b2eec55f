package joinlogic

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	wkcrypto "github.com/wkssvcd/wkssvcd/crypto"
	"github.com/wkssvcd/wkssvcd/internal/logsafe"
)

// ProtseqNamedPipe is the only RPC protocol sequence the join methods serve
// (MS-WKST 3.2.4.13.1: NCACN_NP).
const ProtseqNamedPipe = "ncacn_np"

// maxPasswordBytes bounds PasswordString: the Length member of
// JOINPR_USER_PASSWORD MUST be less than 513 (MS-WKST 3.2.4.13.1).
const maxPasswordBytes = 512

// Caller is the identity of the RPC caller, as the transport established it.
type Caller struct {
	// User and Domain name the authenticated account.
	User, Domain string
	// Admin is true for members of the local Administrators group, the
	// principals granted WKSTA_NETAPI_CHANGE_CONFIG (MS-WKST 3.2.1.1).
	Admin bool
	// Anonymous is true for a null session; it wins over Admin.
	Anonymous bool
	// SIDs are a domain caller's SIDs, the user's first (empty for local
	// accounts); they reach the log of every join and unjoin.
	SIDs []string
}

// userSID is the caller's own SID, or "".
// logAttr is the caller for a log line: the names come from the network,
// so they are made safe to print (no line breaks or control characters).
func (c Caller) logAttr() slog.Attr {
	return logsafe.String("caller", c.Domain+`\`+c.User)
}

func (c Caller) userSID() string {
	if len(c.SIDs) == 0 {
		return ""
	}
	return c.SIDs[0]
}

// PasswordSource decrypts the caller's password when the state machine
// reaches that step (the specification's order). present=false means the
// wire pointer was NULL. A decrypt failure returns its code
// (ERROR_INVALID_PASSWORD).
type PasswordSource func() (password string, present bool, code Code)

// JoinRequest is NetrJoinDomain2 (Method 2) or NetrJoinDomain3 (Method 3).
type JoinRequest struct {
	Method  int    // 2 (NetrJoinDomain2) or 3 (NetrJoinDomain3)
	Protseq string // "ncacn_np" from the SMB front
	Caller  Caller
	// DomainName, MachineAccountOU and AccountName are nil for NULL on the
	// wire.
	DomainName, MachineAccountOU, AccountName *string
	Password                                  PasswordSource // nil = NULL pointer
	Options                                   uint32
}

// UnjoinRequest is NetrUnjoinDomain2 (Method 2) or NetrUnjoinDomain3
// (Method 3).
type UnjoinRequest struct {
	Method      int
	Protseq     string
	Caller      Caller
	AccountName *string
	Password    PasswordSource
	Options     uint32
}

// ValidateNameRequest is NetrValidateName2 (Method 2) or NetrValidateName3
// (Method 3).
type ValidateNameRequest struct {
	Method  int
	Protseq string
	Caller  Caller
	// Remote is true when the caller is not on this computer (every RPC
	// caller of the daemon). Windows refuses remote name checks (<89>,
	// <153>); see Config.AllowRemoteNameChecks.
	Remote      bool
	Name        *string
	AccountName *string
	Password    PasswordSource
	NameType    uint32
}

// MembershipStore persists the membership; *Store implements it.
type MembershipStore interface {
	Load() (Membership, error)
	Save(ctx context.Context, m Membership) error
}

// recentLoader is a MembershipStore that answers queries from memory,
// looking at its file at most once per maxAge (*Store.LoadRecent).
type recentLoader interface {
	LoadRecent(maxAge time.Duration) (Membership, error)
}

// queryStaleness bounds how old the membership reported by
// NetrGetJoinInformation and NetrWkstaGetInfo may be when another process
// (wkssvcd rotate-password) changed it; changes of this process show at
// once.
const queryStaleness = time.Second

// Config configures a Joiner.
type Config struct {
	// Names holds the computer's names (MS-WKST 3.2.1.2), which renames
	// and the alternate-name methods change. Default: names kept in
	// memory, starting from ComputerName and DNSHostName.
	Names NameStore
	// ComputerName is the initial ComputerNameNetBIOS (MS-WKST 3.2.1.5)
	// when Names is nil; it must then be a valid NetBIOS computer name
	// (MS-WKST 3.2.4.16).
	ComputerName string
	// DNSHostName is the initial ComputerNameFQDN when Names is nil. A
	// join writes it to dNSHostName and the DNS SPN; a single label is
	// followed by "." and the DNS name of the domain being joined, as
	// Samba does. Default: the lower-cased NetBIOS name, so qualified.
	DNSHostName string
	// Store persists the membership. Required.
	Store MembershipStore
	// Directory reaches the domain. Default nil: a domain join then answers
	// ERROR_NO_SUCH_DOMAIN after the local checks, an unjoin with
	// NETSETUP_ACCT_DELETE likewise, and NetSetupDomain validation checks
	// syntax only.
	Directory Directory
	// PasswordChanger changes the machine password at a DC for
	// RotatePassword. Default nil: RotatePassword fails.
	PasswordChanger PasswordChanger
	// Keytab, when set, receives the Kerberos keys of the machine account:
	// a domain join installs them after the directory work succeeded and
	// before the membership is saved, and a failure of any later step puts
	// the previous keytab back; an unjoin takes the account's keys out of
	// it (other principals' keys stay; see KeytabStore).
	// Default nil: no keytab is kept.
	Keytab KeytabStore
	// IsDomainController makes join and unjoin answer
	// NERR_SetupDomainController. Default false: this server is never a DC.
	IsDomainController bool
	// NameChecks governs NetrValidateName2/3 and NetrGetJoinableOUs2
	// from remote callers. Default: refused with RPC_E_REMOTE_DISABLED,
	// as Windows does (MS-WKST <89>, <97>, <153>).
	NameChecks NameCheckConfig
	// Rand is the source of machine passwords. Default crypto/rand.Reader.
	Rand io.Reader
	// Logger receives one record per call and rollback failures; it never
	// sees a password. Default slog.Default().
	Logger *slog.Logger
	// Now stamps PasswordSetTime. Default time.Now.
	Now func() time.Time
	// Journal records the intent of a domain join or unjoin before its
	// directory write, for Recover. Default: when Store is a *Store, a
	// FileJournal at IntentPath(Store.Path()); otherwise none, and a
	// process killed between the directory write and the local save
	// leaves the two disagreeing.
	Journal IntentJournal
	// RecoveryInterval is how often StartRecovery retries an intent the
	// controller could not settle. Default 30 s.
	RecoveryInterval time.Duration
	// RecoveryTimeout bounds one recovery attempt. Default 30 s.
	RecoveryTimeout time.Duration
}

// Joiner is the join state machine. Its methods are safe for concurrent
// use; joins and unjoins run one at a time.
type Joiner struct {
	cfg Config
	log *slog.Logger
	// busy is held for the whole of a join or unjoin. MS-WKST 3.2.4.13
	// <66> and 3.2.4.22 <133> say concurrent calls are not supported, and
	// <70> (attached to the first processing statement) says a call that
	// finds an earlier call modifying the identity of the machine returns
	// RPC_S_CALL_IN_PROGRESS; both methods list that code. Unjoin modifies
	// the same identity, so it shares the gate.
	busy sync.Mutex
	// journal is Config.Journal with its default.
	journal IntentJournal
	// nameChecks limits the name checks that reach the network.
	nameChecks *tokenBucket

	loopMu   sync.Mutex
	base     context.Context    // StartRecovery's context; nil before
	closed   bool               // Close was called
	stop     context.CancelFunc // ends the background recovery
	loopDone chan struct{}      // closed when it has ended
}

// New checks cfg, fills its defaults and returns a Joiner.
func New(cfg Config) (*Joiner, error) {
	if cfg.Store == nil {
		return nil, errors.New("joinlogic: Config.Store is required")
	}
	if cfg.Names == nil {
		names, err := MemoryNameStore(ComputerName{NetBIOS: strings.ToUpper(cfg.ComputerName), FQDN: cfg.DNSHostName})
		if err != nil {
			return nil, err
		}
		cfg.Names = names
	} else if err := cfg.Names.Names().validate(); err != nil {
		return nil, fmt.Errorf("joinlogic: computer name: %w", err)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RecoveryInterval <= 0 {
		cfg.RecoveryInterval = defaultRecoveryInterval
	}
	if cfg.RecoveryTimeout <= 0 {
		cfg.RecoveryTimeout = defaultRecoveryTimeout
	}
	if cfg.Journal == nil {
		if st, ok := cfg.Store.(*Store); ok {
			fj, err := OpenFileJournal(IntentPath(st.Path()))
			if err != nil {
				return nil, err
			}
			cfg.Journal = fj
		}
	}
	cfg.NameChecks = cfg.NameChecks.withDefaults()
	return &Joiner{cfg: cfg, log: cfg.Logger, journal: cfg.Journal,
		nameChecks: newTokenBucket(cfg.NameChecks.Burst, cfg.NameChecks.Interval, cfg.Now)}, nil
}

// netbiosName is ComputerNameNetBIOS in its canonical upper case.
func (j *Joiner) netbiosName() string { return strings.ToUpper(j.cfg.Names.Names().NetBIOS) }

// dnsHostName is ComputerNameFQDN ("" when not configured).
func (j *Joiner) dnsHostName() string { return j.cfg.Names.Names().FQDN }

// Names returns the computer's current names (MS-WKST 3.2.1.2).
func (j *Joiner) Names() ComputerName { return j.cfg.Names.Names() }

// NetBIOSName returns ComputerNameNetBIOS: with DNSHostName, the Joiner
// reports the names its renames change (server/ipc.ComputerNames).
func (j *Joiner) NetBIOSName() string { return j.netbiosName() }

// DNSHostName returns ComputerNameFQDN ("" when unknown).
func (j *Joiner) DNSHostName() string { return j.dnsHostName() }

func validMethod(m int) bool { return m == 2 || m == 3 }

// isNamedPipe reports whether the call came over NCACN_NP.
func isNamedPipe(protseq string) bool { return strings.EqualFold(protseq, ProtseqNamedPipe) }

// checkChangeConfig is the access check with WKSTA_NETAPI_CHANGE_CONFIG
// (MS-WKST 3.2.1.1): NetSecurityDescriptor grants it to SYSTEM and
// BUILTIN\Administrators only.
func checkChangeConfig(c Caller) Code {
	if c.Anonymous || !c.Admin {
		return ERROR_ACCESS_DENIED
	}
	return NERR_Success
}

// checkQuery is the access check with WKSTA_NETAPI_QUERY (MS-WKST
// 3.2.1.1): granted to authenticated users, so denied to anonymous callers.
func checkQuery(c Caller) Code {
	if c.Anonymous {
		return ERROR_ACCESS_DENIED
	}
	return NERR_Success
}

// decryptPassword runs the password statement of MS-WKST 3.2.4.13.1: NULL
// gives no PasswordString; otherwise the source decrypts it, and a
// decoded length of 513 bytes or more is ERROR_INVALID_PASSWORD.
func decryptPassword(src PasswordSource) (pw string, present bool, c Code) {
	if src == nil {
		return "", false, NERR_Success
	}
	pw, present, c = src()
	if c != NERR_Success {
		return "", false, c
	}
	if !present {
		return "", false, NERR_Success
	}
	if 2*len(utf16.Encode([]rune(pw))) > maxPasswordBytes {
		return "", false, ERROR_INVALID_PASSWORD
	}
	return pw, true, NERR_Success
}

// noDelegation answers a change in the domain that names no password.
// The specification then acts with "the caller's security context" at
// the domain controller; a logon to this server (NTLM, Kerberos without
// delegation) cannot be used there, so the call fails before any
// directory is contacted, and the log says what to send instead.
func (j *Joiner) noDelegation(ctx context.Context, what, purpose string, c Caller) Code {
	j.log.InfoContext(ctx, "joinlogic: "+what+" without a password: the caller's logon cannot be used at the domain controller; send AccountName and Password "+purpose,
		"caller", c.Domain+`\`+c.User)
	return ERROR_LOGON_FAILURE
}

// callerAccount resolves AccountName: NULL means the caller's own account
// (MS-WKST 3.2.4.13); otherwise it must have one of the forms the
// specification lists, else ERROR_INVALID_PARAMETER.
func callerAccount(name *string, c Caller) (Account, Code) {
	if name == nil {
		return Account{User: c.User, Domain: c.Domain}, NERR_Success
	}
	a, ok := parseAccountName(*name)
	if !ok {
		return Account{}, ERROR_INVALID_PARAMETER
	}
	return a, NERR_Success
}

// undoStack holds the reverts of the state changes made so far.
type undoStack []undoStep

type undoStep struct {
	what string
	fn   func(context.Context) error
}

func (u *undoStack) push(what string, fn func(context.Context) error) {
	*u = append(*u, undoStep{what, fn})
}

// run reverts in reverse order and reports whether every step succeeded.
// It runs even when ctx is already cancelled (MS-WKST 3.2.4.13.1: the
// server SHOULD revert any state changes made).
func (u undoStack) run(ctx context.Context, log *slog.Logger) bool {
	ctx = context.WithoutCancel(ctx)
	ok := true
	for i := len(u) - 1; i >= 0; i-- {
		if err := u[i].fn(ctx); err != nil {
			ok = false
			log.ErrorContext(ctx, "joinlogic: rollback step failed", "step", u[i].what, "err", err)
		}
	}
	return ok
}

// rollbackSession is the directory session the undo steps of a join or
// unjoin use: the call's own session, and, once a step fails on it (its
// connection may be what broke), a fresh session bound to the same
// controller with the same credentials, for that step and the rest.
type rollbackSession struct {
	dir   Directory
	dc    DCInfo
	cred  Credentials
	sess  Session
	fresh Session
	bound bool // a fresh session was asked for
}

// do runs fn on the current session, and on a fresh one if that fails.
func (r *rollbackSession) do(ctx context.Context, fn func(Session) error) error {
	s := r.sess
	if r.fresh != nil {
		s = r.fresh
	}
	err := fn(s)
	if err == nil || r.bound {
		return err
	}
	r.bound = true
	fresh, berr := r.dir.Bind(ctx, r.dc, r.cred)
	if berr != nil {
		return errors.Join(err, berr)
	}
	r.fresh = fresh
	if ferr := fn(fresh); ferr != nil {
		return errors.Join(err, ferr)
	}
	return nil
}

// close ends the fresh session, if one was opened.
func (r *rollbackSession) close(ctx context.Context, log *slog.Logger) {
	if r.fresh == nil {
		return
	}
	if err := r.fresh.Close(); err != nil {
		log.WarnContext(ctx, "joinlogic: closing rollback session", "err", err)
	}
	r.fresh = nil
}

// failWith returns the failure path of a join or unjoin: it reverts what
// undo recorded and returns the code. Once the intent is recorded
// (*journaled), it is cleared only when every revert succeeded: otherwise
// the directory may still hold the write, and recovery settles it.
func (j *Joiner) failWith(ctx context.Context, undo *undoStack, journaled *bool, sam string) func(Code) Code {
	return func(c Code) Code {
		ok := undo.run(ctx, j.log)
		if *journaled {
			if ok {
				j.clearIntent(ctx)
			} else {
				j.log.WarnContext(ctx, "joinlogic: rollback incomplete; recovery will settle the directory write", "account", sam)
				j.startLoop()
			}
		}
		return c
	}
}

// Join processes NetrJoinDomain2/3 (MS-WKST 3.2.4.13, 3.2.4.22).
func (j *Joiner) Join(ctx context.Context, r JoinRequest) Code {
	c := j.join(ctx, r)
	domain := ""
	if r.DomainName != nil {
		domain = *r.DomainName
	}
	j.log.Log(ctx, resultLevel(c), "joinlogic: join", "method", r.Method, logsafe.String("domain", domain),
		"options", fmt.Sprintf("0x%08x", r.Options), r.Caller.logAttr(), "caller_sid", r.Caller.userSID(), "caller_admin", r.Caller.Admin, "result", c.String())
	return c
}

// resultLevel is the level of the line that ends a join or unjoin: a
// failure is a warning, so that journalctl -p warning shows it.
func resultLevel(c Code) slog.Level {
	if c != NERR_Success {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func (j *Joiner) join(ctx context.Context, r JoinRequest) Code {
	// 3.2.4.13.1 / 3.2.4.22.1, in order.
	if !isNamedPipe(r.Protseq) {
		return RPC_S_PROTSEQ_NOT_SUPPORTED
	}
	ch, c := j.beginRPCChange(ctx, r.Caller, r.Password)
	if c != NERR_Success {
		return c
	}
	defer ch.end()
	if r.DomainName == nil || *r.DomainName == "" {
		return ERROR_INVALID_PARAMETER
	}
	// "The server SHOULD return ERROR_NOT_SUPPORTED if the server does not
	// support processing of this message": only the methods 2 and 3 are.
	if !validMethod(r.Method) {
		return ERROR_NOT_SUPPORTED
	}
	if j.cfg.IsDomainController {
		return NERR_SetupDomainController
	}
	cur, c := j.loadMembership(ctx)
	if c != NERR_Success {
		return c
	}
	if r.Options&NETSETUP_JOIN_DOMAIN == 0 {
		return j.joinWorkgroup(ctx, cur, *r.DomainName)
	}
	return j.joinDomain(ctx, cur, r, ch.pw, ch.havePw)
}

// joinWorkgroup is MS-WKST 3.2.4.13.4.
func (j *Joiner) joinWorkgroup(ctx context.Context, cur Membership, name string) Code {
	if cur.Joined() {
		return NERR_SetupAlreadyJoined
	}
	// Validation as NetrValidateName2 with NetSetupWorkgroup (3.2.4.16):
	// syntax, then "MUST NOT be the name of the server". The NetBIOS
	// group-name registration test (<90>) needs a NetBIOS name service this
	// server does not run, so it is not made.
	if !workgroupSyntaxOK(name) || strings.EqualFold(name, j.netbiosName()) {
		return NERR_InvalidWorkgroupName
	}
	// A workgroup member has no machine account. The keytab is left
	// alone: an unjoin took this machine's keys out of it, and the other
	// keys in it (nfs/, HTTP/ ...) are not the join's to remove.
	next := Membership{Workgroup: strings.ToUpper(name)}
	if err := j.cfg.Store.Save(ctx, next); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: saving workgroup membership", "err", err)
		return codeOf(err, ERROR_INTERNAL_ERROR)
	}
	return NERR_Success
}

// joinDomain is MS-WKST 3.2.4.13.3, up to and including the directory work
// and the local state changes of 3.2.4.13.2.
func (j *Joiner) joinDomain(ctx context.Context, cur Membership, r JoinRequest, pw string, havePw bool) Code {
	opts := r.Options
	mpp := opts&NETSETUP_MACHINE_PWD_PASSED != 0
	readonly := opts&NETSETUP_JOIN_READONLY != 0

	// "MACHINE_PWD_PASSED set and JOIN_UNSECURE not set → ERROR_INVALID_PARAMETER."
	// The specification contradicts itself here: the Options table says
	// MACHINE_PWD_PASSED is valid for unsecure joins *or* read-only joins,
	// a later statement makes JOIN_READONLY without MACHINE_PWD_PASSED
	// invalid, and another makes JOIN_READONLY behave as if JOIN_UNSECURE
	// were set. Read literally, a read-only join would need
	// READONLY|MACHINE_PWD_PASSED|UNSECURE. We resolve it by letting
	// JOIN_READONLY count as JOIN_UNSECURE for this first check, so
	// READONLY|MACHINE_PWD_PASSED is accepted, with or without UNSECURE.
	if mpp && opts&NETSETUP_JOIN_UNSECURE == 0 && !readonly {
		return ERROR_INVALID_PARAMETER
	}
	if mpp && r.AccountName != nil {
		return ERROR_INVALID_PARAMETER
	}
	if mpp && (!havePw || pw == "") {
		return ERROR_PASSWORD_RESTRICTION
	}
	var computerPw string
	if mpp {
		computerPw, pw = pw, ""
	}
	if readonly && !mpp {
		return ERROR_INVALID_PARAMETER
	}
	if readonly && opts&NETSETUP_ACCT_CREATE != 0 {
		return ERROR_INVALID_PARAMETER
	}
	if readonly {
		opts |= NETSETUP_DEFER_SPN_SET | NETSETUP_JOIN_UNSECURE
	}
	unsecure := opts&(NETSETUP_JOIN_UNSECURE|NETSETUP_WIN9X_UPGRADE) != 0
	if cur.Joined() && opts&NETSETUP_DOMAIN_JOIN_IF_JOINED == 0 {
		return NERR_SetupAlreadyJoined
	}

	domain, dcName := splitDomainParam(*r.DomainName)
	if domain == "" {
		// "In all cases, the DomainNameToJoin portion MUST be either the
		// NetBIOS name of the domain or the FQDN" — an empty one is not.
		return ERROR_INVALID_PARAMETER
	}
	// Phase 1: locate (or validate the named) DC, check the names, bind.
	dir := j.cfg.Directory
	dc, err := locateDomain(ctx, dir, LocateRequest{Domain: domain, DCName: dcName, Writable: !readonly})
	if err != nil {
		return j.failed(ctx, "locating a domain controller", err, ERROR_NO_SUCH_DOMAIN)
	}
	// DomainNameString validated as NetSetupDomain (3.2.4.16): syntax and
	// not BUILTIN; existence was just established by the locator.
	if c := domainSyntax(domain); c != NERR_Success {
		return c
	}
	if strings.EqualFold(domain, builtinDomainName) {
		return NERR_InvalidComputer
	}
	// "If ComputerNameNetBIOS is identical to DomainNameString, the server
	// MUST return ERROR_INVALID_DOMAINNAME." The flat name the locator
	// reported is compared as well, so that naming the domain by its DNS
	// name does not hide the clash.
	if strings.EqualFold(j.netbiosName(), domain) ||
		(dc.DomainFlat != "" && strings.EqualFold(j.netbiosName(), dc.DomainFlat)) {
		return ERROR_INVALID_DOMAINNAME
	}

	// Session with the DC. With MACHINE_PWD_PASSED the specification first
	// tries the RPC caller's own identity and falls back to an anonymous
	// session on an authentication failure. The caller's credentials
	// cannot be delegated from here, so the anonymous session is asked for
	// directly.
	var cred Credentials
	if mpp {
		cred = Credentials{Anonymous: true}
	} else {
		acct, c := callerAccount(r.AccountName, r.Caller)
		if c != NERR_Success {
			return c
		}
		cred = Credentials{Account: acct, Password: pw}
	}
	ds, err := bindDomain(ctx, dir, dc, cred)
	if err != nil {
		return j.failed(ctx, "binding to "+dc.DCName, err, ERROR_LOGON_FAILURE)
	}
	defer ds.close(ctx, j.log)
	info := ds.info

	// ComputerPasswordString.
	switch {
	case mpp:
		// copied from PasswordString above
	case unsecure:
		computerPw = legacyMachinePassword(j.netbiosName())
	default:
		computerPw, err = wkcrypto.GenerateMachinePassword(j.cfg.Rand)
		if err != nil {
			j.log.ErrorContext(ctx, "joinlogic: generating machine password", "err", err)
			return ERROR_INTERNAL_ERROR
		}
	}

	name := j.netbiosName()
	sam := name + "$" // ComputerAccountString
	dnsName := joinedDNSHostName(j.dnsHostName(), name, firstNonEmpty(info.DNSName, dc.DomainDNS))

	// Phase 2: the computer account, with the intent journaled just
	// before its one directory write.
	var undo undoStack
	rb := ds.rollback()
	defer rb.close(ctx, j.log)
	journaled := false
	fail := j.failWith(ctx, &undo, &journaled, sam)

	// The local state changes (3.2.4.13.2), applied as one atomic save at
	// the end.
	next := Membership{
		DomainNetBIOS:   strings.ToUpper(firstNonEmpty(info.NetBIOSName, dc.DomainFlat)),
		DomainFQDN:      strings.ToLower(firstNonEmpty(info.DNSName, dc.DomainDNS)),
		DomainSID:       info.SID,
		DomainGUID:      firstNonEmpty(info.GUID, dc.DomainGUID),
		ForestFQDN:      strings.ToLower(firstNonEmpty(info.ForestName, dc.ForestDNS)),
		SiteName:        dc.ClientSite,
		ClientName:      sam,
		DNSHostName:     dnsName,
		Password:        Secret(computerPw),
		PasswordSetTime: j.cfg.Now().UTC(),
	}
	if cur.Joined() && strings.EqualFold(cur.DomainSID, info.SID) {
		next.PreviousPassword = cur.Password
	}
	req := accountRequest{
		Name:           name,
		Existing:       requireExisting,
		Update:         ComputerUpdate{Password: computerPw, HostNames: opts&NETSETUP_DEFER_SPN_SET == 0, DNSHostName: dnsName, SPNs: hostNames(name, dnsName)},
		NoWrite:        readonly,
		VerifyPassword: opts&NETSETUP_ACCT_CREATE == 0 && unsecure,
	}
	if r.MachineAccountOU != nil {
		req.OU = *r.MachineAccountOU
	}
	if opts&NETSETUP_ACCT_CREATE != 0 {
		req.Existing = reuseExisting
	}
	// A re-join (DOMAIN_JOIN_IF_JOINED) of the account this machine is
	// joined with can give it back its password on rollback.
	if cur.Joined() && cur.Password != "" && strings.EqualFold(cur.DomainSID, info.SID) && strings.EqualFold(cur.ClientName, sam) {
		req.RestorePassword = cur.Password.Reveal()
	}
	acct, err := provisionAccount(ctx, ds, rb, &undo, req, func() error {
		// Journal the intent before the directory write: from here on a
		// crash is settled by Recover, which binds as the machine account
		// with next.Password to learn whether the write happened.
		if err := j.recordIntent(ctx, Intent{Op: IntentJoin, DC: dc, SAMAccountName: sam, DirectoryWrite: !readonly,
			Next: next, Previous: cur, Keytab: j.cfg.Keytab != nil, Started: j.cfg.Now().UTC()}); err != nil {
			j.log.ErrorContext(ctx, "joinlogic: recording the join intent", "err", err)
			return err
		}
		journaled = true
		return nil
	})
	if err != nil {
		return fail(j.failed(ctx, "provisioning the computer account "+sam, err, ERROR_GEN_FAILURE))
	}

	// Phase 3: the keytab, with the key version the password set
	// produced, and the membership.
	kvno := func() (uint32, error) { return ds.sess.KeyVersionNumber(ctx, acct.DN) }
	if c := j.commitLocal(ctx, next, kvno, &undo); c != NERR_Success {
		return fail(c)
	}
	j.log.InfoContext(ctx, "joinlogic: joined domain", "membership", next)
	return NERR_Success
}

// failed logs why a step of a join failed and returns the code it
// surfaces as.
func (j *Joiner) failed(ctx context.Context, step string, err error, fallback Code) Code {
	c := codeOf(err, fallback)
	j.log.InfoContext(ctx, "joinlogic: "+step+" failed", "code", c.String(), "cause", err)
	return c
}

// keytabEntries are the keys of the machine account of m, a domain
// membership, at key version kvno.
func keytabEntries(m Membership, kvno uint32) KeytabEntries {
	return KeytabEntries{
		ComputerName: strings.TrimSuffix(m.ClientName, "$"),
		DNSHostName:  m.DNSHostName,
		Realm:        strings.ToUpper(m.DomainFQDN),
		Password:     m.Password,
		KVNO:         kvno,
	}
}

// answerMayBeLost reports the codes of a directory call that failed on
// the way (the connection broke, the call timed out or was cancelled), so
// that the controller may have applied it without the answer arriving.
func answerMayBeLost(c Code) bool {
	return c == ERROR_NO_SUCH_DOMAIN || c == ERROR_TIMEOUT || c == ERROR_CANCELLED
}

// deleteUnfinished removes the object an unanswered CreateComputer may
// have added: named sam, in container, and holding password — proof that
// this join's add created it (the object did not exist before the add,
// and the password is fresh). Anything else is not this join's to delete.
func deleteUnfinished(ctx context.Context, s Session, sam, container, password string) error {
	acct, found, err := s.FindComputer(ctx, sam)
	if err != nil {
		return err
	}
	if !found || !sameDN(acct.ParentDN, container) {
		return nil
	}
	if err := s.VerifyMachinePassword(ctx, sam, password); err != nil {
		if codeOf(err, ERROR_GEN_FAILURE) == ERROR_LOGON_FAILURE {
			return nil
		}
		return err
	}
	return s.DeleteComputer(ctx, acct.DN)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Unjoin processes NetrUnjoinDomain2/3 (MS-WKST 3.2.4.14, 3.2.4.23).
func (j *Joiner) Unjoin(ctx context.Context, r UnjoinRequest) Code {
	c := j.unjoin(ctx, r)
	j.log.Log(ctx, resultLevel(c), "joinlogic: unjoin", "method", r.Method,
		"options", fmt.Sprintf("0x%08x", r.Options), r.Caller.logAttr(), "caller_sid", r.Caller.userSID(), "caller_admin", r.Caller.Admin, "result", c.String())
	return c
}

func (j *Joiner) unjoin(ctx context.Context, r UnjoinRequest) Code {
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
	if !cur.Joined() {
		return NERR_SetupNotJoined
	}
	if r.Options&^NETSETUP_ACCT_DELETE != 0 && r.Options&NETSETUP_IGNORE_UNSUPPORTED_FLAGS == 0 {
		return ERROR_INVALID_FLAGS
	}
	if j.cfg.IsDomainController {
		return NERR_SetupDomainController
	}

	sam := firstNonEmpty(cur.ClientName, j.netbiosName()+"$")
	in := Intent{Op: IntentUnjoin, SAMAccountName: sam, Previous: cur, Next: Membership{},
		Keytab: j.cfg.Keytab != nil, Started: j.cfg.Now().UTC()}
	var undo undoStack
	journaled := false
	fail := j.failWith(ctx, &undo, &journaled, sam)
	var rb *rollbackSession
	defer func() {
		if rb != nil {
			rb.close(ctx, j.log)
		}
	}()
	// The specification locates a DC and opens a session before the local
	// changes; the only use it makes of that session is the
	// NETSETUP_ACCT_DELETE update of userAccountControl. The DC is
	// therefore contacted only when that bit is set, so that a machine
	// whose domain is gone can still leave it.
	if r.Options&NETSETUP_ACCT_DELETE != 0 {
		dir := j.cfg.Directory
		if dir == nil {
			return ERROR_NO_SUCH_DOMAIN
		}
		dc, err := dir.Locate(ctx, LocateRequest{Domain: firstNonEmpty(cur.DomainFQDN, cur.DomainNetBIOS), Writable: true})
		if err != nil {
			return j.failed(ctx, "locating a domain controller", err, ERROR_NO_SUCH_DOMAIN)
		}
		acctName, c := callerAccount(r.AccountName, r.Caller)
		if c != NERR_Success {
			return c
		}
		if !ch.havePw {
			// Password NULL: "the caller's security context MUST be used",
			// and a logon to this server cannot be delegated to the DC.
			return j.noDelegation(ctx, "NETSETUP_ACCT_DELETE", "to disable the computer account", r.Caller)
		}
		cred := Credentials{Account: acctName, Password: ch.pw}
		sess, err := dir.Bind(ctx, dc, cred)
		if err != nil {
			return j.failed(ctx, "binding to "+dc.DCName, err, ERROR_LOGON_FAILURE)
		}
		rb = &rollbackSession{dir: dir, dc: dc, cred: cred, sess: sess}
		defer func() {
			if err := sess.Close(); err != nil {
				j.log.WarnContext(ctx, "joinlogic: closing directory session", "err", err)
			}
		}()
		acct, found, err := sess.FindComputer(ctx, sam)
		if err != nil {
			return j.failed(ctx, "looking up the computer account "+sam, err, ERROR_GEN_FAILURE)
		}
		if found {
			snap, err := sess.Snapshot(ctx, acct.DN)
			if err != nil {
				return j.failed(ctx, "reading the computer account "+acct.DN, err, ERROR_GEN_FAILURE)
			}
			// Journal first: a crash after the disable is settled by
			// Recover, which finds the machine account refused and rolls
			// forward to "unjoined".
			in.DC, in.DirectoryWrite = dc, true
			if err := j.recordIntent(ctx, in); err != nil {
				j.log.ErrorContext(ctx, "joinlogic: recording the unjoin intent", "err", err)
				return codeOf(err, ERROR_INTERNAL_ERROR)
			}
			journaled = true
			undo.push("re-enable computer account", func(ctx context.Context) error {
				return rb.do(ctx, func(s Session) error { return s.Restore(ctx, snap) })
			})
			// One modify (MS-WKST 3.2.4.14).
			if err := sess.DisableComputer(ctx, acct.DN); err != nil {
				return fail(j.failed(ctx, "disabling the computer account "+acct.DN, err, ERROR_GEN_FAILURE))
			}
		} else {
			j.log.WarnContext(ctx, "joinlogic: computer account to disable not found", "sam", sam)
		}
	}
	if !journaled {
		// Only local changes: a crash between the keytab removal and the
		// save rolls forward.
		if err := j.recordIntent(ctx, in); err != nil {
			j.log.ErrorContext(ctx, "joinlogic: recording the unjoin intent", "err", err)
			return codeOf(err, ERROR_INTERNAL_ERROR)
		}
		journaled = true
	}

	// The machine account's keys go with the membership.
	if kt := j.cfg.Keytab; kt != nil {
		// The principals of the alternate names go too.
		restore, err := kt.Remove(ctx, keytabEntriesWithNames(cur, j.Names(), 0))
		if err != nil {
			j.log.ErrorContext(ctx, "joinlogic: removing keytab", "err", err)
			return fail(codeOf(err, ERROR_INTERNAL_ERROR))
		}
		undo.push("restore keytab", restore)
	}

	// ClientName, DomainName, DomainSid, ForestNameFQDN, DomainGuid,
	// SiteName and Password all become NULL.
	if err := j.cfg.Store.Save(ctx, Membership{}); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: clearing domain membership", "err", err)
		return fail(codeOf(err, ERROR_INTERNAL_ERROR))
	}
	j.clearIntent(ctx)
	return NERR_Success
}

// ValidateName processes NetrValidateName2/3 (MS-WKST 3.2.4.16, 3.2.4.25)
// as far as it can be answered here: syntax for every type, the
// server-name and BUILTIN rules, and domain existence through the
// Directory when there is one (syntax only without). The NetBIOS name
// registration tests (<90>, <91>: ERROR_DUP_NAME for machines) need a
// NetBIOS name service and are not made.
func (j *Joiner) ValidateName(ctx context.Context, r ValidateNameRequest) Code {
	c := j.validateName(ctx, r)
	level := slog.LevelDebug
	if c != NERR_Success {
		// A refusal is the operator's to explain, as for joins.
		level = slog.LevelInfo
	}
	name := ""
	if r.Name != nil {
		name = *r.Name
	}
	j.log.Log(ctx, level, "joinlogic: validate name", "method", r.Method, "name", name, "type", r.NameType, "result", c.String())
	return c
}

func (j *Joiner) validateName(ctx context.Context, r ValidateNameRequest) Code {
	if !validMethod(r.Method) {
		return ERROR_NOT_SUPPORTED
	}
	if !isNamedPipe(r.Protseq) {
		return RPC_S_PROTSEQ_NOT_SUPPORTED
	}
	// "The server SHOULD stop ... if the caller is not local" (<89>,
	// <153>: RPC_E_REMOTE_DISABLED), unless Config.AllowRemoteNameChecks.
	if c := j.checkRemoteNameCheck(r.Remote); c != NERR_Success {
		return c
	}
	if c := checkQuery(r.Caller); c != NERR_Success {
		return c
	}
	if _, _, c := decryptPassword(r.Password); c != NERR_Success {
		return c
	}
	if r.NameType == NetSetupUnknown || r.Name == nil {
		return ERROR_INVALID_PARAMETER
	}
	name := *r.Name
	if c := nameSyntax(name, r.NameType); c != NERR_Success {
		return c
	}
	switch r.NameType {
	case NetSetupWorkgroup:
		if strings.EqualFold(name, j.netbiosName()) {
			return NERR_InvalidWorkgroupName
		}
	case NetSetupDomain, NetSetupNonExistentDomain:
		if strings.EqualFold(name, builtinDomainName) {
			return NERR_InvalidComputer
		}
		if j.cfg.Directory == nil {
			return NERR_Success
		}
		// The check asks the network (DNS, an LDAP ping): for a remote
		// caller, administrators only, rate-limited and time-bounded.
		lctx, cancel, c := j.networkNameCheck(ctx, r.Remote, r.Caller)
		if c != NERR_Success {
			return c
		}
		defer cancel()
		_, err := j.cfg.Directory.Locate(lctx, LocateRequest{Domain: name})
		c = codeOf(err, ERROR_NO_SUCH_DOMAIN)
		if r.NameType == NetSetupDomain {
			if err != nil {
				j.failed(ctx, "validating the domain name "+name, err, ERROR_NO_SUCH_DOMAIN)
			}
			return c // <92>: a DC found means the domain exists
		}
		switch c { // <93>: a DC found means the name is taken
		case NERR_Success:
			return ERROR_DUP_NAME
		case ERROR_NO_SUCH_DOMAIN:
			return NERR_Success
		default:
			return c
		}
	}
	return NERR_Success
}

// JoinInformation answers NetrGetJoinInformation (MS-WKST 3.2.4.12); the
// protocol-sequence and access checks belong to the caller.
//
// The specification's rules test DomainNameFQDN first and would report a
// workgroup member (whose FQDN is NULL by 3.2.4.13.4) as unjoined; they are
// applied in the order that keeps the three states apart: a domain member
// (DomainSid set) reports its domain's flat name, which is what 3.2.1.6
// says DomainName.FQDN holds for AD domains; a workgroup member its
// workgroup; anything else NetSetupUnjoined with an empty name.
func (j *Joiner) JoinInformation(ctx context.Context) (name string, status uint32, err error) {
	if err := ctx.Err(); err != nil {
		return "", NetSetupUnknownStatus, err
	}
	var m Membership
	if r, ok := j.cfg.Store.(recentLoader); ok {
		m, err = r.LoadRecent(queryStaleness)
	} else {
		m, err = j.cfg.Store.Load()
	}
	if err != nil {
		return "", NetSetupUnknownStatus, fmt.Errorf("joinlogic: loading membership: %w", err)
	}
	switch {
	case m.Joined():
		return firstNonEmpty(m.DomainNetBIOS, m.DomainFQDN), NetSetupDomainName, nil
	case m.Workgroup != "":
		return m.Workgroup, NetSetupWorkgroupName, nil
	}
	return "", NetSetupUnjoined, nil
}
