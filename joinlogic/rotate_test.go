package joinlogic

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeChanger is the DC's side of NetrServerPasswordSet2 against a
// fakeDirectory: the secure channel is built with the current password,
// the change sets the account's password and moves its key version.
type fakeChanger struct {
	dir *fakeDirectory

	mu sync.Mutex
	// crash ends the calling goroutine (a process killed): "before" the
	// request is sent, "after" the DC applied it, "inflight" once it is
	// sent but before the DC applies it (held, applied by land).
	crash  string
	held   func()
	refuse error // the DC refuses the change (a policy, say)
	down   bool  // the DC does not answer
	calls  int
}

func (c *fakeChanger) ChangeMachinePassword(ctx context.Context, dc DCInfo, cur Membership, next string) error {
	c.mu.Lock()
	c.calls++
	crash, refuse, down := c.crash, c.refuse, c.down
	c.crash = ""
	c.mu.Unlock()
	if down {
		return fmt.Errorf("%w: dial: connection refused", ErrChangeNotSent)
	}
	if crash == "before" {
		runtime.Goexit()
	}
	c.dir.mu.Lock()
	acct := c.dir.accounts[strings.ToUpper(cur.ClientName)]
	if acct == nil || acct.password != cur.Password.Reveal() {
		c.dir.mu.Unlock()
		return fmt.Errorf("%w: %w: NetrServerAuthenticate3: access denied", ErrChangeNotSent, ErrChangeRefused)
	}
	c.dir.mu.Unlock()
	if refuse != nil {
		return fmt.Errorf("%w: %w", ErrChangeRefused, refuse)
	}
	apply := func() {
		c.dir.mu.Lock()
		defer c.dir.mu.Unlock()
		acct.password = next
		acct.kvno++
		c.dir.record("passwordset", acct.sam)
	}
	if crash == "inflight" {
		c.mu.Lock()
		c.held = apply
		c.mu.Unlock()
		runtime.Goexit()
	}
	apply()
	if crash == "after" {
		runtime.Goexit()
	}
	return nil
}

// land applies the change a crash left in flight.
func (c *fakeChanger) land() {
	c.mu.Lock()
	h := c.held
	c.held = nil
	c.mu.Unlock()
	if h != nil {
		h()
	}
}

// landingDirectory is a fakeDirectory whose first refused machine bind
// lets the change in flight land right after it: the DC was still
// writing it when recovery asked.
type landingDirectory struct {
	*fakeDirectory
	ch   *fakeChanger
	once sync.Once
}

func (d *landingDirectory) Bind(ctx context.Context, dc DCInfo, cred Credentials) (Session, error) {
	s, err := d.fakeDirectory.Bind(ctx, dc, cred)
	if errors.Is(err, ERROR_LOGON_FAILURE) && strings.HasSuffix(cred.Account.User, "$") {
		d.once.Do(d.ch.land)
	}
	return s, err
}

