package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
)

// AESBlob is JOINPR_ENCRYPTED_USER_PASSWORD_AES (MS-WKST 2.2.5.19); the
// wire field cbCipher is len(Cipher).
type AESBlob struct {
	AuthData [64]byte // HMAC-SHA-512 over the ciphertext
	Salt     [16]byte // random; the AES-CBC IV
	Cipher   []byte   // AES-256-CBC of Length[4] ‖ password, padded
}

// MaxAESCipherBytes bounds cbCipher: the IDL range is
// [0, MAX_PASSWORDBLOB_SIZE] = 524 (MS-WKST 2.2.5.19, 6), so with whole
// AES blocks at most 512 bytes.
const MaxAESCipherBytes = 524

// Key derivation labels of MS-WKST 2.2.5.19.3, NUL terminator included.
var (
	aesEncKeyLabel = []byte("Microsoft WKST encryption key AEAD-AES-256-CBC-HMAC-SHA512 16\x00") // 62 bytes
	aesMACKeyLabel = []byte("Microsoft WKST MAC key AEAD-AES-256-CBC-HMAC-SHA512 16\x00")        // 55 bytes
)

const (
	aesVersionByte    = 0x01 // versionbyte
	aesVersionByteLen = 0x01 // versionbyte_len
)

func hmacSHA512(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha512.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// aesKeys derives EncryptKey and MACKey (MS-WKST 2.2.5.19.3).
func aesKeys(sessionKey []byte) (encKey, macKey []byte) {
	return hmacSHA512(sessionKey, aesEncKeyLabel), hmacSHA512(sessionKey, aesMACKeyLabel)
}

// aesMACWKST is the AuthData of MS-WKST 2.2.5.19.4:
// HMAC-SHA-512(MACKey, Cipher ‖ Salt ‖ versionbyte ‖ versionbyte_len).
func aesMACWKST(macKey []byte, salt, ct []byte) []byte {
	return hmacSHA512(macKey, ct, salt, []byte{aesVersionByte, aesVersionByteLen})
}

// aesMACAEAD is the order the sibling AEAD-AES-256-CBC-HMAC-SHA512 schemes
// use (MS-SAMR 3.2.2.4, MS-LSAD 5.1.5):
// HMAC-SHA-512(MACKey, versionbyte ‖ IV ‖ Cipher ‖ versionbyte_len).
func aesMACAEAD(macKey []byte, salt, ct []byte) []byte {
	return hmacSHA512(macKey, []byte{aesVersionByte}, salt, ct, []byte{aesVersionByteLen})
}

// DecryptAES opens a JOINPR_ENCRYPTED_USER_PASSWORD_AES (MS-WKST 2.2.5.19.5)
// with the 16-byte session key and returns the cleartext password.
//
// AuthData is checked, in constant time, against the MAC input order of
// MS-WKST 2.2.5.19.4 (Cipher ‖ Salt ‖ 0x01 ‖ 0x01) and, because the
// specification's sibling AEAD schemes (MS-SAMR, MS-LSAD) use
// 0x01 ‖ Salt ‖ Cipher ‖ 0x01 and a client may follow them, against that
// order too. The plaintext is Length[4] (little-endian) ‖ password ‖ pad;
// the padding is ignored and Length is trusted only within the plaintext.
// The password may be seed-encoded (2.2.5.18.1) or plain UTF-16LE.
// Failures wrap ErrInvalidPassword.
func DecryptAES(key []byte, b AESBlob) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	n := len(b.Cipher)
	if n == 0 || n%aes.BlockSize != 0 || n > MaxAESCipherBytes {
		return "", invalid("cbCipher %d is not a positive multiple of %d up to %d", n, aes.BlockSize, MaxAESCipherBytes)
	}
	encKey, macKey := aesKeys(key)
	defer Wipe(encKey)
	defer Wipe(macKey)

	m1 := aesMACWKST(macKey, b.Salt[:], b.Cipher)
	m2 := aesMACAEAD(macKey, b.Salt[:], b.Cipher)
	ok := subtle.ConstantTimeCompare(m1, b.AuthData[:]) | subtle.ConstantTimeCompare(m2, b.AuthData[:])
	if ok != 1 {
		return "", invalid("AuthData does not match")
	}

	block, err := aes.NewCipher(encKey[:32])
	if err != nil { // unreachable: 32-byte key
		return "", fmt.Errorf("crypto: %w", err)
	}
	plain := make([]byte, n)
	defer Wipe(plain)
	cipher.NewCBCDecrypter(block, b.Salt[:]).CryptBlocks(plain, b.Cipher)

	l := binary.LittleEndian.Uint32(plain)
	if l > MaxPasswordBytes || int(l) > n-4 { // 3.2.4.22.1: less than 513
		return "", invalid("password length %d does not fit", l)
	}
	return decodePassword(plain[4 : 4+int(l)])
}

// EncryptAES builds a JOINPR_ENCRYPTED_USER_PASSWORD_AES for password with
// the 16-byte session key, drawing Salt from rand (MS-WKST 2.2.5.19.4). The
// plaintext is Length ‖ UTF-16LE password (plain form, as for EncryptRC4),
// PKCS#7 padded; AuthData uses the MS-WKST MAC input order. Because cbCipher
// may not exceed 524, passwords of more than 253 UTF-16 units are refused.
func EncryptAES(key []byte, password string, rand io.Reader) (AESBlob, error) {
	if err := checkKey(key); err != nil {
		return AESBlob{}, err
	}
	p, err := utf16LE(password, MaxPasswordBytes)
	if err != nil {
		return AESBlob{}, err
	}
	defer Wipe(p)
	return sealAES(key, p, rand)
}

// sealAES encrypts the already encoded password bytes enc.
func sealAES(key, enc []byte, rand io.Reader) (AESBlob, error) {
	var b AESBlob
	plainLen := 4 + len(enc)
	padded := (plainLen/aes.BlockSize + 1) * aes.BlockSize // PKCS#7: always pad
	if padded > MaxAESCipherBytes {
		return b, invalid("encoded password of %d bytes does not fit in cbCipher %d", len(enc), MaxAESCipherBytes)
	}
	if _, err := io.ReadFull(rand, b.Salt[:]); err != nil {
		return b, fmt.Errorf("crypto: reading random bytes: %w", err)
	}
	plain := make([]byte, padded)
	defer Wipe(plain)
	binary.LittleEndian.PutUint32(plain, uint32(len(enc)))
	copy(plain[4:], enc)
	for i := plainLen; i < padded; i++ {
		plain[i] = byte(padded - plainLen)
	}

	encKey, macKey := aesKeys(key)
	defer Wipe(encKey)
	defer Wipe(macKey)
	block, err := aes.NewCipher(encKey[:32])
	if err != nil {
		return b, fmt.Errorf("crypto: %w", err)
	}
	b.Cipher = make([]byte, padded)
	cipher.NewCBCEncrypter(block, b.Salt[:]).CryptBlocks(b.Cipher, plain)
	copy(b.AuthData[:], aesMACWKST(macKey, b.Salt[:], b.Cipher))
	return b, nil
}
