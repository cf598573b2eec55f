// Package smbcrypto holds the pure cryptography of SMB2/3: the SP800-108
// key derivation, per-dialect session keys, message signing (HMAC-SHA256,
// AES-CMAC, AES-GMAC), the SMB3 transform (AES-CCM and AES-GCM) and the
// 3.1.1 pre-authentication integrity hash.
//
// It performs no I/O and keeps no state beyond the values it returns.
package smbcrypto
