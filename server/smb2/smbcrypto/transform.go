package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
)

// TransformHeaderSize is the size of the SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41).
const TransformHeaderSize = 52

// transformProtocolID is 0xFD 'S' 'M' 'B' (MS-SMB2 2.2.41).
var transformProtocolID = [4]byte{0xFD, 'S', 'M', 'B'}

// Offsets inside the TRANSFORM_HEADER (MS-SMB2 2.2.41).
const (
	thSignature    = 4
	thNonce        = 20
	thNonceSize    = 16
	thOriginalSize = 36
	thFlags        = 42
	thSessionID    = 44
	transformTag   = 16     // Signature field size; the AEAD tag size SMB3 uses
	transformFlags = 0x0001 // Flags/EncryptionAlgorithm: encrypted
)

// Errors returned by the transform functions. Every failure of Decrypt
// wraps one of them.
var (
	// ErrMalformedTransform reports a transform header that fails the
	// checks of MS-SMB2 3.3.5.2.1.1 before any decryption.
	ErrMalformedTransform = errors.New("smbcrypto: malformed SMB2 TRANSFORM_HEADER")
	// ErrDecrypt reports a message whose AEAD tag does not verify.
	ErrDecrypt = errors.New("smbcrypto: SMB2 transform authentication failed")
)

