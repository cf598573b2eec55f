package ntlm

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// fakeDC is a PassThrough that checks NTLMv2 responses against its own
// accounts, as a DC would, and records what it was asked.
type fakeDC struct {
	joined   bool
	nb, dns  string            // default EXAMPLE, example.test
	accounts map[string]string // user -> password
	calls    []NetworkLogon
	down     bool
}

type dcRefusal string

func (r dcRefusal) Error() string  { return string(r) }
func (r dcRefusal) Reason() string { return string(r) }
func (r dcRefusal) Is(err error) bool {
	return err == ErrPassThroughRefused || (err == ErrPassThroughNoSuchUser && r == "no such user")
}

func (f *fakeDC) Domain() (string, string, bool) {
	if f.nb == "" {
		return "EXAMPLE", "example.test", f.joined
	}
	return f.nb, f.dns, f.joined
}

func (f *fakeDC) Logon(_ context.Context, l NetworkLogon) (*Validation, error) {
	f.calls = append(f.calls, l)
	if f.down {
		return nil, errors.New("connection refused")
	}
	pw, ok := f.accounts[strings.ToLower(l.User)]
	if !ok {
		return nil, dcRefusal("no such user")
	}
	// As a DC does, the domain given and NIL (MS-NLMP 3.2.5.1.2).
	var key, proof []byte
	for _, d := range []string{l.Domain, ""} {
		key = ntowfv2(NTHash(pw), l.User, d)
		if proof = ntProofStr(key, l.ServerChallenge[:], l.NTResponse[16:]); bytes.Equal(proof, l.NTResponse[:16]) {
			break
		}
	}
	if !bytes.Equal(proof, l.NTResponse[:16]) {
		return nil, dcRefusal("wrong password")
	}
	v := &Validation{User: l.User, Domain: "EXAMPLE", SIDs: []string{"S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-513"}}
	copy(v.SessionKey[:], hmacMD5(key, proof))
	return v, nil
}

func TestPassThroughRouting(t *testing.T) {
	dc := &fakeDC{joined: true, accounts: map[string]string{"carol": "Carol.Pw1", "alice": "domain-alice"}}
	a := fixedAuthenticator(Config{PassThrough: dc, MaxClockSkew: -1})
	for _, tc := range []struct {
		name       string
		c          v2Client
		wantDC     bool
		wantUser   string
		wantDomain string
		wantErr    string
	}{
		{name: "domain user", c: v2Client{user: "carol", pass: "Carol.Pw1", domain: "EXAMPLE", withMIC: true}, wantDC: true, wantUser: "carol", wantDomain: "EXAMPLE"},
		{name: "domain user, DNS domain", c: v2Client{user: "carol", pass: "Carol.Pw1", domain: "example.test"}, wantDC: true, wantUser: "carol", wantDomain: "EXAMPLE"},
		{name: "local admin by computer name", c: v2Client{user: "alice", pass: "Secret123!", domain: "WKHOST"}, wantUser: "alice", wantDomain: "WKHOST"},
		{name: "local admin without domain", c: v2Client{user: "alice", pass: "Secret123!"}, wantUser: "alice"},
		{name: "unknown locally, no domain: the DC decides", c: v2Client{user: "carol", pass: "Carol.Pw1"}, wantDC: true, wantUser: "carol", wantDomain: "EXAMPLE"},
		{name: "domain account named like a local one", c: v2Client{user: "alice", pass: "domain-alice", domain: "EXAMPLE"}, wantDC: true, wantUser: "alice", wantDomain: "EXAMPLE"},
		{name: "wrong domain password", c: v2Client{user: "carol", pass: "nope", domain: "EXAMPLE"}, wantDC: true, wantErr: "wrong password (domain controller)"},
		{name: "unknown domain user", c: v2Client{user: "dave", pass: "x", domain: "EXAMPLE"}, wantDC: true, wantErr: "no such user (domain controller)"},
		{name: "local account unknown to the domain, domain named", c: v2Client{user: "bob", pass: "hunter2", domain: "EXAMPLE"}, wantDC: true, wantUser: "Bob", wantDomain: "EXAMPLE"},
		{name: "local account unknown to the domain, wrong password", c: v2Client{user: "bob", pass: "nope", domain: "EXAMPLE"}, wantDC: true, wantErr: "wrong password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dc.calls = nil
			ex, err := runCrafted(t, a, &tc.c)
			if tc.wantDC != (len(dc.calls) == 1) {
				t.Fatalf("DC asked %d times", len(dc.calls))
			}
			if tc.wantDC && dc.calls[0].Domain == "" {
				t.Error("pass-through without a domain")
			}
			if tc.wantErr != "" {
				var le *ipc.LogonError
				if !errors.As(err, &le) || le.Reason != tc.wantErr || !errors.Is(err, ipc.ErrLogonFailure) {
					t.Fatalf("err %v (%+v), want reason %q", err, le, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id := ex.Identity()
			if !strings.EqualFold(id.User, tc.wantUser) || id.Domain != tc.wantDomain {
				t.Fatalf("identity %+v", id)
			}
			if tc.wantDC && tc.wantUser != "Bob" && (len(id.SIDs) != 2 || id.Admin) {
				t.Fatalf("domain identity %+v", id)
			}
			if !bytes.Equal(ex.SessionKey(), tc.c.exportedKey) {
				t.Fatal("session key differs from the client's")
			}
		})
	}
	// The DC unreachable: a logon failure whose reason says so.
	dc.down = true
	_, err := runCrafted(t, a, &v2Client{user: "carol", pass: "Carol.Pw1", domain: "EXAMPLE"})
	var le *ipc.LogonError
	if !errors.As(err, &le) || le.Reason != "domain controller unreachable" {
		t.Fatalf("DC down: %v", err)
	}
	// Not joined: domain names are ignored, local accounts as before.
	dc.joined, dc.down, dc.calls = false, false, nil
	if _, err := runCrafted(t, a, &v2Client{user: "alice", pass: "Secret123!", domain: "EXAMPLE"}); err != nil || len(dc.calls) != 0 {
		t.Fatalf("not joined: %v, %d DC calls", err, len(dc.calls))
	}
}

// TestChallengeNamesTheDomainWhenJoined: MsvAvNbDomainName and
// MsvAvDnsDomainName name the joined domain, the computer names stay.
func TestChallengeNamesTheDomainWhenJoined(t *testing.T) {
	for _, joined := range []bool{false, true} {
		a := fixedAuthenticator(Config{PassThrough: &fakeDC{joined: joined, nb: "corp", dns: "CORP.Test"}})
		out, _, err := a.NewExchange().Step((&v2Client{}).negotiateMsg())
		if err != nil {
			t.Fatal(err)
		}
		cm, _ := parseChallenge(out)
		pairs, _ := parseAVPairs(cm.TargetInfo)
		get := func(id uint16) string {
			v, _ := findAV(pairs, id)
			s, _ := decodeUTF16LE(v)
			return s
		}
		want := map[uint16]string{avNbComputerName: "WKHOST", avNbDomainName: "EXAMPLE", avDNSDomainName: "example.test", avDNSComputerName: "wkhost.example.test"}
		if joined {
			want[avNbDomainName], want[avDNSDomainName] = "CORP", "corp.test"
		}
		for id, w := range want {
			if got := get(id); got != w {
				t.Errorf("joined=%v: AV %d = %q, want %q", joined, id, got, w)
			}
		}
	}
}
