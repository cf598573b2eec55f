package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
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
	return matches(mac, msg)
}

// matches reports, in constant time, whether mac is the Signature field
// of msg. Verify and Signer.Verify both decide here.
func matches(mac [sigSize]byte, msg []byte) bool {
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
		return gmacSignature(g, msg, false)
	}
	return mac, false
}

// gmacSignature is the AES-GMAC signature of msg with g (MS-SMB2 3.1.4.1);
// zeroed says the Signature field of msg is zero already, so msg itself is
// the additional data.
func gmacSignature(g cipher.AEAD, msg []byte, zeroed bool) (mac [sigSize]byte, ok bool) {
	sc := gmacPool.Get().(*gmacScratch)
	defer gmacPool.Put(sc)
	nonce := &sc.nonce
	copy(nonce[:8], msg[24:32]) // MessageId
	var role uint32
	if binary.LittleEndian.Uint32(msg[16:20])&flagServerToPeer != 0 {
		role |= 1
	}
	if binary.LittleEndian.Uint16(msg[12:14]) == commandCancel {
		role |= 2
	}
	binary.LittleEndian.PutUint32(nonce[8:], role)
	aad := msg
	if !zeroed {
		aad = make([]byte, len(msg))
		copy(aad, msg)
		clear(aad[sigOffset : sigOffset+sigSize])
	}
	copy(mac[:], g.Seal(sc.out[:0], nonce[:], nil, aad))
	return mac, true
}

// gmacScratch holds what AES-GMAC hands to the AEAD interface, which would
// otherwise escape to the heap per message.
type gmacScratch struct {
	nonce [12]byte
	out   [sigSize]byte
}

var gmacPool = sync.Pool{New: func() any { return new(gmacScratch) }}

// Signer signs and verifies SMB2 messages with one algorithm and key,
// keeping the key schedule (and, for AES-CMAC, the subkeys) from message
// to message: a session creates one when its key is known, instead of
// expanding the key for every message as Sign and Verify do. It computes
// the same signatures as Sign and Verify. A Signer is safe for concurrent
// use.
type Signer struct {
	alg    uint16
	hmacs  sync.Pool    // HMAC-SHA256 states keyed with the key
	block  cipher.Block // AES-CMAC, AES-GMAC
	gcm    cipher.AEAD  // AES-GMAC
	k1, k2 [aes.BlockSize]byte
}

// NewSigner returns the Signer for alg and key, or an error for an unknown
// algorithm or a key the algorithm cannot use.
func NewSigner(alg uint16, key []byte) (*Signer, error) {
	s := &Signer{alg: alg}
	switch alg {
	case SigningHMACSHA256:
		k := append([]byte(nil), key...)
		s.hmacs.New = func() any { return hmac.New(sha256.New, k) }
		return s, nil
	case SigningAESCMAC, SigningAESGMAC:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		s.block = block
		if alg == SigningAESCMAC {
			cmacSubkeys(block, &s.k1, &s.k2)
			return s, nil
		}
		if s.gcm, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, errors.New("smbcrypto: unknown signing algorithm")
}

// Algorithm is the signing algorithm of s.
func (s *Signer) Algorithm() uint16 { return s.alg }

// Sign is the package's Sign with the key of s: the signature is written
// to msg[48:64] in place.
func (s *Signer) Sign(msg []byte) {
	if len(msg) < headerSize {
		return
	}
	sig := msg[sigOffset : sigOffset+sigSize]
	clear(sig)
	mac := s.signature(msg, true)
	copy(sig, mac[:])
}

// Verify is the package's Verify with the key of s; msg is left
// unchanged.
func (s *Signer) Verify(msg []byte) bool {
	if len(msg) < headerSize {
		return false
	}
	return matches(s.signature(msg, false), msg)
}

// signature computes the signature of msg as if its Signature field were
// zero; zeroed says it already is. len(msg) >= headerSize.
func (s *Signer) signature(msg []byte, zeroed bool) [sigSize]byte {
	switch s.alg {
	case SigningAESCMAC:
		c := cmacPool.Get().(*cmac)
		*c = cmac{block: s.block, k1: s.k1, k2: s.k2}
		if zeroed {
			c.Write(msg)
		} else {
			c.Write(msg[:sigOffset])
			c.Write(zeroSignature[:])
			c.Write(msg[sigOffset+sigSize:])
		}
		mac := c.sum()
		c.block = nil
		cmacPool.Put(c)
		return mac
	case SigningAESGMAC:
		mac, _ := gmacSignature(s.gcm, msg, zeroed)
		return mac
	}
	// MS-SMB2 3.1.4.1 (2.0.2, 2.1): first 16 bytes of HMAC-SHA256.
	h := s.hmacs.Get().(hash.Hash)
	h.Reset()
	h.Write(msg[:sigOffset])
	h.Write(zeroSignature[:])
	h.Write(msg[sigOffset+sigSize:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	s.hmacs.Put(h)
	var mac [sigSize]byte
	copy(mac[:], sum[:])
	return mac
}

// zeroSignature stands for the Signature field while a signature is
// computed; it is never written.
var zeroSignature [sigSize]byte
