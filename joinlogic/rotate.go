package joinlogic

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	wkcrypto "github.com/wkssvcd/wkssvcd/crypto"
)

// IntentRotate records a machine password change: Next is the membership
// with the new password (the old one as PreviousPassword). Recovery treats
// it like a join: a bind as the machine account with the new password
// tells whether the DC applied the change.
const IntentRotate IntentOp = "rotate"

// PasswordChanger changes the machine account's password at a domain
// controller, authenticating with the current one (Netlogon's
// NetrServerPasswordSet2, MS-NRPC 3.4.5.2.5).
type PasswordChanger interface {
	// ChangeMachinePassword sets the password of cur's machine account to
	// next at dc. An error wrapping ErrChangeNotSent means the request
	// never reached the DC (its password is unchanged); any other error
	// leaves it unknown.
	ChangeMachinePassword(ctx context.Context, dc DCInfo, cur Membership, next string) error
}

// ErrChangeNotSent marks a password change that did not reach the DC.
var ErrChangeNotSent = errors.New("joinlogic: the password change did not reach the domain controller")

// ErrChangeRefused marks a password change the DC answered with a
// refusal, of the change itself or of the password the secure channel was
// built with: its password is unchanged. A PasswordChanger wraps it (with
// or without ErrChangeNotSent) only when the DC said so.
var ErrChangeRefused = errors.New("joinlogic: the domain controller refused the password change")

// Errors of RotatePassword.
var (
	ErrNotJoined     = errors.New("joinlogic: the host is not joined to a domain")
	ErrRotatePending = errors.New("joinlogic: an interrupted join, unjoin or password change awaits the domain controller")
)

// RotateRequest asks for a machine password change.
type RotateRequest struct {
	// Force changes the password whatever its age.
	Force bool
	// MaxAge is the age at which the password is changed; 0 never
	// (unless Force).
	MaxAge time.Duration
}

// RotateResult says what RotatePassword did.
type RotateResult struct {
	Rotated bool
	// NotDue: the password is younger than MaxAge (or MaxAge is 0).
	NotDue bool
	// Age of the password before the call; KVNO the key version of the
	// new keys; DC the controller that took the change.
	Age  time.Duration
	KVNO uint32
	DC   string
}

