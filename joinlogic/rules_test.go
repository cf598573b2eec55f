package joinlogic

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func sp(s string) *string { return &s }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// pwSource is a PasswordSource that counts its calls.
type pwSource struct {
	pw      string
	present bool
	code    Code
	calls   int
}

func (p *pwSource) source() PasswordSource {
	return func() (string, bool, Code) {
		p.calls++
		return p.pw, p.present, p.code
	}
}

func goodPw(pw string) *pwSource { return &pwSource{pw: pw, present: true} }
func badPw() *pwSource           { return &pwSource{code: ERROR_INVALID_PASSWORD} }

var (
	admin    = Caller{User: "Administrator", Domain: "HOST", Admin: true}
	nonAdmin = Caller{User: "bob", Domain: "HOST"}
	anon     = Caller{Anonymous: true, Admin: true}
)

func joinedState() Membership {
	return Membership{DomainNetBIOS: "OLD", DomainFQDN: "old.test", DomainSID: "S-1-5-21-9-9-9",
		ClientName: "WKS1$", Password: "old-machine-password"}
}

func newJoiner(t *testing.T, store MembershipStore, dir Directory, mod func(*Config)) *Joiner {
	t.Helper()
	cfg := Config{ComputerName: "WKS1", Store: store, Logger: discard}
	if dir != nil {
		cfg.Directory = dir
	}
	if mod != nil {
		mod(&cfg)
	}
	j, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestJoinRules exercises, one case per statement, the return-value rules
// of NetrJoinDomain2/3 that are reachable without a domain controller. Each
// case also pins the order: inputs that would break a later rule as well
// must still get the earlier rule's code.
func TestJoinRules(t *testing.T) {
	long := strings.Repeat("p", 257) // 514 bytes of UTF-16
	type tc struct {
		name      string
		req       JoinRequest
		pw        *pwSource // nil: NULL Password
		state     *Membership
		dc        bool // IsDomainController
		want      Code
		wantPwUse bool // the PasswordSource must have been called
	}
	dom := sp("EXAMPLE")
	cases := []tc{
		{name: "3.2.4.13.1/protocol sequence is not NCACN_NP",
			req: JoinRequest{Protseq: "ncacn_ip_tcp", Caller: nonAdmin, Options: NETSETUP_JOIN_DOMAIN},
			pw:  badPw(), want: RPC_S_PROTSEQ_NOT_SUPPORTED},
		{name: "3.2.4.13.1/caller not granted WKSTA_NETAPI_CHANGE_CONFIG (non-admin with a bad password)",
			req: JoinRequest{Caller: nonAdmin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN},
			pw:  badPw(), want: ERROR_ACCESS_DENIED},
		{name: "3.2.4.13.1/caller not granted WKSTA_NETAPI_CHANGE_CONFIG (anonymous)",
			req: JoinRequest{Caller: anon, DomainName: dom},
			pw:  badPw(), want: ERROR_ACCESS_DENIED},
		{name: "3.2.4.13.1/Password cannot be decrypted (before the DomainNameParam check)",
			req: JoinRequest{Caller: admin, DomainName: nil, Options: NETSETUP_JOIN_DOMAIN},
			pw:  badPw(), want: ERROR_INVALID_PASSWORD, wantPwUse: true},
		{name: "3.2.4.13.1/Length member MUST be less than 513",
			req: JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN},
			pw:  goodPw(long), want: ERROR_INVALID_PASSWORD, wantPwUse: true},
		{name: "3.2.4.13.1/DomainNameParam is NULL",
			req: JoinRequest{Caller: admin, DomainName: nil, Options: NETSETUP_JOIN_DOMAIN},
			pw:  goodPw("x"), want: ERROR_INVALID_PARAMETER, wantPwUse: true},
		{name: "3.2.4.13.1/DomainNameParam is empty",
			req:  JoinRequest{Caller: admin, DomainName: sp(""), Options: NETSETUP_JOIN_DOMAIN},
			want: ERROR_INVALID_PARAMETER},
		{name: "3.2.4.13.1/server does not support processing of this message",
			req:  JoinRequest{Method: 1, Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN},
			want: ERROR_NOT_SUPPORTED},
		{name: "3.2.4.13.1/server is a domain controller (before the Options rules)",
			req: JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | NETSETUP_MACHINE_PWD_PASSED},
			dc:  true, want: NERR_SetupDomainController},
		{name: "3.2.4.13.3/MACHINE_PWD_PASSED without JOIN_UNSECURE",
			req:   JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | NETSETUP_MACHINE_PWD_PASSED},
			pw:    goodPw("machine"),
			state: ptr(joinedState()), want: ERROR_INVALID_PARAMETER, wantPwUse: true},
		{name: "3.2.4.13.3/MACHINE_PWD_PASSED with AccountName not NULL",
			req: JoinRequest{Caller: admin, DomainName: dom, AccountName: sp(`EXAMPLE\admin`),
				Options: NETSETUP_JOIN_DOMAIN | NETSETUP_MACHINE_PWD_PASSED | NETSETUP_JOIN_UNSECURE},
			pw: &pwSource{}, want: ERROR_INVALID_PARAMETER, wantPwUse: true},
		{name: "3.2.4.13.3/MACHINE_PWD_PASSED with Password NULL",
			req:  JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | NETSETUP_MACHINE_PWD_PASSED | NETSETUP_JOIN_UNSECURE},
			want: ERROR_PASSWORD_RESTRICTION},
		{name: "3.2.4.13.3/MACHINE_PWD_PASSED with PasswordString of length zero",
			req: JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | NETSETUP_MACHINE_PWD_PASSED | NETSETUP_JOIN_UNSECURE},
			pw:  goodPw(""), want: ERROR_PASSWORD_RESTRICTION, wantPwUse: true},
		{name: "3.2.4.13.3/JOIN_READONLY without MACHINE_PWD_PASSED",
			req: JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | NETSETUP_JOIN_READONLY | NETSETUP_JOIN_UNSECURE},
			pw:  goodPw("x"), want: ERROR_INVALID_PARAMETER, wantPwUse: true},
		{name: "3.2.4.13.3/JOIN_READONLY with ACCT_CREATE",
			req: JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | NETSETUP_JOIN_READONLY | NETSETUP_MACHINE_PWD_PASSED | NETSETUP_ACCT_CREATE},
			pw:  goodPw("machine"), want: ERROR_INVALID_PARAMETER, wantPwUse: true},
		{name: "3.2.4.13.3/JOIN_READONLY with MACHINE_PWD_PASSED passes the option rules",
			req: JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | NETSETUP_JOIN_READONLY | NETSETUP_MACHINE_PWD_PASSED},
			pw:  goodPw("machine"), want: ERROR_NO_SUCH_DOMAIN, wantPwUse: true},
		{name: "3.2.4.13.3/already joined and DOMAIN_JOIN_IF_JOINED not set",
			req: JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE},
			pw:  goodPw("x"), state: ptr(joinedState()), want: NERR_SetupAlreadyJoined, wantPwUse: true},
		{name: "3.2.4.13.3/already joined and DOMAIN_JOIN_IF_JOINED set",
			req: JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | NETSETUP_DOMAIN_JOIN_IF_JOINED},
			pw:  goodPw("x"), state: ptr(joinedState()), want: ERROR_NO_SUCH_DOMAIN, wantPwUse: true},
		{name: `3.2.4.13.3/DomainNameParam "\DC" has no DomainNameToJoin`,
			req:  JoinRequest{Caller: admin, DomainName: sp(`\dc1`), Options: NETSETUP_JOIN_DOMAIN},
			want: ERROR_INVALID_PARAMETER},
		{name: "3.2.4.13.3/no domain controller can be located",
			req: JoinRequest{Caller: admin, DomainName: sp(`EXAMPLE\dc1`), Options: NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE},
			pw:  goodPw("x"), want: ERROR_NO_SUCH_DOMAIN, wantPwUse: true},
		{name: "3.2.4.13.1/flags the server does not support are ignored",
			req:  JoinRequest{Caller: admin, DomainName: dom, Options: NETSETUP_JOIN_DOMAIN | 0x0ff00000 | NETSETUP_ACCT_DELETE},
			want: ERROR_NO_SUCH_DOMAIN},
		{name: "3.2.4.13.4/workgroup join while joined to a domain",
			req:   JoinRequest{Caller: admin, DomainName: sp("WG"), Options: NETSETUP_DOMAIN_JOIN_IF_JOINED},
			state: ptr(joinedState()), want: NERR_SetupAlreadyJoined},
		{name: "3.2.4.13.4/DomainNameParam is not a valid workgroup name (forbidden character)",
			req:  JoinRequest{Caller: admin, DomainName: sp("BAD/NAME")},
			want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.13.4/DomainNameParam is not a valid workgroup name (longer than 15)",
			req:  JoinRequest{Caller: admin, DomainName: sp("ABCDEFGHIJKLMNOP")},
			want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.13.4/DomainNameParam is not a valid workgroup name (dots and spaces only)",
			req:  JoinRequest{Caller: admin, DomainName: sp(". ."), Options: NETSETUP_MACHINE_PWD_PASSED},
			want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.13.4/DomainNameParam is not a valid workgroup name (DOMAIN\\DC form)",
			req:  JoinRequest{Caller: admin, DomainName: sp(`WG\dc1`)},
			want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.16/workgroup name MUST NOT be the name of the server",
			req:  JoinRequest{Caller: admin, DomainName: sp("wks1")},
			want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.13.4/workgroup join succeeds",
			req:  JoinRequest{Caller: admin, DomainName: sp("TEAM")},
			want: NERR_Success},
	}
	for _, method := range []int{2, 3} {
		for _, c := range cases {
			t.Run(methodName(method)+"/"+c.name, func(t *testing.T) {
				store := &memStore{m: DefaultMembership()}
				if c.state != nil {
					store.m = *c.state
				}
				before := store.get()
				j := newJoiner(t, store, nil, func(cfg *Config) { cfg.IsDomainController = c.dc })
				req := c.req
				if req.Method == 0 {
					req.Method = method
				}
				if req.Protseq == "" {
					req.Protseq = ProtseqNamedPipe
				}
				if c.pw != nil {
					req.Password = c.pw.source()
				}
				got := j.Join(context.Background(), req)
				if got != c.want {
					t.Fatalf("Join = %v, want %v", got, c.want)
				}
				if c.pw != nil && (c.pw.calls > 0) != c.wantPwUse {
					t.Errorf("PasswordSource called %d times, want called=%v", c.pw.calls, c.wantPwUse)
				}
				if c.want != NERR_Success && store.saves != 0 {
					t.Errorf("failed join saved the membership")
				}
				if c.want != NERR_Success && !equalMembership(store.get(), before) {
					t.Errorf("failed join changed the membership")
				}
			})
		}
	}
}

