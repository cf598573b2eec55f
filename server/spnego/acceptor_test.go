package spnego

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"
	"testing"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// fakeMech is a mechanism for the acceptor's own rules: its context takes
// legs tokens ("leg1", "leg2", ...) and completes after the last one,
// answering "out<n>" to leg n when acceptorLast or n < legs. Its MIC over
// mechTypes is "mic:client:" or "mic:server:" followed by the DER.
type fakeMech struct {
	oids         []asn1.ObjectIdentifier
	enabled      bool
	legs         int
	acceptorLast bool // the acceptor sends the last mechanism token
	noMIC        bool // the context cannot protect the negotiation
}

func (m *fakeMech) OIDs() []asn1.ObjectIdentifier { return m.oids }
func (m *fakeMech) Enabled() bool                 { return m.enabled }
func (m *fakeMech) IsRawToken(tok []byte) bool    { return bytes.HasPrefix(tok, []byte("raw:")) }
func (m *fakeMech) NewContext() Context {
	c := &fakeCtx{m: m}
	if m.noMIC {
		return noMICCtx{c}
	}
	return c
}

type fakeCtx struct {
	m    *fakeMech
	n    int
	done bool
}

type noMICCtx struct{ c *fakeCtx }

func (c noMICCtx) Accept(in []byte) ([]byte, bool, error) { return c.c.Accept(in) }
func (c noMICCtx) SessionKey() []byte                     { return c.c.SessionKey() }
func (c noMICCtx) Identity() ipc.Identity                 { return c.c.Identity() }

var errFakeLogon = fmt.Errorf("%w: fake refused", ipc.ErrLogonFailure)

func (c *fakeCtx) Accept(in []byte) ([]byte, bool, error) {
	c.n++
	s := string(bytes.TrimPrefix(in, []byte("raw:")))
	if s == "bad" {
		return nil, false, errFakeLogon
	}
	if s != fmt.Sprintf("leg%d", c.n) {
		return nil, false, fmt.Errorf("fake: leg %d got %q", c.n, s)
	}
	var out []byte
	if c.n < c.m.legs || c.m.acceptorLast {
		out = []byte(fmt.Sprintf("out%d", c.n))
	}
	c.done = c.n == c.m.legs
	return out, c.done, nil
}

func (c *fakeCtx) SessionKey() []byte     { return []byte("key") }
func (c *fakeCtx) Identity() ipc.Identity { return ipc.Identity{User: "u", Mechanism: "fake"} }
func (c *fakeCtx) VerifyMechListMIC(der, mic []byte) error {
	if !bytes.Equal(mic, append([]byte("mic:client:"), der...)) {
		return ErrMechListMIC
	}
	return nil
}
func (c *fakeCtx) MechListMIC(der []byte, expected bool) ([]byte, error) {
	if !expected {
		return nil, nil
	}
	return append([]byte("mic:server:"), der...), nil
}

var (
	oidA = asn1.ObjectIdentifier{1, 2, 3, 1}
	oidB = asn1.ObjectIdentifier{1, 2, 3, 2}
)

func resp(t *testing.T, b []byte) *NegTokenResp {
	t.Helper()
	r, err := ParseNegTokenResp(b)
	if err != nil {
		t.Fatalf("token %x: %v", b, err)
	}
	return r
}

func TestNegotiateTokenListsEnabledMechanisms(t *testing.T) {
	a := New(Config{Mechanisms: []Mechanism{
		&fakeMech{oids: []asn1.ObjectIdentifier{OIDKerberosMS, OIDKerberos}, enabled: true},
		&fakeMech{oids: []asn1.ObjectIdentifier{oidB}},
		&fakeMech{oids: []asn1.ObjectIdentifier{OIDNTLMSSP}, enabled: true},
	}})
	init, err := ParseInitialContextToken(a.NegotiateToken())
	if err != nil {
		t.Fatal(err)
	}
	want := []asn1.ObjectIdentifier{OIDKerberosMS, OIDKerberos, OIDNTLMSSP}
	if len(init.MechTypes) != len(want) {
		t.Fatalf("mechTypes %v, want %v", init.MechTypes, want)
	}
	for i := range want {
		if !init.MechTypes[i].Equal(want[i]) {
			t.Fatalf("mechTypes %v, want %v", init.MechTypes, want)
		}
	}
	if New(Config{}).NegotiateToken() != nil {
		t.Fatal("a token without mechanisms")
	}
}

