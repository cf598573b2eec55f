package smbcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// testMessage returns an SMB2 message: a 64-byte header with the given
// command, flags and MessageId, followed by body.
func testMessage(command uint16, flags uint32, messageID uint64, body []byte) []byte {
	m := make([]byte, 64+len(body))
	copy(m, "\xfeSMB")
	binary.LittleEndian.PutUint16(m[4:], 64)
	binary.LittleEndian.PutUint16(m[12:], command)
	binary.LittleEndian.PutUint32(m[16:], flags|0x00000008) // SMB2_FLAGS_SIGNED
	binary.LittleEndian.PutUint64(m[24:], messageID)
	binary.LittleEndian.PutUint64(m[40:], 0x0000400000000011)
	copy(m[64:], body)
	return m
}

var allSigning = []struct {
	name string
	alg  uint16
}{
	{"HMAC-SHA256", SigningHMACSHA256},
	{"AES-CMAC", SigningAESCMAC},
	{"AES-GMAC", SigningAESGMAC},
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := seq(0x30, 16)
	for _, a := range allSigning {
		t.Run(a.name, func(t *testing.T) {
			for _, bodyLen := range []int{0, 1, 7, 8, 100} {
				msg := testMessage(0x0003, 0, 42, seq(1, bodyLen))
				copy(msg[48:64], "garbage-garbage!") // Sign must ignore the old field
				Sign(a.alg, key, msg)
				if bytes.Equal(msg[48:64], make([]byte, 16)) {
					t.Fatal("no signature written")
				}
				before := bytes.Clone(msg)
				if !Verify(a.alg, key, msg) {
					t.Fatalf("len %d: Verify rejected its own signature", bodyLen)
				}
				if !bytes.Equal(before, msg) {
					t.Fatal("Verify modified msg")
				}
				// Every single-bit flip anywhere must fail, signature included.
				for i := range msg {
					for bit := 0; bit < 8; bit++ {
						msg[i] ^= 1 << bit
						if Verify(a.alg, key, msg) {
							t.Fatalf("len %d: flip of byte %d bit %d verified", bodyLen, i, bit)
						}
						msg[i] ^= 1 << bit
					}
				}
				// Wrong key, wrong algorithm, truncated or extended message.
				if Verify(a.alg, seq(0x31, 16), msg) {
					t.Fatal("wrong key verified")
				}
				for _, other := range allSigning {
					if other.alg != a.alg && Verify(other.alg, key, msg) {
						t.Fatalf("verified under %s", other.name)
					}
				}
				if Verify(a.alg, key, msg[:len(msg)-1]) && bodyLen > 0 {
					t.Fatal("truncated message verified")
				}
				if Verify(a.alg, key, append(bytes.Clone(msg), 0)) {
					t.Fatal("extended message verified")
				}
			}
		})
	}
}

// The HMAC-SHA256 signature is the first 16 bytes of HMAC over the message
// with a zero signature field (MS-SMB2 3.1.4.1, 2.0.2 and 2.1).
func TestSignHMACDefinition(t *testing.T) {
	key := seq(0x55, 16)
	msg := testMessage(0x0005, 1, 9, seq(0, 33))
	Sign(SigningHMACSHA256, key, msg)
	zeroed := bytes.Clone(msg)
	clear(zeroed[48:64])
	m := hmac.New(sha256.New, key)
	m.Write(zeroed)
	if !bytes.Equal(msg[48:64], m.Sum(nil)[:16]) {
		t.Fatal("HMAC-SHA256 signature mismatch")
	}
}

// MS-SMB2 3.1.4.1: the AES-GMAC nonce is MessageId ‖ uint32 with bit 0 =
// sent by the server, bit 1 = CANCEL request.
func TestSignGMACNonce(t *testing.T) {
	key := seq(0x77, 16)
	block, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(block)
	for _, tc := range []struct {
		command uint16
		flags   uint32
		role    uint32
	}{
		{0x0008, 0, 0},          // client READ request
		{0x0008, 1, 1},          // server READ response
		{0x000C, 0, 2},          // client CANCEL
		{0x000C, 1, 3},          // (server-flagged CANCEL: both bits)
		{0x0001, 0x10000001, 1}, // other flag bits do not leak into the nonce
	} {
		msg := testMessage(tc.command, tc.flags, 0x1122334455667788, seq(9, 24))
		Sign(SigningAESGMAC, key, msg)
		var nonce [12]byte
		binary.LittleEndian.PutUint64(nonce[:], 0x1122334455667788)
		binary.LittleEndian.PutUint32(nonce[8:], tc.role)
		aad := bytes.Clone(msg)
		clear(aad[48:64])
		if want := g.Seal(nil, nonce[:], nil, aad); !bytes.Equal(msg[48:64], want) {
			t.Errorf("command %#x flags %#x: signature %x, want %x", tc.command, tc.flags, msg[48:64], want)
		}
	}
}

func TestSignBadInput(t *testing.T) {
	// Too short: left alone, never verified, never panics.
	for n := 0; n < 64; n++ {
		b := seq(1, n)
		Sign(SigningAESCMAC, seq(0, 16), b)
		if !bytes.Equal(b, seq(1, n)) {
			t.Fatalf("Sign modified a %d-byte message", n)
		}
		if Verify(SigningHMACSHA256, seq(0, 16), b) {
			t.Fatalf("Verify accepted a %d-byte message", n)
		}
	}
	// Unusable key or unknown algorithm: zero signature that never verifies.
	for _, c := range []struct {
		alg uint16
		key []byte
	}{
		{SigningAESCMAC, seq(0, 15)},
		{SigningAESGMAC, nil},
		{0x0003, seq(0, 16)},
		{0xffff, seq(0, 16)},
	} {
		msg := testMessage(1, 0, 1, nil)
		copy(msg[48:64], "xxxxxxxxxxxxxxxx")
		Sign(c.alg, c.key, msg)
		if !bytes.Equal(msg[48:64], make([]byte, 16)) {
			t.Errorf("alg %#x key %d: field not zeroed", c.alg, len(c.key))
		}
		if Verify(c.alg, c.key, msg) {
			t.Errorf("alg %#x key %d: verified", c.alg, len(c.key))
		}
	}
	// An HMAC key of any length works (the 2.x session key is 16 bytes, but
	// HMAC itself has no restriction).
	msg := testMessage(1, 0, 1, nil)
	Sign(SigningHMACSHA256, nil, msg)
	if !Verify(SigningHMACSHA256, nil, msg) {
		t.Error("HMAC with empty key failed round trip")
	}
}
