package smbcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/sha256"
	"testing"
)

func TestCCMKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		name                string
		key, nonce, aad, pt string
		ct, tag             string
	}{
		{
			name:  "RFC 3610 packet vector #1 (M=8, L=2)",
			key:   "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
			nonce: "00000003020100a0a1a2a3a4a5",
			aad:   "0001020304050607",
			pt:    "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
			ct:    "588c979a61c663d2f066d0c2c0f989806d5f6b61dac384",
			tag:   "17e8d12cfdf926e0",
		},
		{
			name:  "RFC 3610 packet vector with 12-byte header (M=8, L=2)",
			key:   "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
			nonce: "00000006050403a0a1a2a3a4a5",
			aad:   "000102030405060708090a0b",
			pt:    "0c0d0e0f101112131415161718191a1b1c1d1e",
			ct:    "a28c6865939a9a79faaa5c4c2a9d4a91cdac8c",
			tag:   "96c861b9c9e61ef1",
		},
		{
			name:  "NIST SP 800-38C example 1 (Tlen 32, 7-byte nonce)",
			key:   "404142434445464748494a4b4c4d4e4f",
			nonce: "10111213141516",
			aad:   "0001020304050607",
			pt:    "20212223",
			ct:    "7162015b",
			tag:   "4dac255d",
		},
		{
			name:  "NIST SP 800-38C example 2 (Tlen 48, 8-byte nonce)",
			key:   "404142434445464748494a4b4c4d4e4f",
			nonce: "1011121314151617",
			aad:   "000102030405060708090a0b0c0d0e0f",
			pt:    "202122232425262728292a2b2c2d2e2f",
			ct:    "d2a1f0e051ea5f62081a7792073d593d",
			tag:   "1fc64fbfaccd",
		},
		{
			name:  "NIST SP 800-38C example 3 (Tlen 64, 12-byte nonce)",
			key:   "404142434445464748494a4b4c4d4e4f",
			nonce: "101112131415161718191a1b",
			aad:   "000102030405060708090a0b0c0d0e0f10111213",
			pt:    "202122232425262728292a2b2c2d2e2f3031323334353637",
			ct:    "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5",
			tag:   "484392fbc1b09951",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			block, _ := aes.NewCipher(unhex(t, tc.key))
			nonce, aad, pt := unhex(t, tc.nonce), unhex(t, tc.aad), unhex(t, tc.pt)
			want := append(unhex(t, tc.ct), unhex(t, tc.tag)...)
			a, err := newCCM(block, len(tc.tag)/2, len(nonce))
			if err != nil {
				t.Fatal(err)
			}
			got := a.Seal(nil, nonce, pt, aad)
			if !bytes.Equal(got, want) {
				t.Fatalf("Seal = %x, want %x", got, want)
			}
			back, err := a.Open(nil, nonce, want, aad)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("Open = %x, %v", back, err)
			}
			for i := range want {
				bad := bytes.Clone(want)
				bad[i] ^= 0x01
				if _, err := a.Open(nil, nonce, bad, aad); err == nil {
					t.Fatalf("Open accepted a flipped byte %d", i)
				}
			}
			badAAD := bytes.Clone(aad)
			badAAD[0] ^= 0x80
			if _, err := a.Open(nil, nonce, want, badAAD); err == nil {
				t.Fatal("Open accepted altered AAD")
			}
		})
	}
}

