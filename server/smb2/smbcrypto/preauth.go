package smbcrypto

import "crypto/sha512"

// PreauthHashSize is the size of Connection/Session.PreauthIntegrityHashValue
// for SHA-512, the only hash of MS-SMB2 2.2.3.1.1.
const PreauthHashSize = sha512.Size

// PreauthHash returns SHA-512(prev ‖ msg) (MS-SMB2 3.3.5.4, 3.3.5.5); prev is 64 zero bytes initially.
// The result is a new slice; neither argument is modified.
func PreauthHash(prev, msg []byte) []byte {
	h := sha512.New()
	h.Write(prev)
	h.Write(msg)
	return h.Sum(nil)
}