// TestOptimisticTokenEchoesOID: the client's first OID is the one
// answered, the truncated Kerberos OID included (MS-SPNG 3.2.5).
func TestOptimisticTokenEchoesOID(t *testing.T) {
	for _, oid := range []asn1.ObjectIdentifier{OIDKerberosMS, OIDKerberos} {
		m := &fakeMech{oids: []asn1.ObjectIdentifier{OIDKerberos, OIDKerberosMS}, enabled: true, legs: 1, acceptorLast: true}
		ex := New(Config{Mechanisms: []Mechanism{m}}).NewExchange()
		out, done, err := ex.Step(MarshalNegTokenInit([]asn1.ObjectIdentifier{oid, OIDNTLMSSP}, []byte("leg1"), nil))
		if err != nil || !done {
			t.Fatalf("%v: done=%v err=%v", oid, done, err)
		}
		r := resp(t, out)
		if r.NegState != StateAcceptCompleted || !r.SupportedMech.Equal(oid) || string(r.ResponseToken) != "out1" || r.MechListMIC != nil {
			t.Fatalf("%v: %+v", oid, r)
		}
		if id := ex.Identity(); id.User != "u" || string(ex.SessionKey()) != "key" {
			t.Fatalf("identity %+v key %q", id, ex.SessionKey())
		}
	}
}

// TestSecondChoiceNeedsMIC: a mechanism that is not the client's first
// gets request-mic, and when the acceptor sends the last mechanism token
// the client's mechListMIC comes in one more leg.
func TestSecondChoiceNeedsMIC(t *testing.T) {
	mechs := []asn1.ObjectIdentifier{oidA, oidB}
	der := MarshalMechTypes(mechs)
	for _, tc := range []struct {
		name    string
		mic     []byte
		wantErr error
	}{
		{"good MIC", append([]byte("mic:client:"), der...), nil},
		{"bad MIC", []byte("mic:client:x"), ErrMechListMIC},
		{"no MIC", nil, ErrMechListMIC},
	} {
		m := &fakeMech{oids: []asn1.ObjectIdentifier{oidB}, enabled: true, legs: 1, acceptorLast: true}
		ex := New(Config{Mechanisms: []Mechanism{m}}).NewExchange()
		out, done, err := ex.Step(MarshalNegTokenInit(mechs, []byte("optimistic A token"), nil))
		if err != nil || done {
			t.Fatal(err)
		}
		if r := resp(t, out); r.NegState != StateRequestMIC || !r.SupportedMech.Equal(oidB) || r.ResponseToken != nil {
			t.Fatalf("first reply %+v", r)
		}
		out, done, err = ex.Step((&NegTokenResp{NegState: StateAbsent, ResponseToken: []byte("leg1")}).Marshal())
		if err != nil || done {
			t.Fatalf("%s: mechanism leg: %v", tc.name, err)
		}
		r := resp(t, out)
		if r.NegState != StateAcceptIncomplete || string(r.ResponseToken) != "out1" ||
			!bytes.Equal(r.MechListMIC, append([]byte("mic:server:"), der...)) {
			t.Fatalf("%s: reply %+v", tc.name, r)
		}
		out, done, err = ex.Step((&NegTokenResp{NegState: StateAbsent, MechListMIC: tc.mic}).Marshal())
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) || done || resp(t, out).NegState != StateReject {
				t.Fatalf("%s: err=%v done=%v", tc.name, err, done)
			}
			if ex.SessionKey() != nil || ex.Identity().User != "" {
				t.Fatalf("%s: state after failure", tc.name)
			}
			continue
		}
		if err != nil || !done || resp(t, out).NegState != StateAcceptCompleted {
			t.Fatalf("%s: err=%v done=%v", tc.name, err, done)
		}
	}
}

