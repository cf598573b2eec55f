package smbcrypto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

var allCiphers = []struct {
	name    string
	id      uint16
	keyLen  int
	nonceSz int
}{
	{"AES-128-CCM", AES128CCM, 16, 11},
	{"AES-128-GCM", AES128GCM, 16, 12},
	{"AES-256-CCM", AES256CCM, 32, 11},
	{"AES-256-GCM", AES256GCM, 32, 12},
}

func TestTransformRoundTripAndTamper(t *testing.T) {
	for _, c := range allCiphers {
		t.Run(c.name, func(t *testing.T) {
			aead, err := NewAEAD(c.id, seq(0x20, c.keyLen))
			if err != nil {
				t.Fatal(err)
			}
			if aead.NonceSize() != c.nonceSz || aead.Overhead() != 16 {
				t.Fatalf("nonce %d overhead %d", aead.NonceSize(), aead.Overhead())
			}
			ns, err := NewNonceSource(aead.NonceSize())
			if err != nil {
				t.Fatal(err)
			}
			const sid = 0x0123456789abcdef
			for _, n := range []int{1, 64, 65, 1000} {
				msg := testMessage(0x0009, 1, uint64(n), seq(byte(n), n))[:n]
				orig := bytes.Clone(msg)
				nonce, err := ns.Next()
				if err != nil {
					t.Fatal(err)
				}
				tm := Encrypt(aead, nonce, sid, msg)
				if !bytes.Equal(msg, orig) {
					t.Fatal("Encrypt modified msg")
				}
				// Header layout, MS-SMB2 2.2.41.
				if len(tm) != TransformHeaderSize+n ||
					!bytes.Equal(tm[0:4], []byte{0xfd, 'S', 'M', 'B'}) ||
					!bytes.Equal(tm[20:20+len(nonce)], nonce) ||
					!bytes.Equal(tm[20+len(nonce):36], make([]byte, 16-len(nonce))) ||
					binary.LittleEndian.Uint32(tm[36:]) != uint32(n) ||
					binary.LittleEndian.Uint16(tm[40:]) != 0 ||
					binary.LittleEndian.Uint16(tm[42:]) != 1 ||
					binary.LittleEndian.Uint64(tm[44:]) != sid {
					t.Fatalf("bad header % x", tm[:52])
				}
				if bytes.Contains(tm[52:], orig[:min(n, 16)]) && n >= 16 {
					t.Fatal("plaintext visible in the transform")
				}
				got, err := ParseTransformHeader(tm)
				if err != nil || got != sid {
					t.Fatalf("ParseTransformHeader = %#x, %v", got, err)
				}
				before := bytes.Clone(tm)
				plain, err := Decrypt(aead, tm)
				if err != nil || !bytes.Equal(plain, orig) {
					t.Fatalf("Decrypt = %x, %v", plain, err)
				}
				if !bytes.Equal(tm, before) {
					t.Fatal("Decrypt modified its input")
				}
				// Every bit of every byte, header and body, is protected:
				// ProtocolId, OriginalMessageSize and Flags by the header
				// checks, Signature/Nonce/Reserved/SessionId and the body by
				// the AEAD.
				for i := range tm {
					for bit := 0; bit < 8; bit++ {
						tm[i] ^= 1 << bit
						if p, err := Decrypt(aead, tm); err == nil {
							t.Fatalf("n=%d: flip of byte %d bit %d decrypted to %x", n, i, bit, p)
						}
						tm[i] ^= 1 << bit
					}
				}
				// Truncation and extension.
				if _, err := Decrypt(aead, tm[:len(tm)-1]); err == nil {
					t.Fatal("truncated transform decrypted")
				}
				if _, err := Decrypt(aead, append(bytes.Clone(tm), 0)); err == nil {
					t.Fatal("extended transform decrypted")
				}
				// The wrong key (e.g. the other direction's).
				other, _ := NewAEAD(c.id, seq(0x21, c.keyLen))
				if _, err := Decrypt(other, tm); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("wrong key: %v", err)
				}
			}
		})
	}
}

