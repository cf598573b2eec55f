package ntlm

import (
	"bytes"
	"crypto/rc4"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// unhex decodes a hex dump, ignoring spaces and newlines.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MS-NLMP 4.2.1 and 4.2.4 values.
const (
	specServerChallenge = "0123456789abcdef"
	specChallengeMsg    = `
4e544c4d53535000020000000c000c00 380000003382 8ae2 0123456789abcdef
0000000000000000 24002400 44000000 06007017 0000000f 530065007200760065007200
02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000`
	specAuthenticateMsg = `
4e544c4d53535000030000001800180 06c00000054005400840000000c000c00
480000000800080054000000100010005c00000010001000d8000000358288e2
0501280a0000000f44006f006d00610069006e00550073006500720043004f00
4d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaa
aaaaaaaa68cd0ab851e51c96aabc927bebef6a1c010100000000000000000000
00000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e00
01000c005300650072007600650072000000000000000000c5dad2544fc97990
94ce1ce90bc9d03e`
)

func TestNTHashKnownAnswer(t *testing.T) {
	// MS-NLMP 4.2.2.1.2 NTOWFv1("Password").
	got := NTHash("Password")
	if want := unhex(t, "a4f49c406510bdcab6824ee7c30fd852"); !bytes.Equal(got[:], want) {
		t.Fatalf("NTHash = %x, want %x", got, want)
	}
}

func TestNTLMv2KnownAnswers(t *testing.T) {
	auth := unhex(t, specAuthenticateMsg)
	key := ntowfv2(NTHash("Password"), "User", "Domain")
	// 4.2.4.1.1
	if want := unhex(t, "0c868a403bfd7a93a3001ef22ef02e3f"); !bytes.Equal(key, want) {
		t.Fatalf("NTOWFv2 = %x, want %x", key, want)
	}
	am, err := parseAuthenticate(auth)
	if err != nil {
		t.Fatal(err)
	}
	temp := am.NtChallengeResponse[16:]
	proof := ntProofStr(key, unhex(t, specServerChallenge), temp)
	// 4.2.4.2.2
	if want := unhex(t, "68cd0ab851e51c96aabc927bebef6a1c"); !bytes.Equal(proof, want) {
		t.Fatalf("NTProofStr = %x, want %x", proof, want)
	}
	// 4.2.4.1.2
	sbk := hmacMD5(key, proof)
	if want := unhex(t, "8de40ccadbc14a82f15cb0ad0de95ca3"); !bytes.Equal(sbk, want) {
		t.Fatalf("SessionBaseKey = %x, want %x", sbk, want)
	}
	// 4.2.4.2.3: RC4(KeyExchangeKey, RandomSessionKey).
	enc := rc4K(sbk, bytes.Repeat([]byte{0x55}, 16))
	if want := unhex(t, "c5dad2544fc9799094ce1ce90bc9d03e"); !bytes.Equal(enc, want) {
		t.Fatalf("EncryptedRandomSessionKey = %x, want %x", enc, want)
	}
	if !bytes.Equal(am.EncryptedRandomSessionKey, enc) {
		t.Fatal("parsed EncryptedRandomSessionKey differs from the spec value")
	}
	cc, err := parseNTLMv2ClientChallenge(temp)
	if err != nil {
		t.Fatal(err)
	}
	if cc.Timestamp != 0 || !bytes.Equal(cc.ChallengeFromClient[:], bytes.Repeat([]byte{0xaa}, 8)) || len(cc.AVPairs) != 2 {
		t.Fatalf("client challenge %+v", cc)
	}
}

// TestSpecAuthenticateAccepted runs the acceptor on the MS-NLMP 4.2.4.3
// AUTHENTICATE_MESSAGE (its timestamp is 0, so the skew check is off).
func TestSpecAuthenticateAccepted(t *testing.T) {
	a := NewMechanism(Config{
		Accounts:     StaticAccounts{{Name: "user", NTHash: NTHash("Password")}},
		MaxClockSkew: -1,
	})
	chal, err := parseChallenge(unhex(t, specChallengeMsg))
	if err != nil {
		t.Fatal(err)
	}
	e := &Context{m: a, state: stateWantAuthenticate, challenge: *chal}
	out, done, err := e.Accept(unhex(t, specAuthenticateMsg))
	if err != nil || !done || len(out) != 0 {
		t.Fatalf("Step: out=%x done=%v err=%v", out, done, err)
	}
	if key := e.SessionKey(); !bytes.Equal(key, bytes.Repeat([]byte{0x55}, 16)) {
		t.Fatalf("ExportedSessionKey = %x, want the spec's RandomSessionKey", key)
	}
	if id := e.Identity(); !id.Equal(ipc.Identity{User: "user", Domain: "Domain", Mechanism: MechanismName}) {
		t.Fatalf("identity %+v", id)
	}

	// Same message with the skew check on: a 1601 timestamp is refused.
	a2 := NewMechanism(Config{Accounts: a.cfg.Accounts})
	e2 := &Context{m: a2, state: stateWantAuthenticate, challenge: *chal}
	if _, _, err := e2.Accept(unhex(t, specAuthenticateMsg)); !errors.Is(err, errClockSkew) {
		t.Fatalf("skew: err = %v", err)
	}
}

func TestSpecChallengeMarshal(t *testing.T) {
	want := unhex(t, specChallengeMsg)
	m := challengeMessage{
		TargetName: utf16le("Server"),
		Flags:      0xe28a8233,
		TargetInfo: marshalAVPairs([]avPair{{avNbDomainName, utf16le("Domain")}, {avNbComputerName, utf16le("Server")}}),
		Version:    [8]byte{6, 0, 0x70, 0x17, 0, 0, 0, 0x0f},
	}
	copy(m.ServerChallenge[:], unhex(t, specServerChallenge))
	if got := m.marshal(); !bytes.Equal(got, want) {
		t.Fatalf("CHALLENGE\n got %x\nwant %x", got, want)
	}
	p, err := parseChallenge(want)
	if err != nil {
		t.Fatal(err)
	}
	if p.Flags != m.Flags || p.ServerChallenge != m.ServerChallenge || !bytes.Equal(p.TargetName, m.TargetName) ||
		!bytes.Equal(p.TargetInfo, m.TargetInfo) || p.Version != m.Version {
		t.Fatalf("parsed %+v", p)
	}
}

// TestSignSealKnownAnswer checks SIGNKEY, SEALKEY and the ESS checksum
// with the MS-NLMP 4.2.4.4 GSS_WrapEx example (seal, then sign with the
// same RC4 handle).
func TestSignSealKnownAnswer(t *testing.T) {
	esk := bytes.Repeat([]byte{0x55}, 16)
	seal := sealKey(flag128, esk, true)
	if want := unhex(t, "59f600973cc4960a25480a7c196e4c58"); !bytes.Equal(seal, want) {
		t.Fatalf("SEALKEY = %x, want %x", seal, want)
	}
	sign := signKey(esk, true)
	if want := unhex(t, "4788dc861b4782f35d43fd98fe1a2d39"); !bytes.Equal(sign, want) {
		t.Fatalf("SIGNKEY = %x, want %x", sign, want)
	}
	plain := utf16le("Plaintext")
	h, _ := rc4.NewCipher(seal)
	sealed := make([]byte, len(plain))
	h.XORKeyStream(sealed, plain)
	if want := unhex(t, "54e50165bf1936dc996020c1811b0f06fb5f"); !bytes.Equal(sealed, want) {
		t.Fatalf("sealed = %x, want %x", sealed, want)
	}
	if chk := hmacMD5(sign, []byte{0, 0, 0, 0}, plain)[:8]; !bytes.Equal(chk, unhex(t, "7035 2851 f256 4309")) {
		t.Fatalf("checksum = %x", chk)
	}
	sig := signatureESS(sign, h, 0, plain)
	if want := unhex(t, "010000007fb38ec5c55d497600000000"); !bytes.Equal(sig, want) {
		t.Fatalf("signature = %x, want %x", sig, want)
	}
	// 56- and 40-bit sealing keys use a prefix of the session key.
	if bytes.Equal(sealKey(flag56, esk, true), seal) || bytes.Equal(sealKey(0, esk, true), sealKey(flag56, esk, true)) {
		t.Fatal("SEALKEY ignores the key strength")
	}
	// getMIC with KEY_EXCH uses a fresh handle, so it equals a signature
	// made with a fresh cipher.
	k := deriveKeys(flag128|flagKeyExch, esk)
	h2, _ := rc4.NewCipher(seal)
	if got, want := k.getMIC(true, 0, plain), signatureESS(sign, h2, 0, plain); !bytes.Equal(got, want) {
		t.Fatalf("getMIC %x != %x", got, want)
	}
}