// RotatePassword changes the machine password, as Windows members do
// every 30 days and `adcli update` does on demand, in the order that keeps
// a working secret at every moment a process may die:
//
//  1. the intent (new password, old one kept as previous) is journaled;
//  2. the DC's password is changed through the PasswordChanger;
//  3. the new key version is read as the machine account with the new
//     password, the keytab gets the new keys (keeping the previous
//     version's, so tickets issued before the change still decrypt), the
//     membership is saved and the intent cleared.
//
// A crash after 1 is settled by recovery (settleRotate): if the new
// password binds, the change happened and is completed; if it is refused,
// the change is sent again, as the refusal alone does not say that a
// change sent just before the crash will not land later. A change that did
// not reach the DC, or that the DC refused, clears the intent and returns
// the error, to be retried later.
//
// It waits for a join or unjoin in progress (of this process, and of other
// processes on the same state directory: wkssvcd rotate-password beside a
// running daemon).
func (j *Joiner) RotatePassword(ctx context.Context, r RotateRequest) (RotateResult, error) {
	if err := lockCtx(ctx, &j.busy); err != nil {
		return RotateResult{}, err
	}
	defer j.busy.Unlock()
	unlock, err := j.lockState(ctx)
	if err != nil {
		return RotateResult{}, err
	}
	defer unlock()
	pending, err := j.settle(ctx)
	if err != nil {
		return RotateResult{}, err
	}
	if pending {
		j.startLoop()
		return RotateResult{}, ErrRotatePending
	}
	cur, err := j.cfg.Store.Load()
	if err != nil {
		return RotateResult{}, err
	}
	if !cur.Joined() {
		return RotateResult{}, ErrNotJoined
	}
	res := RotateResult{Age: j.cfg.Now().Sub(cur.PasswordSetTime)}
	if cur.PasswordSetTime.IsZero() {
		res.Age = 0
	}
	if !r.Force && (r.MaxAge <= 0 || (!cur.PasswordSetTime.IsZero() && res.Age < r.MaxAge)) {
		res.NotDue = true
		return res, nil
	}
	if j.cfg.PasswordChanger == nil || j.cfg.Directory == nil {
		return res, errors.New("joinlogic: no way to reach the domain controller to change the password")
	}
	log := j.log.With("account", cur.ClientName)
	dc, err := j.cfg.Directory.Locate(ctx, LocateRequest{Domain: firstNonEmpty(cur.DomainFQDN, cur.DomainNetBIOS), Writable: true})
	if err != nil {
		return res, fmt.Errorf("%w: locating a writable DC: %w", ErrChangeNotSent, err)
	}
	res.DC = dc.DCName
	pw, err := wkcrypto.GenerateMachinePassword(j.cfg.Rand)
	if err != nil {
		return res, err
	}
	next := cur
	next.PreviousPassword = cur.Password
	next.Password = Secret(pw)
	next.PasswordSetTime = j.cfg.Now().UTC()
	in := Intent{Op: IntentRotate, DC: dc, SAMAccountName: firstNonEmpty(cur.ClientName, j.netbiosName()+"$"),
		DirectoryWrite: true, Next: next, Previous: cur, Keytab: j.cfg.Keytab != nil, Started: j.cfg.Now().UTC()}
	if err := j.recordIntent(ctx, in); err != nil {
		return res, fmt.Errorf("joinlogic: recording the password change: %w", err)
	}
	log.InfoContext(ctx, "joinlogic: changing the machine password", "dc", dc.DCName, "age", res.Age.Round(time.Second).String())
	if err := j.cfg.PasswordChanger.ChangeMachinePassword(ctx, dc, cur, pw); err != nil {
		if errors.Is(err, ErrChangeNotSent) || errors.Is(err, ErrChangeRefused) {
			j.clearIntent(ctx)
			log.WarnContext(ctx, "joinlogic: machine password change failed; the old password stands", "err", err)
			return res, err
		}
		// The DC may or may not have taken it: ask it now, as recovery
		// would; if it cannot tell, recovery keeps asking.
		log.WarnContext(ctx, "joinlogic: machine password change answered with an error; asking the DC which password it holds", "err", err)
		if pending, serr := j.settle(ctx); serr != nil || pending {
			j.startLoop()
			return res, errors.Join(err, serr, ErrRotatePending)
		}
		now, lerr := j.cfg.Store.Load()
		if lerr == nil && now.Password == next.Password {
			res.Rotated = true
			log.InfoContext(ctx, "joinlogic: the DC took the new password after all")
			return res, nil
		}
		return res, err
	}
	// Step 3: the key version the DC gave the new keys, then the local
	// state, exactly as recovery rolls a join forward.
	sess, err := j.cfg.Directory.Bind(ctx, dc, Credentials{Account: Account{User: in.SAMAccountName, Domain: cur.DomainNetBIOS}, Password: pw})
	if err != nil {
		log.ErrorContext(ctx, "joinlogic: the password was changed but the DC refuses a bind with it; recovery will retry", "err", err)
		j.startLoop()
		return res, errors.Join(err, ErrRotatePending)
	}
	defer sess.Close()
	if err := j.rollForward(ctx, in, sess); err != nil {
		log.ErrorContext(ctx, "joinlogic: the password was changed but the local state could not be updated; recovery will retry", "err", err)
		j.startLoop()
		return res, errors.Join(err, ErrRotatePending)
	}
	if acct, found, err := sess.FindComputer(ctx, in.SAMAccountName); err == nil && found {
		res.KVNO, _ = sess.KeyVersionNumber(ctx, acct.DN)
	}
	res.Rotated = true
	log.InfoContext(ctx, "joinlogic: machine password changed", "dc", dc.DCName, "kvno", res.KVNO)
	return res, nil
}

