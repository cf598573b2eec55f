package smbtap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// This file decrypts SMB3 transform messages (MS-SMB2 2.2.41, 3.1.4.3)
// with keys the proxy derives itself (MS-SMB2 3.1.4.2, 3.3.5.5.3), so a
// test sees what an encrypted response holds, not only that it is wrapped.
// AES-CCM (RFC 3610, NIST SP 800-38C) is written here from the RFC: the
// standard library has only GCM.

// Cipher identifiers (MS-SMB2 2.2.3.1.2).
const (
	cipherAES128CCM = 0x0001
	cipherAES128GCM = 0x0002
	cipherAES256CCM = 0x0003
	cipherAES256GCM = 0x0004
	ctxEncryption   = 0x0002
)

// cipherKeys returns the keys of a session's two directions: client to
// server (the server's Session.DecryptionKey) and server to client (its
// Session.EncryptionKey), MS-SMB2 3.3.5.5.3. AES-256 ciphers use the full
// session key and 256-bit keys; an NTLM session key has 16 bytes.
func cipherKeys(dialect, cipherID uint16, sessionKey, preauth []byte) (c2s, s2c []byte) {
	if dialect < dialect300 || cipherID == 0 {
		return nil, nil
	}
	bits := 128
	key := make([]byte, 16)
	copy(key, sessionKey)
	if cipherID == cipherAES256CCM || cipherID == cipherAES256GCM {
		bits = 256
		key = sessionKey
	}
	if dialect == dialect311 {
		return kdfBits(key, []byte("SMBC2SCipherKey\x00"), preauth, bits),
			kdfBits(key, []byte("SMBS2CCipherKey\x00"), preauth, bits)
	}
	return kdfBits(key, []byte("SMB2AESCCM\x00"), []byte("ServerIn \x00"), bits),
		kdfBits(key, []byte("SMB2AESCCM\x00"), []byte("ServerOut\x00"), bits)
}

// kdfBits is the SP800-108 counter-mode KDF of MS-SMB2 3.1.4.2 with an
// output of bits (128 or 256): one or two HMAC-SHA256 blocks.
func kdfBits(key, label, context []byte, bits int) []byte {
	if bits == 128 {
		return kdf(key, label, context)
	}
	out := hmacSHA256(key, []byte{0, 0, 0, 1}, label, []byte{0}, context, []byte{0, 0, 1, 0})
	return out[:32]
}

// decryptTransform authenticates and decrypts a transform message with key
// and cipherID; it returns the SMB2 message inside.
func decryptTransform(cipherID uint16, key, msg []byte) ([]byte, error) {
	if len(msg) < transformHdrSize {
		return nil, errors.New("transform header shorter than 52 bytes")
	}
	size := binary.LittleEndian.Uint32(msg[36:])
	ct := msg[transformHdrSize:]
	if int(size) != len(ct) {
		return nil, fmt.Errorf("OriginalMessageSize %d, but %d bytes follow the header", size, len(ct))
	}
	aad := msg[20:transformHdrSize]
	tag := msg[4:20]
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	switch cipherID {
	case cipherAES128GCM, cipherAES256GCM:
		g, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		return g.Open(nil, msg[20:32], append(append([]byte(nil), ct...), tag...), aad)
	case cipherAES128CCM, cipherAES256CCM:
		return ccmOpen(block, msg[20:31], ct, tag, aad)
	}
	return nil, fmt.Errorf("unknown cipher %#x", cipherID)
}

// ccmOpen decrypts ct and checks its tag (of len(tag) bytes) with AES-CCM
// (RFC 3610 section 2): the length field has 15-len(nonce) bytes.
func ccmOpen(block cipher.Block, nonce, ct, tag, aad []byte) ([]byte, error) {
	l := 15 - len(nonce)
	m := len(tag)
	if l < 2 || l > 8 || m < 4 || m > 16 || m%2 != 0 {
		return nil, errors.New("bad CCM parameters")
	}
	if len(aad) >= 0xFF00 || l < 8 && uint64(len(ct)) >= 1<<(8*l) {
		return nil, errors.New("CCM input too long")
	}
	// Counter blocks A_i: flags (L-1), nonce, i.
	ctr := func(i uint64) []byte {
		a := make([]byte, 16)
		a[0] = byte(l - 1)
		copy(a[1:], nonce)
		for j := 0; j < l; j++ {
			a[15-j] = byte(i >> (8 * j))
		}
		return a
	}
	pt := make([]byte, len(ct))
	s := make([]byte, 16)
	for i := 0; i*16 < len(ct); i++ {
		block.Encrypt(s, ctr(uint64(i+1)))
		end := min((i+1)*16, len(ct))
		subtle.XORBytes(pt[i*16:end], ct[i*16:end], s)
	}
	// CBC-MAC over B_0, the encoded associated data and the plaintext.
	b0 := make([]byte, 16)
	b0[0] = byte((m-2)/2<<3 | (l - 1))
	if len(aad) > 0 {
		b0[0] |= 0x40
	}
	copy(b0[1:], nonce)
	for j := 0; j < l; j++ {
		b0[15-j] = byte(uint64(len(pt)) >> (8 * j))
	}
	x := make([]byte, 16)
	mac := func(data []byte) {
		for len(data) > 0 {
			n := min(16, len(data))
			subtle.XORBytes(x[:n], x[:n], data[:n])
			block.Encrypt(x, x)
			data = data[n:]
		}
	}
	mac(b0)
	if len(aad) > 0 {
		a := binary.BigEndian.AppendUint16(nil, uint16(len(aad)))
		a = append(a, aad...)
		a = append(a, make([]byte, (16-len(a)%16)%16)...)
		mac(a)
	}
	mac(pt)
	block.Encrypt(s, ctr(0))
	want := make([]byte, m)
	subtle.XORBytes(want, x[:m], s[:m])
	if subtle.ConstantTimeCompare(want, tag) != 1 {
		clear(pt)
		return nil, errors.New("message authentication failed")
	}
	return pt, nil
}
