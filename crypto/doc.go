// Package crypto builds and opens the password blobs of the Workstation
// Service Remote Protocol join calls and generates machine account passwords:
//
//   - JOINPR_ENCRYPTED_USER_PASSWORD (RC4, NetrJoinDomain2 and friends,
//     MS-WKST 2.2.5.17, 2.2.5.18),
//   - JOINPR_ENCRYPTED_USER_PASSWORD_AES (AES-256-CBC + HMAC-SHA-512,
//     NetrJoinDomain3 and friends, MS-WKST 2.2.5.19),
//   - random machine passwords (MS-WKST 3.2.4.13.3).
//
// The package is pure: it performs no I/O beyond reading the caller's random
// source, keeps no state, never logs, and never panics on malformed input.
// It does not know where the session key comes from (the SMB layer owns
// that) nor what a join does with the password (the join logic owns that).
// Every decoding failure is reported as ErrInvalidPassword, which callers map
// to ERROR_INVALID_PASSWORD (MS-WKST 3.2.4.13.1, 3.2.4.22.1).
package crypto
