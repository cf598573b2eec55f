package joinlogic

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// fakeComputer is a computer object held by fakeDirectory.
type fakeComputer struct {
	dn, parent, sam string
	uac             uint32
	password        string
	dnsHostName     string
	spns            []string
	additionalDNS   []string
	displayName     string
	kvno            uint32
}

// fakeDirectory is an in-memory Directory recording every state change.
type fakeDirectory struct {
	mu         sync.Mutex
	dc         DCInfo
	names      []string // domain names the locator answers for (lower case)
	info       DomainInfo
	users      map[string]string // "user" → password
	anonymous  bool              // anonymous binds are accepted
	computers  string            // DN of the computers container
	containers map[string]bool   // normalised DNs that exist
	accounts   map[string]*fakeComputer
	fail       map[string]error // operation → error it returns
	failOnce   map[string]error // operation → error it returns the next time only
	lostAnswer map[string]bool  // operation → applied, then fails as a broken connection
	crashAt    string           // operation at which the calling goroutine dies (runtime.Goexit)
	crashAfter bool             // … after the operation took effect, else before
	// rewriteSPNs makes a names change that renames the account rewrite
	// the SPNs naming its former names to the new ones, as Samba does.
	rewriteSPNs bool
	log         []string // operations that changed or probed state
	binds       []Credentials
	open        int // sessions not yet closed

	// entered/release, when set, make Locate signal and then wait, so a
	// test can hold a join in progress.
	entered chan struct{}
	release chan struct{}
}

func newFakeDirectory() *fakeDirectory {
	return &fakeDirectory{
		dc: DCInfo{
			DCName: "dc1.example.test", DCAddress: "127.0.0.2",
			DomainDNS: "example.test", DomainFlat: "EXAMPLE", ForestDNS: "example.test",
			DomainGUID: "11111111-2222-3333-4444-555555555555", DCSiteName: "Default-First-Site-Name",
			ClientSite: "Default-First-Site-Name",
		},
		names: []string{"example", "example.test"},
		info: DomainInfo{NetBIOSName: "EXAMPLE", DNSName: "example.test", ForestName: "example.test",
			SID: "S-1-5-21-1-2-3", GUID: "11111111-2222-3333-4444-555555555555"},
		users:      map[string]string{"administrator": "Secret1!"},
		computers:  "CN=Computers,DC=example,DC=test",
		containers: map[string]bool{normalizeDN("CN=Computers,DC=example,DC=test"): true, normalizeDN("OU=Servers,DC=example,DC=test"): true},
		accounts:   map[string]*fakeComputer{},
		fail:       map[string]error{},
		failOnce:   map[string]error{},
		lostAnswer: map[string]bool{},
	}
}

func (f *fakeDirectory) addAccount(parent, name string, uac uint32) *fakeComputer {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &fakeComputer{dn: "CN=" + name + "," + parent, parent: parent, sam: name + "$", uac: uac,
		password: "old-password", dnsHostName: "old.example.test", spns: []string{"HOST/old"}, kvno: 5}
	f.accounts[strings.ToUpper(c.sam)] = c
	return c
}

func (f *fakeDirectory) account(sam string) *fakeComputer {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.accounts[strings.ToUpper(sam)]
	if c == nil {
		return nil
	}
	cp := *c
	cp.spns = slices.Clone(c.spns)
	cp.additionalDNS = slices.Clone(c.additionalDNS)
	return &cp
}

func (f *fakeDirectory) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *fakeDirectory) record(op string, args ...any) {
	parts := []string{op}
	for _, a := range args {
		parts = append(parts, fmt.Sprint(a))
	}
	f.log = append(f.log, strings.Join(parts, " "))
}

// maybeCrash ends the calling goroutine — a process killed at that moment:
// deferred functions run (the lock is released), nothing else does.
func (f *fakeDirectory) maybeCrash(op string, after bool) {
	if f.crashAt == op && f.crashAfter == after {
		f.crashAt = ""
		runtime.Goexit()
	}
}

func (f *fakeDirectory) failure(op string) error {
	if err, ok := f.failOnce[op]; ok {
		delete(f.failOnce, op)
		return err
	}
	return f.fail[op]
}

