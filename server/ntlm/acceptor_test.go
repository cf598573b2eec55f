package ntlm

import (
	"github.com/wkssvcd/wkssvcd/server/spnego"

	"bytes"
	"context"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
	msspnego "github.com/oiweiwei/go-msrpc/ssp/spnego"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

var oidKRB5 = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}

func fixedAuthenticator(c Config) *spnego.Acceptor {
	c.Now = func() time.Time { return testNow }
	c.Rand = fixedRand(0x11)
	return testAuthenticator(c)
}

func mustResp(t *testing.T, b []byte) *spnego.NegTokenResp {
	t.Helper()
	r, err := spnego.ParseNegTokenResp(b)
	if err != nil {
		t.Fatalf("server token %x: %v", b, err)
	}
	return r
}

func TestNegotiateTokenIsNegTokenInit2(t *testing.T) {
	a := testAuthenticator(Config{})
	tok := a.NegotiateToken()
	init, err := spnego.ParseInitialContextToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(init.MechTypes) != 1 || !init.MechTypes[0].Equal(OID) || init.MechToken != nil {
		t.Fatalf("parsed %+v", init)
	}
	// go-msrpc's own SPNEGO codec reads it, hint included.
	var m msspnego.NegTokenInit
	if err := m.Unmarshal(context.Background(), tok); err != nil {
		t.Fatalf("go-msrpc cannot parse NegTokenInit2: %v", err)
	}
	if m.HintName != spnego.HintName || len(m.MechTypes) != 1 || !m.MechTypes[0].Equal(OID) {
		t.Fatalf("go-msrpc view: %+v", m)
	}
	tok[0] ^= 0xff
	if bytes.Equal(tok, a.NegotiateToken()) {
		t.Fatal("NegotiateToken returns shared storage")
	}
}

func TestChallengeMessage(t *testing.T) {
	a := fixedAuthenticator(Config{})
	c := &v2Client{}
	out, done, err := a.NewExchange().Step(c.negotiateMsg())
	if err != nil || done {
		t.Fatal(err)
	}
	cm, err := parseChallenge(out)
	if err != nil {
		t.Fatal(err)
	}
	must := uint32(flagRequestTarget | flagNTLM | flagTargetInfo | flagTargetTypeServer | flagUnicode |
		flagSign | flagSeal | flagKeyExch | flagExtendedSessionSecurity | flag128 | flag56 | flagVersion | flagAlwaysSign)
	if cm.Flags != must {
		t.Fatalf("flags %08x, want %08x", cm.Flags, must)
	}
	if !bytes.Equal(cm.ServerChallenge[:], bytes.Repeat([]byte{0x11}, 8)) || cm.Version != serverVersion {
		t.Fatalf("challenge %x version %x", cm.ServerChallenge, cm.Version)
	}
	if name, _ := decodeUTF16LE(cm.TargetName); name != "WKHOST" {
		t.Fatalf("TargetName %q", name)
	}
	pairs, err := parseAVPairs(cm.TargetInfo)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint16]string{
		avNbComputerName: "WKHOST", avNbDomainName: "EXAMPLE",
		avDNSComputerName: "wkhost.example.test", avDNSDomainName: "example.test",
	}
	for id, s := range want {
		v, ok := findAV(pairs, id)
		if got, _ := decodeUTF16LE(v); !ok || got != s {
			t.Errorf("AV %d = %q, want %q", id, got, s)
		}
	}
	ts, ok := findAV(pairs, avTimestamp)
	if !ok || binary.LittleEndian.Uint64(ts) != timeToFiletime(testNow) {
		t.Errorf("timestamp %x", ts)
	}

	// Flags the server must never echo or grant.
	c2 := &v2Client{flags: flagUnicode | flagOEM | flagLMKey | flagDatagram | flagIdentify | flagOEMDomainSupplied | flagAnonymous}
	out, _, err = a.NewExchange().Step(c2.negotiateMsg())
	if err != nil {
		t.Fatal(err)
	}
	cm, _ = parseChallenge(out)
	if cm.Flags != flagUnicode|flagRequestTarget|flagNTLM|flagTargetInfo|flagTargetTypeServer {
		t.Fatalf("flags %08x", cm.Flags)
	}
	if !bytes.Equal(out[48:56], make([]byte, 8)) {
		t.Fatal("Version sent although not requested")
	}

	// OEM-only clients are refused.
	c3 := &v2Client{flags: flagOEM | flagNTLM}
	if _, _, err := a.NewExchange().Step(c3.negotiateMsg()); !errors.Is(err, ErrBadToken) {
		t.Fatalf("OEM-only: %v", err)
	}
}

