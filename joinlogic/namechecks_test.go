package joinlogic

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Remote name checks (MS-WKST 3.2.4.16, 3.2.4.25; <89>, <153>): refused
// with RPC_E_REMOTE_DISABLED unless allowed; allowed, the checks that
// reach the network are for administrators only and rate-limited.
func TestRemoteNameChecks(t *testing.T) {
	dir := newFakeDirectory()
	validate := func(j *Joiner, c Caller, name string, typ uint32) Code {
		return j.ValidateName(context.Background(), ValidateNameRequest{Method: 2, Protseq: "ncacn_np", Remote: true, Caller: c, Name: sp(name), NameType: typ})
	}
	off := newJoiner(t, &memStore{m: DefaultMembership()}, dir, nil)
	for _, c := range []Caller{admin, nonAdmin, anon} {
		if got := validate(off, c, "LABGROUP", NetSetupWorkgroup); got != RPC_E_REMOTE_DISABLED {
			t.Errorf("default, %+v: %v", c, got)
		}
	}
	// The protocol-sequence rule comes first.
	if got := off.ValidateName(context.Background(), ValidateNameRequest{Method: 2, Protseq: "ncacn_ip_tcp", Remote: true, Caller: admin, Name: sp("X"), NameType: NetSetupWorkgroup}); got != RPC_S_PROTSEQ_NOT_SUPPORTED {
		t.Errorf("over TCP: %v", got)
	}
	clock := &fakeClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	on := newJoiner(t, &memStore{m: DefaultMembership()}, dir, func(c *Config) {
		c.NameChecks = NameCheckConfig{AllowRemote: true, Burst: 2, Interval: time.Minute}
		c.Now = clock.now
	})
	cases := []struct {
		rule   string
		caller Caller
		name   string
		typ    uint32
		want   Code
	}{
		{"anonymous callers have no query right", anon, "LABGROUP", NetSetupWorkgroup, ERROR_ACCESS_DENIED},
		{"a user may check syntax", nonAdmin, "LABGROUP", NetSetupWorkgroup, NERR_Success},
		{"and the local rules", nonAdmin, "WKS1", NetSetupWorkgroup, NERR_InvalidWorkgroupName},
		{"but not ask the network", nonAdmin, "example.test", NetSetupDomain, ERROR_ACCESS_DENIED},
		{"BUILTIN needs no network", nonAdmin, "BUILTIN", NetSetupDomain, NERR_InvalidComputer},
		{"an administrator may", admin, "example.test", NetSetupDomain, NERR_Success},
		{"twice (burst 2)", admin, "nowhere.test", NetSetupNonExistentDomain, NERR_Success},
		{"then the rate limit", admin, "example.test", NetSetupDomain, RPC_S_SERVER_TOO_BUSY},
		{"syntax checks are not limited", admin, "LABGROUP", NetSetupWorkgroup, NERR_Success},
	}
	for _, c := range cases {
		if got := validate(on, c.caller, c.name, c.typ); got != c.want {
			t.Errorf("%s: %v, want %v", c.rule, got, c.want)
		}
	}
	clock.add(time.Minute)
	if got := validate(on, admin, "example.test", NetSetupDomain); got != NERR_Success {
		t.Errorf("a minute later: %v", got)
	}
	if got := validate(on, admin, "example.test", NetSetupDomain); got != RPC_S_SERVER_TOO_BUSY {
		t.Errorf("one per interval: %v", got)
	}
}

// Each network name check is bounded by NameChecks.Timeout.
func TestNetworkNameCheckTimeout(t *testing.T) {
	dir := newFakeDirectory()
	dir.entered, dir.release = make(chan struct{}, 1), make(chan struct{})
	defer close(dir.release)
	j := newJoiner(t, &memStore{m: DefaultMembership()}, dir, func(c *Config) {
		c.NameChecks = NameCheckConfig{AllowRemote: true, Timeout: 50 * time.Millisecond}
	})
	start := time.Now()
	got := j.ValidateName(context.Background(), ValidateNameRequest{Method: 3, Protseq: "ncacn_np", Remote: true, Caller: admin, Name: sp("example.test"), NameType: NetSetupDomain})
	if got != ERROR_TIMEOUT || time.Since(start) > 5*time.Second {
		t.Fatalf("%v after %v", got, time.Since(start))
	}
}

// ouSession adds OUSearcher to the fake session.
type ouDirectory struct {
	*fakeDirectory
	ous []string
	err error
}

type ouSession struct {
	Session
	d *ouDirectory
}