func methodName(m int) string {
	if m == 2 {
		return "NetrJoinDomain2"
	}
	return "NetrJoinDomain3"
}

func ptr[T any](v T) *T { return &v }

func equalMembership(a, b Membership) bool {
	ta, tb := a.PasswordSetTime, b.PasswordSetTime
	a.PasswordSetTime, b.PasswordSetTime = ta.UTC(), tb.UTC()
	return a == b && ta.Equal(tb)
}

func TestWorkgroupJoinSetsADM(t *testing.T) {
	store := &memStore{m: Membership{Workgroup: "OLD", SiteName: "stale"}}
	j := newJoiner(t, store, nil, nil)
	if c := j.Join(context.Background(), JoinRequest{Method: 3, Protseq: "ncacn_np", Caller: admin, DomainName: sp("team")}); c != NERR_Success {
		t.Fatal(c)
	}
	// 3.2.4.13.4: DomainName.NetBIOS = DomainNameParam; FQDN, GUID, SID NULL.
	if got := store.get(); got != (Membership{Workgroup: "TEAM"}) {
		t.Fatalf("membership = %+v", got)
	}
	name, status, err := j.JoinInformation(context.Background())
	if err != nil || name != "TEAM" || status != NetSetupWorkgroupName {
		t.Fatalf("JoinInformation = %q %d %v", name, status, err)
	}
}