func runCrafted(t *testing.T, a *spnego.Acceptor, c *v2Client) (ipc.AuthExchange, error) {
	t.Helper()
	ex := a.NewExchange()
	chal, _, err := ex.Step(c.negotiateMsg())
	if err != nil {
		t.Fatal(err)
	}
	out, done, err := ex.Step(c.authenticateMsg(t, chal))
	if err == nil && (!done || len(out) != 0) {
		t.Fatalf("done=%v out=%x", done, out)
	}
	return ex, err
}

func TestAuthenticateRules(t *testing.T) {
	empty := ""
	other := "OTHER"
	old := timeToFiletime(testNow.Add(-40 * time.Hour))
	future := timeToFiletime(testNow.Add(35 * time.Hour))
	for _, tc := range []struct {
		name   string
		c      v2Client
		cfg    Config
		want   error
		reason string
		wantID ipc.Identity
	}{
		{name: "mic", c: v2Client{user: "alice", pass: "Secret123!", domain: "EXAMPLE", withMIC: true},
			wantID: ipc.Identity{User: "alice", Domain: "EXAMPLE", Admin: true, Mechanism: MechanismName}},
		{name: "case-insensitive user", c: v2Client{user: "ALICE", pass: "Secret123!", domain: "ex"},
			wantID: ipc.Identity{User: "alice", Domain: "ex", Admin: true, Mechanism: MechanismName}},
		{name: "mic field without MsvAvFlags", c: v2Client{user: "bob", pass: "hunter2", micFieldOnly: true},
			wantID: ipc.Identity{User: "Bob", Mechanism: MechanismName}},
		{name: "no key exchange", c: v2Client{user: "bob", pass: "hunter2", flags: flagUnicode | flagNTLM | flagExtendedSessionSecurity | flagSign},
			wantID: ipc.Identity{User: "Bob", Mechanism: MechanismName}},
		{name: "NIL domain in NTOWFv2", c: v2Client{user: "bob", pass: "hunter2", domain: "EXAMPLE", hashDomain: &empty},
			wantID: ipc.Identity{User: "Bob", Domain: "EXAMPLE", Mechanism: MechanismName}},
		{name: "other domain in NTOWFv2", c: v2Client{user: "bob", pass: "hunter2", domain: "EXAMPLE", hashDomain: &other}, want: errBadCredential, reason: "wrong password"},
		{name: "wrong password", c: v2Client{user: "bob", pass: "hunter3"}, want: errBadCredential, reason: "wrong password"},
		{name: "unknown user", c: v2Client{user: "carol", pass: "hunter2"}, want: errBadCredential, reason: "unknown user"},
		{name: "tampered mic", c: v2Client{user: "alice", pass: "Secret123!", withMIC: true, tamperMIC: true}, want: errMIC},
		{name: "short session key", c: v2Client{user: "bob", pass: "hunter2", encKeyLen: 15}, want: errSessionKey},
		{name: "long session key", c: v2Client{user: "bob", pass: "hunter2", encKeyLen: 17}, want: errSessionKey},
		{name: "stale timestamp", c: v2Client{user: "bob", pass: "hunter2", timestamp: &old}, want: errClockSkew},
		{name: "future timestamp within skew", c: v2Client{user: "bob", pass: "hunter2", timestamp: &future},
			wantID: ipc.Identity{User: "Bob", Mechanism: MechanismName}},
		{name: "stale timestamp, skew check off", c: v2Client{user: "bob", pass: "hunter2", timestamp: &old},
			cfg: Config{MaxClockSkew: -1}, wantID: ipc.Identity{User: "Bob", Mechanism: MechanismName}},
		{name: "tight skew", c: v2Client{user: "bob", pass: "hunter2", timestamp: &future},
			cfg: Config{MaxClockSkew: time.Hour}, want: errClockSkew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := runCrafted(t, fixedAuthenticator(tc.cfg), &tc.c)
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !errors.Is(err, ipc.ErrLogonFailure) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				// The log learns who tried and why, from the error.
				var le *ipc.LogonError
				if !errors.As(err, &le) || !strings.EqualFold(le.User, tc.c.user) || le.Reason == "" ||
					(tc.reason != "" && le.Reason != tc.reason) {
					t.Fatalf("logon error %+v, want user %q reason %q", le, tc.c.user, tc.reason)
				}
				if ex.SessionKey() != nil {
					t.Fatal("session key after failure")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id := ex.Identity(); !id.Equal(tc.wantID) {
				t.Fatalf("identity %+v, want %+v", id, tc.wantID)
			}
			if !bytes.Equal(ex.SessionKey(), tc.c.exportedKey) {
				t.Fatalf("key %x, want %x", ex.SessionKey(), tc.c.exportedKey)
			}
		})
	}
}

