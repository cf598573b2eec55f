package smbcrypto

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"testing"
)

// Fuzz targets for every input this package parses from the network:
// transform messages (ParseTransformHeader, Decrypt) and signed messages
// (Verify). Run e.g. `go test -run '^$' -fuzz '^FuzzDecrypt$' -fuzztime 60s`.

const fuzzSessionID = 0x0000400000000011

func fuzzTransformSeeds(f *testing.F, withCipher bool) {
	for i, c := range allCiphers {
		aead, _ := NewAEAD(c.id, seq(0x20, c.keyLen))
		tm := Encrypt(aead, seq(byte(i), aead.NonceSize()), fuzzSessionID, testMessage(9, 1, 3, []byte("seed body")))
		if withCipher {
			f.Add(uint8(i), tm)
		} else {
			f.Add(tm)
		}
	}
	for i, v := range msVectors {
		tm := unhex(f, v.respTransform)
		if withCipher {
			f.Add(uint8(len(allCiphers)+i), tm)
		} else {
			f.Add(tm)
		}
	}
	short := append([]byte{0xfd, 'S', 'M', 'B'}, make([]byte, 48)...)
	if withCipher {
		f.Add(uint8(0), short)
		f.Add(uint8(1), []byte{})
	} else {
		f.Add(short)
		f.Add([]byte{})
	}
}

func FuzzParseTransformHeader(f *testing.F) {
	fuzzTransformSeeds(f, false)
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		sid, err := ParseTransformHeader(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("input modified")
		}
		if err != nil {
			return
		}
		if len(b) <= TransformHeaderSize || !bytes.Equal(b[:4], []byte{0xfd, 'S', 'M', 'B'}) ||
			binary.LittleEndian.Uint16(b[42:]) != 1 ||
			int(binary.LittleEndian.Uint32(b[36:])) != len(b)-TransformHeaderSize ||
			sid != binary.LittleEndian.Uint64(b[44:]) {
			t.Fatalf("accepted an invalid header % x", b[:min(len(b), 52)])
		}
	})
}

func FuzzDecrypt(f *testing.F) {
	fuzzTransformSeeds(f, true)
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		// 0..3: allCiphers with a fixed key; 4..5: a published vector's
		// cipher and server Encryption key, so its seed decrypts.
		id, key := fuzzCipher(t, int(which)%(len(allCiphers)+len(msVectors)))
		aead, err := NewAEAD(id, key)
		if err != nil {
			t.Fatal(err)
		}
		orig := bytes.Clone(b)
		plain, err := Decrypt(aead, b)
		if !bytes.Equal(b, orig) {
			t.Fatal("input modified")
		}
		if err != nil {
			if plain != nil {
				t.Fatal("plaintext returned with an error")
			}
			return
		}
		if _, perr := ParseTransformHeader(b); perr != nil || len(plain) != len(b)-TransformHeaderSize {
			t.Fatalf("decrypted an invalid transform: %v", perr)
		}
		// With a zero-padded nonce field, re-encrypting reproduces the input
		// exactly (up to the Reserved field, which Encrypt writes as zero).
		ns := aead.NonceSize()
		if bytes.Equal(b[20+ns:36], make([]byte, 16-ns)) && b[40] == 0 && b[41] == 0 {
			again := Encrypt(aead, b[20:20+ns], binary.LittleEndian.Uint64(b[44:]), plain)
			if !bytes.Equal(again, b) {
				t.Fatal("re-encryption differs")
			}
		}
	})
}

func fuzzCipher(t *testing.T, i int) (uint16, []byte) {
	if i < len(allCiphers) {
		return allCiphers[i].id, seq(0x20, allCiphers[i].keyLen)
	}
	v := msVectors[i-len(allCiphers)]
	return v.cipherID, unhex(t, v.serverEnc)
}

func FuzzVerify(f *testing.F) {
	for _, a := range allSigning {
		msg := testMessage(8, 1, 5, []byte("seed"))
		Sign(a.alg, seq(0x30, 16), msg)
		f.Add(a.alg, seq(0x30, 16), msg)
	}
	for _, v := range msVectors {
		f.Add(SigningAESCMAC, unhex(f, v.signing), unhex(f, v.signedSessionSetup))
	}
	f.Add(uint16(7), []byte{}, []byte{})
	f.Add(SigningAESGMAC, seq(0, 15), make([]byte, 64))
	f.Fuzz(func(t *testing.T, alg uint16, key, msg []byte) {
		orig := bytes.Clone(msg)
		ok := Verify(alg, key, msg)
		if !bytes.Equal(msg, orig) {
			t.Fatal("Verify modified msg")
		}
		if len(msg) < 64 {
			if ok {
				t.Fatal("short message verified")
			}
			return
		}
		// Sign then Verify agree: a fresh signature always verifies (when
		// the algorithm and key are usable) and Verify accepted msg only if
		// it already carried exactly that signature.
		signed := bytes.Clone(msg)
		Sign(alg, key, signed)
		usable := Verify(alg, key, signed)
		if ok && !bytes.Equal(signed, msg) {
			t.Fatal("Verify accepted a signature Sign does not produce")
		}
		if !usable && !bytes.Equal(signed[48:64], make([]byte, 16)) {
			t.Fatal("Sign wrote a signature Verify rejects")
		}
		switch alg {
		case SigningHMACSHA256:
			if !usable {
				t.Fatal("HMAC round trip failed")
			}
		case SigningAESCMAC, SigningAESGMAC:
			if _, err := aes.NewCipher(key); (err == nil) != usable {
				t.Fatalf("usable=%v with a %d-byte key", usable, len(key))
			}
		default:
			if usable {
				t.Fatal("unknown algorithm verified")
			}
		}
	})
}

// FuzzCCMOpen covers the hand-written AES-CCM with arbitrary ciphertext,
// additional data and tag/nonce sizes.
func FuzzCCMOpen(f *testing.F) {
	f.Add(uint8(16), uint8(11), []byte("aad"), []byte("ciphertext and tag......"))
	f.Add(uint8(4), uint8(7), []byte{}, []byte{1, 2, 3})
	f.Add(uint8(8), uint8(13), bytes.Repeat([]byte{1}, 300), bytes.Repeat([]byte{2}, 40))
	f.Fuzz(func(t *testing.T, tagSize, nonceSize uint8, aad, ct []byte) {
		block, _ := aes.NewCipher(seq(5, 16))
		a, err := newCCM(block, int(tagSize), int(nonceSize))
		if err != nil {
			return
		}
		nonce := seq(1, int(nonceSize))
		// A forgery with a tag of 8+ bytes has chance 2^-64 at most.
		if _, err := a.Open(nil, nonce, ct, aad); err == nil && tagSize >= 8 {
			t.Fatal("random ciphertext authenticated")
		}
		// Whatever the sizes, a round trip of ct as plaintext works.
		sealed := a.Seal(nil, nonce, ct, aad)
		pt, err := a.Open(nil, nonce, sealed, aad)
		if err != nil || !bytes.Equal(pt, ct) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
