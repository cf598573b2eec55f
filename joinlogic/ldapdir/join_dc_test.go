package ldapdir_test

// These tests drive joinlogic.Joiner with the real LDAP Directory, the real
// membership file Store and the real keytab FileStore against the Samba AD
// DC of internal/testdc. The Directory reaches the controller (LDAP pings,
// LDAP, LDAPS and its KDC) through testdc.Relay ports, so a test can cut the controller
// off in the middle of a join in microseconds instead of stopping samba.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	gokeytab "github.com/oiweiwei/gokrb5.fork/v9/keytab"

	"github.com/wkssvcd/wkssvcd/internal/testdc"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/joinlogic/keytab"
	"github.com/wkssvcd/wkssvcd/joinlogic/ldapdir"
)

var rpcCaller = joinlogic.Caller{User: "root", Domain: "MEMBER", Admin: true}

// joinEnv is a controller reached through relays, and an LDAP connection
// of its own (not relayed) to inspect the directory.
type joinEnv struct {
	dc          *testdc.DC
	ldap, ldaps *testdc.Relay
	kdc         *testdc.Relay
	dir         *ldapdir.Directory
	admin       *ldap.Conn
	log         *slog.Logger
}

func newJoinEnv(t *testing.T) *joinEnv {
	t.Helper()
	dc := testdc.Start(t, testdc.Options{})
	e := &joinEnv{dc: dc, ldap: dc.Relay(t, 389), ldaps: dc.Relay(t, 636), kdc: dc.Relay(t, 88)}
	e.log = slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.dir = ldapdir.New(ldapdir.Config{
		DNSServer:   net.JoinHostPort(dc.Addr, "53"),
		CAFile:      dc.CAFile,
		PingOverTCP: true, // LDAP pings go through the relay too
		LDAPPort:    e.ldap.Port(),
		LDAPSPort:   e.ldaps.Port(),
		KDCPort:     e.kdc.Port(),
		Hosts:       map[string]string{"member1." + dc.DNSDomain: "127.0.0.1"},
		Timeout:     5 * time.Second,
		Logger:      e.log,
	})
	tc, err := dc.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := ldap.DialURL("ldaps://"+net.JoinHostPort(dc.Addr, "636"), ldap.DialWithTLSConfig(tc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetTimeout(20 * time.Second)
	if err := c.Bind(dc.Domain+`\`+dc.AdminUser, dc.AdminPassword); err != nil {
		t.Fatal(err)
	}
	e.admin = c
	return e
}

type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *joinEnv) cut()     { e.ldap.Cut(); e.ldaps.Cut(); e.kdc.Cut() }
func (e *joinEnv) restore() { e.ldap.Restore(); e.ldaps.Restore(); e.kdc.Restore() }

// member is one machine: its name, joiner and local files.
type member struct {
	name       string
	sam        string
	j          *joinlogic.Joiner
	store      *joinlogic.Store
	statePath  string
	keytabPath string
}

func newName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(prefix + hex.EncodeToString(b))
}

// newMember makes a machine in workgroup TESTGROUP (so its membership file
// exists) using dir, and deletes its computer object at the end.
func (e *joinEnv) newMember(t *testing.T, name string, dir joinlogic.Directory) *member {
	t.Helper()
	tmp := t.TempDir()
	m := &member{name: name, sam: name + "$", statePath: filepath.Join(tmp, "membership.json"), keytabPath: filepath.Join(tmp, "krb5.keytab")}
	store, err := joinlogic.OpenStore(m.statePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(context.Background(), joinlogic.Membership{Workgroup: "TESTGROUP"}); err != nil {
		t.Fatal(err)
	}
	kt, err := keytab.NewFileStore(m.keytabPath)
	if err != nil {
		t.Fatal(err)
	}
	m.store = store
	m.j, err = joinlogic.New(joinlogic.Config{ComputerName: name, Store: store, Directory: dir, Keytab: kt, Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.deleteAccount(t, m.sam) })
	return m
}

func joinReq(domain, user, password string, opts uint32) joinlogic.JoinRequest {
	return joinlogic.JoinRequest{
		Method: 3, Protseq: joinlogic.ProtseqNamedPipe, Caller: rpcCaller,
		DomainName: &domain, AccountName: &user, Options: opts,
		Password: func() (string, bool, joinlogic.Code) { return password, true, joinlogic.NERR_Success },
	}
}

func (e *joinEnv) adminJoin(opts uint32) joinlogic.JoinRequest {
	return joinReq(e.dc.DNSDomain, e.dc.Domain+`\`+e.dc.AdminUser, e.dc.AdminPassword, joinlogic.NETSETUP_JOIN_DOMAIN|opts)
}

func (e *joinEnv) adminUnjoin(opts uint32) joinlogic.UnjoinRequest {
	user, pw := e.dc.AdminUser+"@"+e.dc.DNSDomain, e.dc.AdminPassword
	return joinlogic.UnjoinRequest{Method: 3, Protseq: joinlogic.ProtseqNamedPipe, Caller: rpcCaller, AccountName: &user,
		Password: func() (string, bool, joinlogic.Code) { return pw, true, joinlogic.NERR_Success }, Options: opts}
}

// watched are the attributes compared before and after a failed join.
// unicodePwd cannot be read, and msDS-KeyVersionNumber follows it.
var watched = []string{"userAccountControl", "dNSHostName", "servicePrincipalName", "msDS-SupportedEncryptionTypes",
	"operatingSystem", "operatingSystemVersion", "description"}

// account reads the computer object named sam; dn is "" when there is none.
func (e *joinEnv) account(t *testing.T, sam string) (dn string, attrs map[string][]string) {
	t.Helper()
	res, err := e.admin.Search(ldap.NewSearchRequest(e.dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(sam)+")", append([]string{"msDS-KeyVersionNumber"}, watched...), nil))
	if err != nil {
		t.Fatalf("searching %s: %v", sam, err)
	}
	switch len(res.Entries) {
	case 0:
		return "", nil
	case 1:
	default:
		t.Fatalf("%d objects named %s", len(res.Entries), sam)
	}
	attrs = map[string][]string{}
	for _, a := range append([]string{"msDS-KeyVersionNumber"}, watched...) {
		v := slices.Clone(res.Entries[0].GetEqualFoldAttributeValues(a))
		slices.Sort(v)
		attrs[a] = v
	}
	return res.Entries[0].DN, attrs
}

func sameWatched(a, b map[string][]string) bool {
	for _, k := range watched {
		if !slices.Equal(a[k], b[k]) {
			return false
		}
	}
	return true
}

func (e *joinEnv) deleteAccount(t *testing.T, sam string) {
	t.Helper()
	if dn, _ := e.account(t, sam); dn != "" {
		if err := e.admin.Del(ldap.NewDelRequest(dn, nil)); err != nil {
			t.Errorf("deleting %s: %v", dn, err)
		}
	}
}

// precreate adds a disabled computer object with attributes of its own,
// as an administrator would before a join without ACCT_CREATE.
func (e *joinEnv) precreate(t *testing.T, parent, name string) string {
	t.Helper()
	dn := "CN=" + name + "," + parent
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user", "computer"})
	add.Attribute("sAMAccountName", []string{name + "$"})
	add.Attribute("userAccountControl", []string{strconv.Itoa(int(joinlogic.UF_WORKSTATION_TRUST_ACCOUNT | joinlogic.UF_ACCOUNTDISABLE))})
	add.Attribute("dNSHostName", []string{"old-" + strings.ToLower(name) + "." + e.dc.DNSDomain})
	add.Attribute("servicePrincipalName", []string{"HOST/old-" + strings.ToLower(name)})
	add.Attribute("operatingSystem", []string{"Precreated OS"})
	add.Attribute("description", []string{"precreated by the test"})
	if err := e.admin.Add(add); err != nil {
		t.Fatalf("adding %s: %v", dn, err)
	}
	t.Cleanup(func() { e.deleteAccount(t, name+"$") })
	return dn
}

func (e *joinEnv) computers() string { return "CN=Computers," + e.dc.BaseDN }

// fileState is the bytes of a file, or nil when it does not exist.
func fileState(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// faultMode is how the controller is lost at the chosen call.
type faultMode int

const (
	// dropped: the connection breaks right before the call and the
	// controller answers again as soon as the call returned.
	dropped faultMode = iota
	// outage: the controller is gone from right before the call until the
	// test restores it, after the join returned.
	outage
	// lostAnswer: the controller carries the call out, then the connection
	// breaks before the answer arrives; the controller answers again right
	// after.
	lostAnswer
	// crashBefore: the process dies right before the call (nothing after
	// it runs, no rollback): runtime.Goexit on the joining goroutine.
	crashBefore
	// crashAfter: the process dies right after the controller carried
	// the call out, before the answer is used.
	crashAfter
)

func (m faultMode) String() string {
	return [...]string{"dropped connection", "outage", "lost answer", "crash before", "crash after"}[m]
}

// faultDirectory counts the calls the state machine makes on the
// Directory and on the Sessions it opens, and loses the controller at call
// number cutAt (1-based; 0 never) the way mode says.
type faultDirectory struct {
	joinlogic.Directory
	env   *joinEnv
	cutAt int
	mode  faultMode
	steps []string
}

// step records a call; the function it returns gets the call's error and
// returns the one the caller sees.
func (f *faultDirectory) step(name string) func(error) error {
	f.steps = append(f.steps, name)
	if len(f.steps) != f.cutAt {
		return func(err error) error { return err }
	}
	switch f.mode {
	case crashBefore:
		runtime.Goexit()
	case crashAfter:
		return func(error) error { runtime.Goexit(); return nil }
	case dropped, outage:
		f.env.cut()
	}
	return func(err error) error {
		switch f.mode {
		case dropped:
			f.env.restore()
		case lostAnswer:
			f.env.cut()
			f.env.restore()
			if err == nil {
				err = fmt.Errorf("%w: connection reset before the answer to %s arrived", joinlogic.ERROR_NO_SUCH_DOMAIN, name)
			}
		}
		return err
	}
}

func (f *faultDirectory) Locate(ctx context.Context, req joinlogic.LocateRequest) (joinlogic.DCInfo, error) {
	after := f.step("Locate")
	info, err := f.Directory.Locate(ctx, req)
	return info, after(err)
}

func (f *faultDirectory) Bind(ctx context.Context, dc joinlogic.DCInfo, cred joinlogic.Credentials) (joinlogic.Session, error) {
	after := f.step("Bind")
	s, err := f.Directory.Bind(ctx, dc, cred)
	if err = after(err); err != nil {
		if s != nil {
			s.Close()
		}
		return nil, err
	}
	return &faultSession{Session: s, f: f}, nil
}

type faultSession struct {
	joinlogic.Session
	f *faultDirectory
}

func (s *faultSession) DomainInfo(ctx context.Context) (joinlogic.DomainInfo, error) {
	after := s.f.step("DomainInfo")
	v, err := s.Session.DomainInfo(ctx)
	return v, after(err)
}

func (s *faultSession) ComputersContainer(ctx context.Context) (string, error) {
	after := s.f.step("ComputersContainer")
	v, err := s.Session.ComputersContainer(ctx)
	return v, after(err)
}

func (s *faultSession) ContainerExists(ctx context.Context, dn string) (bool, error) {
	after := s.f.step("ContainerExists")
	v, err := s.Session.ContainerExists(ctx, dn)
	return v, after(err)
}

func (s *faultSession) FindComputer(ctx context.Context, sam string) (joinlogic.ComputerAccount, bool, error) {
	after := s.f.step("FindComputer")
	v, found, err := s.Session.FindComputer(ctx, sam)
	return v, found, after(err)
}

func (s *faultSession) CreateComputer(ctx context.Context, nc joinlogic.NewComputer) (joinlogic.ComputerAccount, error) {
	after := s.f.step("CreateComputer")
	v, err := s.Session.CreateComputer(ctx, nc)
	return v, after(err)
}

func (s *faultSession) DeleteComputer(ctx context.Context, dn string) error {
	after := s.f.step("DeleteComputer")
	return after(s.Session.DeleteComputer(ctx, dn))
}

func (s *faultSession) Snapshot(ctx context.Context, dn string) (joinlogic.AccountSnapshot, error) {
	after := s.f.step("Snapshot")
	v, err := s.Session.Snapshot(ctx, dn)
	return v, after(err)
}

func (s *faultSession) Restore(ctx context.Context, snap joinlogic.AccountSnapshot) error {
	after := s.f.step("Restore")
	return after(s.Session.Restore(ctx, snap))
}

func (s *faultSession) ResetComputer(ctx context.Context, dn string, u joinlogic.ComputerUpdate) error {
	after := s.f.step("ResetComputer")
	return after(s.Session.ResetComputer(ctx, dn, u))
}

func (s *faultSession) DisableComputer(ctx context.Context, dn string) error {
	after := s.f.step("DisableComputer")
	return after(s.Session.DisableComputer(ctx, dn))
}

func (s *faultSession) VerifyMachinePassword(ctx context.Context, sam, password string) error {
	after := s.f.step("VerifyMachinePassword")
	return after(s.Session.VerifyMachinePassword(ctx, sam, password))
}

func (s *faultSession) KeyVersionNumber(ctx context.Context, dn string) (uint32, error) {
	after := s.f.step("KeyVersionNumber")
	v, err := s.Session.KeyVersionNumber(ctx, dn)
	return v, after(err)
}

// keytabKVNO returns the newest key version of the keytab's entries.
func keytabKVNO(t *testing.T, path string) uint32 {
	t.Helper()
	kt, err := gokeytab.Load(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	if len(kt.Entries) == 0 {
		t.Fatalf("%s holds no keys", path)
	}
	// The newest version: after a password change the previous one stays.
	var v uint32
	for _, e := range kt.Entries {
		v = max(v, e.KVNO)
	}
	return v
}

func mustCode(t *testing.T, what string, got, want joinlogic.Code) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// TestJoinFaultInjection loses the controller at each directory call of a
// successful join in turn (MS-WKST 3.2.4.13.1: on failure "the server
// SHOULD revert any state changes made"), for a join that creates the
// account and for one that reuses a pre-created account over an existing
// keytab. A connection dropped before a call, or after the controller
// carried it out but before its answer arrived, must leave no trace: no
// computer object (or the pre-created one's attributes as they were), the
// membership file and the keytab byte for byte as before. An outage that
// lasts past the join must leave the local state untouched; the directory
// cannot be reverted without the controller, so what the join left there
// must not stand in the way of a later join.
func TestJoinFaultInjection(t *testing.T) {
	e := newJoinEnv(t)
	type scenario struct {
		name     string
		opts     uint32
		existing bool
	}
	for _, sc := range []scenario{
		{"ACCT_CREATE creates the account", joinlogic.NETSETUP_ACCT_CREATE, false},
		{"pre-created account is reused", 0, true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			prepare := func(t *testing.T, dir joinlogic.Directory) (m *member, before map[string][]string) {
				m = e.newMember(t, newName(t, "FI"), dir)
				if sc.existing {
					e.precreate(t, e.computers(), m.name)
					_, before = e.account(t, m.sam)
					old := keytab.Entries{ComputerName: m.name, Realm: e.dc.Realm, Password: "previous-keytab-password", KVNO: 7}
					if err := keytab.Write(m.keytabPath, old); err != nil {
						t.Fatal(err)
					}
				}
				return m, before
			}

			// Dry run: count the steps of a successful join.
			dry := &faultDirectory{Directory: e.dir, env: e}
			m, _ := prepare(t, dry)
			mustCode(t, "dry-run Join", m.j.Join(context.Background(), e.adminJoin(sc.opts)), joinlogic.NERR_Success)
			t.Logf("steps of a successful join: %v", dry.steps)
			// One directory write (CreateComputer or ResetComputer), then
			// the key version: 8 calls for a new account, 9 for an
			// existing one (Snapshot).
			if len(dry.steps) < 8 || dry.steps[len(dry.steps)-1] != "KeyVersionNumber" ||
				len(slices.DeleteFunc(slices.Clone(dry.steps), func(s string) bool { return s != "CreateComputer" && s != "ResetComputer" })) != 1 {
				t.Fatalf("unexpected steps %v", dry.steps)
			}
			if _, err := e.dc.Kinit(context.Background(), m.keytabPath, m.sam+"@"+e.dc.Realm); err != nil {
				t.Fatalf("dry-run keytab: %v", err)
			}
			steps := dry.steps
			// firstWrite is the first call that changes the directory.
			firstWrite := slices.IndexFunc(steps, func(s string) bool {
				return s == "CreateComputer" || s == "ResetComputer"
			}) + 1

			for _, mode := range []faultMode{dropped, lostAnswer, outage} {
				for n := 1; n <= len(steps); n++ {
					t.Run(mode.String()+"/at "+strconv.Itoa(n)+" "+steps[n-1], func(t *testing.T) {
						f := &faultDirectory{Directory: e.dir, env: e, cutAt: n, mode: mode}
						m, before := prepare(t, f)
						state, kt := fileState(t, m.statePath), fileState(t, m.keytabPath)
						got := m.j.Join(context.Background(), e.adminJoin(sc.opts))
						e.restore()
						t.Logf("calls: %v", f.steps)
						mustCode(t, "Join", got, joinlogic.ERROR_NO_SUCH_DOMAIN)

						if b := fileState(t, m.statePath); !bytes.Equal(b, state) {
							t.Errorf("membership file changed:\n%s\nwas\n%s", b, state)
						}
						if cur, _ := m.store.Load(); cur != (joinlogic.Membership{Workgroup: "TESTGROUP"}) {
							t.Errorf("membership in memory = %+v", cur.LogValue())
						}
						if b := fileState(t, m.keytabPath); !bytes.Equal(b, kt) {
							t.Errorf("keytab changed (existed before: %v, now: %v)", kt != nil, b != nil)
						}
						dn, after := e.account(t, m.sam)
						intact := mode != outage || n <= firstWrite
						switch {
						case intact && !sc.existing && dn != "":
							t.Errorf("computer object %s left behind", dn)
						case intact && sc.existing && !sameWatched(before, after):
							t.Errorf("pre-created account not restored:\n got %v\nwant %v", after, before)
						case !intact:
							t.Logf("left in the directory by the outage: %q %v", dn, after)
						}
						if mode == outage {
							// Whatever the outage left, the next join settles
							// it first (the journaled intent): an account the
							// write completed is rolled forward, so the
							// machine is joined already; otherwise the join
							// goes ahead. Either way the keytab works.
							want := joinlogic.NERR_Success
							if n > firstWrite {
								want = joinlogic.NERR_SetupAlreadyJoined
							}
							mustCode(t, "Join after the outage", m.j.Join(context.Background(), e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)), want)
							if _, err := e.dc.Kinit(context.Background(), m.keytabPath, m.sam+"@"+e.dc.Realm); err != nil {
								t.Errorf("keytab of the join after the outage: %v", err)
							}
						}
					})
				}
			}
		})
	}
}

// TestJoinUnjoinWithKeytab is a full join with NETSETUP_ACCT_CREATE, the
// keytab proven against the KDC, NetrGetJoinInformation, a refused second
// join, a re-join, and both kinds of unjoin (MS-WKST 3.2.4.12, 3.2.4.13,
// 3.2.4.14).
func TestJoinUnjoinWithKeytab(t *testing.T) {
	e := newJoinEnv(t)
	ctx := context.Background()
	m := e.newMember(t, newName(t, "KT"), e.dir)
	fqdn := strings.ToLower(m.name) + "." + e.dc.DNSDomain

	mustCode(t, "Join", m.j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)), joinlogic.NERR_Success)
	dn, attrs := e.account(t, m.sam)
	if !strings.EqualFold(dn, "CN="+m.name+","+e.computers()) {
		t.Fatalf("account DN %q", dn)
	}
	if attrs["userAccountControl"][0] != strconv.Itoa(int(joinlogic.UF_WORKSTATION_TRUST_ACCOUNT)) ||
		attrs["dNSHostName"][0] != fqdn || !slices.Contains(attrs["servicePrincipalName"], "HOST/"+m.name) {
		t.Errorf("account attributes %v", attrs)
	}
	fi, err := os.Stat(m.keytabPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keytab: %v %v", fi, err)
	}
	kvno, _ := strconv.ParseUint(attrs["msDS-KeyVersionNumber"][0], 10, 32)
	if got := keytabKVNO(t, m.keytabPath); uint64(got) != kvno {
		t.Errorf("keytab kvno %d, msDS-KeyVersionNumber %d", got, kvno)
	}
	// The account's own key obtains a TGT; the service keys decrypt the
	// tickets the KDC issues for the computer's SPNs.
	if out, err := e.dc.KinitServices(ctx, m.keytabPath, m.sam+"@"+e.dc.Realm,
		"host/"+fqdn, "host/"+m.name, "RestrictedKrbHost/"+fqdn); err != nil {
		t.Errorf("keytab against the KDC: %v", err)
	} else {
		t.Logf("kinit -k, kvno -k: %s", out)
	}
	name, status, err := m.j.JoinInformation(ctx)
	if err != nil || name != e.dc.Domain || status != joinlogic.NetSetupDomainName {
		t.Errorf("JoinInformation = %q %d %v", name, status, err)
	}
	mem, _ := m.store.Load()
	if !mem.Joined() || mem.ClientName != m.sam || !strings.EqualFold(mem.DomainFQDN, e.dc.DNSDomain) {
		t.Errorf("membership %+v", mem.LogValue())
	}

	t.Run("3.2.4.13.3/already joined without DOMAIN_JOIN_IF_JOINED: NERR_SetupAlreadyJoined", func(t *testing.T) {
		state, kt := fileState(t, m.statePath), fileState(t, m.keytabPath)
		mustCode(t, "Join", m.j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)), joinlogic.NERR_SetupAlreadyJoined)
		if !bytes.Equal(state, fileState(t, m.statePath)) || !bytes.Equal(kt, fileState(t, m.keytabPath)) {
			t.Error("refused join changed local state")
		}
	})

	t.Run("rollback/a failed re-join restores the previous password and keytab", func(t *testing.T) {
		state, kt := fileState(t, m.statePath), fileState(t, m.keytabPath)
		f := &faultDirectory{Directory: e.dir, env: e, cutAt: 9} // KeyVersionNumber, after the one write
		j, err := joinlogic.New(joinlogic.Config{ComputerName: m.name, Store: m.store, Directory: f, Keytab: mustFileStore(t, m.keytabPath), Logger: e.log})
		if err != nil {
			t.Fatal(err)
		}
		got := j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE|joinlogic.NETSETUP_DOMAIN_JOIN_IF_JOINED))
		t.Logf("calls: %v", f.steps)
		if f.steps[8] != "KeyVersionNumber" {
			t.Fatalf("step 9 is %s", f.steps[8])
		}
		mustCode(t, "Join", got, joinlogic.ERROR_NO_SUCH_DOMAIN)
		if !bytes.Equal(state, fileState(t, m.statePath)) || !bytes.Equal(kt, fileState(t, m.keytabPath)) {
			t.Fatal("failed re-join changed local state")
		}
		// The membership's password is the account's again, and the
		// restored keytab still obtains tickets.
		sess := e.bindAdmin(t)
		cur, _ := m.store.Load()
		if err := sess.VerifyMachinePassword(ctx, m.sam, cur.Password.Reveal()); err != nil {
			t.Errorf("previous machine password not restored: %v", err)
		}
		if _, err := e.dc.Kinit(ctx, m.keytabPath, m.sam+"@"+e.dc.Realm); err != nil {
			t.Errorf("restored keytab: %v", err)
		}
		if _, after := e.account(t, m.sam); !sameWatched(attrs, after) {
			t.Errorf("attributes after the failed re-join %v, want %v", after, attrs)
		}
	})

	t.Run("3.2.4.13.3/DOMAIN_JOIN_IF_JOINED re-joins with a new password and key version", func(t *testing.T) {
		old, _ := m.store.Load()
		mustCode(t, "Join", m.j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE|joinlogic.NETSETUP_DOMAIN_JOIN_IF_JOINED)), joinlogic.NERR_Success)
		cur, _ := m.store.Load()
		if cur.Password == old.Password || cur.PreviousPassword != old.Password {
			t.Error("re-join did not rotate the password")
		}
		_, attrs := e.account(t, m.sam)
		kvno, _ := strconv.ParseUint(attrs["msDS-KeyVersionNumber"][0], 10, 32)
		if got := keytabKVNO(t, m.keytabPath); uint64(got) != kvno {
			t.Errorf("keytab kvno %d, msDS-KeyVersionNumber %d", got, kvno)
		}
		if _, err := e.dc.Kinit(ctx, m.keytabPath, m.sam+"@"+e.dc.Realm); err != nil {
			t.Errorf("kinit after re-join: %v", err)
		}
	})

	t.Run("3.2.4.14/without ACCT_DELETE the directory is left alone", func(t *testing.T) {
		_, before := e.account(t, m.sam)
		mustCode(t, "Unjoin", m.j.Unjoin(ctx, e.adminUnjoin(0)), joinlogic.NERR_Success)
		if fileState(t, m.keytabPath) != nil {
			t.Error("keytab not removed")
		}
		if _, after := e.account(t, m.sam); !sameWatched(before, after) || !slices.Equal(before["msDS-KeyVersionNumber"], after["msDS-KeyVersionNumber"]) {
			t.Errorf("account changed: %v, was %v", after, before)
		}
		if name, status, err := m.j.JoinInformation(ctx); err != nil || name != "" || status != joinlogic.NetSetupUnjoined {
			t.Errorf("JoinInformation = %q %d %v", name, status, err)
		}
	})

	t.Run("3.2.4.14/ACCT_DELETE disables the account and removes the keytab", func(t *testing.T) {
		// The object left by the previous unjoin is reused.
		mustCode(t, "Join", m.j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)), joinlogic.NERR_Success)
		if fileState(t, m.keytabPath) == nil {
			t.Fatal("no keytab after join")
		}
		mustCode(t, "Unjoin", m.j.Unjoin(ctx, e.adminUnjoin(joinlogic.NETSETUP_ACCT_DELETE)), joinlogic.NERR_Success)
		if fileState(t, m.keytabPath) != nil {
			t.Error("keytab not removed")
		}
		_, attrs := e.account(t, m.sam)
		uac, _ := strconv.ParseUint(attrs["userAccountControl"][0], 10, 32)
		if uint32(uac)&joinlogic.UF_ACCOUNTDISABLE == 0 {
			t.Errorf("account not disabled: userAccountControl %d", uac)
		}
		if mem, _ := m.store.Load(); mem != (joinlogic.Membership{}) {
			t.Errorf("membership %+v", mem.LogValue())
		}
		mustCode(t, "second Unjoin", m.j.Unjoin(ctx, e.adminUnjoin(joinlogic.NETSETUP_ACCT_DELETE)), joinlogic.NERR_SetupNotJoined)
	})
}

func mustFileStore(t *testing.T, path string) *keytab.FileStore {
	t.Helper()
	s, err := keytab.NewFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bindAdmin opens a Directory session as the administrator.
func (e *joinEnv) bindAdmin(t *testing.T) joinlogic.Session {
	t.Helper()
	ctx := context.Background()
	dc, err := e.dir.Locate(ctx, joinlogic.LocateRequest{Domain: e.dc.DNSDomain, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.dir.Bind(ctx, dc, joinlogic.Credentials{Account: joinlogic.Account{User: e.dc.AdminUser}, Password: e.dc.AdminPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestJoinErrorsAgainstDC drives every error of MS-WKST 3.2.4.13.3 that a
// real controller can produce through Joiner.Join, and checks that none
// leaves local state or a computer object behind.
func TestJoinErrorsAgainstDC(t *testing.T) {
	e := newJoinEnv(t)
	ctx := context.Background()
	admin := e.dc.Domain + `\` + e.dc.AdminUser
	user, userPw := strings.ToLower(newName(t, "plain")), "Pl41n.User-"+newName(t, "")
	e.dc.CreateUser(t, user, userPw)
	ou := "OU=JoinErr" + newName(t, "") + "," + e.dc.BaseDN
	e.dc.CreateOU(t, ou)

	cases := []struct {
		name     string
		req      func(m *member) joinlogic.JoinRequest
		setup    func(t *testing.T, m *member)
		want     joinlogic.Code
		preexist bool // the computer object exists before and must be unchanged
	}{
		{name: "authenticated session with AccountName and PasswordString fails: ERROR_LOGON_FAILURE",
			req: func(*member) joinlogic.JoinRequest {
				return joinReq(e.dc.DNSDomain, admin, e.dc.AdminPassword+"x", joinlogic.NETSETUP_JOIN_DOMAIN|joinlogic.NETSETUP_ACCT_CREATE)
			},
			want: joinlogic.ERROR_LOGON_FAILURE},
		{name: "caller may not create computer accounts: ERROR_ACCESS_DENIED",
			req: func(*member) joinlogic.JoinRequest {
				return joinReq(e.dc.DNSDomain, e.dc.Domain+`\`+user, userPw, joinlogic.NETSETUP_JOIN_DOMAIN|joinlogic.NETSETUP_ACCT_CREATE)
			},
			want: joinlogic.ERROR_ACCESS_DENIED},
		{name: "MachineAccountOU cannot be found: ERROR_FILE_NOT_FOUND",
			req: func(*member) joinlogic.JoinRequest {
				r := e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)
				missing := "OU=NoSuchOU," + e.dc.BaseDN
				r.MachineAccountOU = &missing
				return r
			},
			want: joinlogic.ERROR_FILE_NOT_FOUND},
		{name: "ACCT_CREATE and the account exists in another OU: NERR_UserExists",
			setup: func(t *testing.T, m *member) { e.precreate(t, e.computers(), m.name) },
			req: func(*member) joinlogic.JoinRequest {
				r := e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)
				r.MachineAccountOU = &ou
				return r
			},
			want: joinlogic.NERR_UserExists, preexist: true},
		{name: "ACCT_CREATE not set and the account does not exist: ERROR_NONE_MAPPED",
			req:  func(*member) joinlogic.JoinRequest { return e.adminJoin(0) },
			want: joinlogic.ERROR_NONE_MAPPED},
		{name: "named DC is not a DC of the domain: ERROR_INVALID_DOMAIN_ROLE",
			req: func(*member) joinlogic.JoinRequest {
				return joinReq(e.dc.DNSDomain+`\member1`, admin, e.dc.AdminPassword, joinlogic.NETSETUP_JOIN_DOMAIN|joinlogic.NETSETUP_ACCT_CREATE)
			},
			want: joinlogic.ERROR_INVALID_DOMAIN_ROLE},
		{name: "domain cannot be located: ERROR_NO_SUCH_DOMAIN",
			req: func(*member) joinlogic.JoinRequest {
				return joinReq("nosuchdomain.test", admin, e.dc.AdminPassword, joinlogic.NETSETUP_JOIN_DOMAIN|joinlogic.NETSETUP_ACCT_CREATE)
			},
			want: joinlogic.ERROR_NO_SUCH_DOMAIN},
	}
	for _, c := range cases {
		t.Run("3.2.4.13.3/"+c.name, func(t *testing.T) {
			m := e.newMember(t, newName(t, "ER"), e.dir)
			if c.setup != nil {
				c.setup(t, m)
			}
			_, before := e.account(t, m.sam)
			state := fileState(t, m.statePath)
			mustCode(t, "Join", m.j.Join(ctx, c.req(m)), c.want)
			if !bytes.Equal(state, fileState(t, m.statePath)) {
				t.Error("membership file changed")
			}
			if fileState(t, m.keytabPath) != nil {
				t.Error("keytab written")
			}
			dn, after := e.account(t, m.sam)
			switch {
			case !c.preexist && dn != "":
				t.Errorf("computer object %s left behind", dn)
			case c.preexist && !sameWatched(before, after):
				t.Errorf("existing account changed: %v, was %v", after, before)
			}
		})
	}
}

// TestUnjoinFaultInjection loses the controller at each directory call
// of an unjoin with NETSETUP_ACCT_DELETE (MS-WKST 3.2.4.14), in the three
// ways of TestJoinFaultInjection: the unjoin fails, the membership file
// and keytab stay byte for byte, the account keeps its attributes (it is
// not left disabled) and the keytab still obtains tickets.
func TestUnjoinFaultInjection(t *testing.T) {
	e := newJoinEnv(t)
	ctx := context.Background()
	joined := func(t *testing.T, dir joinlogic.Directory) *member {
		m := e.newMember(t, newName(t, "UF"), dir)
		mustCode(t, "Join", m.j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)), joinlogic.NERR_Success)
		return m
	}
	dry := &faultDirectory{Directory: e.dir, env: e}
	m := joined(t, dry)
	dry.steps = nil
	mustCode(t, "dry-run Unjoin", m.j.Unjoin(ctx, e.adminUnjoin(joinlogic.NETSETUP_ACCT_DELETE)), joinlogic.NERR_Success)
	steps := dry.steps
	t.Logf("steps of a successful unjoin: %v", steps)
	if len(steps) == 0 || steps[len(steps)-1] != "DisableComputer" {
		t.Fatalf("unexpected steps %v", steps)
	}
	for _, mode := range []faultMode{dropped, lostAnswer, outage} {
		for n := 1; n <= len(steps); n++ {
			t.Run(mode.String()+"/at "+strconv.Itoa(n)+" "+steps[n-1], func(t *testing.T) {
				f := &faultDirectory{Directory: e.dir, env: e}
				m := joined(t, f)
				f.steps, f.cutAt, f.mode = nil, n, mode
				state, kt := fileState(t, m.statePath), fileState(t, m.keytabPath)
				_, before := e.account(t, m.sam)
				got := m.j.Unjoin(ctx, e.adminUnjoin(joinlogic.NETSETUP_ACCT_DELETE))
				e.restore()
				t.Logf("calls: %v", f.steps)
				mustCode(t, "Unjoin", got, joinlogic.ERROR_NO_SUCH_DOMAIN)
				if !bytes.Equal(state, fileState(t, m.statePath)) || !bytes.Equal(kt, fileState(t, m.keytabPath)) {
					t.Error("failed unjoin changed local state")
				}
				if _, after := e.account(t, m.sam); !sameWatched(before, after) {
					t.Errorf("account changed: %v, was %v", after, before)
				}
				if _, err := e.dc.Kinit(ctx, m.keytabPath, m.sam+"@"+e.dc.Realm); err != nil {
					t.Errorf("the machine lost its domain identity: %v", err)
				}
			})
		}
	}
}

// restart opens the member's files anew, as a restarted daemon does, with
// a Joiner on the real Directory; the state file must parse.
func (e *joinEnv) restart(t *testing.T, m *member) (*joinlogic.Joiner, *joinlogic.Store) {
	t.Helper()
	store, err := joinlogic.OpenStore(m.statePath)
	if err != nil {
		t.Fatalf("state file after the crash: %v", err)
	}
	j, err := joinlogic.New(joinlogic.Config{ComputerName: m.name, Store: store, Directory: e.dir, Keytab: mustFileStore(t, m.keytabPath), Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, store
}

func intentExists(t *testing.T, m *member) bool {
	t.Helper()
	return fileState(t, joinlogic.IntentPath(m.statePath)) != nil
}

// recoverAfterCrash runs start-up recovery: first with the controller cut
// off, which must leave a pending intent pending and the local files
// untouched, then with the controller back, which must settle it.
func (e *joinEnv) recoverAfterCrash(t *testing.T, m *member, j *joinlogic.Joiner) {
	t.Helper()
	ctx := context.Background()
	if intentExists(t, m) {
		state, kt := fileState(t, m.statePath), fileState(t, m.keytabPath)
		e.cut()
		pending, err := j.Recover(ctx)
		e.restore()
		if err != nil || !pending {
			t.Fatalf("Recover with the controller cut off = %v, %v; want pending", pending, err)
		}
		if !bytes.Equal(state, fileState(t, m.statePath)) || !bytes.Equal(kt, fileState(t, m.keytabPath)) || !intentExists(t, m) {
			t.Fatal("a recovery that could not reach the controller changed local state")
		}
	}
	if pending, err := j.Recover(ctx); err != nil || pending {
		t.Fatalf("Recover = %v, %v", pending, err)
	}
	if intentExists(t, m) {
		t.Fatal("intent left after recovery")
	}
}

// crashed runs op on its own goroutine, which the faultDirectory ends at
// the chosen moment (runtime.Goexit: deferred closes run, nothing else —
// no rollback, no save), and reports whether op finished anyway.
func crashed(op func() joinlogic.Code) (finished bool) {
	done := make(chan bool, 1)
	go func() {
		defer close(done)
		op()
		done <- true
	}()
	return <-done
}

// checkJoinedOrAbsent is the crash-safety invariant of a join: the machine
// reports joined and the directory holds the complete, enabled account its
// keytab authenticates as; or it reports its previous workgroup and there
// is no computer object.
func (e *joinEnv) checkJoinedOrAbsent(t *testing.T, m *member, store *joinlogic.Store) string {
	t.Helper()
	mem, _ := store.Load()
	dn, attrs := e.account(t, m.sam)
	if !mem.Joined() {
		if mem != (joinlogic.Membership{Workgroup: "TESTGROUP"}) {
			t.Errorf("membership %+v", mem.LogValue())
		}
		if dn != "" {
			t.Errorf("not joined, but the directory holds %s %v", dn, attrs)
		}
		if fileState(t, m.keytabPath) != nil {
			t.Error("not joined, but a keytab was left")
		}
		return "absent"
	}
	fqdn := strings.ToLower(m.name) + "." + e.dc.DNSDomain
	switch {
	case dn == "":
		t.Fatal("joined, but there is no computer object")
	case !slices.Equal(attrs["userAccountControl"], []string{strconv.Itoa(int(joinlogic.UF_WORKSTATION_TRUST_ACCOUNT))}),
		!slices.Equal(attrs["dNSHostName"], []string{fqdn}),
		!slices.Contains(attrs["servicePrincipalName"], "HOST/"+m.name):
		t.Errorf("joined, but the account is incomplete: %v", attrs)
	}
	if _, err := e.dc.Kinit(context.Background(), m.keytabPath, m.sam+"@"+e.dc.Realm); err != nil {
		t.Errorf("joined, but the keytab does not authenticate: %v", err)
	}
	return "joined"
}

// TestCrashDuringJoinRecovers kills a join (see crashed) right before and
// right after each directory call of a successful ACCT_CREATE join, then
// restarts: the state file parses, start-up recovery keeps the intent
// while the controller is cut off and settles it once it is back, and the
// machine and the directory agree (checkJoinedOrAbsent).
func TestCrashDuringJoinRecovers(t *testing.T) {
	e := newJoinEnv(t)
	ctx := context.Background()
	dry := &faultDirectory{Directory: e.dir, env: e}
	m := e.newMember(t, newName(t, "CR"), dry)
	mustCode(t, "dry-run Join", m.j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)), joinlogic.NERR_Success)
	steps := dry.steps
	counts := map[string]int{}
	for _, mode := range []faultMode{crashBefore, crashAfter} {
		for n := 1; n <= len(steps); n++ {
			t.Run(mode.String()+"/"+strconv.Itoa(n)+" "+steps[n-1], func(t *testing.T) {
				f := &faultDirectory{Directory: e.dir, env: e, cutAt: n, mode: mode}
				m := e.newMember(t, newName(t, "CR"), f)
				if crashed(func() joinlogic.Code { return m.j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)) }) {
					t.Fatalf("the join was not interrupted (calls %v)", f.steps)
				}
				j, store := e.restart(t, m)
				e.recoverAfterCrash(t, m, j)
				outcome := e.checkJoinedOrAbsent(t, m, store)
				counts[strings.ReplaceAll(mode.String(), " ", "-")+"/"+outcome]++
				t.Logf("outcome: %s", outcome)
				// The recovered machine can go on: join (again) or unjoin.
				if outcome == "joined" {
					mustCode(t, "Unjoin after recovery", j.Unjoin(ctx, e.adminUnjoin(joinlogic.NETSETUP_ACCT_DELETE)), joinlogic.NERR_Success)
				} else {
					mustCode(t, "Join after recovery", j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)), joinlogic.NERR_Success)
				}
			})
		}
	}
	t.Logf("FAULTS crash-join steps=%d outcomes=%v", len(steps), counts)
	if counts["crash-after/joined"] == 0 || counts["crash-before/absent"] == 0 {
		t.Errorf("outcomes %v: both sides of the write were not reached", counts)
	}
}

// TestCrashDuringUnjoinRecovers does the same for an unjoin with
// NETSETUP_ACCT_DELETE: afterwards the machine is still joined with an
// enabled account its keytab authenticates as, or unjoined with the
// account disabled and no keytab.
func TestCrashDuringUnjoinRecovers(t *testing.T) {
	e := newJoinEnv(t)
	ctx := context.Background()
	joined := func(t *testing.T, dir joinlogic.Directory) *member {
		m := e.newMember(t, newName(t, "CU"), dir)
		mustCode(t, "Join", m.j.Join(ctx, e.adminJoin(joinlogic.NETSETUP_ACCT_CREATE)), joinlogic.NERR_Success)
		return m
	}
	dry := &faultDirectory{Directory: e.dir, env: e}
	m := joined(t, dry)
	dry.steps = nil
	mustCode(t, "dry-run Unjoin", m.j.Unjoin(ctx, e.adminUnjoin(joinlogic.NETSETUP_ACCT_DELETE)), joinlogic.NERR_Success)
	steps := dry.steps
	counts := map[string]int{}
	for _, mode := range []faultMode{crashBefore, crashAfter} {
		for n := 1; n <= len(steps); n++ {
			t.Run(mode.String()+"/"+strconv.Itoa(n)+" "+steps[n-1], func(t *testing.T) {
				f := &faultDirectory{Directory: e.dir, env: e}
				m := joined(t, f)
				f.steps, f.cutAt, f.mode = nil, n, mode
				if crashed(func() joinlogic.Code { return m.j.Unjoin(ctx, e.adminUnjoin(joinlogic.NETSETUP_ACCT_DELETE)) }) {
					t.Fatalf("the unjoin was not interrupted (calls %v)", f.steps)
				}
				j, store := e.restart(t, m)
				e.recoverAfterCrash(t, m, j)
				mem, _ := store.Load()
				_, attrs := e.account(t, m.sam)
				uac, _ := strconv.Atoi(slices.Concat(attrs["userAccountControl"], []string{""})[0])
				var outcome string
				if mem.Joined() {
					outcome = "joined"
					if uint32(uac)&joinlogic.UF_ACCOUNTDISABLE != 0 {
						t.Errorf("joined, but the account is disabled (%#x)", uac)
					}
					if _, err := e.dc.Kinit(ctx, m.keytabPath, m.sam+"@"+e.dc.Realm); err != nil {
						t.Errorf("joined, but the keytab does not authenticate: %v", err)
					}
				} else {
					outcome = "unjoined"
					if uint32(uac)&joinlogic.UF_ACCOUNTDISABLE == 0 {
						t.Errorf("unjoined, but the account is enabled (%#x)", uac)
					}
					if fileState(t, m.keytabPath) != nil {
						t.Error("unjoined, but the keytab is left")
					}
				}
				counts[strings.ReplaceAll(mode.String(), " ", "-")+"/"+outcome]++
				t.Logf("outcome: %s", outcome)
			})
		}
	}
	t.Logf("FAULTS crash-unjoin steps=%d outcomes=%v", len(steps), counts)
	if counts["crash-after/unjoined"] == 0 || counts["crash-before/joined"] == 0 {
		t.Errorf("outcomes %v: both sides of the write were not reached", counts)
	}
}
