// Package smbcrypto holds the pure cryptography of SMB2/3: the SP800-108
// key derivation, per-dialect session keys, message signing (HMAC-SHA256,
// AES-CMAC, AES-GMAC), the SMB3 transform (AES-CCM and AES-GCM) and the
// 3.1.1 pre-authentication integrity hash.
//
// It performs no I/O and keeps no state beyond the values it returns (a
// NonceSource is the one stateful value, owned by its caller). It reads only
// the SMB2 header fields that signing needs and the TRANSFORM_HEADER; when to
// sign, verify, encrypt or decrypt, which session a key belongs to and what
// to do on failure are decided by package smb2, not here. It never logs, so
// no key or plaintext can leak through it.
//
// AES-CMAC (RFC 4493) and AES-CCM (RFC 3610, NIST SP 800-38C) are
// implemented here because neither the standard library nor x/crypto has
// them; AES-GCM and GMAC come from crypto/cipher.
package smbcrypto
