package joinlogic

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Recovery settles an Intent left by a join or unjoin that did not finish
// (the process was killed, or its rollback could not reach the
// controller). It rolls FORWARD when the directory write happened and
// drops the intent when it did not; it never needs the administrator's
// credentials, which were only ever in memory. Which side of the write
// the directory is on is learnt by binding to the controller the write
// went to AS THE MACHINE ACCOUNT:
//
//   - join: the intent holds the new, random machine password. A bind
//     with it succeeds only if the one LDAP add or modify of the join was
//     applied (it is what set that password and enabled the account):
//     then the key version is read with that same session, the keytab
//     installed, the joined membership saved. "Invalid credentials" means
//     the write was never applied, or was undone: the directory holds the
//     pre-join state and the old membership stands.
//   - unjoin with NETSETUP_ACCT_DELETE: the intent holds the current
//     password. A successful bind means the account is still enabled, so
//     the disabling modify was not applied and the machine stays joined;
//     "invalid credentials" means it was (a disabled account's bind is
//     refused), and the unjoin is finished locally.
//   - machine password change (rotate): as a join, but a refused bind
//     sends the change again before the old password is kept (see
//     settleRotate: a change sent just before a crash may land later).
//   - operations without a directory write are finished locally, an
//     offline join too (its intent holds the key version).
//
// Any other failure (the controller unreachable) leaves the intent in
// place, to be retried.

// Recovery defaults.
const (
	defaultRecoveryInterval = 30 * time.Second
	defaultRecoveryTimeout  = 30 * time.Second
)

// recordIntent journals in before a change. Without a journal it does
// nothing (Config.Journal documents the consequence).
func (j *Joiner) recordIntent(ctx context.Context, in Intent) error {
	if j.journal == nil {
		return nil
	}
	return j.journal.Save(ctx, in)
}

// clearIntent drops the intent once local state and directory agree. A
// failure is logged only: the intent left behind is settled again, to the
// same outcome, by the next recovery.
func (j *Joiner) clearIntent(ctx context.Context) {
	if j.journal == nil {
		return
	}
	if err := j.journal.Clear(context.WithoutCancel(ctx)); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: clearing the intent", "err", err)
	}
}

// settleBeforeChange runs under busy before a join or unjoin: a pending
// intent is settled first, as the state it settles to is the state the
// new call must start from. If it cannot be settled, the call answers
// RPC_S_CALL_IN_PROGRESS: MS-WKST 3.2.4.13 <70> and 3.2.4.22 <133> name
// that code for a call that finds an earlier call modifying the identity
// of the machine, which is exactly what an unsettled intent is; the
// caller may retry once the controller is back.
func (j *Joiner) settleBeforeChange(ctx context.Context) Code {
	pending, err := j.settle(ctx)
	switch {
	case err != nil:
		j.log.ErrorContext(ctx, "joinlogic: reading the intent journal", "err", err)
		return ERROR_INTERNAL_ERROR
	case pending:
		return RPC_S_CALL_IN_PROGRESS
	}
	return NERR_Success
}

// Recover settles a pending intent once. pending is true when the
// controller could not tell (it was unreachable); err is set only when the
// journal or the local state cannot be read or written. It waits for a
// join, unjoin or password change in progress to finish, in this process
// or in another on the same state (wkssvcd testjoin beside a running
// rotate-password must not settle the intent that one is still acting on).
func (j *Joiner) Recover(ctx context.Context) (pending bool, err error) {
	if err := lockCtx(ctx, &j.busy); err != nil {
		return false, err
	}
	defer j.busy.Unlock()
	unlock, err := j.lockState(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return false, err
	case err != nil:
		// An unusable lock file (a read-only state directory) does not
		// stop recovery, as it does not stop a join (tryLockState).
		j.log.WarnContext(ctx, "joinlogic: state lock unusable", "err", err)
	default:
		defer unlock()
	}
	return j.settle(ctx)
}

