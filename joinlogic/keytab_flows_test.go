package joinlogic

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
)

// fakeKeytab is an in-memory KeytabStore: cur is the installed keytab (nil
// for none), and every change can be made to fail.
type fakeKeytab struct {
	mu         sync.Mutex
	cur        *KeytabEntries
	installErr error
	removeErr  error
	log        []string
	removed    []KeytabEntries // the accounts Remove was asked to take out
}

func (k *fakeKeytab) state() *KeytabEntries {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil {
		return nil
	}
	c := *k.cur
	return &c
}

func (k *fakeKeytab) undo(prev *KeytabEntries) func(context.Context) error {
	return func(context.Context) error {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.log = append(k.log, "undo")
		k.cur = prev
		return nil
	}
}

func (k *fakeKeytab) Install(ctx context.Context, e KeytabEntries) (func(context.Context) error, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.log = append(k.log, "install")
	if k.installErr != nil {
		return nil, k.installErr
	}
	prev := k.cur
	k.cur = &e
	return k.undo(prev), nil
}

func (k *fakeKeytab) Remove(ctx context.Context, e KeytabEntries) (func(context.Context) error, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.log = append(k.log, "remove")
	k.removed = append(k.removed, e)
	if k.removeErr != nil {
		return nil, k.removeErr
	}
	prev := k.cur
	if prev != nil && prev.ComputerName == e.ComputerName && prev.Realm == e.Realm {
		k.cur = nil
	}
	return k.undo(prev), nil
}

var oldKeytab = KeytabEntries{ComputerName: "WKS1", Realm: "OLD.TEST", Password: "old-machine-password", KVNO: 9}

func newKeytabFlow(t *testing.T) (*flowEnv, *fakeKeytab) {
	t.Helper()
	kt := &fakeKeytab{}
	return newFlow(t, func(c *Config) { c.Keytab = kt }), kt
}

func TestJoinInstallsKeytab(t *testing.T) {
	e, kt := newKeytabFlow(t)
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatal(c)
	}
	dn := "CN=WKS1," + computersDN
	// The key version is read after the password set, before the save.
	wantOps(t, e.dir, "create "+dn, "kvno "+dn)
	got := kt.state()
	m := e.store.get()
	want := KeytabEntries{ComputerName: "WKS1", DNSHostName: "wks1.example.test", Realm: "EXAMPLE.TEST", Password: m.Password, KVNO: 2}
	if got == nil || !reflect.DeepEqual(*got, want) {
		t.Fatalf("keytab %+v, want %+v", got, want)
	}
	if got.Password.Reveal() != e.dir.account("WKS1$").password {
		t.Fatal("keytab password is not the account's")
	}
}

func TestJoinKeytabRollback(t *testing.T) {
	dn := "CN=WKS1," + computersDN
	cases := []struct {
		name       string
		failOp     string
		failErr    error
		installErr error
		saveErr    error
		want       Code
		ops        []string
	}{
		{name: "key version unreadable", failOp: "kvno", failErr: errors.New("no such attribute"), want: ERROR_GEN_FAILURE,
			ops: []string{"create " + dn, "kvno " + dn, "delete " + dn}},
		{name: "controller gone when reading the key version", failOp: "kvno", failErr: ERROR_NO_SUCH_DOMAIN, want: ERROR_NO_SUCH_DOMAIN,
			ops: []string{"create " + dn, "kvno " + dn, "delete " + dn}},
		{name: "keytab cannot be written", installErr: errors.New("read-only file system"), want: ERROR_INTERNAL_ERROR,
			ops: []string{"create " + dn, "kvno " + dn, "delete " + dn}},
		{name: "membership cannot be saved: previous keytab back", saveErr: errors.New("disk full"), want: ERROR_INTERNAL_ERROR,
			ops: []string{"create " + dn, "kvno " + dn, "delete " + dn}},
	}
	for _, c := range cases {
		t.Run("rollback/"+c.name, func(t *testing.T) {
			e, kt := newKeytabFlow(t)
			old := oldKeytab
			kt.cur = &old
			if c.failOp != "" {
				e.dir.fail[c.failOp] = c.failErr
			}
			kt.installErr = c.installErr
			e.store.saveErr = c.saveErr
			if got := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); got != c.want {
				t.Fatalf("Join = %v, want %v", got, c.want)
			}
			wantOps(t, e.dir, c.ops...)
			if got := kt.state(); got == nil || !reflect.DeepEqual(*got, oldKeytab) {
				t.Fatalf("keytab %+v, want the previous one", got)
			}
			if e.dir.account("WKS1$") != nil || e.store.saves != 0 {
				t.Fatal("failed join left state behind")
			}
		})
	}
	t.Run("rollback/key version 0 is refused", func(t *testing.T) {
		e, kt := newKeytabFlow(t)
		e.dir.addAccount(computersDN, "WKS1", UF_WORKSTATION_TRUST_ACCOUNT)
		e.dir.accounts["WKS1$"].kvno = ^uint32(0) // the password set wraps it to 0
		if got := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN)); got != ERROR_GEN_FAILURE {
			t.Fatalf("Join = %v", got)
		}
		if kt.state() != nil {
			t.Fatal("keytab installed")
		}
	})
}