func (f *fakeDirectory) Locate(ctx context.Context, req LocateRequest) (DCInfo, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
		select {
		case <-f.release:
		case <-ctx.Done():
			return DCInfo{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("locate", req.Domain, req.DCName, req.Writable)
	if err := f.failure("locate"); err != nil {
		return DCInfo{}, err
	}
	if !slices.Contains(f.names, strings.ToLower(req.Domain)) {
		return DCInfo{}, fmt.Errorf("no DC answers for %q: %w", req.Domain, ERROR_NO_SUCH_DOMAIN)
	}
	if req.DCName != "" {
		short, _, _ := strings.Cut(f.dc.DCName, ".")
		if !strings.EqualFold(req.DCName, f.dc.DCName) && !strings.EqualFold(req.DCName, short) {
			return DCInfo{}, ERROR_INVALID_DOMAIN_ROLE
		}
	}
	return f.dc, nil
}

func (f *fakeDirectory) Bind(ctx context.Context, dc DCInfo, cred Credentials) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.binds = append(f.binds, cred)
	if err := f.failure("bind"); err != nil {
		return nil, err
	}
	if cred.Anonymous {
		if !f.anonymous {
			return nil, ERROR_LOGON_FAILURE
		}
	} else if strings.HasSuffix(cred.Account.User, "$") {
		// A machine account: it exists, is enabled and has that password.
		c := f.accounts[strings.ToUpper(cred.Account.User)]
		if c == nil || c.uac&UF_ACCOUNTDISABLE != 0 || c.password != cred.Password {
			return nil, fmt.Errorf("bind as %v: %w", cred, ERROR_LOGON_FAILURE)
		}
	} else if pw, ok := f.users[strings.ToLower(cred.Account.User)]; !ok || pw != cred.Password {
		return nil, fmt.Errorf("bind as %v: %w", cred, ERROR_LOGON_FAILURE)
	}
	f.open++
	return &fakeSession{f: f}, nil
}

type fakeSession struct {
	f      *fakeDirectory
	closed bool
}

func (s *fakeSession) lock() func() {
	s.f.mu.Lock()
	return s.f.mu.Unlock
}

func (s *fakeSession) DomainInfo(ctx context.Context) (DomainInfo, error) {
	defer s.lock()()
	return s.f.info, s.f.failure("domaininfo")
}

func (s *fakeSession) ComputersContainer(ctx context.Context) (string, error) {
	defer s.lock()()
	return s.f.computers, s.f.failure("computers")
}

func (s *fakeSession) ContainerExists(ctx context.Context, dn string) (bool, error) {
	defer s.lock()()
	return s.f.containers[normalizeDN(dn)], s.f.failure("container")
}

func (s *fakeSession) FindComputer(ctx context.Context, sam string) (ComputerAccount, bool, error) {
	defer s.lock()()
	if err := s.f.failure("find"); err != nil {
		return ComputerAccount{}, false, err
	}
	c := s.f.accounts[strings.ToUpper(sam)]
	if c == nil {
		return ComputerAccount{}, false, nil
	}
	return ComputerAccount{DN: c.dn, ParentDN: c.parent, SAMAccountName: c.sam, UserAccountControl: c.uac}, true, nil
}

func (s *fakeSession) CreateComputer(ctx context.Context, nc NewComputer) (ComputerAccount, error) {
	defer s.lock()()
	s.f.maybeCrash("create", false)
	if err := s.f.failure("create"); err != nil {
		return ComputerAccount{}, err
	}
	if nc.Password == "" {
		return ComputerAccount{}, ERROR_INVALID_PARAMETER
	}
	// One add: the object appears complete and enabled.
	c := &fakeComputer{dn: "CN=" + nc.CommonName + "," + nc.ContainerDN, parent: nc.ContainerDN, sam: nc.SAMAccountName,
		uac: UF_WORKSTATION_TRUST_ACCOUNT, password: nc.Password, kvno: 2}
	if nc.HostNames {
		c.dnsHostName, c.spns = nc.DNSHostName, slices.Clone(nc.SPNs)
	}
	s.f.accounts[strings.ToUpper(c.sam)] = c
	s.f.record("create", c.dn)
	s.f.maybeCrash("create", true)
	if s.f.lostAnswer["create"] {
		return ComputerAccount{}, fmt.Errorf("connection reset: %w", ERROR_NO_SUCH_DOMAIN)
	}
	return ComputerAccount{DN: c.dn, ParentDN: c.parent, SAMAccountName: c.sam, UserAccountControl: c.uac}, nil
}

func (s *fakeSession) byDN(dn string) *fakeComputer {
	for _, c := range s.f.accounts {
		if sameDN(c.dn, dn) {
			return c
		}
	}
	return nil
}

func (s *fakeSession) DeleteComputer(ctx context.Context, dn string) error {
	defer s.lock()()
	s.f.record("delete", dn)
	if err := s.f.failure("delete"); err != nil {
		return err
	}
	c := s.byDN(dn)
	if c == nil {
		return ERROR_NONE_MAPPED
	}
	delete(s.f.accounts, strings.ToUpper(c.sam))
	return nil
}

func (s *fakeSession) Snapshot(ctx context.Context, dn string) (AccountSnapshot, error) {
	defer s.lock()()
	if err := s.f.failure("snapshot"); err != nil {
		return AccountSnapshot{}, err
	}
	c := s.byDN(dn)
	if c == nil {
		return AccountSnapshot{}, ERROR_NONE_MAPPED
	}
	return AccountSnapshot{DN: dn, Attributes: map[string][]string{
		"userAccountControl":   {fmt.Sprint(c.uac)},
		"dNSHostName":          {c.dnsHostName},
		"servicePrincipalName": slices.Clone(c.spns),
	}}, nil
}

func (s *fakeSession) Restore(ctx context.Context, snap AccountSnapshot) error {
	defer s.lock()()
	s.f.record("restore", snap.DN)
	if err := s.f.failure("restore"); err != nil {
		return err
	}
	c := s.byDN(snap.DN)
	if c == nil {
		return ERROR_NONE_MAPPED
	}
	var uac uint32
	fmt.Sscan(snap.Attributes["userAccountControl"][0], &uac)
	c.uac = uac
	c.dnsHostName = snap.Attributes["dNSHostName"][0]
	c.spns = slices.Clone(snap.Attributes["servicePrincipalName"])
	return nil
}

func (s *fakeSession) ResetComputer(ctx context.Context, dn string, u ComputerUpdate) error {
	defer s.lock()()
	s.f.maybeCrash("reset", false)
	s.f.record("reset", dn)
	if err := s.f.failure("reset"); err != nil {
		return err
	}
	c := s.byDN(dn)
	if c == nil {
		return ERROR_NONE_MAPPED
	}
	if u.Password == "" {
		return ERROR_INVALID_PARAMETER
	}
	// One modify: all of it or nothing.
	c.password = u.Password
	c.kvno++
	c.uac = c.uac&^(UF_ACCOUNTDISABLE|UF_SERVER_TRUST_ACCOUNT) | UF_WORKSTATION_TRUST_ACCOUNT
	if u.HostNames {
		c.dnsHostName, c.spns = u.DNSHostName, slices.Clone(u.SPNs)
	}
	s.f.maybeCrash("reset", true)
	if s.f.lostAnswer["reset"] {
		return fmt.Errorf("connection reset: %w", ERROR_NO_SUCH_DOMAIN)
	}
	return nil
}

func (s *fakeSession) DisableComputer(ctx context.Context, dn string) error {
	defer s.lock()()
	s.f.maybeCrash("disable", false)
	s.f.record("disable", dn)
	if err := s.f.failure("disable"); err != nil {
		return err
	}
	c := s.byDN(dn)
	if c == nil {
		return ERROR_NONE_MAPPED
	}
	c.uac |= UF_ACCOUNTDISABLE
	s.f.maybeCrash("disable", true)
	return nil
}

func (s *fakeSession) VerifyMachinePassword(ctx context.Context, sam, password string) error {
	defer s.lock()()
	s.f.record("verify", sam)
	if err := s.f.failure("verify"); err != nil {
		return err
	}
	c := s.f.accounts[strings.ToUpper(sam)]
	if c == nil || c.password != password {
		return ERROR_LOGON_FAILURE
	}
	return nil
}

func (s *fakeSession) KeyVersionNumber(ctx context.Context, dn string) (uint32, error) {
	defer s.lock()()
	s.f.maybeCrash("kvno", false)
	s.f.record("kvno", dn)
	if err := s.f.failure("kvno"); err != nil {
		return 0, err
	}
	c := s.byDN(dn)
	if c == nil {
		return 0, ERROR_NONE_MAPPED
	}
	return c.kvno, nil
}

func (s *fakeSession) Close() error {
	defer s.lock()()
	if !s.closed {
		s.closed = true
		s.f.open--
	}
	return nil
}

// memStore is an in-memory MembershipStore whose Save can be made to fail.
type memStore struct {
	mu      sync.Mutex
	m       Membership
	saveErr error
	saves   int
}

func (s *memStore) Load() (Membership, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m, nil
}

func (s *memStore) Save(ctx context.Context, m Membership) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveErr != nil {
		return s.saveErr
	}
	s.saves++
	s.m = m
	return nil
}

