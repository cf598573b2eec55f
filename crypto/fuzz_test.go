package crypto

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
	"unicode/utf8"
)

func checkDecrypted(t *testing.T, pw string, err error) {
	if err != nil {
		if !errors.Is(err, ErrInvalidPassword) {
			t.Fatalf("error does not wrap ErrInvalidPassword: %v", err)
		}
		return
	}
	if !utf8.ValidString(pw) {
		t.Fatalf("invalid UTF-8 result %q", pw)
	}
	if n, _ := utf16LE(pw, 1<<20); len(n) > MaxPasswordBytes {
		t.Fatalf("password of %d UTF-16 bytes", len(n))
	}
}

// FuzzDecryptRC4 feeds arbitrary keys and blobs. The blob is also fed as
// a decrypted 516-byte buffer so that the fuzzer reaches the decoder
// without having to invert RC4.
func FuzzDecryptRC4(f *testing.F) {
	vec, _ := hex.DecodeString(vecRC4)
	seed, _ := hex.DecodeString(vecRC4Seed)
	f.Add(testKey(), vec)
	f.Add(testKey(), seed)
	f.Add(testKey()[:4], vec)
	f.Add(testKey(), []byte{})
	spec, _ := hex.DecodeString("ab00bb10fa51a902fa51ad06e249b01bf45f0000")
	buf := make([]byte, 516)
	copy(buf[512-len(spec):], spec)
	binary.LittleEndian.PutUint32(buf[512:], uint32(len(spec)))
	f.Add(testKey(), buf)
	f.Fuzz(func(t *testing.T, key, blob []byte) {
		pw, err := DecryptRC4(key, blob)
		checkDecrypted(t, pw, err)
		if len(blob) >= 516 {
			pw, err = decodeUserPassword(blob[:516])
			checkDecrypted(t, pw, err)
		}
		if len(blob) > MaxPasswordBytes {
			return // decodePassword is only ever given at most 512 bytes
		}
		pw, err = decodePassword(blob)
		checkDecrypted(t, pw, err)
		if err == nil && len(key) == SessionKeySize {
			// Whatever decodes must survive a round trip.
			b, err := EncryptRC4(key, pw, &counterReader{})
			if err != nil {
				t.Fatalf("re-encrypting %q: %v", pw, err)
			}
			if got, err := DecryptRC4(key, b); err != nil || got != pw {
				t.Fatalf("round trip of %q: %q, %v", pw, got, err)
			}
		}
	})
}

// FuzzDecryptAES feeds arbitrary blobs. With valid=true the fuzzer's bytes
// are used as plaintext and sealed with a correct MAC, so that the length
// and decoding checks behind the MAC are reached.
func FuzzDecryptAES(f *testing.F) {
	ct, _ := hex.DecodeString(vecAESCipher)
	auth, _ := hex.DecodeString(vecAESAuth)
	sct, _ := hex.DecodeString(vecAESSeedCipher)
	sauth, _ := hex.DecodeString(vecAESSeedAuth)
	salt := make([]byte, 16)
	for i := range salt {
		salt[i] = 0x10 + byte(i)
	}
	f.Add(testKey(), auth, salt, ct, false)
	f.Add(testKey(), sauth, salt, sct, false)
	f.Add(testKey(), auth, salt, []byte{}, false)
	f.Add(testKey(), []byte{}, []byte{}, []byte{8, 0, 0, 0, 'a', 0, 'b', 0, 'c', 0, 'd', 0, 4, 4, 4, 4}, true)
	f.Add(testKey(), []byte{}, []byte{}, []byte{8, 0, 0, 0, 0x11, 0, 'b', 0, 'c', 0, 0, 0, 4, 4, 4, 4}, true)
	f.Fuzz(func(t *testing.T, key, authData, salt, cipherText []byte, valid bool) {
		var b AESBlob
		copy(b.AuthData[:], authData)
		copy(b.Salt[:], salt)
		b.Cipher = cipherText
		if valid && len(key) == SessionKeySize && len(cipherText)%16 == 0 {
			// Treat cipherText as the plaintext and seal it properly.
			enc, mac := aesKeys(key)
			b.Cipher = make([]byte, len(cipherText))
			if len(cipherText) > 0 {
				if err := cbcForTest(enc[:32], b.Salt[:], b.Cipher, cipherText); err != nil {
					t.Fatal(err)
				}
			}
			copy(b.AuthData[:], aesMACWKST(mac, b.Salt[:], b.Cipher))
		}
		pw, err := DecryptAES(key, b)
		checkDecrypted(t, pw, err)
	})
}
