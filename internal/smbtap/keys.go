package smbtap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// This file derives keys and checks signatures from the specifications,
// with no code of the server under test.

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func decodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func hmacMD5(key []byte, parts ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// field returns an NTLM message's payload field (MS-NLMP 2.2.1.3:
// Len, MaxLen, BufferOffset at off).
func field(msg []byte, off int) ([]byte, error) {
	if off+8 > len(msg) {
		return nil, errors.New("AUTHENTICATE message too short")
	}
	n := int(binary.LittleEndian.Uint16(msg[off:]))
	o := int(binary.LittleEndian.Uint32(msg[off+4:]))
	if o+n > len(msg) {
		return nil, errors.New("AUTHENTICATE field out of range")
	}
	return msg[o : o+n], nil
}

// sessionKey is the ExportedSessionKey of an NTLMv2 AUTHENTICATE message
// (MS-NLMP 3.3.2 and 3.1.5.1.2), from the password of its user.
func (p *Proxy) sessionKey(auth []byte) ([]byte, error) {
	if auth == nil {
		return nil, errors.New("no NTLM AUTHENTICATE message seen")
	}
	ntResp, err := field(auth, 20)
	if err != nil {
		return nil, err
	}
	domain, err := field(auth, 28)
	if err != nil {
		return nil, err
	}
	user, err := field(auth, 36)
	if err != nil {
		return nil, err
	}
	encKey, err := field(auth, 52)
	if err != nil {
		return nil, err
	}
	if len(auth) < 64 {
		return nil, errors.New("AUTHENTICATE message too short")
	}
	flags := binary.LittleEndian.Uint32(auth[60:])
	const negUnicode, negKeyExch = 0x00000001, 0x40000000
	if flags&negUnicode == 0 {
		return nil, errors.New("OEM-encoded AUTHENTICATE")
	}
	name := decodeUTF16(user)
	pw, ok := p.passwords[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("no password for user %q", name)
	}
	if len(ntResp) <= 24 {
		return nil, fmt.Errorf("NTLMv1 response (%d bytes) from %q", len(ntResp), name)
	}
	h := md4.New()
	h.Write(utf16le(pw))
	responseKeyNT := hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(name)), domain)
	sessionBaseKey := hmacMD5(responseKeyNT, ntResp[:16])
	key := sessionBaseKey // KeyExchangeKey of NTLMv2
	if flags&negKeyExch != 0 && len(encKey) == 16 {
		rc, _ := rc4.NewCipher(key)
		exported := make([]byte, 16)
		rc.XORKeyStream(exported, encKey)
		key = exported
	}
	return key, nil
}

// kdf is SP800-108 in counter mode with HMAC-SHA256, r = 32, L = 128, as
// MS-SMB2 3.1.4.2 uses it.
func kdf(key, label, context []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte{0, 0, 0, 1})
	m.Write(label)
	m.Write([]byte{0})
	m.Write(context)
	m.Write([]byte{0, 0, 0, 128})
	return m.Sum(nil)[:16]
}

// signingKey is Session.SigningKey (MS-SMB2 3.3.5.5.3).
func signingKey(dialect uint16, exported, preauth []byte) []byte {
	sk := make([]byte, 16)
	copy(sk, exported)
	switch {
	case dialect < dialect300:
		return sk
	case dialect == dialect311:
		return kdf(sk, []byte("SMBSigningKey\x00"), preauth)
	default:
		return kdf(sk, []byte("SMB2AESCMAC\x00"), []byte("SmbSign\x00"))
	}
}

func preauthHash(prev, msg []byte) []byte {
	h := sha512.New()
	h.Write(prev)
	h.Write(msg)
	return h.Sum(nil)
}

// verifySignature checks an SMB2 message's signature (MS-SMB2 3.1.5.1).
func verifySignature(alg uint16, key, m []byte) bool {
	if len(m) < hdrSize {
		return false
	}
	got := append([]byte(nil), m[48:64]...)
	z := append([]byte(nil), m...)
	clear(z[48:64])
	var want []byte
	switch alg {
	case algHMACSHA256:
		mac := hmac.New(sha256.New, key)
		mac.Write(z)
		want = mac.Sum(nil)[:16]
	case algAESCMAC:
		want = cmac(key, z)
	case algAESGMAC:
		// Nonce: MessageId, then a word whose bit 0 says "response" and
		// bit 1 "CANCEL request" (MS-SMB2 3.1.4.1).
		nonce := make([]byte, 12)
		copy(nonce, z[24:32])
		var role uint32
		if binary.LittleEndian.Uint32(z[16:])&flagResponse != 0 {
			role |= 1
		}
		if binary.LittleEndian.Uint16(z[12:]) == cmdCancel {
			role |= 2
		}
		binary.LittleEndian.PutUint32(nonce[8:], role)
		b, err := aes.NewCipher(key)
		if err != nil {
			return false
		}
		g, err := cipher.NewGCM(b)
		if err != nil {
			return false
		}
		want = g.Seal(nil, nonce, nil, z)
	default:
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// cmac is AES-CMAC (RFC 4493).
func cmac(key, msg []byte) []byte {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil
	}
	double := func(in []byte) []byte {
		out := make([]byte, 16)
		carry := byte(0)
		for i := 15; i >= 0; i-- {
			out[i] = in[i]<<1 | carry
			carry = in[i] >> 7
		}
		if carry != 0 {
			out[15] ^= 0x87
		}
		return out
	}
	l := make([]byte, 16)
	b.Encrypt(l, l)
	k1 := double(l)
	k2 := double(k1)
	n := (len(msg) + 15) / 16
	last := make([]byte, 16)
	if n == 0 || len(msg)%16 != 0 {
		if n == 0 {
			n = 1
		}
		rest := msg[(n-1)*16:]
		copy(last, rest)
		last[len(rest)] = 0x80
		subtle.XORBytes(last, last, k2)
	} else {
		subtle.XORBytes(last, msg[(n-1)*16:], k1)
	}
	x := make([]byte, 16)
	for i := 0; i < n-1; i++ {
		subtle.XORBytes(x, x, msg[i*16:(i+1)*16])
		b.Encrypt(x, x)
	}
	subtle.XORBytes(x, x, last)
	b.Encrypt(x, x)
	return x
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}