// Tampering with a header field that the header checks catch is reported as
// ErrMalformedTransform; the rest as ErrDecrypt.
func TestTransformTamperErrors(t *testing.T) {
	aead, _ := NewAEAD(AES128GCM, seq(0, 16))
	tm := Encrypt(aead, seq(1, 12), 7, testMessage(1, 1, 1, nil))
	for _, tc := range []struct {
		field string
		off   int
		want  error
	}{
		{"ProtocolId", 0, ErrMalformedTransform},
		{"Signature", 4, ErrDecrypt},
		{"Nonce", 20, ErrDecrypt},
		{"Nonce reserved bytes", 33, ErrDecrypt},
		{"OriginalMessageSize", 36, ErrMalformedTransform},
		{"Reserved", 40, ErrDecrypt},
		{"Flags", 42, ErrMalformedTransform},
		{"SessionId", 44, ErrDecrypt},
		{"SessionId high byte", 51, ErrDecrypt},
		{"body", 52, ErrDecrypt},
	} {
		bad := bytes.Clone(tm)
		bad[tc.off] ^= 0x04
		if _, err := Decrypt(aead, bad); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.field, err, tc.want)
		}
	}
}

func TestParseTransformHeaderRejects(t *testing.T) {
	aead, _ := NewAEAD(AES128CCM, seq(0, 16))
	good := Encrypt(aead, seq(1, 11), 99, testMessage(1, 1, 1, nil))
	if _, err := ParseTransformHeader(good); err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= TransformHeaderSize; n++ {
		if _, err := ParseTransformHeader(good[:n]); !errors.Is(err, ErrMalformedTransform) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
	mod := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	for name, b := range map[string][]byte{
		"SMB2 header id": mod(func(b []byte) { b[0] = 0xfe }),
		"compressed id":  mod(func(b []byte) { b[0] = 0xfc }),
		"flags 0":        mod(func(b []byte) { binary.LittleEndian.PutUint16(b[42:], 0) }),
		"flags 2":        mod(func(b []byte) { binary.LittleEndian.PutUint16(b[42:], 2) }),
		"size too big":   mod(func(b []byte) { binary.LittleEndian.PutUint32(b[36:], uint32(len(b)-51)) }),
		"size too small": mod(func(b []byte) { binary.LittleEndian.PutUint32(b[36:], uint32(len(b)-53)) }),
		"size max":       mod(func(b []byte) { binary.LittleEndian.PutUint32(b[36:], 0xffffffff) }),
		"size 0":         mod(func(b []byte) { binary.LittleEndian.PutUint32(b[36:], 0) }),
	} {
		if _, err := ParseTransformHeader(b); !errors.Is(err, ErrMalformedTransform) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := Decrypt(aead, b); !errors.Is(err, ErrMalformedTransform) {
			t.Errorf("Decrypt %s: %v", name, err)
		}
	}
	// A header alone, consistent in every field (flags 1, OriginalMessageSize
	// 0): MS-SMB2 3.3.5.2.1.1 requires a message longer than the header.
	// Found by fuzzing; testdata/fuzz/FuzzParseTransformHeader keeps it.
	empty := bytes.Clone(good[:TransformHeaderSize])
	binary.LittleEndian.PutUint32(empty[36:], 0)
	if _, err := ParseTransformHeader(empty); !errors.Is(err, ErrMalformedTransform) {
		t.Errorf("52-byte header with OriginalMessageSize 0: %v", err)
	}
	if _, err := Decrypt(aead, empty); !errors.Is(err, ErrMalformedTransform) {
		t.Errorf("Decrypt of a 52-byte header with OriginalMessageSize 0: %v", err)
	}
	// Reserved is ignored by the header checks (MS-SMB2 2.2.41: "the server
	// MUST ignore it"), though the AEAD still authenticates it.
	if _, err := ParseTransformHeader(mod(func(b []byte) { b[40] = 0xff })); err != nil {
		t.Errorf("Reserved rejected by the header checks: %v", err)
	}
}

func TestNewAEADRejects(t *testing.T) {
	for _, tc := range []struct {
		id  uint16
		key int
	}{
		{0, 16}, {5, 16}, {0xffff, 32},
		{AES128CCM, 32}, {AES128GCM, 24}, {AES256CCM, 16}, {AES256GCM, 0},
	} {
		if _, err := NewAEAD(tc.id, make([]byte, tc.key)); err == nil {
			t.Errorf("NewAEAD(%#x, %d-byte key) accepted", tc.id, tc.key)
		}
	}
}

func TestEncryptPanicsOnWrongNonce(t *testing.T) {
	aead, _ := NewAEAD(AES128GCM, seq(0, 16))
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an 11-byte nonce with GCM")
		}
	}()
	Encrypt(aead, seq(0, 11), 1, []byte("x"))
}