// TestRotateRecoveryAfterCrash kills a password change at each moment
// that matters and restarts: afterwards the membership, the keytab and
// the DC hold the same password, whatever the DC did with the request of
// the killed process and whenever it did it.
func TestRotateRecoveryAfterCrash(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		crash   string // fakeChanger.crash
		dirStep string // fakeDirectory crash point instead
		keytab  bool   // crash right after the keytab install
		save    bool   // crash right before the membership save
		landing string // inflight: when the held change lands: "recovery" (right after recovery's first bind), "later" (after recovery), "never"
		rotated bool   // the new password is the one in use afterwards
	}{
		{name: "before the change is sent", crash: "before", rotated: true},
		{name: "after the DC applied it", crash: "after", rotated: true},
		{name: "before the key version", dirStep: "kvno", rotated: true},
		{name: "after the keytab install", keytab: true, rotated: true},
		{name: "before the membership save", save: true, rotated: true},
		{name: "in flight, lands while recovery asks", crash: "inflight", landing: "recovery", rotated: true},
		{name: "in flight, lands after recovery", crash: "inflight", landing: "later", rotated: true},
		{name: "in flight, never lands", crash: "inflight", landing: "never", rotated: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newRecoveryEnv(t)
			ch := &fakeChanger{dir: e.dir}
			j, store := e.start(t, func(cfg *Config) { cfg.PasswordChanger = ch })
			if code := j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); code != NERR_Success {
				t.Fatal(code)
			}
			before, _ := store.Load()
			j, _ = e.start(t, func(cfg *Config) {
				cfg.PasswordChanger = ch
				if c.keytab {
					cfg.Keytab = crashKeytab{e.kt}
				}
				if c.save {
					cfg.Store = crashStore{cfg.Store.(*Store)}
					cfg.Journal, _ = OpenFileJournal(IntentPath(e.path))
				}
			})
			ch.crash = c.crash
			e.dir.crashAt = c.dirStep
			done := make(chan bool, 1)
			go func() {
				defer close(done)
				j.RotatePassword(ctx, RotateRequest{Force: true})
				done <- true
			}()
			if <-done {
				t.Fatal("the change was not interrupted")
			}
			if _, err := os.Stat(IntentPath(e.path)); err != nil {
				t.Fatalf("no intent after the crash: %v", err)
			}

			var dir Directory = e.dir
			if c.landing == "recovery" {
				dir = &landingDirectory{fakeDirectory: e.dir, ch: ch}
			}
			j2, store2 := e.start(t, func(cfg *Config) { cfg.PasswordChanger = ch; cfg.Directory = dir })
			if pending, err := j2.Recover(ctx); pending || err != nil {
				t.Fatalf("Recover = %v, %v", pending, err)
			}
			if c.landing == "later" {
				ch.land()
			}
			if _, err := os.Stat(IntentPath(e.path)); !os.IsNotExist(err) {
				t.Fatalf("intent left after recovery: %v", err)
			}
			m, _ := store2.Load()
			acct := e.dir.account("WKS1$")
			kt := e.kt.state()
			if !m.Joined() || acct.password != m.Password.Reveal() {
				t.Fatalf("the DC and the membership disagree on the password (ops %v)", e.dir.ops())
			}
			if kt == nil || kt.Password != m.Password {
				t.Fatalf("the keytab does not hold the password's keys: %+v", kt)
			}
			if rotated := m.Password != before.Password; rotated != c.rotated {
				t.Fatalf("rotated = %v, want %v", rotated, c.rotated)
			}
			if c.rotated && m.PreviousPassword != before.Password {
				t.Fatal("the previous password is not kept")
			}
			if kt.KVNO != acct.kvno && c.landing != "later" {
				t.Fatalf("keytab key version %d, the DC's %d", kt.KVNO, acct.kvno)
			}
		})
	}
}

