package ntlm

import (
	"github.com/wkssvcd/wkssvcd/server/spnego"

	"bytes"
	"encoding/asn1"
	"errors"
	"testing"
)

// Fuzz targets for every parser and for the exchange as a whole. Run e.g.
//   go test ./server/ntlm -run '^$' -fuzz '^FuzzExchange$' -fuzztime 60s

func FuzzParseNegotiate(f *testing.F) {
	f.Add(marshalNegotiate(flagUnicode|flagVersion, serverVersion[:]))
	f.Add(marshalNegotiate(flagUnicode|flagOEMDomainSupplied|flagOEMWorkstationSupplied, nil))
	f.Add([]byte("NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\xa2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseNegotiate(b)
		if err == nil && (m == nil || len(b) < 16) {
			t.Fatal("accepted a short message")
		}
	})
}

func FuzzParseChallenge(f *testing.F) {
	f.Add(unhex(f, specChallengeMsg))
	f.Add(mustChallengeTB(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseChallenge(b)
		if err != nil {
			return
		}
		// Re-encoding and re-parsing keeps every field.
		m2, err := parseChallenge(m.marshal())
		if err != nil || m2.Flags != m.Flags || m2.ServerChallenge != m.ServerChallenge ||
			!bytes.Equal(m2.TargetName, m.TargetName) || !bytes.Equal(m2.TargetInfo, m.TargetInfo) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseAuthenticate(f *testing.F) {
	f.Add(unhex(f, specAuthenticateMsg))
	f.Add(marshalAuthenticate(authFields{Lm: []byte{0}, Flags: flagUnicode}))
	f.Add(marshalAuthenticate(authFields{Nt: make([]byte, 60), User: utf16le("u"), WithMIC: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseAuthenticate(b)
		if err != nil {
			return
		}
		if m.MIC != nil && len(m.MIC) != 16 {
			t.Fatal("MIC length")
		}
		for _, fld := range [][]byte{m.LmChallengeResponse, m.NtChallengeResponse, m.DomainName, m.UserName, m.Workstation, m.EncryptedRandomSessionKey} {
			if len(fld) > len(b) {
				t.Fatal("field longer than message")
			}
		}
		if len(m.NtChallengeResponse) >= 16 {
			_, _ = parseNTLMv2ClientChallenge(m.NtChallengeResponse[16:])
		}
	})
}

func FuzzParseAVPairs(f *testing.F) {
	f.Add(marshalAVPairs([]avPair{{avNbComputerName, utf16le("HOST")}, {avFlags, []byte{2, 0, 0, 0}}}))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, err := parseAVPairs(b)
		if err != nil {
			return
		}
		again, err := parseAVPairs(marshalAVPairs(pairs))
		if err != nil || len(again) != len(pairs) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range pairs {
			if again[i].ID != pairs[i].ID || !bytes.Equal(again[i].Value, pairs[i].Value) {
				t.Fatalf("pair %d differs", i)
			}
		}
		_, _ = parseNTLMv2ClientChallenge(append(make([]byte, 28), b...))
	})
}

// fuzzExchange returns an exchange after a valid first leg: raw NTLMSSP
// when spnego is false, else SPNEGO with NTLMSSP first. Clock and
// challenge are fixed so that seeds computed for them stay valid.
func fuzzExchange(tb testing.TB, useSPNEGO bool, anon bool) (*spnego.Exchange, []byte) {
	a := fixedAuthenticator(Config{AllowAnonymous: anon})
	ex := a.NewExchange().(*spnego.Exchange)
	neg := (&v2Client{}).negotiateMsg()
	first := neg
	if useSPNEGO {
		first = spnego.MarshalNegTokenInit([]asn1.ObjectIdentifier{OID}, neg, nil)
	}
	out, _, err := ex.Step(first)
	if err != nil {
		tb.Fatal(err)
	}
	if useSPNEGO {
		r, err := spnego.ParseNegTokenResp(out)
		if err != nil {
			tb.Fatal(err)
		}
		out = r.ResponseToken
	}
	return ex, out
}

func FuzzExchange(f *testing.F) {
	// Valid second legs for the fixed challenge, raw and wrapped, with
	// and without MICs, plus an anonymous one.
	for _, c := range []*v2Client{
		{user: "alice", pass: "Secret123!", domain: "EXAMPLE", withMIC: true},
		{user: "bob", pass: "hunter2"},
	} {
		_, chal := fuzzExchange(f, false, false)
		c.negotiateMsg()
		auth := c.authenticateMsg(f, chal)
		f.Add(uint8(0), auth)
		k := deriveKeys(c.flags&mustChallengeFlags(f), c.exportedKey)
		der := spnego.MarshalMechTypes([]asn1.ObjectIdentifier{OID})
		f.Add(uint8(1), (&spnego.NegTokenResp{NegState: spnego.StateAbsent, ResponseToken: auth, MechListMIC: k.getMIC(true, 0, der)}).Marshal())
		f.Add(uint8(1), (&spnego.NegTokenResp{NegState: spnego.StateAbsent, ResponseToken: auth}).Marshal())
	}
	f.Add(uint8(2), marshalAuthenticate(authFields{Lm: []byte{0}, Flags: flagUnicode}))
	f.Add(uint8(1), []byte{0xa1, 0x03, 0x30, 0x01, 0x00})
	// Mode 4: SPNEGO with Kerberos preferred, so the fuzzed token is the
	// NEGOTIATE leg (stateWantNegotiate).
	f.Add(uint8(4), (&spnego.NegTokenResp{NegState: spnego.StateAbsent, ResponseToken: (&v2Client{}).negotiateMsg()}).Marshal())
	f.Fuzz(func(t *testing.T, mode uint8, in []byte) {
		if mode&4 != 0 {
			ex := fixedAuthenticator(Config{}).NewExchange()
			if _, _, err := ex.Step(spnego.MarshalNegTokenInit([]asn1.ObjectIdentifier{oidKRB5, OID}, []byte{1}, nil)); err != nil {
				t.Fatal(err)
			}
			out, done, err := ex.Step(in)
			if done || (err == nil && len(out) == 0) {
				t.Fatalf("NEGOTIATE leg: done=%v err=%v", done, err)
			}
			return
		}
		ex, _ := fuzzExchange(t, mode&1 == 1, mode&2 == 2)
		out, done, err := ex.Step(in)
		if err != nil {
			if done || ex.SessionKey() != nil || ex.Identity().User != "" || ex.Identity().Anonymous {
				t.Fatal("failed step left state behind")
			}
			if _, _, err := ex.Step(in); !errors.Is(err, spnego.ErrExchangeDone) {
				t.Fatal("step after failure")
			}
			return
		}
		if !done {
			t.Fatalf("second leg neither failed nor finished: %x", out)
		}
		if id := ex.Identity(); !id.Anonymous && len(ex.SessionKey()) != 16 {
			t.Fatal("authenticated without a 16-byte session key")
		}
		if _, _, err := ex.Step(in); !errors.Is(err, spnego.ErrExchangeDone) {
			t.Fatal("step after done")
		}
	})
}

func FuzzFirstLeg(f *testing.F) {
	f.Add((&v2Client{}).negotiateMsg())
	f.Add(spnego.MarshalNegTokenInit([]asn1.ObjectIdentifier{OID}, (&v2Client{}).negotiateMsg(), nil))
	f.Add(spnego.MarshalNegTokenInit([]asn1.ObjectIdentifier{oidKRB5, OID}, []byte{1, 2, 3}, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		ex := fixedAuthenticator(Config{}).NewExchange()
		_, done, err := ex.Step(in)
		if done {
			t.Fatal("first leg finished the exchange")
		}
		if err != nil && !errors.Is(err, ErrBadToken) && !errors.Is(err, spnego.ErrBadToken) && !errors.Is(err, spnego.ErrNoCommonMech) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

func mustChallengeTB(tb testing.TB) []byte {
	_, chal := fuzzExchange(tb, false, false)
	return chal
}

func mustChallengeFlags(tb testing.TB) uint32 {
	m, err := parseChallenge(mustChallengeTB(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return m.Flags
}
