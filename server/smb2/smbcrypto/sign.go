package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
)

// SMB2 header offsets and values used by signing (MS-SMB2 2.2.1).
const (
	headerSize       = 64
	sigOffset        = 48
	sigSize          = 16
	flagServerToPeer = 0x00000001 // SMB2_FLAGS_SERVER_TO_REDIR
	commandCancel    = 0x000C     // SMB2 CANCEL
)

// Sign computes the signature of msg (one SMB2 message from its 64-byte header to its end, with
// SMB2_FLAGS_SIGNED already set; for a compound element, its bytes including padding) with the
// algorithm and key, and writes it to msg[48:64] (zeroing that field first). For AES-GMAC the nonce
// is MessageId (msg[24:32]) ‖ 4 bytes whose bit 0 = server-to-client (SMB2_FLAGS_SERVER_TO_REDIR in
// the header) and bit 1 = command is CANCEL (MS-SMB2 3.1.4.1).
//
// A msg shorter than the 64-byte header is left alone. With an unknown algorithm or a key the
// algorithm cannot use (CMAC and GMAC need an AES key), the field is left zeroed, which Verify
// never accepts.
func Sign(alg uint16, key, msg []byte) {
	if len(msg) < headerSize {
		return
	}
	sig := msg[sigOffset : sigOffset+sigSize]
	clear(sig)
	if mac, ok := signature(alg, key, msg); ok {
		copy(sig, mac[:])
	}
}

// Verify reports whether msg[48:64] is the valid signature; constant-time; msg is left unchanged.
func Verify(alg uint16, key, msg []byte) bool {
	if len(msg) < headerSize {
		return false
	}
	mac, ok := signature(alg, key, msg)
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare(mac[:], msg[sigOffset:sigOffset+sigSize]) == 1
}

// signature computes the signature of msg as if its Signature field were
// zero, without modifying msg. len(msg) >= headerSize.
func signature(alg uint16, key, msg []byte) (mac [sigSize]byte, ok bool) {
	var zero [sigSize]byte
	switch alg {
	case SigningHMACSHA256:
		// MS-SMB2 3.1.4.1 (2.0.2, 2.1): first 16 bytes of HMAC-SHA256.
		h := hmac.New(sha256.New, key)
		h.Write(msg[:sigOffset])
		h.Write(zero[:])
		h.Write(msg[sigOffset+sigSize:])
		copy(mac[:], h.Sum(nil))
		return mac, true
	case SigningAESCMAC:
		// MS-SMB2 3.1.4.1 (3.x): AES-128-CMAC, RFC 4493.
		block, err := aes.NewCipher(key)
		if err != nil {
			return mac, false
		}
		c := newCMAC(block)
		c.Write(msg[:sigOffset])
		c.Write(zero[:])
		c.Write(msg[sigOffset+sigSize:])
		return c.sum(), true
	case SigningAESGMAC:
		// MS-SMB2 3.1.4.1 (3.1.1 with SigningAlgorithmId AES-GMAC): GMAC of
		// RFC 4543, i.e. GCM with an empty plaintext and the message as AAD.
		block, err := aes.NewCipher(key)
		if err != nil {
			return mac, false
		}
		g, err := cipher.NewGCM(block)
		if err != nil {
			return mac, false
		}
		var nonce [12]byte
		copy(nonce[:8], msg[24:32]) // MessageId
		var role uint32
		if binary.LittleEndian.Uint32(msg[16:20])&flagServerToPeer != 0 {
			role |= 1
		}
		if binary.LittleEndian.Uint16(msg[12:14]) == commandCancel {
			role |= 2
		}
		binary.LittleEndian.PutUint32(nonce[8:], role)
		aad := make([]byte, len(msg))
		copy(aad, msg)
		clear(aad[sigOffset : sigOffset+sigSize])
		copy(mac[:], g.Seal(nil, nonce[:], nil, aad))
		return mac, true
	}
	return mac, false
}