// TestRotateRefusedOrUnreachable: a change the DC refuses, or cannot
// receive, leaves the old password in use and no intent; one whose answer
// was lost while the DC kept refusing the new password stays pending until
// the DC can tell, then is settled.
func TestRotateRefusedOrUnreachable(t *testing.T) {
	ctx := context.Background()
	e := newRecoveryEnv(t)
	ch := &fakeChanger{dir: e.dir}
	j, store := e.start(t, func(cfg *Config) { cfg.PasswordChanger = ch })
	if code := j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); code != NERR_Success {
		t.Fatal(code)
	}
	before, _ := store.Load()
	unchanged := func(what string) {
		t.Helper()
		m, _ := store.Load()
		if m.Password != before.Password || e.dir.account("WKS1$").password != before.Password.Reveal() {
			t.Fatalf("%s: the password changed", what)
		}
		if _, err := os.Stat(IntentPath(e.path)); !os.IsNotExist(err) {
			t.Fatalf("%s: intent left: %v", what, err)
		}
	}

	ch.refuse = errors.New("STATUS_PASSWORD_RESTRICTION")
	if _, err := j.RotatePassword(ctx, RotateRequest{Force: true}); !errors.Is(err, ErrChangeRefused) {
		t.Fatalf("refused change: %v", err)
	}
	unchanged("refused")
	ch.refuse, ch.down = nil, true
	if _, err := j.RotatePassword(ctx, RotateRequest{Force: true}); !errors.Is(err, ErrChangeNotSent) {
		t.Fatalf("unreachable DC: %v", err)
	}
	unchanged("unreachable")

	// A crash in flight, then the DC is unreachable during recovery: the
	// intent waits; once it answers, the change is completed.
	ch.down = false
	ch.crash = "inflight"
	done := make(chan struct{})
	go func() { defer close(done); j.RotatePassword(ctx, RotateRequest{Force: true}) }()
	<-done
	e.dir.mu.Lock()
	e.dir.fail["bind"] = fmt.Errorf("dial: %w", ERROR_NO_SUCH_DOMAIN)
	e.dir.mu.Unlock()
	j2, store2 := e.start(t, func(cfg *Config) { cfg.PasswordChanger = ch })
	if pending, err := j2.Recover(ctx); !pending || err != nil {
		t.Fatalf("Recover with the DC away = %v, %v", pending, err)
	}
	e.dir.mu.Lock()
	delete(e.dir.fail, "bind")
	e.dir.mu.Unlock()
	ch.land()
	if pending, err := j2.Recover(ctx); pending || err != nil {
		t.Fatalf("Recover = %v, %v", pending, err)
	}
	m, _ := store2.Load()
	if m.Password == before.Password || e.dir.account("WKS1$").password != m.Password.Reveal() {
		t.Fatal("the change that landed was not completed")
	}
	// And a recovery whose resent change the DC refuses keeps the old
	// password.
	before = m
	ch.crash = "before"
	j3, store3 := e.start(t, func(cfg *Config) { cfg.PasswordChanger = ch })
	done = make(chan struct{})
	go func() { defer close(done); j3.RotatePassword(ctx, RotateRequest{Force: true}) }()
	<-done
	ch.refuse = errors.New("STATUS_PASSWORD_RESTRICTION")
	if pending, err := j3.Recover(ctx); pending || err != nil {
		t.Fatalf("Recover with the change refused = %v, %v", pending, err)
	}
	store = store3
	unchanged("resent and refused")
}

// TestRecoverWaitsForAnotherProcess: while another process holds the
// state (a rotate-password acting on its intent), Recover waits instead
// of settling that intent under it.
func TestRecoverWaitsForAnotherProcess(t *testing.T) {
	ctx := context.Background()
	e := newRecoveryEnv(t)
	ch := &fakeChanger{dir: e.dir}
	j, _ := e.start(t, func(cfg *Config) { cfg.PasswordChanger = ch })
	if code := j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); code != NERR_Success {
		t.Fatal(code)
	}
	ch.crash = "inflight"
	done := make(chan struct{})
	go func() { defer close(done); j.RotatePassword(ctx, RotateRequest{Force: true}) }()
	<-done
	other, _ := e.start(t, nil)
	unlock, err := other.lockState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := e.start(t, func(cfg *Config) { cfg.PasswordChanger = ch })
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := j2.Recover(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recover while another process holds the state = %v", err)
	}
	if ch.calls != 1 {
		t.Fatalf("the change was sent again under the other process (%d calls)", ch.calls)
	}
	unlock()
	if pending, err := j2.Recover(ctx); pending || err != nil {
		t.Fatalf("Recover = %v, %v", pending, err)
	}
}

// TestRecoverWithUnusableLock: a lock file that cannot be opened (here a
// directory in its place) does not stop recovery, as it does not stop a
// join.
func TestRecoverWithUnusableLock(t *testing.T) {
	ctx := context.Background()
	e := newRecoveryEnv(t)
	ch := &fakeChanger{dir: e.dir}
	j, _ := e.start(t, func(cfg *Config) { cfg.PasswordChanger = ch })
	if code := j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); code != NERR_Success {
		t.Fatal(code)
	}
	ch.crash = "after"
	done := make(chan struct{})
	go func() { defer close(done); j.RotatePassword(ctx, RotateRequest{Force: true}) }()
	<-done
	lock := IntentPath(e.path) + ".lock"
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o700); err != nil {
		t.Fatal(err)
	}
	j2, store := e.start(t, func(cfg *Config) { cfg.PasswordChanger = ch })
	if pending, err := j2.Recover(ctx); pending || err != nil {
		t.Fatalf("Recover with an unusable lock file = %v, %v", pending, err)
	}
	if m, _ := store.Load(); m.Password.Reveal() != e.dir.account("WKS1$").password {
		t.Fatal("not settled")
	}
}