// TestUnjoinRules covers the return-value table of NetrUnjoinDomain2/3
// (MS-WKST 3.2.4.14, 3.2.4.23) without a domain controller.
func TestUnjoinRules(t *testing.T) {
	type tc struct {
		name      string
		req       UnjoinRequest
		pw        *pwSource
		joined    bool
		dc        bool
		want      Code
		wantPwUse bool
	}
	cases := []tc{
		{name: "3.2.4.14/protocol sequence is not NCACN_NP",
			req: UnjoinRequest{Protseq: "ncalrpc", Caller: nonAdmin}, pw: badPw(), joined: true, want: RPC_S_PROTSEQ_NOT_SUPPORTED},
		{name: "3.2.4.14/caller not granted WKSTA_NETAPI_CHANGE_CONFIG (non-admin with a bad password)",
			req: UnjoinRequest{Caller: nonAdmin}, pw: badPw(), joined: true, want: ERROR_ACCESS_DENIED},
		{name: "3.2.4.14/caller not granted WKSTA_NETAPI_CHANGE_CONFIG (anonymous)",
			req: UnjoinRequest{Caller: anon}, joined: true, want: ERROR_ACCESS_DENIED},
		{name: "3.2.4.14/Password cannot be decrypted (before the DomainSid check)",
			req: UnjoinRequest{Caller: admin}, pw: badPw(), joined: false, want: ERROR_INVALID_PASSWORD, wantPwUse: true},
		{name: "3.2.4.14/DomainSid is NULL (before the Options check)",
			req: UnjoinRequest{Caller: admin, Options: 0x400}, pw: goodPw("x"), joined: false, want: NERR_SetupNotJoined, wantPwUse: true},
		{name: "3.2.4.14/bits other than ACCT_DELETE without IGNORE_UNSUPPORTED_FLAGS",
			req: UnjoinRequest{Caller: admin, Options: NETSETUP_ACCT_DELETE | NETSETUP_JOIN_DOMAIN}, joined: true, want: ERROR_INVALID_FLAGS},
		{name: "3.2.4.14/server is a domain controller",
			req: UnjoinRequest{Caller: admin}, joined: true, dc: true, want: NERR_SetupDomainController},
		{name: "3.2.4.14/ACCT_DELETE needs a domain controller",
			req: UnjoinRequest{Caller: admin, Options: NETSETUP_ACCT_DELETE}, joined: true, want: ERROR_NO_SUCH_DOMAIN},
		{name: "3.2.4.14/IGNORE_UNSUPPORTED_FLAGS lets other bits through",
			req: UnjoinRequest{Caller: admin, Options: NETSETUP_IGNORE_UNSUPPORTED_FLAGS | 0x30}, joined: true, want: NERR_Success},
		{name: "3.2.4.14/unjoin sets the ADM elements to NULL",
			req: UnjoinRequest{Caller: admin}, pw: &pwSource{}, joined: true, want: NERR_Success, wantPwUse: true},
	}
	for _, method := range []int{2, 3} {
		for _, c := range cases {
			name := "NetrUnjoinDomain2/"
			if method == 3 {
				name = "NetrUnjoinDomain3/"
			}
			t.Run(name+c.name, func(t *testing.T) {
				store := &memStore{m: DefaultMembership()}
				if c.joined {
					store.m = joinedState()
				}
				before := store.get()
				j := newJoiner(t, store, nil, func(cfg *Config) { cfg.IsDomainController = c.dc })
				req := c.req
				req.Method = method
				if req.Protseq == "" {
					req.Protseq = ProtseqNamedPipe
				}
				if c.pw != nil {
					req.Password = c.pw.source()
				}
				got := j.Unjoin(context.Background(), req)
				if got != c.want {
					t.Fatalf("Unjoin = %v, want %v", got, c.want)
				}
				if c.pw != nil && (c.pw.calls > 0) != c.wantPwUse {
					t.Errorf("PasswordSource called %d times, want called=%v", c.pw.calls, c.wantPwUse)
				}
				after := store.get()
				if c.want == NERR_Success {
					if after != (Membership{}) {
						t.Errorf("membership after unjoin = %+v, want all NULL", after)
					}
					if _, st, _ := j.JoinInformation(context.Background()); st != NetSetupUnjoined {
						t.Errorf("JoinInformation status = %d, want NetSetupUnjoined", st)
					}
				} else if !equalMembership(after, before) {
					t.Errorf("failed unjoin changed the membership")
				}
			})
		}
	}
}

