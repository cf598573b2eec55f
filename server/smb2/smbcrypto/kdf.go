package smbcrypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// KDF is SP800-108 counter mode with HMAC-SHA256, r=32, L=128 (MS-SMB2 3.1.4.2). label and context
// are passed with their trailing NUL already included. Returns 16 bytes (32 when l == 256).
//
// Any l other than 256 is treated as 128. One PRF iteration (counter i = 1) always suffices,
// because HMAC-SHA256 yields 256 bits.
func KDF(ki, label, context []byte, l int) []byte {
	if l != 256 {
		l = 128
	}
	mac := hmac.New(sha256.New, ki)
	var word [4]byte
	binary.BigEndian.PutUint32(word[:], 1) // [i]_2, r = 32
	mac.Write(word[:])
	mac.Write(label)
	mac.Write([]byte{0}) // the 0x00 separator of SP800-108 5.1
	mac.Write(context)
	binary.BigEndian.PutUint32(word[:], uint32(l)) // [L]_2
	mac.Write(word[:])
	return mac.Sum(nil)[:l/8]
}

// KDF labels and 3.0.x contexts of MS-SMB2 3.3.5.5.3, each with its terminating NUL.
var (
	label30Signing     = []byte("SMB2AESCMAC\x00")
	context30Signing   = []byte("SmbSign\x00")
	label30App         = []byte("SMB2APP\x00")
	context30App       = []byte("SmbRpc\x00")
	label30Cipher      = []byte("SMB2AESCCM\x00")
	context30ServerOut = []byte("ServerOut\x00")
	context30ServerIn  = []byte("ServerIn \x00")

	label311Signing = []byte("SMBSigningKey\x00")
	label311App     = []byte("SMBAppKey\x00")
	label311S2C     = []byte("SMBS2CCipherKey\x00")
	label311C2S     = []byte("SMBC2SCipherKey\x00")
)

// DeriveSessionKeys returns the keys of MS-SMB2 3.3.5.5.3 for the dialect. sessionKey is the 16-byte
// Session.SessionKey; fullSessionKey is the whole GSS key (used only for AES-256 ciphers);
// preauthHash is Session.PreauthIntegrityHashValue (3.1.1 only); cipherID selects 16- or 32-byte
// encryption keys. Below 3.0 Signing and Application are the session key and there is no
// encryption key. 3.0/3.0.2: "SMB2AESCMAC"/"SmbSign", "SMB2APP"/"SmbRpc", "SMB2AESCCM"/"ServerOut" and
// "ServerIn " (server side: Encryption is server->client). 3.1.1: "SMBSigningKey", "SMBAppKey",
// "SMBS2CCipherKey", "SMBC2SCipherKey" with the preauth hash as context.
//
// sessionKey is first normalised as MS-SMB2 3.3.1.8 says: its first 16 bytes, right-padded with
// zeros when shorter. An empty fullSessionKey falls back to that normalised session key. Below 3.1.1
// cipherID is ignored (3.0.x always uses AES-128-CCM, MS-SMB2 3.1.4.3). The returned slices are
// freshly allocated and never alias the arguments.
func DeriveSessionKeys(dialect uint16, sessionKey, fullSessionKey, preauthHash []byte, cipherID uint16) SessionKeys {
	var sk [16]byte
	copy(sk[:], sessionKey) // MS-SMB2 3.3.1.8: first 16 bytes, zero-padded
	if dialect < Dialect300 {
		// MS-SMB2 3.3.5.5.3: 2.x signs with Session.SessionKey and has no
		// derived keys; the application key is the session key too.
		return SessionKeys{
			Signing:     append([]byte(nil), sk[:]...),
			Application: append([]byte(nil), sk[:]...),
		}
	}
	if dialect < Dialect311 {
		return SessionKeys{
			Signing:     KDF(sk[:], label30Signing, context30Signing, 128),
			Application: KDF(sk[:], label30App, context30App, 128),
			Encryption:  KDF(sk[:], label30Cipher, context30ServerOut, 128),
			Decryption:  KDF(sk[:], label30Cipher, context30ServerIn, 128),
		}
	}
	// MS-SMB2 3.3.5.5.3 / 3.1.4.2: with an AES-256 cipher the cipher keys
	// derive from Session.FullSessionKey with L = 256; the signing and
	// application keys always derive from Session.SessionKey with L = 128.
	cipherKi, l := sk[:], 128
	if cipherID == AES256CCM || cipherID == AES256GCM {
		l = 256
		if len(fullSessionKey) > 0 {
			cipherKi = fullSessionKey
		}
	}
	return SessionKeys{
		Signing:     KDF(sk[:], label311Signing, preauthHash, 128),
		Application: KDF(sk[:], label311App, preauthHash, 128),
		Encryption:  KDF(cipherKi, label311S2C, preauthHash, l),
		Decryption:  KDF(cipherKi, label311C2S, preauthHash, l),
	}
}
