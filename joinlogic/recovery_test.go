package joinlogic

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func sampleIntent() Intent {
	return Intent{Op: IntentJoin, DC: DCInfo{DCName: "dc1.example.test", DCAddress: "127.0.0.2", DomainDNS: "example.test", DomainFlat: "EXAMPLE"},
		SAMAccountName: "WKS1$", DirectoryWrite: true, Next: sampleMembership(), Previous: DefaultMembership(), Keytab: true,
		Started: time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)}
}

func TestFileJournal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := IntentPath(filepath.Join(dir, "membership.json"))
	stale := filepath.Join(dir, "."+filepath.Base(path)+".tmp-123")
	if err := os.WriteFile(stale, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := OpenFileJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temporary file not removed")
	}
	if _, ok, err := j.Load(); ok || err != nil {
		t.Fatalf("empty journal: %v %v", ok, err)
	}
	in := sampleIntent()
	if err := j.Save(ctx, in); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("intent file: %v %v", fi, err)
	}
	got, ok, err := j.Load()
	if err != nil || !ok || got.Op != in.Op || got.DC != in.DC || !equalMembership(got.Next, in.Next) || got.Previous != in.Previous ||
		!got.Started.Equal(in.Started) || got.SAMAccountName != in.SAMAccountName || !got.DirectoryWrite || !got.Keytab {
		t.Fatalf("Load = %+v %v %v", got, ok, err)
	}
	if err := j.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Clear(ctx); err != nil {
		t.Fatalf("second Clear: %v", err)
	}
	if _, ok, err := j.Load(); ok || err != nil {
		t.Fatalf("after Clear: intent present %v, err %v", ok, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("intent file still there after Clear: %v", err)
	}
	// An invalid intent is refused before it is written.
	bad := in
	bad.Next = Membership{}
	if err := j.Save(ctx, bad); err == nil {
		t.Fatal("join intent without a membership accepted")
	}
	// A corrupt file is an error, never a silently dropped intent.
	if err := os.WriteFile(path, []byte(`{"version":1,"intent":{"op":"join"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Load(); err == nil {
		t.Fatal("corrupt intent file accepted")
	}
	if _, err := OpenFileJournal(""); err == nil {
		t.Fatal("empty path accepted")
	}
}

func TestParseIntentRejects(t *testing.T) {
	good, err := encodeIntent(sampleIntent())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseIntent(good); err != nil {
		t.Fatalf("good intent: %v", err)
	}
	for _, c := range []string{
		``, `null`, `{"version":1}`, `{"version":1,"intent":null}`, `{"version":2,"intent":{}}`,
		`{"version":1,"intent":{"op":"explode"}}`,
		`{"version":1,"intent":{"op":"join","sam_account_name":"WKS1$"}}`,
		`{"version":1,"intent":{"op":"unjoin","sam_account_name":"WKS1$","previous":{}}}`,
		`{"version":1,"intent":{},"extra":1}`,
		string(good) + `{}`,
	} {
		if _, err := parseIntent([]byte(c)); err == nil {
			t.Errorf("accepted %q", c)
		}
	}
	noSAM := sampleIntent()
	noSAM.SAMAccountName = "WKS1"
	noDC := sampleIntent()
	noDC.DC = DCInfo{}
	for _, in := range []Intent{noSAM, noDC} {
		if err := in.validate(); err == nil {
			t.Errorf("accepted %+v", in.LogValue())
		}
	}
}

// TestIntentNeverShowsPasswords: the intent holds machine passwords; no
// way of printing or logging it shows them.
func TestIntentNeverShowsPasswords(t *testing.T) {
	in := sampleIntent()
	in.Previous = sampleMembership()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "intent", in)
	for _, s := range []string{fmt.Sprint(in), fmt.Sprintf("%+v", in), fmt.Sprintf("%#v", in), buf.String()} {
		if strings.Contains(s, in.Next.Password.Reveal()) || strings.Contains(s, "older") {
			t.Errorf("password shown: %s", s)
		}
	}
}

// crashKeytab ends the calling goroutine right after installing.
type crashKeytab struct{ *fakeKeytab }

func (k crashKeytab) Install(ctx context.Context, e KeytabEntries) (func(context.Context) error, error) {
	k.fakeKeytab.Install(ctx, e)
	runtime.Goexit()
	return nil, nil
}

// crashStore ends the calling goroutine right before saving.
type crashStore struct{ *Store }

func (s crashStore) Save(context.Context, Membership) error {
	runtime.Goexit()
	return nil
}

// recoveryEnv is a machine with a real membership file (and so a real
// intent journal) in a temporary directory, a fake directory and a fake
// keytab that survive its "restarts".
type recoveryEnv struct {
	dir  *fakeDirectory
	kt   *fakeKeytab
	path string
}

func newRecoveryEnv(t *testing.T) *recoveryEnv {
	return &recoveryEnv{dir: newFakeDirectory(), kt: &fakeKeytab{}, path: filepath.Join(t.TempDir(), "membership.json")}
}

// start opens the files as a (re)started daemon does; wrap may replace
// the store and keytab the joiner uses.
func (e *recoveryEnv) start(t *testing.T, wrap func(*Config)) (*Joiner, *Store) {
	t.Helper()
	store, err := OpenStore(e.path)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	j := newJoiner(t, store, e.dir, func(c *Config) {
		c.Keytab = e.kt
		c.RecoveryInterval = time.Millisecond
		if wrap != nil {
			wrap(c)
		}
	})
	t.Cleanup(func() { j.Close() })
	return j, store
}

// interrupted runs op on a goroutine the fakes may end (runtime.Goexit),
// and reports whether op finished anyway.
func interrupted(op func() Code) bool {
	done := make(chan bool, 1)
	go func() {
		defer close(done)
		op()
		done <- true
	}()
	return !<-done
}

func unjoinReq(opts uint32) UnjoinRequest {
	return UnjoinRequest{Method: 3, Protseq: "ncacn_np", Caller: admin, AccountName: sp("administrator@example.test"),
		Password: goodPw("Secret1!").source(), Options: opts}
}

// TestRecoveryAfterCrash kills a join or unjoin at each moment that
// matters — before and after its one directory write, after the keytab
// install, before the membership save — and restarts: Recover rolls
// forward exactly when the write was applied, and afterwards membership,
// keytab and directory agree.
func TestRecoveryAfterCrash(t *testing.T) {
	ctx := context.Background()
	type outcome int
	const (
		joined outcome = iota
		notJoined
	)
	cases := []struct {
		name     string
		existing bool   // a disabled WKS1$ exists before the join
		unjoin   uint32 // run an unjoin (with these options) of a joined machine instead
		crashAt  string // fakeDirectory operation
		after    bool
		keytab   bool // crash right after the keytab install
		save     bool // crash right before the membership save
		want     outcome
	}{
		{name: "join/before the add", crashAt: "create", want: notJoined},
		{name: "join/after the add", crashAt: "create", after: true, want: joined},
		{name: "join/before the key version", crashAt: "kvno", want: joined},
		{name: "join/after the keytab install", keytab: true, want: joined},
		{name: "join/before the membership save", save: true, want: joined},
		{name: "join existing/before the modify", existing: true, crashAt: "reset", want: notJoined},
		{name: "join existing/after the modify", existing: true, crashAt: "reset", after: true, want: joined},
		{name: "unjoin/before the disable", unjoin: NETSETUP_ACCT_DELETE, crashAt: "disable", want: joined},
		{name: "unjoin/after the disable", unjoin: NETSETUP_ACCT_DELETE, crashAt: "disable", after: true, want: notJoined},
		{name: "unjoin/before the membership save", unjoin: NETSETUP_ACCT_DELETE, save: true, want: notJoined},
		{name: "unjoin without ACCT_DELETE/before the membership save", unjoin: 0, save: true, want: notJoined},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newRecoveryEnv(t)
			if c.existing {
				e.dir.addAccount(computersDN, "WKS1", UF_WORKSTATION_TRUST_ACCOUNT|UF_ACCOUNTDISABLE)
			}
			if c.unjoin != 0 || strings.HasPrefix(c.name, "unjoin") {
				j, _ := e.start(t, nil)
				if code := j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); code != NERR_Success {
					t.Fatal(code)
				}
			}
			j, _ := e.start(t, func(cfg *Config) {
				if c.keytab {
					cfg.Keytab = crashKeytab{e.kt}
				}
				if c.save {
					cfg.Store = crashStore{cfg.Store.(*Store)}
					cfg.Journal, _ = OpenFileJournal(IntentPath(e.path))
				}
			})
			e.dir.crashAt, e.dir.crashAfter = c.crashAt, c.after
			op := func() Code { return j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)) }
			if strings.HasPrefix(c.name, "unjoin") {
				op = func() Code { return j.Unjoin(ctx, unjoinReq(c.unjoin)) }
			}
			if !interrupted(op) {
				t.Fatal("the operation was not interrupted")
			}
			if _, err := os.Stat(IntentPath(e.path)); err != nil {
				t.Fatalf("no intent after the crash: %v", err)
			}

			j2, store := e.start(t, nil)
			if pending, err := j2.Recover(ctx); pending || err != nil {
				t.Fatalf("Recover = %v, %v", pending, err)
			}
			if _, err := os.Stat(IntentPath(e.path)); !os.IsNotExist(err) {
				t.Fatalf("intent left after recovery: %v", err)
			}
			m, _ := store.Load()
			acct := e.dir.account("WKS1$")
			kt := e.kt.state()
			switch c.want {
			case joined:
				if !m.Joined() || acct == nil || acct.uac&UF_ACCOUNTDISABLE != 0 || acct.password != m.Password.Reveal() {
					t.Fatalf("want joined: membership %+v, account %+v", m.LogValue(), acct)
				}
				if kt == nil || kt.Password != m.Password || kt.KVNO != acct.kvno || kt.ComputerName != "WKS1" || kt.Realm != "EXAMPLE.TEST" {
					t.Fatalf("keytab %+v, account kvno %d", kt, acct.kvno)
				}
				if acct.dnsHostName != "wks1.example.test" {
					t.Fatalf("account not complete: %+v", acct)
				}
			case notJoined:
				if m.Joined() || kt != nil {
					t.Fatalf("want not joined: membership %+v, keytab %+v", m.LogValue(), kt)
				}
				switch {
				case strings.HasPrefix(c.name, "unjoin") && c.unjoin != 0:
					if acct == nil || acct.uac&UF_ACCOUNTDISABLE == 0 {
						t.Fatalf("unjoined, account %+v", acct)
					}
				case c.existing:
					if acct == nil || acct.uac&UF_ACCOUNTDISABLE == 0 || acct.password != "old-password" {
						t.Fatalf("pre-join account changed: %+v", acct)
					}
				case !strings.HasPrefix(c.name, "unjoin"):
					if acct != nil {
						t.Fatalf("account left: %+v", acct)
					}
				}
			}
		})
	}
}

// TestPendingIntent: while the controller cannot tell which side of the
// write it is on, start-up recovery keeps the intent and retries in the
// background, the daemon answers queries with the old state, and joins and
// unjoins answer RPC_S_CALL_IN_PROGRESS (MS-WKST <70>, <133>). Once the
// controller answers, the intent is settled — by the retry loop, or by
// the next join, which then goes ahead.
func TestPendingIntent(t *testing.T) {
	ctx := context.Background()
	e := newRecoveryEnv(t)
	j, _ := e.start(t, nil)
	e.dir.crashAt, e.dir.crashAfter = "create", true
	if !interrupted(func() Code { return j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)) }) {
		t.Fatal("not interrupted")
	}

	e.dir.mu.Lock()
	e.dir.fail["bind"] = fmt.Errorf("dial: %w", ERROR_NO_SUCH_DOMAIN)
	e.dir.mu.Unlock()
	j2, store := e.start(t, func(c *Config) { c.RecoveryInterval = time.Hour })
	if err := j2.StartRecovery(ctx); err != nil {
		t.Fatal(err)
	}
	if name, st, err := j2.JoinInformation(ctx); err != nil || st != NetSetupWorkgroupName || name != DefaultWorkgroup {
		t.Fatalf("JoinInformation while pending = %q %d %v", name, st, err)
	}
	if c := j2.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != RPC_S_CALL_IN_PROGRESS {
		t.Fatalf("Join while pending = %v", c)
	}
	if c := j2.Unjoin(ctx, unjoinReq(0)); c != RPC_S_CALL_IN_PROGRESS {
		t.Fatalf("Unjoin while pending = %v", c)
	}
	if pending, err := j2.Recover(ctx); !pending || err != nil {
		t.Fatalf("Recover while unreachable = %v, %v", pending, err)
	}
	// Close stops the background retries and waits for them.
	j2.loopMu.Lock()
	done := j2.loopDone
	j2.loopMu.Unlock()
	if done == nil {
		t.Fatal("no background recovery while the controller is unreachable")
	}
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	default:
		t.Fatal("Close returned before the background recovery ended")
	}

	e.dir.mu.Lock()
	delete(e.dir.fail, "bind")
	e.dir.mu.Unlock()
	// The next join settles first: the add was applied, so the machine is
	// joined already.
	if c := j2.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_SetupAlreadyJoined {
		t.Fatalf("Join after the controller came back = %v", c)
	}
	if m, _ := store.Load(); !m.Joined() || m.Password.Reveal() != e.dir.account("WKS1$").password {
		t.Fatalf("membership %+v", m.LogValue())
	}
}

// TestRecoveryLoopSettles: the background retries settle the intent once
// the controller answers, then stop by themselves.
func TestRecoveryLoopSettles(t *testing.T) {
	ctx := context.Background()
	e := newRecoveryEnv(t)
	j, _ := e.start(t, nil)
	e.dir.crashAt = "create"
	if !interrupted(func() Code { return j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)) }) {
		t.Fatal("not interrupted")
	}
	e.dir.mu.Lock()
	e.dir.failOnce["bind"] = ERROR_NO_SUCH_DOMAIN
	e.dir.mu.Unlock()
	j2, store := e.start(t, nil)
	if err := j2.StartRecovery(ctx); err != nil {
		t.Fatal(err)
	}
	j2.loopMu.Lock()
	done := j2.loopDone
	j2.loopMu.Unlock()
	if done == nil {
		t.Fatal("no background recovery after an unreachable controller")
	}
	<-done // the loop ends by itself once settled
	if _, err := os.Stat(IntentPath(e.path)); !os.IsNotExist(err) {
		t.Fatalf("intent left: %v", err)
	}
	if m, _ := store.Load(); m.Joined() {
		t.Fatal("a join whose add never happened was rolled forward")
	}
	if c := j2.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatalf("Join after recovery = %v", c)
	}
}

// TestStartRecoveryRefusesCorruptJournal: like the membership file, an
// intent file that cannot be read stops the daemon instead of being
// dropped silently.
func TestStartRecoveryRefusesCorruptJournal(t *testing.T) {
	e := newRecoveryEnv(t)
	if err := os.WriteFile(IntentPath(e.path), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	j, _ := e.start(t, nil)
	if err := j.StartRecovery(context.Background()); err == nil {
		t.Fatal("corrupt journal accepted")
	}
	if c := j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != ERROR_INTERNAL_ERROR {
		t.Fatalf("Join with a corrupt journal = %v", c)
	}
}

// TestFailedRollbackStartsRecovery: a join whose directory write was
// applied but whose rollback cannot reach the controller leaves its intent
// and starts the background recovery, which completes the join once the
// controller answers again.
func TestFailedRollbackStartsRecovery(t *testing.T) {
	ctx := context.Background()
	e := newRecoveryEnv(t)
	j, store := e.start(t, nil)
	if err := j.StartRecovery(ctx); err != nil {
		t.Fatal(err)
	}
	e.dir.mu.Lock()
	e.dir.fail["kvno"] = fmt.Errorf("read: %w", ERROR_NO_SUCH_DOMAIN)
	e.dir.fail["delete"] = fmt.Errorf("write: %w", ERROR_NO_SUCH_DOMAIN)
	e.dir.mu.Unlock()
	if c := j.Join(ctx, adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != ERROR_NO_SUCH_DOMAIN {
		t.Fatalf("Join = %v", c)
	}
	if m, _ := store.Load(); m.Joined() {
		t.Fatal("joined although the join failed")
	}
	j.loopMu.Lock()
	done := j.loopDone
	j.loopMu.Unlock()
	if done == nil {
		t.Fatal("no background recovery after an incomplete rollback")
	}
	e.dir.mu.Lock()
	delete(e.dir.fail, "kvno")
	delete(e.dir.fail, "delete")
	e.dir.mu.Unlock()
	<-done
	m, _ := store.Load()
	acct := e.dir.account("WKS1$")
	if !m.Joined() || acct == nil || acct.password != m.Password.Reveal() || e.kt.state() == nil {
		t.Fatalf("after recovery: membership %+v, account %+v", m.LogValue(), acct)
	}
}
