package smbtap

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
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
	c.dialect, c.cipher = dialect311, cipherAES128GCM
	c.sessions[5] = &session{id: 5, established: true, c2sKey: c2sTestKey, s2cKey: s2cTestKey}
	c.fromClient(seal(t, c2sTestKey, 1, msg(0x0d, 0, 0, 8, 5, []byte{4, 0, 0, 0})))
	c.fromServer(msg(0x0d, flagResponse, 0, 8, 5, []byte{4, 0, 0, 0}))
	if v := p.Stats().Violations; len(v) != 1 || !strings.Contains(v[0], "was encrypted") {
		t.Fatalf("violations %v", v)
	}
}

var (
	c2sTestKey = bytes.Repeat([]byte{0x11}, 16)
	s2cTestKey = bytes.Repeat([]byte{0x22}, 16)
)

// seal wraps m in a transform header for session 5 with AES-128-GCM
// (the standard library's, so the test does not use the code it tests).
func seal(t *testing.T, key []byte, nonce byte, m []byte) []byte {
	t.Helper()
	h := make([]byte, transformHdrSize)
	copy(h, protoTransform)
	h[20] = nonce
	binary.LittleEndian.PutUint32(h[36:], uint32(len(m)))
	binary.LittleEndian.PutUint16(h[42:], 1)
	binary.LittleEndian.PutUint64(h[44:], 5)
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	out := g.Seal(nil, h[20:32], m, h[20:])
	copy(h[4:20], out[len(m):])
	return append(h, out[:len(m)]...)
}

// The proxy decrypts both directions with the session's keys and checks
// what the server encrypted: a response to a request of the connection,
// authentic, under a fresh nonce.
func TestEncryptedResponsesDecrypted(t *testing.T) {
	setup := func() (*Proxy, *connState) {
		p := &Proxy{}
		c := newConnState(p, 1)
		c.dialect, c.cipher = dialect311, cipherAES128GCM
		c.sessions[5] = &session{id: 5, established: true, encryptData: true, c2sKey: c2sTestKey, s2cKey: s2cTestKey}
		return p, c
	}
	echo := func(flags uint32, id uint64) []byte { return msg(0x0d, flags, 0, id, 5, []byte{4, 0, 0, 0}) }

	p, c := setup()
	c.fromClient(seal(t, c2sTestKey, 1, echo(0, 1)))
	c.fromServer(seal(t, s2cTestKey, 1, echo(flagResponse, 1)))
	if s := p.Stats(); len(s.Violations) != 0 || s.DecryptedRequests != 1 || s.DecryptedResponses != 1 || s.EncryptedAnswers != 1 {
		t.Fatalf("a good exchange: %+v", s)
	}

	for _, tc := range []struct {
		name string
		resp func() []byte
		want string
	}{
		{"wrong key", func() []byte { return seal(t, c2sTestKey, 2, echo(flagResponse, 2)) }, "message authentication failed"},
		{"tampered", func() []byte { b := seal(t, s2cTestKey, 2, echo(flagResponse, 2)); b[len(b)-1] ^= 1; return b }, "message authentication failed"},
		{"unknown MessageId", func() []byte { return seal(t, s2cTestKey, 2, echo(flagResponse, 9)) }, "which no request used"},
		{"not a response", func() []byte { return seal(t, s2cTestKey, 2, echo(0, 2)) }, "not a response"},
		{"short", func() []byte { return seal(t, s2cTestKey, 2, echo(flagResponse, 2))[:60] }, "OriginalMessageSize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, c := setup()
			c.fromClient(seal(t, c2sTestKey, 1, echo(0, 2)))
			c.fromServer(tc.resp())
			if v := p.Stats().Violations; len(v) != 1 || !strings.Contains(v[0], tc.want) {
				t.Fatalf("violations %q, want one with %q", v, tc.want)
			}
		})
	}

	t.Run("nonce reused", func(t *testing.T) {
		p, c := setup()
		c.fromClient(seal(t, c2sTestKey, 1, echo(0, 1)))
		c.fromClient(seal(t, c2sTestKey, 2, echo(0, 2)))
		c.fromServer(seal(t, s2cTestKey, 7, echo(flagResponse, 1)))
		c.fromServer(seal(t, s2cTestKey, 7, echo(flagResponse, 2)))
		if v := p.Stats().Violations; len(v) != 1 || !strings.Contains(v[0], "reused a nonce") {
			t.Fatalf("violations %q", v)
		}
	})
}

// AES-CCM against RFC 3610's packet vector #1 (8-byte tag, 13-byte nonce)
// and against PyCryptodome with SMB's parameters (16-byte tag, 11-byte
// nonce, 32 bytes of associated data): AES.new(k, AES.MODE_CCM,
// nonce=n, mac_len=16), update(aad), encrypt_and_digest(pt).
func TestCCMVectors(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		key, nonce, aad, ct, tag, pt string
	}{
		{"c0c1c2c3c4c5c6c7c8c9cacbcccdcecf", "00000003020100a0a1a2a3a4a5", "0001020304050607",
			"588c979a61c663d2f066d0c2c0f989806d5f6b61dac384", "17e8d12cfdf926e0",
			"08090a0b0c0d0e0f101112131415161718191a1b1c1d1e"},
		{"000102030405060708090a0b0c0d0e0f", "00112233445566778899aa", strings.Repeat("ff", 32),
			"d5d3701ae483f7053a78340b44a3b76b194553413a9587f691faca43c36f8c73ab", "6ad217195d649a5f8c46e4ae7b64998b",
			hex.EncodeToString([]byte("SMB2 inside a transform message!!"))},
	} {
		b, _ := aes.NewCipher(h(tc.key))
		pt, err := ccmOpen(b, h(tc.nonce), h(tc.ct), h(tc.tag), h(tc.aad))
		if err != nil || hex.EncodeToString(pt) != tc.pt {
			t.Errorf("ccmOpen = %x, %v; want %s", pt, err, tc.pt)
		}
		bad := h(tc.tag)
		bad[0] ^= 1
		if _, err := ccmOpen(b, h(tc.nonce), h(tc.ct), bad, h(tc.aad)); err == nil {
			t.Errorf("a wrong tag was accepted")
		}
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