// lockState takes the cross-process lock of the state directory (an
// exclusive flock on the intent journal's lock file) for a change of the
// membership, waiting while another process holds it.
func (j *Joiner) lockState(ctx context.Context) (func(), error) {
	st, ok := j.cfg.Store.(*Store)
	if !ok {
		return func() {}, nil
	}
	path := IntentPath(st.Path()) + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("joinlogic: state lock: %w", err)
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("joinlogic: state lock %s: %w", path, err)
		}
		if ctx.Err() != nil {
			f.Close()
			return nil, fmt.Errorf("joinlogic: waiting for the state lock (%s, held by another wkssvcd): %w", path, ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// rpcChange is a change of the membership requested over RPC, begun by
// beginRPCChange: pw is the decrypted password (havePw false when the
// request had none); end releases the locks.
type rpcChange struct {
	end    func()
	pw     string
	havePw bool
}

// beginRPCChange takes the first steps of a join, unjoin or rename, in
// MS-WKST's order (3.2.4.13.1, 3.2.4.14.1, 3.2.4.15.1): the locks, without
// waiting (RPC_S_CALL_IN_PROGRESS, <70>, <133>); the caller's right to
// change the configuration; a change interrupted earlier settled; the
// password decrypted. On success the caller must call end.
func (j *Joiner) beginRPCChange(ctx context.Context, caller Caller, src PasswordSource) (*rpcChange, Code) {
	end, ok := j.tryBeginChange()
	if !ok {
		return nil, RPC_S_CALL_IN_PROGRESS
	}
	ch := &rpcChange{end: end}
	c := checkChangeConfig(caller)
	if c == NERR_Success {
		c = j.settleBeforeChange(ctx)
	}
	if c == NERR_Success {
		ch.pw, ch.havePw, c = decryptPassword(src)
	}
	if c != NERR_Success {
		end()
		return nil, c
	}
	return ch, NERR_Success
}

// loadMembership loads the membership a change starts from; a store that
// cannot be read is an internal error, logged with its cause.
func (j *Joiner) loadMembership(ctx context.Context) (Membership, Code) {
	cur, err := j.cfg.Store.Load()
	if err != nil {
		j.log.ErrorContext(ctx, "joinlogic: loading membership", "err", err)
		return Membership{}, ERROR_INTERNAL_ERROR
	}
	return cur, NERR_Success
}

// tryBeginChange takes, without waiting, what every change of the
// membership made for an RPC holds for its whole length: busy (this
// process's changes one at a time) and the state lock (other processes on
// the same state directory, such as wkssvcd rotate-password beside a
// running daemon). ok is false while either is held; end releases both.
// Rotation, recovery and offline joins take the same two, waiting.
func (j *Joiner) tryBeginChange() (end func(), ok bool) {
	if !j.busy.TryLock() {
		return nil, false
	}
	unlock, ok := j.tryLockState()
	if !ok {
		j.busy.Unlock()
		return nil, false
	}
	return func() {
		unlock()
		j.busy.Unlock()
	}, true
}

// tryLockState is lockState without waiting: ok is false while another
// process holds the lock. An unusable lock file does not block a change
// (the in-process lock still orders this process's changes).
func (j *Joiner) tryLockState() (unlock func(), ok bool) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u, err := j.lockState(ctx)
	if err == nil {
		return u, true
	}
	if errors.Is(err, context.Canceled) {
		return nil, false
	}
	j.log.Warn("joinlogic: state lock unusable", "err", err)
	return func() {}, true
}

// isJoinLike reports the intents recovery settles by binding with the new
// machine password.
func isJoinLike(op IntentOp) bool { return op == IntentJoin || op == IntentRotate }

// settleRotate settles a password change a crash (or an answer lost on
// the way back) interrupted, once a bind with the new password was
// refused. The refusal alone does not decide it: the request may have
// reached the DC just before the process died and still be on its way to
// the database, and dropping the intent then would leave the DC with a
// password the host forgot (the secure channel may even keep working,
// as DCs accept the previous password there, while Kerberos fails).
//
// So the change is sent again, to the same DC and with the same new
// password, over a new secure channel built with the old one. That
// channel's NetrServerAuthenticate3 replaces the DC's session state for
// this computer (MS-NRPC 3.5.1, ClientSessionInfo is indexed by
// ComputerName), so a request authenticated under the earlier session
// fails its authenticator check (3.5.4.4.6) from then on; and as both set
// the same password, their order does not matter. Then the new password
// is tried again: accepted, the change is completed; refused while the DC
// refused the change (or the old password), the old password stands;
// anything else (the DC unreachable) leaves the intent for later.
func (j *Joiner) settleRotate(ctx context.Context, in Intent) (pending bool, err error) {
	log := j.log.With("intent", in)
	if j.cfg.PasswordChanger == nil {
		log.InfoContext(ctx, "joinlogic: recovery: the rotate's directory write was not applied; the previous membership stands")
		return false, j.journal.Clear(ctx)
	}
	log.InfoContext(ctx, "joinlogic: recovery: the DC refuses the new machine password; sending the change again so that an earlier one cannot land later")
	cerr := j.cfg.PasswordChanger.ChangeMachinePassword(ctx, in.DC, in.Previous, in.Next.Password.Reveal())
	cred := Credentials{Account: Account{User: in.SAMAccountName, Domain: in.Next.DomainNetBIOS}, Password: in.Next.Password.Reveal()}
	sess, err := j.cfg.Directory.Bind(ctx, in.DC, cred)
	switch {
	case err == nil:
		defer sess.Close()
		log.InfoContext(ctx, "joinlogic: recovery: the DC holds the new machine password; completing the rotate", "change", errString(cerr))
		return j.finish(ctx, in, sess)
	case codeOf(err, ERROR_GEN_FAILURE) == ERROR_LOGON_FAILURE && errors.Is(cerr, ErrChangeRefused):
		log.WarnContext(ctx, "joinlogic: recovery: the DC refused the change; the previous membership stands", "err", cerr)
		return false, j.journal.Clear(ctx)
	default:
		log.WarnContext(ctx, "joinlogic: recovery: the machine password change is still undecided; will retry", "change", errString(cerr), "bind", err)
		return true, nil
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
