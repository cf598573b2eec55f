package smbcrypto

import (
	"bytes"
	"errors"
	"testing"
)

// SealInPlace and OpenInPlace produce and accept exactly what Encrypt and
// Decrypt do, with room after the message or without it (then they copy).
func TestInPlaceMatchesEncryptDecrypt(t *testing.T) {
	for _, c := range allCiphers {
		t.Run(c.name, func(t *testing.T) {
			aead, err := NewAEAD(c.id, seq(9, c.keyLen))
			if err != nil {
				t.Fatal(err)
			}
			nonces, _ := NewNonceSource(aead.NonceSize())
			for _, n := range []int{1, 64, 200, 4096} {
				for _, room := range []int{transformTag, 0} {
					msg := testMessage(0x0009, 0, 7, seq(1, n-min(n, 64)))[:max(n, 1)]
					nonce := make([]byte, aead.NonceSize())
					if err := nonces.NextInto(nonce); err != nil {
						t.Fatal(err)
					}
					want := Encrypt(aead, nonce, 0x11, msg)
					b := make([]byte, TransformHeaderSize+len(msg), TransformHeaderSize+len(msg)+room)
					copy(b[TransformHeaderSize:], msg)
					got := SealInPlace(aead, nonce, 0x11, b, len(msg))
					if !bytes.Equal(got, want) {
						t.Fatalf("n %d room %d: SealInPlace differs from Encrypt", n, room)
					}
					in := make([]byte, len(want), len(want)+room)
					copy(in, want)
					pt, err := OpenInPlace(aead, in)
					if err != nil || !bytes.Equal(pt, msg) {
						t.Fatalf("n %d room %d: OpenInPlace: %v", n, room, err)
					}
					bad := make([]byte, len(want), len(want)+room)
					copy(bad, want)
					bad[len(bad)-1] ^= 1
					if _, err := OpenInPlace(aead, bad); !errors.Is(err, ErrDecrypt) {
						t.Fatalf("n %d room %d: tampered message: %v", n, room, err)
					}
					short := make([]byte, TransformHeaderSize, TransformHeaderSize+room)
					copy(short, want)
					if _, err := OpenInPlace(aead, short); !errors.Is(err, ErrMalformedTransform) {
						t.Fatalf("header only: %v", err)
					}
				}
			}
		})
	}
}

// NextInto hands out what Next would, in the caller's buffer.
func TestNonceNextInto(t *testing.T) {
	s, _ := NewNonceSource(12)
	a, _ := s.Next()
	b := make([]byte, 12)
	if err := s.NextInto(b); err != nil || bytes.Equal(a, b) || !bytes.Equal(a[:8], b[:8]) {
		t.Fatalf("NextInto: % x after % x: %v", b, a, err)
	}
	if err := s.NextInto(make([]byte, 11)); err == nil {
		t.Fatal("a buffer of the wrong size accepted")
	}
}

func BenchmarkSealInPlace(b *testing.B) {
	for _, c := range allCiphers {
		b.Run(c.name, func(b *testing.B) {
			aead, _ := NewAEAD(c.id, seq(9, c.keyLen))
			nonces, _ := NewNonceSource(aead.NonceSize())
			m := benchMessage()
			buf := make([]byte, TransformHeaderSize+len(m)+transformTag)
			nonce := make([]byte, aead.NonceSize())
			b.ReportAllocs()
			b.SetBytes(int64(len(m)))
			for range b.N {
				copy(buf[TransformHeaderSize:], m)
				nonces.NextInto(nonce)
				SealInPlace(aead, nonce, 0x11, buf, len(m))
			}
		})
	}
}

func BenchmarkOpenInPlace(b *testing.B) {
	for _, c := range allCiphers {
		b.Run(c.name, func(b *testing.B) {
			aead, _ := NewAEAD(c.id, seq(9, c.keyLen))
			nonces, _ := NewNonceSource(aead.NonceSize())
			n, _ := nonces.Next()
			sealed := Encrypt(aead, n, 0x11, benchMessage())
			buf := make([]byte, len(sealed), len(sealed)+transformTag)
			b.ReportAllocs()
			b.SetBytes(int64(len(sealed)))
			for range b.N {
				copy(buf, sealed)
				if _, err := OpenInPlace(aead, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