func craftedAuth(t *testing.T, ex ipc.AuthExchange, negFlags uint32, f authFields) error {
	t.Helper()
	if _, _, err := ex.Step(marshalNegotiate(negFlags, nil)); err != nil {
		t.Fatal(err)
	}
	_, _, err := ex.Step(marshalAuthenticate(f))
	return err
}

func TestNTLMv1AndLMRejected(t *testing.T) {
	a := fixedAuthenticator(Config{})
	flags := uint32(flagUnicode | flagNTLM)
	badBlob := append(make([]byte, 16), 2, 2)
	badBlob = append(badBlob, make([]byte, 40)...)
	noEOL := append(make([]byte, 16), 1, 1)
	noEOL = append(noEOL, make([]byte, 26)...)
	noEOL = append(noEOL, 1, 0, 8, 0)
	for name, nt := range map[string][]byte{
		"NTLMv1 24 bytes":      make([]byte, 24),
		"LM only":              nil,
		"short v2":             make([]byte, 40),
		"bad RespType":         badBlob,
		"AV pairs without EOL": noEOL,
	} {
		err := craftedAuth(t, a.NewExchange(), flags, authFields{Lm: make([]byte, 24), Nt: nt, User: utf16le("alice"), Flags: flags})
		if !errors.Is(err, errNTLMv1) || !errors.Is(err, ipc.ErrLogonFailure) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestAnonymous(t *testing.T) {
	flags := uint32(flagUnicode | flagNTLM | flagAnonymous)
	for _, lm := range [][]byte{nil, {0}} {
		err := craftedAuth(t, fixedAuthenticator(Config{}).NewExchange(), flags, authFields{Lm: lm, Flags: flags})
		if !errors.Is(err, errAnonymous) {
			t.Fatalf("anonymous denied: err = %v", err)
		}
		ex := fixedAuthenticator(Config{AllowAnonymous: true}).NewExchange()
		if err := craftedAuth(t, ex, flags, authFields{Lm: lm, Flags: flags, EncKey: make([]byte, 16)}); err != nil {
			t.Fatalf("anonymous allowed: %v", err)
		}
		if id := ex.Identity(); !id.Anonymous || id.User != "" || id.Admin || ex.SessionKey() != nil {
			t.Fatalf("identity %+v key %x", id, ex.SessionKey())
		}
	}
	// A 24-byte LM response is not a null session.
	err := craftedAuth(t, fixedAuthenticator(Config{AllowAnonymous: true}).NewExchange(), flags, authFields{Lm: make([]byte, 24), Flags: flags})
	if !errors.Is(err, errNTLMv1) {
		t.Fatalf("LM-only: %v", err)
	}
}

// spnegoLegs runs go-msrpc's SPNEGO client up to its AUTHENTICATE leg and
// returns the exchange and that leg's parsed token.
func spnegoLegs(t *testing.T, a *spnego.Acceptor, cl *goMSRPCClient) (ipc.AuthExchange, *spnego.NegTokenResp) {
	t.Helper()
	ex := a.NewExchange()
	tok, err := cl.step(nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := ex.Step(tok)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err = cl.step(out); err != nil {
		t.Fatal(err)
	}
	return ex, mustResp(t, tok)
}

func TestGoMSRPCTokensCarryMICs(t *testing.T) {
	a := testAuthenticator(Config{})
	cl := newGoMSRPCClient("alice", "Secret123!", "EXAMPLE", true)
	ex, leg := spnegoLegs(t, a, cl)
	if leg.MechListMIC == nil {
		t.Fatal("go-msrpc sent no mechListMIC; the test would not cover verification")
	}
	am, err := parseAuthenticate(leg.ResponseToken)
	if err != nil || am.MIC == nil || bytes.Equal(am.MIC, make([]byte, 16)) {
		t.Fatalf("go-msrpc AUTHENTICATE without MIC: %v", err)
	}
	out, done, err := ex.Step(leg.Marshal())
	if err != nil || !done {
		t.Fatal(err)
	}
	if r := mustResp(t, out); r.NegState != spnego.StateAcceptCompleted || r.MechListMIC == nil || r.SupportedMech != nil || r.ResponseToken != nil {
		t.Fatalf("final token %+v", r)
	}
}

func TestTamperedMICRejected(t *testing.T) {
	a := testAuthenticator(Config{})
	ex, leg := spnegoLegs(t, a, newGoMSRPCClient("alice", "Secret123!", "EXAMPLE", true))
	leg.ResponseToken[authMICOffset+3] ^= 0x80
	out, done, err := ex.Step(leg.Marshal())
	if !errors.Is(err, errMIC) || done {
		t.Fatalf("err = %v", err)
	}
	if r := mustResp(t, out); r.NegState != spnego.StateReject {
		t.Fatalf("want reject token, got %+v", r)
	}
	if _, _, err := ex.Step(leg.Marshal()); !errors.Is(err, spnego.ErrExchangeDone) {
		t.Fatalf("Step after failure: %v", err)
	}
}

func TestBadMechListMICRejected(t *testing.T) {
	for name, mutate := range map[string]func(r *spnego.NegTokenResp){
		"flipped":   func(r *spnego.NegTokenResp) { r.MechListMIC[5] ^= 1 },
		"truncated": func(r *spnego.NegTokenResp) { r.MechListMIC = r.MechListMIC[:15] },
		"empty":     func(r *spnego.NegTokenResp) { r.MechListMIC = []byte{} },
	} {
		a := testAuthenticator(Config{})
		ex, leg := spnegoLegs(t, a, newGoMSRPCClient("alice", "Secret123!", "EXAMPLE", true))
		mutate(leg)
		out, _, err := ex.Step(leg.Marshal())
		if !errors.Is(err, errMechListMIC) || !errors.Is(err, ipc.ErrLogonFailure) {
			t.Fatalf("%s: err = %v", name, err)
		}
		if r := mustResp(t, out); r.NegState != spnego.StateReject {
			t.Fatalf("%s: token %+v", name, r)
		}
		if ex.SessionKey() != nil || !ex.Identity().Equal(ipc.Identity{}) {
			t.Fatalf("%s: state after failure", name)
		}
	}
}

// TestNTLMNotFirstMech: the client prefers Kerberos; the server selects
// NTLMSSP, ignores the optimistic token and then requires a mechListMIC.
// The NTLM legs and the client's mechListMIC come from go-msrpc's raw NTLM
// initiator (GSS_GetMIC over the exact mechTypes DER).
func TestNTLMNotFirstMech(t *testing.T) {
	mechs := []asn1.ObjectIdentifier{oidKRB5, OID}
	der := spnego.MarshalMechTypes(mechs)
	for _, withMIC := range []bool{false, true} {
		a := testAuthenticator(Config{})
		ex := a.NewExchange()
		out, done, err := ex.Step(spnego.MarshalNegTokenInit(mechs, []byte("kerberos AP-REQ"), nil))
		if err != nil || done {
			t.Fatal(err)
		}
		r := mustResp(t, out)
		if r.NegState != spnego.StateRequestMIC || !r.SupportedMech.Equal(OID) || r.ResponseToken != nil {
			t.Fatalf("first response %+v", r)
		}
		cl := newGoMSRPCClient("alice", "Secret123!", "EXAMPLE", false)
		neg, err := cl.step(nil)
		if err != nil {
			t.Fatal(err)
		}
		out, done, err = ex.Step((&spnego.NegTokenResp{NegState: spnego.StateAbsent, ResponseToken: neg}).Marshal())
		if err != nil || done {
			t.Fatal(err)
		}
		r = mustResp(t, out)
		if r.NegState != spnego.StateAcceptIncomplete || r.SupportedMech != nil || r.ResponseToken == nil {
			t.Fatalf("second response %+v", r)
		}
		auth, err := cl.step(r.ResponseToken)
		if err != nil {
			t.Fatal(err)
		}
		leg := &spnego.NegTokenResp{NegState: spnego.StateAbsent, ResponseToken: auth}
		if withMIC {
			sig, err := gssapi.MakeSignature(cl.ctx, &gssapi.MessageToken{Payload: der})
			if err != nil {
				t.Fatal(err)
			}
			leg.MechListMIC = sig.Signature
		}
		out, done, err = ex.Step(leg.Marshal())
		if !withMIC {
			if !errors.Is(err, spnego.ErrMechListMIC) {
				t.Fatalf("missing mandatory mechListMIC: %v", err)
			}
			continue
		}
		if err != nil || !done {
			t.Fatalf("with mechListMIC: %v", err)
		}
		r = mustResp(t, out)
		if r.NegState != spnego.StateAcceptCompleted || r.MechListMIC == nil {
			t.Fatalf("final %+v", r)
		}
		if err := gssapi.VerifySignature(cl.ctx, &gssapi.MessageToken{Payload: der, Signature: r.MechListMIC}); err != nil {
			t.Fatalf("go-msrpc rejects the server mechListMIC: %v", err)
		}
		if !bytes.Equal(ex.SessionKey(), cl.sessionKey()) {
			t.Fatal("session keys differ")
		}
	}
}

// TestSPNEGOMechListMICRules: with NTLMSSP first and no optimistic token,
// a mechListMIC is optional; the server sends one only when the client
// sent one or used an NTLM MIC.
func TestSPNEGOMechListMICRules(t *testing.T) {
	mechs := []asn1.ObjectIdentifier{OID, oidKRB5}
	for _, tc := range []struct {
		name    string
		withMIC bool
		wantMIC bool
	}{{"no MIC", false, false}, {"NTLM MIC only", true, true}} {
		a := fixedAuthenticator(Config{})
		ex := a.NewExchange()
		out, _, err := ex.Step(spnego.MarshalNegTokenInit(mechs, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if r := mustResp(t, out); r.NegState != spnego.StateAcceptIncomplete || !r.SupportedMech.Equal(OID) || r.ResponseToken != nil {
			t.Fatalf("%s: %+v", tc.name, r)
		}
		c := &v2Client{user: "alice", pass: "Secret123!", withMIC: tc.withMIC}
		out, _, err = ex.Step((&spnego.NegTokenResp{NegState: spnego.StateAbsent, ResponseToken: c.negotiateMsg()}).Marshal())
		if err != nil {
			t.Fatal(err)
		}
		auth := c.authenticateMsg(t, mustResp(t, out).ResponseToken)
		out, done, err := ex.Step((&spnego.NegTokenResp{NegState: spnego.StateAbsent, ResponseToken: auth}).Marshal())
		if err != nil || !done {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r := mustResp(t, out)
		if (r.MechListMIC != nil) != tc.wantMIC {
			t.Fatalf("%s: mechListMIC %x", tc.name, r.MechListMIC)
		}
		if tc.wantMIC {
			k := deriveKeys(flag128|flagKeyExch|flagExtendedSessionSecurity, c.exportedKey)
			if !bytes.Equal(r.MechListMIC, k.getMIC(false, 0, spnego.MarshalMechTypes(mechs))) {
				t.Fatalf("%s: wrong server mechListMIC", tc.name)
			}
		}
	}
}

func TestSequenceErrors(t *testing.T) {
	a := fixedAuthenticator(Config{})
	c := &v2Client{user: "alice", pass: "Secret123!"}
	neg := c.negotiateMsg()
	spnegoInit := spnego.MarshalNegTokenInit([]asn1.ObjectIdentifier{OID}, neg, nil)

	cases := map[string][][]byte{
		"resp as first token":       {(&spnego.NegTokenResp{NegState: 1, ResponseToken: neg}).Marshal()},
		"challenge as first token":  {mustChallenge(t, a)},
		"empty first token":         {{}},
		"negotiate twice raw":       {neg, neg},
		"raw after spnego":          {spnegoInit, neg},
		"negotiate in auth leg":     {spnegoInit, (&spnego.NegTokenResp{NegState: spnego.StateAbsent, ResponseToken: neg}).Marshal()},
		"no token in auth leg":      {spnegoInit, (&spnego.NegTokenResp{NegState: spnego.StateAcceptIncomplete}).Marshal()},
		"client rejects":            {spnegoInit, (&spnego.NegTokenResp{NegState: spnego.StateReject}).Marshal()},
		"init again":                {spnegoInit, spnegoInit},
		"no NTLMSSP offered":        {spnego.MarshalNegTokenInit([]asn1.ObjectIdentifier{oidKRB5}, []byte{1}, nil)},
		"NTLM token is not NTLMSSP": {spnego.MarshalNegTokenInit([]asn1.ObjectIdentifier{OID}, []byte("garbage"), nil)},
	}
	for name, legs := range cases {
		ex := a.NewExchange()
		var err error
		var out []byte
		for i, leg := range legs {
			out, _, err = ex.Step(leg)
			if err != nil {
				if i != len(legs)-1 {
					t.Fatalf("%s: leg %d failed early: %v", name, i, err)
				}
				break
			}
		}
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if _, _, err2 := ex.Step(legs[0]); !errors.Is(err2, spnego.ErrExchangeDone) {
			t.Errorf("%s: step after failure: %v", name, err2)
		}
		if len(legs[0]) > 0 && legs[0][0] == 0x60 { // SPNEGO exchanges fail with a reject token
			if r, perr := spnego.ParseNegTokenResp(out); perr != nil || r.NegState != spnego.StateReject {
				t.Errorf("%s: no reject token (%x)", name, out)
			}
		}
	}
}

func mustChallenge(t *testing.T, a *spnego.Acceptor) []byte {
	out, _, err := a.NewExchange().Step((&v2Client{}).negotiateMsg())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTruncatedTokens feeds every proper prefix of real tokens at each leg.
func TestTruncatedTokens(t *testing.T) {
	a := testAuthenticator(Config{})
	cl := newGoMSRPCClient("alice", "Secret123!", "EXAMPLE", true)
	first, err := cl.step(nil)
	if err != nil {
		t.Fatal(err)
	}
	ex := a.NewExchange()
	out, _, err := ex.Step(first)
	if err != nil {
		t.Fatal(err)
	}
	second, err := cl.step(out)
	if err != nil {
		t.Fatal(err)
	}
	raw := mustResp(t, second).ResponseToken
	for n := 0; n < len(first); n++ {
		if _, done, err := a.NewExchange().Step(first[:n]); err == nil || done {
			t.Fatalf("first leg prefix %d accepted", n)
		}
	}
	for _, tok := range [][]byte{second, raw} {
		for n := 0; n < len(tok); n++ {
			ex := a.NewExchange()
			if tok[0] == 'N' {
				if _, _, err := ex.Step((&v2Client{}).negotiateMsg()); err != nil {
					t.Fatal(err)
				}
			} else if _, _, err := ex.Step(first); err != nil {
				t.Fatal(err)
			}
			if _, done, err := ex.Step(tok[:n]); err == nil || done {
				t.Fatalf("second leg prefix %d of %d accepted", n, len(tok))
			}
		}
	}
}

// TestMechListMICWithoutESS: no signing keys exist without extended
// session security, so a client mechListMIC is refused and none is sent.
func TestMechListMICWithoutESS(t *testing.T) {
	mechs := []asn1.ObjectIdentifier{OID}
	for _, sendMIC := range []bool{false, true} {
		ex := fixedAuthenticator(Config{}).NewExchange()
		c := &v2Client{user: "bob", pass: "hunter2", withMIC: true, flags: flagUnicode | flagNTLM | flagSign | flagKeyExch | flag128}
		out, _, err := ex.Step(spnego.MarshalNegTokenInit(mechs, c.negotiateMsg(), nil))
		if err != nil {
			t.Fatal(err)
		}
		leg := &spnego.NegTokenResp{NegState: spnego.StateAbsent, ResponseToken: c.authenticateMsg(t, mustResp(t, out).ResponseToken)}
		if sendMIC {
			leg.MechListMIC = make([]byte, 16)
		}
		out, done, err := ex.Step(leg.Marshal())
		if sendMIC {
			if !errors.Is(err, errNoESS) {
				t.Fatalf("err = %v", err)
			}
			continue
		}
		if err != nil || !done || mustResp(t, out).MechListMIC != nil {
			t.Fatalf("done=%v err=%v", done, err)
		}
	}
}

// TestLogsCarryNoSecrets captures debug logs of a good and a bad logon
// and looks for the password, the NT hash and the session key.
func TestLogsCarryNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var keys [][]byte
	for _, pass := range []string{"Secret123!", "wrong"} {
		a := testAuthenticator(Config{Logger: logger})
		ex, err, _ := runGoMSRPC(t, a, newGoMSRPCClient("alice", pass, "EXAMPLE", true))
		if err == nil {
			keys = append(keys, ex.SessionKey())
		}
	}
	if len(keys) != 1 || buf.Len() == 0 {
		t.Fatalf("keys %d, log %q", len(keys), buf.String())
	}
	h := NTHash("Secret123!")
	for _, secret := range []string{"Secret123!", hex.EncodeToString(h[:]), hex.EncodeToString(keys[0]), string(h[:]), string(keys[0])} {
		if strings.Contains(strings.ToLower(buf.String()), strings.ToLower(secret)) {
			t.Fatalf("log contains a secret: %s", buf.String())
		}
	}
}

// mutableNames is an ipc.ComputerNames a test can rename.
type mutableNames struct{ nb, dns string }

func (m *mutableNames) NetBIOSName() string { return m.nb }
func (m *mutableNames) DNSHostName() string { return m.dns }

// With Config.Names, the CHALLENGE carries the computer's current names:
// a rename shows in the next exchange, and the domain names of a server
// of local accounts follow it.
func TestChallengeFollowsComputerNames(t *testing.T) {
	names := &mutableNames{nb: "OLDNAME", dns: "oldname.example.test"}
	a := NewAuthenticator(Config{Names: names, Now: func() time.Time { return testNow }, Rand: fixedRand(0x11)})
	check := func(nb, dns string) {
		t.Helper()
		out, _, err := a.NewExchange().Step((&v2Client{}).negotiateMsg())
		if err != nil {
			t.Fatal(err)
		}
		cm, err := parseChallenge(out)
		if err != nil {
			t.Fatal(err)
		}
		if name, _ := decodeUTF16LE(cm.TargetName); name != nb {
			t.Errorf("TargetName %q, want %q", name, nb)
		}
		pairs, _ := parseAVPairs(cm.TargetInfo)
		for id, s := range map[uint16]string{avNbComputerName: nb, avNbDomainName: nb, avDNSComputerName: dns, avDNSDomainName: dns} {
			v, _ := findAV(pairs, id)
			if got, _ := decodeUTF16LE(v); got != s {
				t.Errorf("AV %d = %q, want %q", id, got, s)
			}
		}
	}
	check("OLDNAME", "oldname.example.test")
	names.nb, names.dns = "NEWNAME", "newname.example.test"
	check("NEWNAME", "newname.example.test")
}
