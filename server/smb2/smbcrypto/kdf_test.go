package smbcrypto

import (
	"bytes"
	"crypto/sha512"
	"testing"
)

// The self-check vectors of the project notes (smb2-server.md section 1.4,
// computed by two independent implementations); impacket's KDF_CounterMode
// agrees (interop_test.go).
func TestDeriveSessionKeysNotesVectors(t *testing.T) {
	sk := seq(0, 16)
	k30 := DeriveSessionKeys(Dialect300, sk, nil, nil, 0)
	k302 := DeriveSessionKeys(Dialect302, sk, nil, nil, AES128GCM) // cipher ignored below 3.1.1
	for _, k := range []SessionKeys{k30, k302} {
		check(t, "3.0 Signing", k.Signing, "6234814cbb8ea9227440ebfeb5eacbe1")
		check(t, "3.0 Application", k.Application, "2061e31cbe99e5c6493e3fbbd4faf495")
		check(t, "3.0 Encryption (ServerOut)", k.Encryption, "95d8b55c852cd25349994b3842fa4105")
		check(t, "3.0 Decryption (ServerIn )", k.Decryption, "8e21f3cae16d07d84c03d74467f57878")
	}
	preauth := sha512.Sum512([]byte("preauth-test"))
	k311 := DeriveSessionKeys(Dialect311, sk, sk, preauth[:], AES128CCM)
	check(t, "3.1.1 Signing", k311.Signing, "0c685a091332854e9f3e44fdffa433d5")
	check(t, "3.1.1 Application", k311.Application, "3f824ed04e4334e1e57c779c74ba7b58")
}

func check(t *testing.T, name string, got []byte, want string) {
	t.Helper()
	if !bytes.Equal(got, unhex(t, want)) {
		t.Errorf("%s = %x, want %s", name, got, want)
	}
}

func TestDeriveSessionKeys2x(t *testing.T) {
	sk := seq(0x10, 16)
	for _, d := range []uint16{Dialect202, Dialect210} {
		k := DeriveSessionKeys(d, sk, nil, nil, 0)
		if !bytes.Equal(k.Signing, sk) || !bytes.Equal(k.Application, sk) || k.Encryption != nil || k.Decryption != nil {
			t.Fatalf("dialect %#x: %+v", d, k)
		}
		k.Signing[0] ^= 0xff
		if sk[0] != 0x10 || k.Application[0] != 0x10 {
			t.Fatal("returned keys alias the input or each other")
		}
	}
}

// MS-SMB2 3.3.1.8: the session key is the first 16 bytes of the GSS key,
// right-padded with zeros when shorter.
func TestDeriveSessionKeysNormalisesSessionKey(t *testing.T) {
	long := DeriveSessionKeys(Dialect300, seq(0, 32), nil, nil, 0)
	exact := DeriveSessionKeys(Dialect300, seq(0, 16), nil, nil, 0)
	if !bytes.Equal(long.Signing, exact.Signing) {
		t.Error("a 32-byte key was not cut to 16 bytes")
	}
	short := DeriveSessionKeys(Dialect300, []byte{1, 2, 3}, nil, nil, 0)
	padded := DeriveSessionKeys(Dialect300, append([]byte{1, 2, 3}, make([]byte, 13)...), nil, nil, 0)
	if !bytes.Equal(short.Signing, padded.Signing) {
		t.Error("a short key was not zero-padded")
	}
	if k := DeriveSessionKeys(Dialect210, []byte{7}, nil, nil, 0); !bytes.Equal(k.Signing, append([]byte{7}, make([]byte, 15)...)) {
		t.Errorf("2.1 short key = %x", k.Signing)
	}
}

// MS-SMB2 3.3.5.5.3 / 3.1.4.2: AES-256 ciphers derive 32-byte cipher keys
// from Session.FullSessionKey with L = 256; signing/application keys are
// unaffected.
func TestDeriveSessionKeysAES256(t *testing.T) {
	sk := seq(0, 16)
	full := seq(0, 32)
	preauth := sha512.Sum512([]byte("x"))
	for _, id := range []uint16{AES256CCM, AES256GCM} {
		k := DeriveSessionKeys(Dialect311, sk, full, preauth[:], id)
		k128 := DeriveSessionKeys(Dialect311, sk, full, preauth[:], AES128GCM)
		if len(k.Encryption) != 32 || len(k.Decryption) != 32 || len(k.Signing) != 16 || len(k.Application) != 16 {
			t.Fatalf("key sizes %d %d %d %d", len(k.Encryption), len(k.Decryption), len(k.Signing), len(k.Application))
		}
		if !bytes.Equal(k.Signing, k128.Signing) || !bytes.Equal(k.Application, k128.Application) {
			t.Error("AES-256 changed the signing/application keys")
		}
		if want := KDF(full, []byte("SMBS2CCipherKey\x00"), preauth[:], 256); !bytes.Equal(k.Encryption, want) {
			t.Error("Encryption is not KDF(FullSessionKey, SMBS2CCipherKey, preauth, 256)")
		}
		if want := KDF(full, []byte("SMBC2SCipherKey\x00"), preauth[:], 256); !bytes.Equal(k.Decryption, want) {
			t.Error("Decryption is not KDF(FullSessionKey, SMBC2SCipherKey, preauth, 256)")
		}
		if _, err := NewAEAD(id, k.Encryption); err != nil {
			t.Errorf("NewAEAD(%#x, derived key): %v", id, err)
		}
		// Without a full key the session key is the derivation key.
		noFull := DeriveSessionKeys(Dialect311, sk, nil, preauth[:], id)
		if want := KDF(sk, []byte("SMBS2CCipherKey\x00"), preauth[:], 256); !bytes.Equal(noFull.Encryption, want) {
			t.Error("empty FullSessionKey did not fall back to SessionKey")
		}
	}
	if k := DeriveSessionKeys(Dialect311, sk, full, preauth[:], AES128CCM); len(k.Encryption) != 16 {
		t.Error("AES-128 cipher key is not 16 bytes")
	}
}

func TestKDFLength(t *testing.T) {
	k128 := KDF([]byte("k"), []byte("l\x00"), []byte("c\x00"), 128)
	k256 := KDF([]byte("k"), []byte("l\x00"), []byte("c\x00"), 256)
	if len(k128) != 16 || len(k256) != 32 {
		t.Fatalf("lengths %d %d", len(k128), len(k256))
	}
	// L is part of the PRF input, so the 128-bit key is not a prefix of the 256-bit one.
	if bytes.Equal(k128, k256[:16]) {
		t.Error("L not bound into the derivation")
	}
	for _, l := range []int{0, -1, 64, 512} {
		if got := KDF([]byte("k"), []byte("l\x00"), []byte("c\x00"), l); !bytes.Equal(got, k128) {
			t.Errorf("KDF(l=%d) is not the 128-bit key", l)
		}
	}
}
