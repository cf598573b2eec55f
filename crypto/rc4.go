package crypto

import (
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"fmt"
	"io"
)

const (
	obfuscatorSize = 8 // JOIN_OBFUSCATOR_LENGTH, MS-WKST 2.2.1.2
	// RC4BlobSize is the size of JOINPR_ENCRYPTED_USER_PASSWORD.Buffer:
	// Obfuscator[8] ‖ Buffer[512] ‖ Length[4] (MS-WKST 2.2.5.18).
	RC4BlobSize = obfuscatorSize + MaxPasswordBytes + 4
)

// rc4Crypt applies RC4 keyed with MD5(sessionKey ‖ obfuscator) to data in
// place (MS-WKST 2.2.5.18.3; the same call encrypts and decrypts).
func rc4Crypt(sessionKey, obfuscator, data []byte) error {
	h := md5.New()
	h.Write(sessionKey)
	h.Write(obfuscator)
	k := h.Sum(nil)
	defer Wipe(k)
	c, err := rc4.NewCipher(k)
	if err != nil { // only for key sizes outside 1..256; MD5 gives 16
		return fmt.Errorf("crypto: %w", err)
	}
	c.XORKeyStream(data, data)
	c.Reset()
	return nil
}

// DecryptRC4 opens a JOINPR_ENCRYPTED_USER_PASSWORD (MS-WKST 2.2.5.18)
// with the 16-byte session key and returns the cleartext password.
// blob must be exactly RC4BlobSize bytes. The password may be in the
// seed-encoded form of 2.2.5.18.1 or plain UTF-16LE (see decodePassword).
// Failures wrap ErrInvalidPassword; a decrypted Length of 513 or more is
// one (MS-WKST 3.2.4.13.1).
//
// RC4 carries no integrity check: a wrong key is detected only when the
// decrypted length or text is malformed, which is likely but not certain.
func DecryptRC4(key []byte, blob []byte) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if len(blob) != RC4BlobSize {
		return "", invalid("RC4 blob is %d bytes, want %d", len(blob), RC4BlobSize)
	}
	buf := make([]byte, MaxPasswordBytes+4)
	defer Wipe(buf)
	copy(buf, blob[obfuscatorSize:])
	if err := rc4Crypt(key, blob[:obfuscatorSize], buf); err != nil {
		return "", err
	}
	return decodeUserPassword(buf)
}

// decodeUserPassword reads the Buffer[512] ‖ Length[4] part of a decrypted
// JOINPR_USER_PASSWORD (MS-WKST 2.2.5.17): the password is the last Length
// bytes of Buffer.
func decodeUserPassword(buf []byte) (string, error) {
	if len(buf) != MaxPasswordBytes+4 {
		return "", invalid("password buffer is %d bytes", len(buf))
	}
	n := binary.LittleEndian.Uint32(buf[MaxPasswordBytes:])
	if n > MaxPasswordBytes { // "MUST be less than 513", MS-WKST 3.2.4.13.1
		return "", invalid("password length %d exceeds %d", n, MaxPasswordBytes)
	}
	return decodePassword(buf[MaxPasswordBytes-int(n) : MaxPasswordBytes])
}

// EncryptRC4 builds a JOINPR_ENCRYPTED_USER_PASSWORD for password with the
// 16-byte session key, drawing the obfuscator and the filler of the unused
// buffer from rand (MS-WKST 2.2.5.18.2, 2.2.5.18.3). The password is stored
// as plain UTF-16LE, the form Samba's client sends and that servers in the
// field accept; DecryptRC4 also accepts the seed-encoded form.
func EncryptRC4(key []byte, password string, rand io.Reader) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	p, err := utf16LE(password, MaxPasswordBytes)
	if err != nil {
		return nil, err
	}
	defer Wipe(p)
	return sealRC4(key, p, rand)
}

// sealRC4 encrypts the already encoded password bytes enc.
func sealRC4(key, enc []byte, rand io.Reader) ([]byte, error) {
	if len(enc) > MaxPasswordBytes {
		return nil, invalid("encoded password is %d bytes", len(enc))
	}
	blob := make([]byte, RC4BlobSize)
	// Obfuscator and the whole buffer get random bytes; the password then
	// overwrites the tail of the buffer.
	if _, err := io.ReadFull(rand, blob[:obfuscatorSize+MaxPasswordBytes]); err != nil {
		return nil, fmt.Errorf("crypto: reading random bytes: %w", err)
	}
	buf := blob[obfuscatorSize:]
	copy(buf[MaxPasswordBytes-len(enc):MaxPasswordBytes], enc)
	binary.LittleEndian.PutUint32(buf[MaxPasswordBytes:], uint32(len(enc)))
	if err := rc4Crypt(key, blob[:obfuscatorSize], buf); err != nil {
		return nil, err
	}
	return blob, nil
}
