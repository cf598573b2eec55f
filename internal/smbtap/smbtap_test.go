package smbtap

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

func TestCMACRFC4493(t *testing.T) {
	key, _ := hex.DecodeString("2b7e151628aed2a6abf7158809cf4f3c")
	msg, _ := hex.DecodeString("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		if got := hex.EncodeToString(cmac(key, msg[:tc.n])); got != tc.want {
			t.Errorf("CMAC of %d bytes = %s, want %s", tc.n, got, tc.want)
		}
	}
}

// msg builds an SMB2 header (and body) with the given fields.
func msg(cmd uint16, flags uint32, status uint32, msgID, sid uint64, body []byte) []byte {
	m := make([]byte, hdrSize+len(body))
	copy(m, protoSMB2)
	binary.LittleEndian.PutUint16(m[4:], 64)
	binary.LittleEndian.PutUint32(m[8:], status)
	binary.LittleEndian.PutUint16(m[12:], cmd)
	binary.LittleEndian.PutUint32(m[16:], flags)
	binary.LittleEndian.PutUint64(m[24:], msgID)
	binary.LittleEndian.PutUint64(m[40:], sid)
	copy(m[hdrSize:], body)
	return m
}

func TestPlaintextAnswerToEncryptedRequest(t *testing.T) {
	p := &Proxy{}
	c := newConnState(p, 1)
	c.fromClient(msg(0x0d, 0, 0, 7, 0, []byte{4, 0, 0, 0}))
	c.fromServer(msg(0x0d, flagResponse, 0, 7, 0, []byte{4, 0, 0, 0}))
	if v := p.Stats().Violations; len(v) != 0 {
		t.Fatalf("plaintext answer to a plaintext request: %v", v)
	}
	tr := make([]byte, transformHdrSize+80)
	copy(tr, protoTransform)
	c.fromClient(tr) // MessageId 8, encrypted
	c.fromServer(msg(0x0d, flagResponse, 0, 8, 0, []byte{4, 0, 0, 0}))
	if v := p.Stats().Violations; len(v) != 1 || !strings.Contains(v[0], "was encrypted") {
		t.Fatalf("violations %v", v)
	}
}

func TestUnsignedOrBadlySignedResponse(t *testing.T) {
	p := &Proxy{}
	c := newConnState(p, 1)
	c.dialect, c.signAlg, c.signReq = 0x0210, algHMACSHA256, true
	key := bytes.Repeat([]byte{9}, 16)
	c.sessions[5] = &session{id: 5, established: true, signingKey: key}
	sign := func(m []byte) []byte {
		binary.LittleEndian.PutUint32(m[16:], binary.LittleEndian.Uint32(m[16:])|flagSigned)
		mac := hmac.New(sha256.New, key)
		mac.Write(m)
		copy(m[48:], mac.Sum(nil)[:16])
		return m
	}
	c.fromClient(sign(msg(0x0d, 0, 0, 1, 5, []byte{4, 0, 0, 0})))
	c.fromServer(sign(msg(0x0d, flagResponse, 0, 1, 5, []byte{4, 0, 0, 0})))
	if s := p.Stats(); len(s.Violations) != 0 || s.SignedVerified != 1 {
		t.Fatalf("good signature: %+v", s)
	}
	c.fromClient(sign(msg(0x0d, 0, 0, 2, 5, []byte{4, 0, 0, 0})))
	c.fromServer(msg(0x0d, flagResponse, 0, 2, 5, []byte{4, 0, 0, 0}))
	c.fromClient(sign(msg(0x0d, 0, 0, 3, 5, []byte{4, 0, 0, 0})))
	bad := sign(msg(0x0d, flagResponse, 0, 3, 5, []byte{4, 0, 0, 0}))
	bad[50] ^= 1
	c.fromServer(bad)
	v := p.Stats().Violations
	if len(v) != 2 || !strings.Contains(v[0], "unsigned response") || !strings.Contains(v[1], "bad signature") {
		t.Fatalf("violations %v", v)
	}
}

// TestSessionKeyNTLMv2 checks the key derivation against MS-NLMP 4.2.4
// (NTLMv2 authentication): user "User", domain "Domain", password
// "Password", NTProofStr and the session base key given there.
func TestSessionKeyNTLMv2(t *testing.T) {
	p := &Proxy{passwords: map[string]string{"user": "Password"}}
	ntProof, _ := hex.DecodeString("68cd0ab851e51c96aabc927bebef6a1c")
	ntResp := append(ntProof, make([]byte, 28)...) // the blob after NTProofStr does not enter the key
	domain, user := utf16le("Domain"), utf16le("User")
	auth := make([]byte, 64)
	copy(auth, "NTLMSSP\x00\x03\x00\x00\x00")
	put := func(off int, b []byte) {
		binary.LittleEndian.PutUint16(auth[off:], uint16(len(b)))
		binary.LittleEndian.PutUint16(auth[off+2:], uint16(len(b)))
		binary.LittleEndian.PutUint32(auth[off+4:], uint32(len(auth)))
		auth = append(auth, b...)
	}
	put(20, ntResp)
	put(28, domain)
	put(36, user)
	put(52, nil)
	binary.LittleEndian.PutUint32(auth[60:], 0x00000001) // Unicode, no key exchange
	key, err := p.sessionKey(auth)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(key); got != "8de40ccadbc14a82f15cb0ad0de95ca3" {
		t.Fatalf("session base key %s", got)
	}
}
