package smbcrypto

import (
	"bytes"
	"testing"
)

// A Signer computes exactly the signatures of Sign and Verify, for every
// algorithm and length, and accepts nothing Verify refuses.
func TestSignerMatchesSign(t *testing.T) {
	key := seq(0x30, 16)
	for _, a := range allSigning {
		t.Run(a.name, func(t *testing.T) {
			s, err := NewSigner(a.alg, key)
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm() != a.alg {
				t.Fatalf("algorithm %d", s.Algorithm())
			}
			for _, bodyLen := range []int{0, 1, 15, 16, 17, 100, 4096} {
				want := testMessage(0x0009, 0, 7, seq(3, bodyLen))
				got := bytes.Clone(want)
				copy(got[48:64], "garbage-garbage!")
				Sign(a.alg, key, want)
				s.Sign(got)
				if !bytes.Equal(got, want) {
					t.Fatalf("len %d: Signer.Sign differs from Sign", bodyLen)
				}
				before := bytes.Clone(got)
				if !s.Verify(got) || !bytes.Equal(before, got) {
					t.Fatalf("len %d: Signer.Verify refused its signature or changed msg", bodyLen)
				}
				for _, i := range []int{0, 16, 24, 47, 48, 63, len(got) - 1} {
					got[i] ^= 0x10
					if s.Verify(got) {
						t.Fatalf("len %d: flip at %d verified", bodyLen, i)
					}
					got[i] ^= 0x10
				}
				if s.Verify(got[:63]) {
					t.Fatal("short message verified")
				}
			}
			other, _ := NewSigner(a.alg, seq(0x31, 16))
			m := testMessage(0x0009, 0, 7, nil)
			s.Sign(m)
			if other.Verify(m) {
				t.Fatal("wrong key verified")
			}
		})
	}
}

// NewSigner refuses what Sign would leave unsigned.
func TestNewSignerRefuses(t *testing.T) {
	if _, err := NewSigner(7, seq(0, 16)); err == nil {
		t.Fatal("unknown algorithm accepted")
	}
	for _, alg := range []uint16{SigningAESCMAC, SigningAESGMAC} {
		if _, err := NewSigner(alg, seq(0, 5)); err == nil {
			t.Fatalf("algorithm %d with a 5-byte key accepted", alg)
		}
	}
}

// Benchmarks of what one call over a pipe costs in signing and sealing:
// a 64-byte header with a WRITE-sized body (about the size of a
// NetrWkstaGetInfo request and its response).
func benchMessage() []byte { return testMessage(0x0009, 0, 7, seq(1, 200)) }

func BenchmarkSign(b *testing.B) {
	key := seq(0x30, 16)
	for _, a := range allSigning {
		b.Run(a.name, func(b *testing.B) {
			m := benchMessage()
			b.ReportAllocs()
			b.SetBytes(int64(len(m)))
			for range b.N {
				Sign(a.alg, key, m)
			}
		})
		b.Run(a.name+"/Signer", func(b *testing.B) {
			s, _ := NewSigner(a.alg, key)
			m := benchMessage()
			b.ReportAllocs()
			b.SetBytes(int64(len(m)))
			for range b.N {
				s.Sign(m)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	key := seq(0x30, 16)
	for _, a := range allSigning {
		m := benchMessage()
		Sign(a.alg, key, m)
		b.Run(a.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(m)))
			for range b.N {
				if !Verify(a.alg, key, m) {
					b.Fatal("verify")
				}
			}
		})
		b.Run(a.name+"/Signer", func(b *testing.B) {
			s, _ := NewSigner(a.alg, key)
			b.ReportAllocs()
			b.SetBytes(int64(len(m)))
			for range b.N {
				if !s.Verify(m) {
					b.Fatal("verify")
				}
			}
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	for _, c := range allCiphers {
		b.Run(c.name, func(b *testing.B) {
			aead, err := NewAEAD(c.id, seq(9, c.keyLen))
			if err != nil {
				b.Fatal(err)
			}
			nonces, _ := NewNonceSource(aead.NonceSize())
			m := benchMessage()
			b.ReportAllocs()
			b.SetBytes(int64(len(m)))
			for range b.N {
				n, _ := nonces.Next()
				Encrypt(aead, n, 0x11, m)
			}
		})
	}
}

func BenchmarkUnseal(b *testing.B) {
	for _, c := range allCiphers {
		b.Run(c.name, func(b *testing.B) {
			aead, err := NewAEAD(c.id, seq(9, c.keyLen))
			if err != nil {
				b.Fatal(err)
			}
			nonces, _ := NewNonceSource(aead.NonceSize())
			n, _ := nonces.Next()
			sealed := Encrypt(aead, n, 0x11, benchMessage())
			b.ReportAllocs()
			b.SetBytes(int64(len(sealed)))
			for range b.N {
				if _, err := Decrypt(aead, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
