package spnego

import (
	"bytes"
	"encoding/asn1"
	"testing"
)

func TestNegTokenRespRoundTrip(t *testing.T) {
	for _, r := range []NegTokenResp{
		{NegState: StateAcceptIncomplete, SupportedMech: OIDNTLMSSP, ResponseToken: []byte("tok")},
		{NegState: StateAcceptCompleted, MechListMIC: bytes.Repeat([]byte{9}, 16)},
		{NegState: StateAbsent, ResponseToken: make([]byte, 300), MechListMIC: []byte{}},
		{NegState: StateReject},
	} {
		b := r.Marshal()
		got, err := ParseNegTokenResp(b)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if got.NegState != r.NegState || !got.SupportedMech.Equal(r.SupportedMech) ||
			!bytes.Equal(got.ResponseToken, r.ResponseToken) || (got.ResponseToken == nil) != (r.ResponseToken == nil) ||
			!bytes.Equal(got.MechListMIC, r.MechListMIC) || (got.MechListMIC == nil) != (r.MechListMIC == nil) {
			t.Fatalf("round trip %+v -> %+v", r, got)
		}
	}
	// The reject token is the canonical a1 07 30 05 a0 03 0a 01 02.
	if b := (&NegTokenResp{NegState: StateReject}).Marshal(); !bytes.Equal(b, []byte{0xa1, 7, 0x30, 5, 0xa0, 3, 0x0a, 1, 2}) {
		t.Fatalf("reject %x", b)
	}
}

func TestNegTokenRespMalformed(t *testing.T) {
	good := (&NegTokenResp{NegState: 1, ResponseToken: []byte{1}}).Marshal()
	for name, b := range map[string][]byte{
		"empty":           {},
		"wrong choice":    append([]byte{0xa0}, good[1:]...),
		"trailing":        append(append([]byte{}, good...), 0),
		"negState 4":      {0xa1, 7, 0x30, 5, 0xa0, 3, 0x0a, 1, 4},
		"negState int":    {0xa1, 7, 0x30, 5, 0xa0, 3, 0x02, 1, 1},
		"token not OCTET": {0xa1, 7, 0x30, 5, 0xa2, 3, 0x02, 1, 1},
		"non-minimal len": {0xa1, 0x81, 7, 0x30, 5, 0xa0, 3, 0x0a, 1, 2},
		"unknown field":   {0xa1, 7, 0x30, 5, 0xa5, 3, 0x0a, 1, 2},
		"out of order":    {0xa1, 12, 0x30, 10, 0xa2, 3, 0x04, 1, 1, 0xa0, 3, 0x0a, 1, 1},
	} {
		if _, err := ParseNegTokenResp(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestInitialContextToken(t *testing.T) {
	mechs := []asn1.ObjectIdentifier{OIDKerberos, OIDNTLMSSP}
	b := MarshalNegTokenInit(mechs, []byte("mech"), []byte("mic"))
	init, err := ParseInitialContextToken(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(init.MechTypes) != 2 || !init.MechTypes[1].Equal(OIDNTLMSSP) || string(init.MechToken) != "mech" || string(init.MechListMIC) != "mic" {
		t.Fatalf("%+v", init)
	}
	if !bytes.Equal(init.MechTypesDER, MarshalMechTypes(mechs)) || !bytes.Contains(b, init.MechTypesDER) {
		t.Fatal("mechTypes DER not kept exactly")
	}
	// NegTokenInit2 layout: negHints at [3], mechListMIC at [4].
	init2, err := ParseInitialContextToken(MarshalNegTokenInit2(mechs, HintName))
	if err != nil || len(init2.MechTypes) != 2 || init2.MechListMIC != nil {
		t.Fatalf("NegTokenInit2: %+v %v", init2, err)
	}
	absent, err := ParseInitialContextToken(MarshalNegTokenInit(mechs[1:], nil, nil))
	if err != nil || absent.MechToken != nil || absent.MechListMIC != nil {
		t.Fatalf("absent fields: %+v %v", absent, err)
	}

	wrongMech := bytes.Replace(b, []byte{0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}, []byte{0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x03}, 1)
	for name, bad := range map[string][]byte{
		"wrong thisMech":  wrongMech,
		"empty mechTypes": MarshalNegTokenInit(nil, nil, nil),
		"trailing":        append(append([]byte{}, b...), 0),
		"resp not init":   (&NegTokenResp{NegState: 1}).Marshal(),
		"raw NTLM":        []byte("NTLMSSP\x00"),
		"truncated":       b[:len(b)-1],
	} {
		if _, err := ParseInitialContextToken(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