// The SMB3 parameters (11-byte nonce, 16-byte tag) with additional data long
// enough for the 6-byte l(a) encoding (>= 2^16 - 2^8). The expected values
// were computed once with Cryptodome's AES.MODE_CCM.
func TestCCMLongAAD(t *testing.T) {
	block, _ := aes.NewCipher(seq(0x00, 16))
	a, err := newCCM(block, 16, 11)
	if err != nil {
		t.Fatal(err)
	}
	nonce := seq(0xa0, 11)
	for _, tc := range []struct {
		aadLen, ptLen int
		tag, ctSHA256 string
	}{
		{0xfeff, 100, ccmLongTag1, ccmLongCT1},
		{0xff00, 100, ccmLongTag2, ccmLongCT2},
		{0, 33, ccmLongTag3, ccmLongCT3},
	} {
		aad := make([]byte, tc.aadLen)
		for i := range aad {
			aad[i] = byte(i * 13)
		}
		pt := make([]byte, tc.ptLen)
		for i := range pt {
			pt[i] = byte(i * 7)
		}
		out := a.Seal(nil, nonce, pt, aad)
		ct, tag := out[:len(pt)], out[len(pt):]
		sum := sha256.Sum256(ct)
		if !bytes.Equal(tag, unhex(t, tc.tag)) || !bytes.Equal(sum[:], unhex(t, tc.ctSHA256)) {
			t.Errorf("aad %d pt %d: tag %x sha256(ct) %x", tc.aadLen, tc.ptLen, tag, sum)
		}
	}
}

// Seal and Open work in place and append to dst like crypto/cipher AEADs.
func TestCCMRoundTripInPlace(t *testing.T) {
	block, _ := aes.NewCipher(seq(1, 16))
	a, _ := newCCM(block, 16, 11)
	nonce := seq(9, 11)
	for n := 0; n < 70; n++ {
		pt := seq(byte(n), n)
		buf := make([]byte, n, n+16)
		copy(buf, pt)
		sealed := a.Seal(buf[:0], nonce, buf, []byte("aad"))
		if len(sealed) != n+16 {
			t.Fatalf("len %d", len(sealed))
		}
		ref := a.Seal([]byte("prefix"), nonce, pt, []byte("aad"))
		if !bytes.Equal(ref[6:], sealed) || string(ref[:6]) != "prefix" {
			t.Fatalf("n=%d: in-place seal differs", n)
		}
		opened, err := a.Open(sealed[:0], nonce, sealed, []byte("aad"))
		if err != nil || !bytes.Equal(opened, pt) {
			t.Fatalf("n=%d: in-place open %x %v", n, opened, err)
		}
	}
}

func TestCCMRejects(t *testing.T) {
	block, _ := aes.NewCipher(seq(1, 16))
	for _, p := range [][2]int{{3, 11}, {5, 11}, {18, 11}, {16, 6}, {16, 14}} {
		if _, err := newCCM(block, p[0], p[1]); err == nil {
			t.Errorf("newCCM(tag %d, nonce %d) accepted", p[0], p[1])
		}
	}
	a, _ := newCCM(block, 16, 11)
	if _, err := a.Open(nil, seq(0, 11), seq(0, 15), nil); err == nil {
		t.Error("Open accepted input shorter than the tag")
	}
	if _, err := a.Open(nil, seq(0, 12), seq(0, 32), nil); err == nil {
		t.Error("Open accepted a wrong nonce size")
	}
	// A failed Open leaves no plaintext in the caller's buffer.
	sealed := a.Seal(nil, seq(0, 11), bytes.Repeat([]byte{0x55}, 40), nil)
	sealed[0] ^= 1
	dst := make([]byte, 0, 64)
	if _, err := a.Open(dst, seq(0, 11), sealed, nil); err == nil {
		t.Fatal("tampered message opened")
	}
	if !bytes.Equal(dst[:40], make([]byte, 40)) {
		t.Error("plaintext left behind after failed Open")
	}
}

// Cryptodome AES.MODE_CCM results for TestCCMLongAAD (key 00..0f, nonce a0..aa).
const (
	ccmLongTag1 = "80401fd7ac9c162b50609054c17dc629"
	ccmLongCT1  = "5601dedffd4fb725e76b27621aaca426dbdaa454ad2e2cfd434c56bb8531091c"
	ccmLongTag2 = "6f4858fa6c53eb14d210ff7689ac12bd"
	ccmLongCT2  = "5601dedffd4fb725e76b27621aaca426dbdaa454ad2e2cfd434c56bb8531091c"
	ccmLongTag3 = "ba88d6709fc7cf955ba4e7c84a976212"
	ccmLongCT3  = "e7254c479f26c68b0bdbaff0d62bd8924a5c6c3dc11150a9b42c13c845eac882"
)