// lockCtx takes mu, giving up when ctx ends.
func lockCtx(ctx context.Context, mu interface{ TryLock() bool }) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !mu.TryLock() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// StartRecovery is called once before the daemon serves. It settles a
// pending intent (one attempt, bounded by Config.RecoveryTimeout); if the
// controller cannot be reached it logs a warning and keeps retrying in the
// background every Config.RecoveryInterval until the intent is settled,
// ctx ends, or Close is called. Meanwhile the daemon serves: joins and
// unjoins try to settle first and answer RPC_S_CALL_IN_PROGRESS while
// they cannot. The error is that of an unreadable journal or membership.
func (j *Joiner) StartRecovery(ctx context.Context) error {
	j.loopMu.Lock()
	j.base = ctx
	j.loopMu.Unlock()
	actx, cancel := context.WithTimeout(ctx, j.cfg.RecoveryTimeout)
	pending, err := j.Recover(actx)
	cancel()
	if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if !pending && err == nil {
		return nil
	}
	j.log.WarnContext(ctx, "joinlogic: an interrupted join or unjoin awaits the domain controller; retrying in the background",
		"interval", j.cfg.RecoveryInterval)
	j.startLoop()
	return nil
}

// startLoop starts the background recovery unless it is running, Close was
// called, or StartRecovery never gave it a context. A join or unjoin whose
// rollback could not reach the controller calls it too, so that its
// intent is settled without waiting for the next call or a restart.
func (j *Joiner) startLoop() {
	j.loopMu.Lock()
	defer j.loopMu.Unlock()
	if j.base == nil || j.closed {
		return
	}
	if j.loopDone != nil {
		select {
		case <-j.loopDone: // ended: settled, or its context ended
		default:
			return // running
		}
	}
	lctx, stop := context.WithCancel(j.base)
	j.stop, j.loopDone = stop, make(chan struct{})
	go j.recoveryLoop(lctx, j.loopDone)
}

func (j *Joiner) recoveryLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(j.cfg.RecoveryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		end, ok := j.tryBeginChange()
		if !ok {
			// A change of this process is running (it settles first
			// itself), or another process changes the membership.
			continue
		}
		actx, cancel := context.WithTimeout(ctx, j.cfg.RecoveryTimeout)
		pending, err := j.settle(actx)
		cancel()
		end()
		switch {
		case err != nil:
			j.log.ErrorContext(ctx, "joinlogic: recovery", "err", err)
		case !pending:
			return
		}
	}
}

// Close stops the background recovery and waits for it. It is safe to
// call more than once, and without StartRecovery.
func (j *Joiner) Close() error {
	j.loopMu.Lock()
	j.closed = true
	stop, done := j.stop, j.loopDone
	j.loopMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return nil
}

// settle settles the journal's intent; the caller holds busy.
func (j *Joiner) settle(ctx context.Context) (pending bool, err error) {
	if j.journal == nil {
		return false, nil
	}
	in, ok, err := j.journal.Load()
	if err != nil || !ok {
		return false, err
	}
	log := j.log.With("intent", in)
	if in.Op == IntentRename || in.Op == IntentNames {
		return j.settleNames(ctx, in)
	}
	if in.Op == IntentUnjoin && !in.DirectoryWrite {
		log.InfoContext(ctx, "joinlogic: recovery: finishing an interrupted local unjoin")
		return j.finish(ctx, in, nil)
	}
	if in.Op == IntentOfflineJoin {
		// Everything it needs is in the intent.
		log.InfoContext(ctx, "joinlogic: recovery: finishing an interrupted offline join")
		return j.finish(ctx, in, nil)
	}
	dir := j.cfg.Directory
	if dir == nil {
		// No directory, no way to ask: the intent cannot be settled.
		return true, nil
	}
	password := in.Next.Password
	domain := in.Next.DomainNetBIOS
	if in.Op == IntentUnjoin {
		password, domain = in.Previous.Password, in.Previous.DomainNetBIOS
	}
	cred := Credentials{Account: Account{User: in.SAMAccountName, Domain: domain}, Password: password.Reveal()}
	sess, err := dir.Bind(ctx, in.DC, cred)
	c := codeOf(err, ERROR_GEN_FAILURE)
	switch {
	case err == nil:
		defer func() {
			if cerr := sess.Close(); cerr != nil {
				log.WarnContext(ctx, "joinlogic: closing the recovery session", "err", cerr)
			}
		}()
	case c == ERROR_LOGON_FAILURE:
		// The controller refused the machine account: decided below.
	default:
		log.WarnContext(ctx, "joinlogic: recovery: domain controller unreachable", "err", err)
		return true, nil
	}
	switch {
	case isJoinLike(in.Op) && err == nil:
		log.InfoContext(ctx, "joinlogic: recovery: the "+string(in.Op)+"'s directory write was applied; completing it")
		return j.finish(ctx, in, sess)
	case in.Op == IntentRotate:
		return j.settleRotate(ctx, in)
	case isJoinLike(in.Op):
		log.InfoContext(ctx, "joinlogic: recovery: the "+string(in.Op)+"'s directory write was not applied; the previous membership stands")
	case err == nil:
		log.InfoContext(ctx, "joinlogic: recovery: the unjoin's directory write was not applied; the machine stays joined")
	default:
		log.InfoContext(ctx, "joinlogic: recovery: the unjoin's directory write was applied; completing the unjoin")
		return j.finish(ctx, in, nil)
	}
	return false, j.journal.Clear(ctx)
}

