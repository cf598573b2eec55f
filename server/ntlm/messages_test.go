package ntlm

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestNegotiateCodec(t *testing.T) {
	b := marshalNegotiate(flagUnicode|flagVersion, serverVersion[:])
	if len(b) != 40 || !bytes.Equal(b[32:], serverVersion[:]) {
		t.Fatalf("NEGOTIATE %x", b)
	}
	m, err := parseNegotiate(b)
	if err != nil || m.Flags != flagUnicode|flagVersion {
		t.Fatalf("%+v %v", m, err)
	}
	// A bare 16-byte header is valid (early clients).
	if m, err := parseNegotiate(b[:16]); err != nil || m.Flags != flagUnicode|flagVersion {
		t.Fatalf("16-byte NEGOTIATE: %v", err)
	}
	// OEM domain supplied, resolved through its descriptor.
	d := marshalNegotiate(flagUnicode|flagOEMDomainSupplied, nil)
	binary.LittleEndian.PutUint16(d[16:], 3)
	d = append(d, "DOM"...)
	if m, err := parseNegotiate(d); err != nil || string(m.Domain) != "DOM" {
		t.Fatalf("domain: %+v %v", m, err)
	}
	binary.LittleEndian.PutUint32(d[20:], 0xfffffffe)
	if _, err := parseNegotiate(d); err == nil {
		t.Fatal("domain offset out of range accepted")
	}
	for name, bad := range map[string][]byte{
		"short":     b[:15],
		"signature": append([]byte("NTLMSSX\x00"), b[8:]...),
		"type":      marshalAuthenticate(authFields{}),
	} {
		if _, err := parseNegotiate(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestChallengeCodecBounds(t *testing.T) {
	m := challengeMessage{TargetName: utf16le("S"), Flags: flagUnicode, TargetInfo: marshalAVPairs(nil)}
	b := m.marshal()
	if _, err := parseChallenge(b); err != nil {
		t.Fatal(err)
	}
	if _, err := parseChallenge(b[:len(b)-1]); err == nil {
		t.Fatal("truncated TargetInfo accepted")
	}
	if _, err := parseChallenge(b[:47]); err == nil {
		t.Fatal("short header accepted")
	}
}

func TestAuthenticateCodec(t *testing.T) {
	f := authFields{
		Lm: []byte("lm"), Nt: []byte("ntresponse"), Domain: utf16le("D"), User: utf16le("U"),
		Workstation: utf16le("W"), EncKey: bytes.Repeat([]byte{7}, 16), Flags: 0x12345678,
	}
	for _, withMIC := range []bool{false, true} {
		f.WithMIC = withMIC
		b := marshalAuthenticate(f)
		m, err := parseAuthenticate(b)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.LmChallengeResponse) != "lm" || string(m.NtChallengeResponse) != "ntresponse" ||
			!bytes.Equal(m.DomainName, f.Domain) || !bytes.Equal(m.UserName, f.User) ||
			!bytes.Equal(m.Workstation, f.Workstation) || !bytes.Equal(m.EncryptedRandomSessionKey, f.EncKey) ||
			m.Flags != f.Flags {
			t.Fatalf("round trip %+v", m)
		}
		if (m.MIC != nil) != withMIC {
			t.Fatalf("withMIC=%v: MIC %x", withMIC, m.MIC)
		}
		// Every field descriptor pointing past the end is refused.
		for at := 12; at <= 52; at += 8 {
			c := append([]byte(nil), b...)
			binary.LittleEndian.PutUint32(c[at+4:], uint32(len(c)-1))
			binary.LittleEndian.PutUint16(c[at:], 2)
			if _, err := parseAuthenticate(c); err == nil {
				t.Fatalf("field at %d past the end accepted", at)
			}
			binary.LittleEndian.PutUint32(c[at+4:], 0xffffffff)
			if _, err := parseAuthenticate(c); err == nil {
				t.Fatalf("field at %d with huge offset accepted", at)
			}
		}
	}
	// A 64-byte message with all fields empty has no MIC.
	m, err := parseAuthenticate(marshalAuthenticate(authFields{}))
	if err != nil || m.MIC != nil {
		t.Fatalf("empty: %+v %v", m, err)
	}
	if _, err := parseAuthenticate(marshalAuthenticate(authFields{})[:63]); err == nil {
		t.Fatal("63-byte AUTHENTICATE accepted")
	}
}

func TestNTLMv2ClientChallenge(t *testing.T) {
	blob := make([]byte, 28)
	blob[0], blob[1] = 1, 1
	binary.LittleEndian.PutUint64(blob[8:], 42)
	copy(blob[16:], "abcdefgh")
	c, err := parseNTLMv2ClientChallenge(blob)
	if err != nil || c.Timestamp != 42 || string(c.ChallengeFromClient[:]) != "abcdefgh" || c.AVPairs != nil {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := parseNTLMv2ClientChallenge(blob[:27]); err == nil {
		t.Fatal("short blob accepted")
	}
	blob[1] = 2
	if _, err := parseNTLMv2ClientChallenge(blob); err == nil {
		t.Fatal("HiRespType 2 accepted")
	}
}

func TestStrings(t *testing.T) {
	if s, ok := decodeUTF16LE(utf16le("Zoë😀")); !ok || s != "Zoë😀" {
		t.Fatalf("%q", s)
	}
	if _, ok := decodeUTF16LE([]byte{1}); ok {
		t.Fatal("odd UTF-16 accepted")
	}
	if s, _ := decodeString([]byte("ab"), 0); s != "ab" {
		t.Fatalf("OEM %q", s)
	}
	if !(StaticAccounts{{Name: "Alice"}}).hasAlice() {
		t.Fatal("case-insensitive lookup")
	}
}

func (s StaticAccounts) hasAlice() bool {
	a, ok := s.LookupAccount("aLiCe")
	return ok && a.Name == "Alice"
}