func (s ouSession) JoinableOUs(context.Context) ([]string, error) { return s.d.ous, s.d.err }

func (d *ouDirectory) Bind(ctx context.Context, dc DCInfo, cred Credentials) (Session, error) {
	s, err := d.fakeDirectory.Bind(ctx, dc, cred)
	if err != nil {
		return nil, err
	}
	return ouSession{Session: s, d: d}, nil
}

// NetrGetJoinableOUs2 (MS-WKST 3.2.4.17), rule by rule.
func TestJoinableOUsRules(t *testing.T) {
	dir := &ouDirectory{fakeDirectory: newFakeDirectory(), ous: []string{"OU=Servers,DC=example,DC=test", "OU=Lab,DC=example,DC=test"}}
	good := &pwSource{pw: "Secret1!", present: true}
	req := func(c Caller, remote bool, domain, account string, pw *pwSource) JoinableOUsRequest {
		r := JoinableOUsRequest{Protseq: "ncacn_np", Caller: c, Remote: remote, Domain: sp(domain), AccountName: sp(account)}
		if pw != nil {
			r.Password = pw.source()
		}
		return r
	}
	off := newJoiner(t, &memStore{m: DefaultMembership()}, dir, nil)
	if _, c := off.JoinableOUs(context.Background(), req(admin, true, "example.test", `EXAMPLE\administrator`, good)); c != RPC_E_REMOTE_DISABLED {
		t.Errorf("<97> default: %v", c)
	}
	on := newJoiner(t, &memStore{m: DefaultMembership()}, dir, func(c *Config) { c.NameChecks.AllowRemote = true })
	long := &pwSource{pw: strings.Repeat("p", 257), present: true}
	for _, c := range []struct {
		rule string
		r    JoinableOUsRequest
		want Code
	}{
		{"protocol sequence", JoinableOUsRequest{Protseq: "ncacn_ip_tcp", Caller: admin, Remote: true, Domain: sp("example.test")}, RPC_S_PROTSEQ_NOT_SUPPORTED},
		{"anonymous", req(anon, true, "example.test", `EXAMPLE\administrator`, good), ERROR_ACCESS_DENIED},
		{"<95> a password of 513 bytes or more", req(admin, true, "example.test", `EXAMPLE\administrator`, long), ERROR_INVALID_PARAMETER},
		{"a non-administrator may not search the directory", req(nonAdmin, true, "example.test", `EXAMPLE\administrator`, good), ERROR_ACCESS_DENIED},
		{"no domain", req(admin, true, "", `EXAMPLE\administrator`, good), ERROR_INVALID_PARAMETER},
		{"domain cannot be located", req(admin, true, "nowhere.test", `EXAMPLE\administrator`, good), ERROR_NO_SUCH_DOMAIN},
		{"bind refused: NERR_DefaultJoinRequired", req(admin, true, "example.test", `EXAMPLE\administrator`, &pwSource{pw: "wrong", present: true}), NERR_DefaultJoinRequired},
	} {
		if _, got := on.JoinableOUs(context.Background(), c.r); got != c.want {
			t.Errorf("%s: %v, want %v", c.rule, got, c.want)
		}
	}
	ous, c := on.JoinableOUs(context.Background(), req(admin, true, "example.test", `EXAMPLE\administrator`, good))
	if c != NERR_Success || len(ous) != 2 || ous[0] != "OU=Servers,DC=example,DC=test" {
		t.Fatalf("%v %v", ous, c)
	}
	dir.err = errors.New("search failed")
	if _, c := on.JoinableOUs(context.Background(), req(admin, true, "example.test", `EXAMPLE\administrator`, good)); c != ERROR_GEN_FAILURE {
		t.Errorf("search failure: %v", c)
	}
	// A Session that cannot search OUs.
	plain := newJoiner(t, &memStore{m: DefaultMembership()}, newFakeDirectory(), func(c *Config) { c.NameChecks.AllowRemote = true })
	if _, c := plain.JoinableOUs(context.Background(), req(admin, true, "example.test", `EXAMPLE\administrator`, good)); c != ERROR_NOT_SUPPORTED {
		t.Errorf("no OUSearcher: %v", c)
	}
	dc := newJoiner(t, &memStore{m: DefaultMembership()}, dir, func(c *Config) { c.NameChecks.AllowRemote = true; c.IsDomainController = true })
	if _, c := dc.JoinableOUs(context.Background(), req(admin, true, "example.test", `EXAMPLE\administrator`, good)); c != NERR_InvalidAPI {
		t.Errorf("<98> on a DC: %v", c)
	}
}