// TestRollbackUsesFreshSession breaks the join's session for one rollback
// step: the step is retried on a session bound anew with the same
// credentials, and both sessions are closed.
func TestRollbackUsesFreshSession(t *testing.T) {
	e, kt := newKeytabFlow(t)
	dn := "CN=WKS1," + computersDN
	e.dir.fail["kvno"] = ERROR_NO_SUCH_DOMAIN
	e.dir.failOnce["delete"] = errors.New("connection reset")
	if got := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); got != ERROR_NO_SUCH_DOMAIN {
		t.Fatalf("Join = %v", got)
	}
	wantOps(t, e.dir, "create "+dn, "kvno "+dn, "delete "+dn, "delete "+dn)
	if len(e.dir.binds) != 2 || e.dir.binds[1] != e.dir.binds[0] {
		t.Fatalf("binds %v", e.dir.binds)
	}
	if e.dir.account("WKS1$") != nil || kt.state() != nil {
		t.Fatal("rollback incomplete")
	}
	// A rollback whose fresh session cannot be bound reports the join's
	// own failure and leaves the object (the controller is gone).
	e2, _ := newKeytabFlow(t)
	e2.dir.fail["kvno"] = ERROR_NO_SUCH_DOMAIN
	e2.dir.failOnce["delete"] = errors.New("connection reset")
	wrap := &bindCounter{fakeDirectory: e2.dir, failAfter: 1}
	j := newJoiner(t, e2.store, wrap, func(c *Config) { c.Keytab = &fakeKeytab{} })
	if got := j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); got != ERROR_NO_SUCH_DOMAIN {
		t.Fatalf("Join = %v", got)
	}
	if e2.dir.account("WKS1$") == nil {
		t.Fatal("object deleted without a session")
	}
}

// bindCounter fails every Bind after the first failAfter ones.
type bindCounter struct {
	*fakeDirectory
	failAfter int
	n         int
}

func (b *bindCounter) Bind(ctx context.Context, dc DCInfo, cred Credentials) (Session, error) {
	b.n++
	if b.n > b.failAfter {
		return nil, ERROR_NO_SUCH_DOMAIN
	}
	return b.fakeDirectory.Bind(ctx, dc, cred)
}

// TestRejoinRollbackRestoresPassword: a failed DOMAIN_JOIN_IF_JOINED
// re-join of the account this machine is joined with gives it back the
// password the membership still holds.
func TestRejoinRollbackRestoresPassword(t *testing.T) {
	e, kt := newKeytabFlow(t)
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatal(c)
	}
	before := e.store.get()
	installed := kt.state()
	e.dir.fail["kvno"] = ERROR_NO_SUCH_DOMAIN
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE|NETSETUP_DOMAIN_JOIN_IF_JOINED)); c != ERROR_NO_SUCH_DOMAIN {
		t.Fatal(c)
	}
	if got := e.dir.account("WKS1$").password; got != before.Password.Reveal() {
		t.Fatal("previous machine password not restored")
	}
	if e.store.get() != before || !reflect.DeepEqual(*kt.state(), *installed) {
		t.Fatal("local state changed")
	}
}