// finish rolls in forward; a failure leaves the intent pending, to be
// retried (the controller lost midway, a keytab or membership that cannot
// be written).
func (j *Joiner) finish(ctx context.Context, in Intent, sess Session) (pending bool, err error) {
	if err := j.rollForward(ctx, in, sess); err != nil {
		j.log.ErrorContext(ctx, "joinlogic: recovery: completing the interrupted operation failed; will retry", "intent", in, "err", err)
		return true, nil
	}
	return false, nil
}

// rollForward finishes in locally: for a join the keytab (its key version
// read through sess, bound as the machine account) and the membership;
// for an unjoin the keytab removal and the cleared membership. Each step
// is idempotent, so a crash during recovery is recovered again.
func (j *Joiner) rollForward(ctx context.Context, in Intent, sess Session) error {
	if isJoinLike(in.Op) && j.cfg.Keytab != nil && in.Keytab {
		acct, found, err := sess.FindComputer(ctx, in.SAMAccountName)
		if err == nil && !found {
			err = fmt.Errorf("joinlogic: %s not found: %w", in.SAMAccountName, ERROR_NONE_MAPPED)
		}
		if err != nil {
			return err
		}
		kvno, err := sess.KeyVersionNumber(ctx, acct.DN)
		if err == nil && kvno == 0 {
			err = errNoKeyVersion
		}
		if err != nil {
			return err
		}
		if _, err := j.cfg.Keytab.Install(ctx, keytabEntries(in.Next, kvno)); err != nil {
			return fmt.Errorf("joinlogic: recovery: installing keytab: %w", err)
		}
	}
	if in.Op == IntentOfflineJoin && j.cfg.Keytab != nil && in.Keytab {
		kvno := in.KVNO
		if kvno == 0 {
			kvno = DefaultOfflineKVNO
		}
		if _, err := j.cfg.Keytab.Install(ctx, keytabEntries(in.Next, kvno)); err != nil {
			return fmt.Errorf("joinlogic: recovery: installing keytab: %w", err)
		}
	}
	if in.Op == IntentUnjoin && j.cfg.Keytab != nil {
		if _, err := j.cfg.Keytab.Remove(ctx, keytabEntriesWithNames(in.Previous, j.Names(), 0)); err != nil {
			return fmt.Errorf("joinlogic: recovery: removing keytab: %w", err)
		}
	}
	if err := j.cfg.Store.Save(ctx, in.Next); err != nil {
		return fmt.Errorf("joinlogic: recovery: saving membership: %w", err)
	}
	if err := j.journal.Clear(ctx); err != nil {
		return err
	}
	j.log.InfoContext(ctx, "joinlogic: recovery: completed", "membership", in.Next)
	return nil
}