// TestValidateNameRules covers NetrValidateName2/3 (MS-WKST 3.2.4.16,
// 3.2.4.25) as far as it is answered locally (no Directory).
func TestValidateNameRules(t *testing.T) {
	type tc struct {
		name     string
		caller   Caller
		protseq  string
		pw       *pwSource
		value    *string
		nameType uint32
		want     Code
	}
	long64 := strings.Repeat("a", 64)
	cases := []tc{
		{name: "3.2.4.16/protocol sequence is not NCACN_NP", protseq: "ncacn_ip_tcp", caller: anon, value: sp("X"), nameType: NetSetupMachine, want: RPC_S_PROTSEQ_NOT_SUPPORTED},
		{name: "3.2.4.16/caller not granted WKSTA_NETAPI_QUERY (anonymous, bad password)", caller: anon, pw: badPw(), value: sp("X"), nameType: NetSetupMachine, want: ERROR_ACCESS_DENIED},
		{name: "3.2.4.16/WKSTA_NETAPI_QUERY is granted to authenticated users", caller: nonAdmin, value: sp("HOSTX"), nameType: NetSetupMachine, want: NERR_Success},
		{name: "3.2.4.16/Password cannot be decrypted (before the NameType check)", caller: admin, pw: badPw(), value: sp("X"), nameType: NetSetupUnknown, want: ERROR_INVALID_PASSWORD},
		{name: "3.2.4.16/NameType is NetSetupUnknown", caller: admin, value: sp("X"), nameType: NetSetupUnknown, want: ERROR_INVALID_PARAMETER},
		{name: "3.2.4.16/NameType out of range", caller: admin, value: sp("X"), nameType: 9, want: ERROR_INVALID_PARAMETER},
		{name: "3.2.4.16/NameToValidate NULL", caller: admin, value: nil, nameType: NetSetupMachine, want: ERROR_INVALID_PARAMETER},

		{name: "3.2.4.16/NetSetupWorkgroup/length less than 1", caller: admin, value: sp(""), nameType: NetSetupWorkgroup, want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.16/NetSetupWorkgroup/length greater than 15", caller: admin, value: sp("ABCDEFGHIJKLMNOP"), nameType: NetSetupWorkgroup, want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.16/NetSetupWorkgroup/control character", caller: admin, value: sp("A\x01B"), nameType: NetSetupWorkgroup, want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.16/NetSetupWorkgroup/forbidden character", caller: admin, value: sp("A;B"), nameType: NetSetupWorkgroup, want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.16/NetSetupWorkgroup/only dots and spaces", caller: admin, value: sp(" . "), nameType: NetSetupWorkgroup, want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.16/NetSetupWorkgroup/name of the server", caller: admin, value: sp("Wks1"), nameType: NetSetupWorkgroup, want: NERR_InvalidWorkgroupName},
		{name: "3.2.4.16/NetSetupWorkgroup/valid", caller: admin, value: sp("WORKGROUP"), nameType: NetSetupWorkgroup, want: NERR_Success},

		{name: "3.2.4.16/NetSetupMachine/workgroup rule broken", caller: admin, value: sp("A|B"), nameType: NetSetupMachine, want: NERR_InvalidComputer},
		{name: "3.2.4.16/NetSetupMachine/asterisk", caller: admin, value: sp("A*B"), nameType: NetSetupMachine, want: NERR_InvalidComputer},
		{name: "3.2.4.16/NetSetupMachine/leading space", caller: admin, value: sp(" AB"), nameType: NetSetupMachine, want: NERR_InvalidComputer},
		{name: "3.2.4.16/NetSetupMachine/trailing space", caller: admin, value: sp("AB "), nameType: NetSetupMachine, want: NERR_InvalidComputer},
		{name: "3.2.4.16/NetSetupMachine/valid", caller: admin, value: sp("NEWHOST"), nameType: NetSetupMachine, want: NERR_Success},

		{name: "3.2.4.16/NetSetupDomain/only dots and spaces", caller: admin, value: sp(".. ."), nameType: NetSetupDomain, want: ERROR_INVALID_NAME},
		{name: "3.2.4.16/NetSetupDomain/built-in domain", caller: admin, value: sp("builtin"), nameType: NetSetupDomain, want: NERR_InvalidComputer},
		{name: "3.2.4.16/NetSetupDomain/DNS rule: consecutive dots", caller: admin, value: sp("example..test.long"), nameType: NetSetupDomain, want: ERROR_INVALID_NAME},
		{name: "3.2.4.16/NetSetupDomain/DNS rule: begins with a dot", caller: admin, value: sp(".example.test.long"), nameType: NetSetupDomain, want: ERROR_INVALID_NAME},
		{name: "3.2.4.16/NetSetupDomain/DNS rule: label longer than 63", caller: admin, value: sp(long64 + ".test"), nameType: NetSetupDomain, want: ERROR_INVALID_NAME},
		{name: "3.2.4.16/NetSetupDomain/DNS rule: space", caller: admin, value: sp("example test long"), nameType: NetSetupDomain, want: DNS_ERROR_INVALID_NAME_CHAR},
		{name: "3.2.4.16/NetSetupDomain/DNS rule: forbidden character", caller: admin, value: sp("example;test.long"), nameType: NetSetupDomain, want: DNS_ERROR_INVALID_NAME_CHAR},
		{name: "3.2.4.16/NetSetupDomain/NetBIOS name, syntax only without a Directory", caller: admin, value: sp("EXAMPLE"), nameType: NetSetupDomain, want: NERR_Success},
		{name: "3.2.4.16/NetSetupDomain/DNS name, syntax only without a Directory", caller: admin, value: sp("corp.example.test"), nameType: NetSetupDomain, want: NERR_Success},

		{name: "3.2.4.16/NetSetupNonExistentDomain/non-RFC 1035 character", caller: admin, value: sp("under_score"), nameType: NetSetupNonExistentDomain, want: DNS_ERROR_NON_RFC_NAME},
		{name: "3.2.4.16/NetSetupNonExistentDomain/built-in domain", caller: admin, value: sp("BUILTIN"), nameType: NetSetupNonExistentDomain, want: NERR_InvalidComputer},
		{name: "3.2.4.16/NetSetupNonExistentDomain/valid", caller: admin, value: sp("newdom.test"), nameType: NetSetupNonExistentDomain, want: NERR_Success},

		{name: "3.2.4.16/NetSetupDnsMachine/longer than 255 octets", caller: admin, value: sp(strings.Repeat("abcdefg.", 33)), nameType: NetSetupDnsMachine, want: ERROR_INVALID_NAME},
		{name: "3.2.4.16/NetSetupDnsMachine/control character", caller: admin, value: sp("a\tb"), nameType: NetSetupDnsMachine, want: ERROR_INVALID_NAME},
		{name: "3.2.4.16/NetSetupDnsMachine/space", caller: admin, value: sp("a b"), nameType: NetSetupDnsMachine, want: DNS_ERROR_INVALID_NAME_CHAR},
		{name: "3.2.4.16/NetSetupDnsMachine/at sign", caller: admin, value: sp("a@b"), nameType: NetSetupDnsMachine, want: DNS_ERROR_INVALID_NAME_CHAR},
		{name: "3.2.4.16/NetSetupDnsMachine/valid", caller: admin, value: sp("wks1.example.test"), nameType: NetSetupDnsMachine, want: NERR_Success},
	}
	for _, method := range []int{2, 3} {
		for _, c := range cases {
			name := "NetrValidateName2/"
			if method == 3 {
				name = "NetrValidateName3/"
			}
			t.Run(name+c.name, func(t *testing.T) {
				j := newJoiner(t, &memStore{m: DefaultMembership()}, nil, nil)
				req := ValidateNameRequest{Method: method, Protseq: c.protseq, Caller: c.caller, Name: c.value, NameType: c.nameType}
				if req.Protseq == "" {
					req.Protseq = ProtseqNamedPipe
				}
				if c.pw != nil {
					req.Password = c.pw.source()
				}
				if got := j.ValidateName(context.Background(), req); got != c.want {
					t.Fatalf("ValidateName = %v, want %v", got, c.want)
				}
			})
		}
	}
}

func TestValidateNameWithDirectory(t *testing.T) {
	dir := newFakeDirectory()
	j := newJoiner(t, &memStore{m: DefaultMembership()}, dir, nil)
	for _, c := range []struct {
		name     string
		value    string
		nameType uint32
		want     Code
	}{
		{"3.2.4.16/NetSetupDomain/name of an existing domain", "example.test", NetSetupDomain, NERR_Success},
		{"3.2.4.16/NetSetupDomain/no such domain", "nowhere.test", NetSetupDomain, ERROR_NO_SUCH_DOMAIN},
		{"3.2.4.16/NetSetupNonExistentDomain/existing domain", "EXAMPLE", NetSetupNonExistentDomain, ERROR_DUP_NAME},
		{"3.2.4.16/NetSetupNonExistentDomain/no such domain", "nowhere.test", NetSetupNonExistentDomain, NERR_Success},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := j.ValidateName(context.Background(), ValidateNameRequest{Method: 3, Protseq: "ncacn_np", Caller: admin, Name: sp(c.value), NameType: c.nameType})
			if got != c.want {
				t.Fatalf("ValidateName = %v, want %v", got, c.want)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{ComputerName: "WKS1"},
		{ComputerName: "", Store: &memStore{}},
		{ComputerName: "TOO-LONG-COMPUTER-NAME", Store: &memStore{}},
		{ComputerName: "WKS1", DNSHostName: "bad host", Store: &memStore{}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestCodeString(t *testing.T) {
	if s := ERROR_NONE_MAPPED.String(); s != "ERROR_NONE_MAPPED" {
		t.Error(s)
	}
	if s := Code(0x1234).String(); s != "0x00001234" {
		t.Error(s)
	}
	if uint32(RPC_S_CALL_IN_PROGRESS) != 0x6FF || uint32(NERR_SetupAlreadyJoined) != 0xA83 || uint32(DNS_ERROR_INVALID_NAME_CHAR) != 0x2558 {
		t.Error("code values drifted from MS-ERREF")
	}
}

func TestParseAccountName(t *testing.T) {
	for in, want := range map[string]Account{
		`EXAMPLE\admin`:      {User: "admin", Domain: "EXAMPLE"},
		`example.test\admin`: {User: "admin", Domain: "example.test"},
		`admin@example.test`: {User: "admin", Domain: "example.test", UPN: true},
		`a@b@example.test`:   {User: "a@b", Domain: "example.test", UPN: true},
		`admin`:              {User: "admin"},
	} {
		got, ok := parseAccountName(in)
		if !ok || got != want {
			t.Errorf("parseAccountName(%q) = %+v %v, want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", `\admin`, `EXAMPLE\`, `A\B\C`, "@example.test", "admin@", "a\x00b"} {
		if _, ok := parseAccountName(in); ok {
			t.Errorf("parseAccountName(%q) accepted", in)
		}
	}
}

// The line that ends a join or an unjoin is a warning when it failed and
// names the result.
func TestJoinResultLogLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	j := newJoiner(t, &memStore{m: DefaultMembership()}, nil, func(c *Config) { c.Logger = log })
	if c := j.Join(context.Background(), JoinRequest{Method: 3, Protseq: ProtseqNamedPipe, Caller: admin, DomainName: sp("LAB")}); c != NERR_Success {
		t.Fatalf("workgroup join: %v", c)
	}
	if c := j.Unjoin(context.Background(), UnjoinRequest{Method: 3, Protseq: ProtseqNamedPipe, Caller: admin}); c != NERR_SetupNotJoined {
		t.Fatalf("unjoin of a workgroup host: %v", c)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var join, unjoin string
	for _, l := range lines {
		switch {
		case strings.Contains(l, `msg="joinlogic: join"`):
			join = l
		case strings.Contains(l, `msg="joinlogic: unjoin"`):
			unjoin = l
		}
	}
	if !strings.Contains(join, "level=INFO") || !strings.Contains(join, "result=NERR_Success") {
		t.Errorf("join line %q", join)
	}
	if !strings.Contains(unjoin, "level=WARN") || !strings.Contains(unjoin, "result=NERR_SetupNotJoined") {
		t.Errorf("unjoin line %q", unjoin)
	}
}

// attrRecorder keeps every attribute value of the records it handles.
type attrRecorder struct{ vals *[]string }

func (h attrRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h attrRecorder) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool { *h.vals = append(*h.vals, a.Value.String()); return true })
	return nil
}
func (h attrRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		*h.vals = append(*h.vals, a.Value.String())
	}
	return h
}
func (h attrRecorder) WithGroup(string) slog.Handler { return h }

// TestNetworkNamesLoggedSafely: the caller's names and the names a caller
// asks for come from the network; the result lines of renames, alternate
// names and joinable OUs carry them without control characters, whatever
// handler formats the log (journald's takes values as they are).
func TestNetworkNamesLoggedSafely(t *testing.T) {
	var vals []string
	j := newJoiner(t, &memStore{m: DefaultMembership()}, nil, func(c *Config) { c.Logger = slog.New(attrRecorder{&vals}) })
	evil := admin
	evil.User = "adm\nin\x1b[2J"
	name := "NEW\r\nNAME"
	r := renameReq(name, 0)
	r.Caller = evil
	j.Rename(context.Background(), r)
	a := altReq(name)
	a.Caller = evil
	j.AddAlternateName(context.Background(), a)
	j.JoinableOUs(context.Background(), JoinableOUsRequest{Caller: evil})
	if len(vals) == 0 {
		t.Fatal("nothing logged")
	}
	for _, v := range vals {
		if strings.ContainsAny(v, "\r\n\x1b") {
			t.Errorf("a logged value keeps a control character: %q", v)
		}
	}
}