// TestClientLastNeedsMICInSameLeg: when the client sends the last
// mechanism token its mechListMIC must come with it.
func TestClientLastNeedsMICInSameLeg(t *testing.T) {
	mechs := []asn1.ObjectIdentifier{oidA, oidB}
	der := MarshalMechTypes(mechs)
	for _, mic := range [][]byte{nil, append([]byte("mic:client:"), der...)} {
		m := &fakeMech{oids: []asn1.ObjectIdentifier{oidB}, enabled: true, legs: 2}
		ex := New(Config{Mechanisms: []Mechanism{m}}).NewExchange()
		if _, _, err := ex.Step(MarshalNegTokenInit(mechs, nil, nil)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ex.Step((&NegTokenResp{NegState: StateAbsent, ResponseToken: []byte("leg1")}).Marshal()); err != nil {
			t.Fatal(err)
		}
		out, done, err := ex.Step((&NegTokenResp{NegState: StateAbsent, ResponseToken: []byte("leg2"), MechListMIC: mic}).Marshal())
		if mic == nil {
			if !errors.Is(err, ErrMechListMIC) {
				t.Fatalf("no MIC: %v", err)
			}
			continue
		}
		if err != nil || !done {
			t.Fatal(err)
		}
		if r := resp(t, out); r.NegState != StateAcceptCompleted || r.MechListMIC == nil || r.ResponseToken != nil {
			t.Fatalf("final %+v", r)
		}
	}
}

func TestNoMICMechanismAsSecondChoiceFails(t *testing.T) {
	m := &fakeMech{oids: []asn1.ObjectIdentifier{oidB}, enabled: true, legs: 1, acceptorLast: true, noMIC: true}
	ex := New(Config{Mechanisms: []Mechanism{m}}).NewExchange()
	if _, _, err := ex.Step(MarshalNegTokenInit([]asn1.ObjectIdentifier{oidA, oidB}, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ex.Step((&NegTokenResp{NegState: StateAbsent, ResponseToken: []byte("leg1")}).Marshal()); !errors.Is(err, ErrMechListMIC) {
		t.Fatalf("err = %v", err)
	}
}

func TestRawTokensAndErrors(t *testing.T) {
	m := &fakeMech{oids: []asn1.ObjectIdentifier{oidA}, enabled: true, legs: 2}
	a := New(Config{Mechanisms: []Mechanism{m}})
	ex := a.NewExchange()
	out, done, err := ex.Step([]byte("raw:leg1"))
	if err != nil || done || string(out) != "out1" {
		t.Fatalf("raw leg 1: %q %v %v", out, done, err)
	}
	if out, done, err = ex.Step([]byte("leg2")); err != nil || !done || out != nil {
		t.Fatalf("raw leg 2: %q %v %v", out, done, err)
	}
	if _, _, err := ex.Step([]byte("leg3")); !errors.Is(err, ErrExchangeDone) {
		t.Fatalf("after done: %v", err)
	}

	// A raw failure carries no SPNEGO reject token.
	ex = a.NewExchange()
	if out, _, err := ex.Step([]byte("raw:bad")); !errors.Is(err, errFakeLogon) || out != nil {
		t.Fatalf("raw failure: %q %v", out, err)
	}
	// Neither SPNEGO nor raw.
	if _, _, err := a.NewExchange().Step([]byte("junk")); !errors.Is(err, ErrBadToken) {
		t.Fatalf("junk: %v", err)
	}
	// A disabled mechanism takes no raw token and is never chosen.
	off := New(Config{Mechanisms: []Mechanism{&fakeMech{oids: []asn1.ObjectIdentifier{oidA}, legs: 1}}})
	if _, _, err := off.NewExchange().Step([]byte("raw:leg1")); !errors.Is(err, ErrBadToken) {
		t.Fatalf("disabled raw: %v", err)
	}
	out, _, err = off.NewExchange().Step(MarshalNegTokenInit([]asn1.ObjectIdentifier{oidA}, []byte("leg1"), nil))
	if !errors.Is(err, ErrNoCommonMech) || !errors.Is(err, ipc.ErrLogonFailure) || resp(t, out).NegState != StateReject {
		t.Fatalf("disabled in SPNEGO: %v", err)
	}
	// The client rejecting the negotiation ends it.
	ex = a.NewExchange()
	if _, _, err := ex.Step(MarshalNegTokenInit([]asn1.ObjectIdentifier{oidA}, []byte("leg1"), nil)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ex.Step((&NegTokenResp{NegState: StateReject}).Marshal()); !errors.Is(err, ipc.ErrLogonFailure) {
		t.Fatalf("client reject: %v", err)
	}
}

func TestAuthorizeCompletesIdentity(t *testing.T) {
	m := &fakeMech{oids: []asn1.ObjectIdentifier{oidA}, enabled: true, legs: 1}
	a := New(Config{Mechanisms: []Mechanism{m}, Authorize: func(id ipc.Identity) ipc.Identity {
		id.Admin = true
		return id
	}})
	ex := a.NewExchange()
	if _, done, err := ex.Step([]byte("raw:leg1")); err != nil || !done {
		t.Fatal(err)
	}
	if !ex.Identity().Admin {
		t.Fatal("Authorize not applied")
	}
}