// NewAEAD returns the cipher for an SMB3 cipher id: AES-CCM with 16-byte tag and 11-byte nonce, or
// AES-GCM with 12-byte nonce (128- or 256-bit keys per the id).
func NewAEAD(cipherID uint16, key []byte) (cipher.AEAD, error) {
	want := 0
	switch cipherID {
	case AES128CCM, AES128GCM:
		want = 16
	case AES256CCM, AES256GCM:
		want = 32
	default:
		return nil, fmt.Errorf("smbcrypto: unknown cipher id 0x%04x", cipherID)
	}
	if len(key) != want {
		return nil, fmt.Errorf("smbcrypto: cipher 0x%04x needs a %d-byte key, got %d", cipherID, want, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if cipherID == AES128CCM || cipherID == AES256CCM {
		return newCCM(block, transformTag, 11) // MS-SMB2 2.2.41 AES_CCM_Nonce
	}
	return cipher.NewGCM(block) // 12-byte nonce, 16-byte tag: MS-SMB2 2.2.41 AES_GCM_Nonce
}

// Encrypt builds an SMB2 TRANSFORM_HEADER message (MS-SMB2 2.2.41, 3.1.4.3) around msg: ProtocolId
// 0xFD 'S' 'M' 'B', Signature = AEAD tag, Nonce (nonce zero-padded to 16), OriginalMessageSize,
// Reserved 0, Flags = 0x0001, SessionId; AAD = the 32 header bytes from Nonce through SessionId.
// nonce must be aead.NonceSize() bytes.
//
// aead must have a 16-byte tag (every cipher NewAEAD returns does). A nonce of the wrong size is
// a programming error and panics, as cipher.AEAD.Seal does; msg (at most 4 GiB - 1, far above any
// SMB2 frame) is not modified.
func Encrypt(aead cipher.AEAD, nonce []byte, sessionID uint64, msg []byte) []byte {
	if len(nonce) != aead.NonceSize() || len(nonce) > thNonceSize || aead.Overhead() != transformTag {
		panic("smbcrypto: Encrypt needs an AEAD with a 16-byte tag and a nonce of its NonceSize")
	}
	out := make([]byte, TransformHeaderSize, TransformHeaderSize+len(msg)+transformTag)
	copy(out[0:4], transformProtocolID[:])
	copy(out[thNonce:thNonce+thNonceSize], nonce) // rest of the field stays zero
	binary.LittleEndian.PutUint32(out[thOriginalSize:], uint32(len(msg)))
	// Reserved (40:42) stays zero.
	binary.LittleEndian.PutUint16(out[thFlags:], transformFlags)
	binary.LittleEndian.PutUint64(out[thSessionID:], sessionID)
	aad := out[thNonce:TransformHeaderSize]
	sealed := aead.Seal(out[TransformHeaderSize:TransformHeaderSize], nonce, msg, aad)
	copy(out[thSignature:thSignature+transformTag], sealed[len(msg):])
	return out[:TransformHeaderSize+len(msg)]
}

// SealInPlace is Encrypt without copies: the message is b[TransformHeaderSize:TransformHeaderSize+n],
// where it is encrypted; the TRANSFORM_HEADER is written in front of it, over b[:TransformHeaderSize],
// and the 16 bytes after the message are scratch for the tag (b is resliced to its capacity when it
// is shorter). It returns the transform message, b[:TransformHeaderSize+n]: the same bytes Encrypt
// returns. Without that room after the message it falls back to Encrypt.
func SealInPlace(aead cipher.AEAD, nonce []byte, sessionID uint64, b []byte, n int) []byte {
	if len(nonce) != aead.NonceSize() || len(nonce) > thNonceSize || aead.Overhead() != transformTag {
		panic("smbcrypto: SealInPlace needs an AEAD with a 16-byte tag and a nonce of its NonceSize")
	}
	if cap(b) < TransformHeaderSize+n+transformTag {
		return Encrypt(aead, nonce, sessionID, b[TransformHeaderSize:TransformHeaderSize+n])
	}
	b = b[:TransformHeaderSize+n+transformTag]
	h := b[:TransformHeaderSize]
	clear(h)
	copy(h[0:4], transformProtocolID[:])
	copy(h[thNonce:thNonce+thNonceSize], nonce)
	binary.LittleEndian.PutUint32(h[thOriginalSize:], uint32(n))
	binary.LittleEndian.PutUint16(h[thFlags:], transformFlags)
	binary.LittleEndian.PutUint64(h[thSessionID:], sessionID)
	msg := b[TransformHeaderSize : TransformHeaderSize+n]
	sealed := aead.Seal(msg[:0], nonce, msg, h[thNonce:TransformHeaderSize])
	copy(h[thSignature:thSignature+transformTag], sealed[n:])
	return b[:TransformHeaderSize+n]
}

// OpenInPlace is Decrypt without copies: it authenticates and decrypts the transform message b where
// it lies, using the 16 bytes after b (up to its capacity) as scratch for the tag, and returns the
// inner message, which aliases b. It applies ParseTransformHeader's checks first; on failure the
// body of b is cleared or left as received. Without that room after b it falls back to Decrypt.
func OpenInPlace(aead cipher.AEAD, b []byte) ([]byte, error) {
	if cap(b) < len(b)+transformTag {
		return Decrypt(aead, b)
	}
	if _, err := ParseTransformHeader(b); err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if ns > thNonceSize || aead.Overhead() != transformTag {
		return nil, fmt.Errorf("%w: unsuitable AEAD (nonce %d, tag %d)", ErrDecrypt, ns, aead.Overhead())
	}
	n := len(b)
	ct := b[TransformHeaderSize : n+transformTag]
	copy(ct[n-TransformHeaderSize:], b[thSignature:thSignature+transformTag])
	pt, err := aead.Open(ct[:0], b[thNonce:thNonce+ns], ct, b[thNonce:TransformHeaderSize])
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// ParseTransformHeader validates a transform message's header (size, protocol id, Flags == 1,
// OriginalMessageSize == len-52) and returns its SessionId, so the caller can find the session's key.
//
// MS-SMB2 3.3.5.2.1.1: the message must be longer than the header, so an empty inner message is
// rejected too.
func ParseTransformHeader(b []byte) (sessionID uint64, err error) {
	if len(b) <= TransformHeaderSize {
		return 0, fmt.Errorf("%w: %d bytes", ErrMalformedTransform, len(b))
	}
	if [4]byte(b[0:4]) != transformProtocolID {
		return 0, fmt.Errorf("%w: protocol id % x", ErrMalformedTransform, b[0:4])
	}
	if f := binary.LittleEndian.Uint16(b[thFlags:]); f != transformFlags {
		return 0, fmt.Errorf("%w: flags 0x%04x", ErrMalformedTransform, f)
	}
	if size := binary.LittleEndian.Uint32(b[thOriginalSize:]); uint64(size) != uint64(len(b)-TransformHeaderSize) {
		return 0, fmt.Errorf("%w: OriginalMessageSize %d, %d bytes follow", ErrMalformedTransform, size, len(b)-TransformHeaderSize)
	}
	return binary.LittleEndian.Uint64(b[thSessionID:]), nil
}

// Decrypt authenticates and decrypts a transform message, returning the inner SMB2 message.
//
// It first applies ParseTransformHeader's checks. The returned slice is newly allocated; b is not
// modified. The caller still checks that the SessionId belongs to the session whose key aead holds
// (MS-SMB2 3.3.5.2.1.1).
func Decrypt(aead cipher.AEAD, b []byte) ([]byte, error) {
	if _, err := ParseTransformHeader(b); err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if ns > thNonceSize || aead.Overhead() != transformTag {
		return nil, fmt.Errorf("%w: unsuitable AEAD (nonce %d, tag %d)", ErrDecrypt, ns, aead.Overhead())
	}
	body := b[TransformHeaderSize:]
	// cipher.AEAD wants ciphertext ‖ tag; the transform carries the tag in front.
	ct := make([]byte, len(body)+transformTag)
	copy(ct, body)
	copy(ct[len(body):], b[thSignature:thSignature+transformTag])
	pt, err := aead.Open(ct[:0], b[thNonce:thNonce+ns], ct, b[thNonce:TransformHeaderSize])
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