func (s *memStore) get() Membership {
	m, _ := s.Load()
	return m
}

var _ NameWriter = (*fakeSession)(nil)

func (s *fakeSession) ReadNames(ctx context.Context, sam string) (ObjectNames, error) {
	defer s.lock()()
	if err := s.f.failure("readnames"); err != nil {
		return ObjectNames{}, err
	}
	c := s.f.accounts[strings.ToUpper(sam)]
	if c == nil {
		return ObjectNames{}, ERROR_NONE_MAPPED
	}
	return ObjectNames{DN: c.dn, SAMAccountName: c.sam, DNSHostName: c.dnsHostName,
		AdditionalDNS: slices.Clone(c.additionalDNS), SPNs: slices.Clone(c.spns)}, nil
}

// ChangeNames is one modify: all of it or nothing; permissive.
func (s *fakeSession) ChangeNames(ctx context.Context, dn string, ch NameChange) error {
	defer s.lock()()
	s.f.maybeCrash("names", false)
	s.f.record("names", dn)
	if err := s.f.failure("names"); err != nil {
		return err
	}
	c := s.byDN(dn)
	if c == nil {
		return ERROR_NONE_MAPPED
	}
	oldSAM, oldDNS := strings.TrimSuffix(c.sam, "$"), c.dnsHostName
	if ch.SAMAccountName != "" && !strings.EqualFold(ch.SAMAccountName, c.sam) {
		if s.f.accounts[strings.ToUpper(ch.SAMAccountName)] != nil {
			return NERR_UserExists
		}
		delete(s.f.accounts, strings.ToUpper(c.sam))
		c.sam = ch.SAMAccountName
		s.f.accounts[strings.ToUpper(c.sam)] = c
	}
	if ch.DNSHostName != "" {
		c.dnsHostName = ch.DNSHostName
	}
	for _, v := range ch.RemoveDNS {
		c.additionalDNS = slices.DeleteFunc(c.additionalDNS, func(x string) bool { return strings.EqualFold(x, v) })
	}
	for _, v := range ch.AddDNS {
		if !slices.ContainsFunc(c.additionalDNS, func(x string) bool { return strings.EqualFold(x, v) }) {
			c.additionalDNS = append(c.additionalDNS, v)
		}
	}
	if ch.SPNs != nil {
		c.spns = slices.Clone(ch.SPNs)
	}
	if s.f.rewriteSPNs {
		var out []string
		for _, spn := range c.spns {
			svc, host, _ := strings.Cut(spn, "/")
			switch {
			case ch.DNSHostName != "" && strings.EqualFold(host, oldDNS):
				spn = svc + "/" + ch.DNSHostName
			case ch.SAMAccountName != "" && strings.EqualFold(host, oldSAM):
				spn = svc + "/" + strings.TrimSuffix(ch.SAMAccountName, "$")
			}
			if !slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, spn) }) {
				out = append(out, spn)
			}
		}
		c.spns = out
	}
	if ch.Password != "" {
		c.password = ch.Password
		c.kvno++
	}
	s.f.maybeCrash("names", true)
	if s.f.lostAnswer["names"] {
		delete(s.f.lostAnswer, "names") // once: the revert gets through
		return fmt.Errorf("connection reset: %w", ERROR_NO_SUCH_DOMAIN)
	}
	return nil
}

func (s *fakeSession) SetDisplayName(ctx context.Context, dn, name string) error {
	defer s.lock()()
	s.f.record("displayname", dn, name)
	if err := s.f.failure("displayname"); err != nil {
		return err
	}
	c := s.byDN(dn)
	if c == nil {
		return ERROR_NONE_MAPPED
	}
	c.displayName = name
	return nil
}

func (s *fakeSession) RenameObject(ctx context.Context, dn, cn string) (string, error) {
	defer s.lock()()
	s.f.maybeCrash("modrdn", false)
	s.f.record("modrdn", dn, cn)
	if err := s.f.failure("modrdn"); err != nil {
		return "", err
	}
	c := s.byDN(dn)
	if c == nil {
		return "", ERROR_NONE_MAPPED
	}
	c.dn = "CN=" + cn + "," + c.parent
	s.f.maybeCrash("modrdn", true)
	return c.dn, nil
}
