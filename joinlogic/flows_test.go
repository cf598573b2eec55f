package joinlogic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const computersDN = "CN=Computers,DC=example,DC=test"

func adminJoin(opts uint32) JoinRequest {
	return JoinRequest{Method: 3, Protseq: ProtseqNamedPipe, Caller: admin, DomainName: sp("EXAMPLE"),
		AccountName: sp(`EXAMPLE\Administrator`), Password: goodPw("Secret1!").source(), Options: opts}
}

type flowEnv struct {
	dir   *fakeDirectory
	store *memStore
	j     *Joiner
	logs  *bytes.Buffer
}

func newFlow(t *testing.T, mod func(*Config)) *flowEnv {
	t.Helper()
	e := &flowEnv{dir: newFakeDirectory(), store: &memStore{m: DefaultMembership()}, logs: &bytes.Buffer{}}
	fixed := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	e.j = newJoiner(t, e.store, e.dir, func(c *Config) {
		c.Now = func() time.Time { return fixed }
		c.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{w: e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if mod != nil {
			mod(c)
		}
	})
	t.Cleanup(func() {
		if e.dir.open != 0 {
			t.Errorf("%d directory sessions left open", e.dir.open)
		}
	})
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func wantOps(t *testing.T, d *fakeDirectory, want ...string) {
	t.Helper()
	var got []string
	for _, op := range d.ops() {
		if !strings.HasPrefix(op, "locate") && !strings.HasPrefix(op, "verify") {
			got = append(got, op)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("directory operations:\n got  %q\n want %q", got, want)
	}
}

func TestDomainJoinCreatesAccount(t *testing.T) {
	e := newFlow(t, nil)
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatalf("Join = %v", c)
	}
	dn := "CN=WKS1," + computersDN
	wantOps(t, e.dir, "create "+dn)
	acct := e.dir.account("WKS1$")
	if acct == nil || acct.uac != UF_WORKSTATION_TRUST_ACCOUNT {
		t.Fatalf("account = %+v", acct)
	}
	// 3.2.4.13.3: 120 characters, each ASCII 32..122.
	if len(acct.password) != 120 {
		t.Fatalf("machine password has %d characters", len(acct.password))
	}
	for _, ch := range []byte(acct.password) {
		if ch < 32 || ch > 122 {
			t.Fatalf("machine password character %d out of range", ch)
		}
	}
	if acct.dnsHostName != "wks1.example.test" || !slices.Equal(acct.spns, []string{"HOST/wks1.example.test", "HOST/WKS1"}) {
		t.Fatalf("host names = %q %q", acct.dnsHostName, acct.spns)
	}
	m := e.store.get()
	want := Membership{DomainNetBIOS: "EXAMPLE", DomainFQDN: "example.test", DomainSID: "S-1-5-21-1-2-3",
		DomainGUID: "11111111-2222-3333-4444-555555555555", ForestFQDN: "example.test", SiteName: "Default-First-Site-Name",
		ClientName: "WKS1$", DNSHostName: "wks1.example.test", Password: Secret(acct.password),
		PasswordSetTime: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)}
	if !equalMembership(m, want) {
		t.Fatalf("membership = %+v\nwant %+v", m, want)
	}
	name, st, err := e.j.JoinInformation(context.Background())
	if err != nil || name != "EXAMPLE" || st != NetSetupDomainName {
		t.Fatalf("JoinInformation = %q %d %v", name, st, err)
	}
	if b := e.dir.binds; len(b) != 1 || b[0].Account != (Account{User: "Administrator", Domain: "EXAMPLE"}) || b[0].Password != "Secret1!" {
		t.Fatalf("binds = %v", b)
	}
	if strings.Contains(e.logs.String(), acct.password) || strings.Contains(e.logs.String(), "Secret1!") {
		t.Fatal("a password reached the log")
	}
	// A second join without DOMAIN_JOIN_IF_JOINED is refused.
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_SetupAlreadyJoined {
		t.Fatalf("second Join = %v", c)
	}
}

func TestDomainJoinAccountForms(t *testing.T) {
	for _, form := range []string{`EXAMPLE\Administrator`, `example.test\administrator`, `Administrator@example.test`} {
		t.Run(form, func(t *testing.T) {
			e := newFlow(t, nil)
			r := adminJoin(NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE)
			r.AccountName = sp(form)
			if c := e.j.Join(context.Background(), r); c != NERR_Success {
				t.Fatalf("Join = %v", c)
			}
		})
	}
	t.Run("NULL AccountName uses the caller", func(t *testing.T) {
		e := newFlow(t, nil)
		r := adminJoin(NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE)
		r.AccountName = nil
		r.Caller = Caller{User: "Administrator", Domain: "EXAMPLE", Admin: true}
		if c := e.j.Join(context.Background(), r); c != NERR_Success {
			t.Fatalf("Join = %v", c)
		}
		if got := e.dir.binds[0].Account; got != (Account{User: "Administrator", Domain: "EXAMPLE"}) {
			t.Fatalf("bound as %+v", got)
		}
	})
	t.Run("malformed AccountName", func(t *testing.T) {
		e := newFlow(t, nil)
		r := adminJoin(NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE)
		r.AccountName = sp(`EXAMPLE\`)
		if c := e.j.Join(context.Background(), r); c != ERROR_INVALID_PARAMETER {
			t.Fatalf("Join = %v", c)
		}
	})
}

// TestDomainJoinSteps runs each directory step's failure and checks the
// code and the rollback the fake recorded.
func TestDomainJoinSteps(t *testing.T) {
	dn := "CN=WKS1," + computersDN
	type tc struct {
		name        string
		opts        uint32
		domain      string
		ou          *string
		existing    string // parent DN of a pre-existing WKS1$ object
		fail        map[string]error
		saveErr     error
		mod         func(*Config)
		want        Code
		ops         []string
		accountLeft bool
	}
	cases := []tc{
		{name: "3.2.4.13.3/named DC fails validation", domain: `EXAMPLE\dc9`, opts: NETSETUP_ACCT_CREATE, want: ERROR_INVALID_DOMAIN_ROLE},
		{name: "3.2.4.13.3/named DC validated (NetBIOS name)", domain: `EXAMPLE\DC1`, opts: NETSETUP_ACCT_CREATE, want: NERR_Success,
			ops: []string{"create " + dn}, accountLeft: true},
		{name: "3.2.4.13.3/domain does not exist", domain: "NOWHERE", opts: NETSETUP_ACCT_CREATE, want: ERROR_NO_SUCH_DOMAIN},
		{name: "3.2.4.13.3/ComputerNameNetBIOS identical to DomainNameString", domain: "EXAMPLE", opts: NETSETUP_ACCT_CREATE,
			mod: func(c *Config) { c.ComputerName = "example" }, want: ERROR_INVALID_DOMAINNAME},
		{name: "3.2.4.13.3/ComputerNameNetBIOS identical to the domain's flat name given by DNS name", domain: "example.test", opts: NETSETUP_ACCT_CREATE,
			mod: func(c *Config) { c.ComputerName = "EXAMPLE" }, want: ERROR_INVALID_DOMAINNAME},
		{name: "3.2.4.13.3/authenticated session fails", opts: NETSETUP_ACCT_CREATE, fail: map[string]error{"bind": ERROR_LOGON_FAILURE}, want: ERROR_LOGON_FAILURE},
		{name: "3.2.4.13.3/authenticated session fails without a code", opts: NETSETUP_ACCT_CREATE, fail: map[string]error{"bind": errors.New("tls handshake")}, want: ERROR_LOGON_FAILURE},
		{name: "3.2.4.13.3/MachineAccountOU cannot be found", opts: NETSETUP_ACCT_CREATE, ou: sp("OU=Missing,DC=example,DC=test"), want: ERROR_FILE_NOT_FOUND},
		{name: "3.2.4.13.3/ACCT_CREATE into MachineAccountOU", opts: NETSETUP_ACCT_CREATE, ou: sp("ou=servers, dc=example, dc=test"), want: NERR_Success,
			ops: []string{"create CN=WKS1,ou=servers, dc=example, dc=test"}, accountLeft: true},
		{name: "3.2.4.13.3/ACCT_CREATE and the object exists in another OU", opts: NETSETUP_ACCT_CREATE, ou: sp("OU=Servers,DC=example,DC=test"),
			existing: computersDN, want: NERR_UserExists, accountLeft: true},
		{name: "3.2.4.13.3/ACCT_CREATE and the object exists in MachineAccountOU", opts: NETSETUP_ACCT_CREATE, ou: sp("OU=Servers,DC=example,DC=test"),
			existing: "OU=Servers,DC=example,DC=test", want: NERR_Success,
			ops: []string{"reset CN=WKS1,OU=Servers,DC=example,DC=test"}, accountLeft: true},
		{name: "3.2.4.13.3/ACCT_CREATE and MachineAccountOU NULL reuses the object", opts: NETSETUP_ACCT_CREATE, existing: "OU=Servers,DC=example,DC=test", want: NERR_Success,
			ops: []string{"reset CN=WKS1,OU=Servers,DC=example,DC=test"}, accountLeft: true},
		{name: "3.2.4.13.3/ACCT_CREATE not set and the object does not exist", opts: 0, want: ERROR_NONE_MAPPED},
		{name: "3.2.4.13.3/ACCT_CREATE not set, existing object is reused", opts: 0, existing: computersDN, want: NERR_Success,
			ops: []string{"reset " + dn}, accountLeft: true},
		{name: "3.2.4.13.3/DEFER_SPN_SET leaves dNSHostName and SPNs alone", opts: NETSETUP_ACCT_CREATE | NETSETUP_DEFER_SPN_SET, want: NERR_Success,
			ops: []string{"create " + dn}, accountLeft: true},
		{name: "rollback/create refused", opts: NETSETUP_ACCT_CREATE, fail: map[string]error{"create": fmt.Errorf("ldap add: %w", ERROR_ACCESS_DENIED)}, want: ERROR_ACCESS_DENIED},
		{name: "rollback/password rejected by policy: the one add fails whole, nothing to delete", opts: NETSETUP_ACCT_CREATE,
			fail: map[string]error{"create": ERROR_PASSWORD_RESTRICTION}, want: ERROR_PASSWORD_RESTRICTION},
		{name: "rollback/reset refused, existing object restored", opts: NETSETUP_ACCT_CREATE, existing: computersDN,
			fail: map[string]error{"reset": ERROR_ACCESS_DENIED}, want: ERROR_ACCESS_DENIED,
			ops: []string{"reset " + dn, "restore " + dn}, accountLeft: true},
		{name: "rollback/reset refused without a code", opts: 0, existing: computersDN,
			fail: map[string]error{"reset": errors.New("constraint violation")}, want: ERROR_GEN_FAILURE,
			ops: []string{"reset " + dn, "restore " + dn}, accountLeft: true},
		{name: "rollback/local save fails, created object deleted", opts: NETSETUP_ACCT_CREATE, saveErr: errors.New("disk full"), want: ERROR_INTERNAL_ERROR,
			ops: []string{"create " + dn, "delete " + dn}},
		{name: "rollback/local save fails, existing object restored", opts: 0, existing: computersDN, saveErr: errors.New("disk full"), want: ERROR_INTERNAL_ERROR,
			ops: []string{"reset " + dn, "restore " + dn}, accountLeft: true},
		{name: "rollback/cancelled context still reverts", opts: NETSETUP_ACCT_CREATE, saveErr: context.Canceled, want: ERROR_CANCELLED,
			ops: []string{"create " + dn, "delete " + dn}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newFlow(t, c.mod)
			for k, v := range c.fail {
				e.dir.fail[k] = v
			}
			e.store.saveErr = c.saveErr
			var before *fakeComputer
			if c.existing != "" {
				e.dir.addAccount(c.existing, "WKS1", UF_WORKSTATION_TRUST_ACCOUNT|UF_ACCOUNTDISABLE)
				before = e.dir.account("WKS1$")
			}
			r := adminJoin(NETSETUP_JOIN_DOMAIN | c.opts)
			if c.domain != "" {
				r.DomainName = sp(c.domain)
			}
			r.MachineAccountOU = c.ou
			if got := e.j.Join(context.Background(), r); got != c.want {
				t.Fatalf("Join = %v, want %v (ops %q)", got, c.want, e.dir.ops())
			}
			wantOps(t, e.dir, c.ops...)
			acct := e.dir.account("WKS1$")
			if (acct != nil) != c.accountLeft {
				t.Fatalf("account present = %v, want %v", acct != nil, c.accountLeft)
			}
			if c.want != NERR_Success {
				if e.store.saves != 0 || e.store.get().Joined() {
					t.Fatal("failed join left local state")
				}
				if before != nil && (acct.uac != before.uac || acct.dnsHostName != before.dnsHostName || !slices.Equal(acct.spns, before.spns)) {
					t.Fatalf("existing account not restored: %+v, was %+v", acct, before)
				}
			} else if !e.store.get().Joined() {
				t.Fatal("successful join did not persist the membership")
			}
		})
	}
}

func TestDomainJoinUnsecure(t *testing.T) {
	t.Run("3.2.4.13.3/JOIN_UNSECURE alone uses the first 14 lower-case characters of the computer name", func(t *testing.T) {
		e := newFlow(t, func(c *Config) { c.ComputerName = "ABCDEFGHIJKLMNO" })
		if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE|NETSETUP_JOIN_UNSECURE)); c != NERR_Success {
			t.Fatalf("Join = %v", c)
		}
		if pw := e.dir.account("ABCDEFGHIJKLMNO$").password; pw != "abcdefghijklmn" {
			t.Fatalf("password = %q", pw)
		}
		if pw := e.store.get().Password.Reveal(); pw != "abcdefghijklmn" {
			t.Fatalf("stored password = %q", pw)
		}
	})
	t.Run("3.2.4.13.3/JOIN_UNSECURE without ACCT_CREATE verifies the persisted password", func(t *testing.T) {
		e := newFlow(t, nil)
		e.dir.addAccount(computersDN, "WKS1", UF_WORKSTATION_TRUST_ACCOUNT)
		if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_JOIN_UNSECURE)); c != ERROR_LOGON_FAILURE {
			t.Fatalf("Join = %v, want ERROR_LOGON_FAILURE", c)
		}
		if slices.ContainsFunc(e.dir.ops(), func(op string) bool { return strings.HasPrefix(op, "reset") }) {
			t.Fatal("password written after a failed verification")
		}
	})
	t.Run("3.2.4.13.3/MACHINE_PWD_PASSED|JOIN_UNSECURE|ACCT_CREATE sets the passed password over an anonymous session", func(t *testing.T) {
		e := newFlow(t, nil)
		e.dir.anonymous = true
		r := adminJoin(NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE | NETSETUP_JOIN_UNSECURE | NETSETUP_MACHINE_PWD_PASSED)
		r.AccountName = nil
		r.Password = goodPw("one-time-pw").source()
		if c := e.j.Join(context.Background(), r); c != NERR_Success {
			t.Fatalf("Join = %v", c)
		}
		if !e.dir.binds[0].Anonymous || e.dir.account("WKS1$").password != "one-time-pw" {
			t.Fatalf("binds %v, account %+v", e.dir.binds, e.dir.account("WKS1$"))
		}
	})
	t.Run("3.2.4.13.3/JOIN_READONLY|MACHINE_PWD_PASSED writes nothing to the directory", func(t *testing.T) {
		e := newFlow(t, nil)
		e.dir.anonymous = true
		e.dir.addAccount(computersDN, "WKS1", UF_WORKSTATION_TRUST_ACCOUNT)
		e.dir.mu.Lock()
		e.dir.accounts["WKS1$"].password = "precreated"
		e.dir.mu.Unlock()
		r := adminJoin(NETSETUP_JOIN_DOMAIN | NETSETUP_JOIN_READONLY | NETSETUP_MACHINE_PWD_PASSED)
		r.AccountName = nil
		r.Password = goodPw("precreated").source()
		if c := e.j.Join(context.Background(), r); c != NERR_Success {
			t.Fatalf("Join = %v", c)
		}
		wantOps(t, e.dir) // no writes at all
		ops := e.dir.ops()
		if !slices.Contains(ops, "locate EXAMPLE  false") || !slices.Contains(ops, "verify WKS1$") {
			t.Fatalf("ops = %q", ops)
		}
		if e.store.get().Password.Reveal() != "precreated" {
			t.Fatal("passed machine password not stored")
		}
	})
}

func TestDomainJoinIfJoinedKeepsPreviousPassword(t *testing.T) {
	e := newFlow(t, nil)
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatal(c)
	}
	first := e.store.get().Password
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE|NETSETUP_DOMAIN_JOIN_IF_JOINED)); c != NERR_Success {
		t.Fatal(c)
	}
	m := e.store.get()
	if m.PreviousPassword != first || m.Password == first {
		t.Fatal("rejoin did not rotate the password into PreviousPassword")
	}
}

// TestJoinOneAtATime holds a join inside the Directory and checks that a
// second join or unjoin gets RPC_S_CALL_IN_PROGRESS (MS-WKST <70>, <133>).
func TestJoinOneAtATime(t *testing.T) {
	e := newFlow(t, nil)
	e.dir.entered = make(chan struct{})
	e.dir.release = make(chan struct{})
	done := make(chan Code)
	go func() { done <- e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)) }()
	<-e.dir.entered
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != RPC_S_CALL_IN_PROGRESS {
		t.Fatalf("concurrent Join = %v", c)
	}
	if c := e.j.Unjoin(context.Background(), UnjoinRequest{Method: 2, Protseq: "ncacn_np", Caller: admin}); c != RPC_S_CALL_IN_PROGRESS {
		t.Fatalf("concurrent Unjoin = %v", c)
	}
	// Name validation and join information do not modify the identity
	// and are answered meanwhile.
	if c := e.j.ValidateName(context.Background(), ValidateNameRequest{Method: 2, Protseq: "ncacn_np", Caller: admin, Name: sp("X"), NameType: NetSetupMachine}); c != NERR_Success {
		t.Fatalf("ValidateName = %v", c)
	}
	close(e.dir.release)
	if c := <-done; c != NERR_Success {
		t.Fatalf("first Join = %v", c)
	}
	e.dir.entered = nil
	if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_SetupAlreadyJoined {
		t.Fatalf("Join after the first = %v", c)
	}
}

func TestUnjoinFlows(t *testing.T) {
	joined := func(t *testing.T) *flowEnv {
		e := newFlow(t, nil)
		if c := e.j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
			t.Fatal(c)
		}
		e.dir.mu.Lock()
		e.dir.log = nil
		e.dir.mu.Unlock()
		return e
	}
	unjoin := func(opts uint32) UnjoinRequest {
		return UnjoinRequest{Method: 3, Protseq: "ncacn_np", Caller: admin, AccountName: sp("administrator@example.test"),
			Password: goodPw("Secret1!").source(), Options: opts}
	}
	dn := "CN=WKS1," + computersDN
	t.Run("3.2.4.14/ACCT_DELETE disables the account and clears the ADM", func(t *testing.T) {
		e := joined(t)
		if c := e.j.Unjoin(context.Background(), unjoin(NETSETUP_ACCT_DELETE)); c != NERR_Success {
			t.Fatal(c)
		}
		wantOps(t, e.dir, "disable "+dn)
		if e.dir.account("WKS1$").uac&UF_ACCOUNTDISABLE == 0 {
			t.Fatal("account not disabled")
		}
		if e.store.get() != (Membership{}) {
			t.Fatalf("membership = %+v", e.store.get())
		}
	})
	t.Run("3.2.4.14/without ACCT_DELETE the account is left alone", func(t *testing.T) {
		e := joined(t)
		if c := e.j.Unjoin(context.Background(), unjoin(0)); c != NERR_Success {
			t.Fatal(c)
		}
		if ops := e.dir.ops(); len(ops) != 0 {
			t.Fatalf("ops = %q", ops)
		}
	})
	t.Run("3.2.4.14/authenticated session fails", func(t *testing.T) {
		e := joined(t)
		r := unjoin(NETSETUP_ACCT_DELETE)
		r.Password = goodPw("wrong").source()
		if c := e.j.Unjoin(context.Background(), r); c != ERROR_LOGON_FAILURE {
			t.Fatal(c)
		}
		if !e.store.get().Joined() {
			t.Fatal("failed unjoin cleared the membership")
		}
	})
	t.Run("3.2.4.14/AccountName of none of the allowed forms", func(t *testing.T) {
		e := joined(t)
		r := unjoin(NETSETUP_ACCT_DELETE)
		r.AccountName = sp(`\administrator`)
		if c := e.j.Unjoin(context.Background(), r); c != ERROR_INVALID_PARAMETER {
			t.Fatal(c)
		}
		if !e.store.get().Joined() {
			t.Fatal("failed unjoin cleared the membership")
		}
	})
	t.Run("rollback/local save fails, account re-enabled", func(t *testing.T) {
		e := joined(t)
		e.store.saveErr = errors.New("read-only file system")
		if c := e.j.Unjoin(context.Background(), unjoin(NETSETUP_ACCT_DELETE)); c != ERROR_INTERNAL_ERROR {
			t.Fatal(c)
		}
		wantOps(t, e.dir, "disable "+dn, "restore "+dn)
		if e.dir.account("WKS1$").uac&UF_ACCOUNTDISABLE != 0 {
			t.Fatal("account left disabled")
		}
		if !e.store.get().Joined() {
			t.Fatal("membership lost")
		}
	})
}

// TestJoinWithFileStore runs a join and an unjoin against the real file
// store and reopens it after each step, as a restarted server would.
func TestJoinWithFileStore(t *testing.T) {
	path := t.TempDir() + "/membership.json"
	store, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := newFakeDirectory()
	j := newJoiner(t, store, dir, nil)
	if name, st, err := j.JoinInformation(context.Background()); err != nil || name != "WORKGROUP" || st != NetSetupWorkgroupName {
		t.Fatalf("JoinInformation before = %q %d %v", name, st, err)
	}
	if c := j.Join(context.Background(), adminJoin(NETSETUP_JOIN_DOMAIN|NETSETUP_ACCT_CREATE)); c != NERR_Success {
		t.Fatal(c)
	}
	reopened, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := reopened.Load()
	if !m.Joined() || m.Password.Reveal() != dir.account("WKS1$").password {
		t.Fatalf("reopened membership = %+v", m.LogValue())
	}
	j2 := newJoiner(t, reopened, dir, nil)
	if c := j2.Unjoin(context.Background(), UnjoinRequest{Method: 2, Protseq: "ncacn_np", Caller: admin}); c != NERR_Success {
		t.Fatal(c)
	}
	again, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := again.Load(); m != (Membership{}) {
		t.Fatalf("after unjoin = %+v", m.LogValue())
	}
}