func TestUnjoinAndWorkgroupRemoveKeytab(t *testing.T) {
	unjoin := func(opts uint32) UnjoinRequest {
		return UnjoinRequest{Method: 3, Protseq: "ncacn_np", Caller: admin, AccountName: sp("administrator@example.test"),
			Password: goodPw("Secret1!").source(), Options: opts}
	}
	joined := func(t *testing.T) (*flowEnv, *fakeKeytab) {
		e, kt := newKeytabFlow(t)
		if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
			t.Fatal(c)
		}
		return e, kt
	}
	for _, opts := range []uint32{0, NETSETUP_ACCT_DELETE} {
		e, kt := joined(t)
		if c := e.j.Unjoin(context.Background(), unjoin(opts)); c != NERR_Success {
			t.Fatal(c)
		}
		if kt.state() != nil {
			t.Fatalf("options %#x: keytab left", opts)
		}
		// The account of the membership that was left.
		if r := kt.removed; len(r) != 1 || r[0].ComputerName != "WKS1" || r[0].Realm != "EXAMPLE.TEST" {
			t.Fatalf("options %#x: removed %+v", opts, r)
		}
	}
	t.Run("rollback/membership cannot be cleared: keytab and account back", func(t *testing.T) {
		e, kt := joined(t)
		installed := kt.state()
		e.store.saveErr = errors.New("read-only file system")
		if c := e.j.Unjoin(context.Background(), unjoin(NETSETUP_ACCT_DELETE)); c != ERROR_INTERNAL_ERROR {
			t.Fatal(c)
		}
		if got := kt.state(); got == nil || !reflect.DeepEqual(*got, *installed) {
			t.Fatal("keytab not restored")
		}
		if e.dir.account("WKS1$").uac&UF_ACCOUNTDISABLE != 0 {
			t.Fatal("account left disabled")
		}
	})
	t.Run("rollback/keytab cannot be removed: account re-enabled, still joined", func(t *testing.T) {
		e, kt := joined(t)
		kt.removeErr = errors.New("permission denied")
		if c := e.j.Unjoin(context.Background(), unjoin(NETSETUP_ACCT_DELETE)); c != ERROR_INTERNAL_ERROR {
			t.Fatal(c)
		}
		if e.dir.account("WKS1$").uac&UF_ACCOUNTDISABLE != 0 || !e.store.get().Joined() || kt.state() == nil {
			t.Fatal("failed unjoin changed state")
		}
	})
	t.Run("3.2.4.13.4/workgroup join leaves the keytab alone", func(t *testing.T) {
		// The keys in it are not this machine account's (it has none):
		// other services' keys, or another host's.
		e, kt := newKeytabFlow(t)
		old := oldKeytab
		kt.cur = &old
		r := adminJoin(0)
		r.DomainName = sp("OTHERGROUP")
		if c := e.j.Join(context.Background(), r); c != NERR_Success {
			t.Fatal(c)
		}
		if got := kt.state(); got == nil || !reflect.DeepEqual(*got, oldKeytab) || len(kt.log) != 0 || e.store.get().Workgroup != "OTHERGROUP" {
			t.Fatalf("workgroup join touched the keytab: %v", kt.log)
		}
	})
}

// TestUnansweredCreateIsUndone: a create whose answer was lost may have
// added the object; the rollback finds it (in the container asked for,
// holding this join's fresh password) and deletes it. A create refused with a code of
// its own added nothing and is not followed by a search.
func TestUnansweredCreateIsUndone(t *testing.T) {
	dn := "CN=WKS1," + computersDN
	e, _ := newKeytabFlow(t)
	e.dir.lostAnswer["create"] = true
	if got := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); got != ERROR_NO_SUCH_DOMAIN {
		t.Fatalf("Join = %v", got)
	}
	wantOps(t, e.dir, "create "+dn, "delete "+dn)
	if e.dir.account("WKS1$") != nil {
		t.Fatal("object of the unanswered create left behind")
	}

	e, _ = newKeytabFlow(t)
	e.dir.fail["create"] = ERROR_ACCESS_DENIED
	if got := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); got != ERROR_ACCESS_DENIED {
		t.Fatalf("Join = %v", got)
	}
	wantOps(t, e.dir)
}
