// Package smbtap is a recording TCP proxy for SMB2/3 that tests put between
// a real client (go-msrpc, impacket, Samba's tools) and the server under
// test. It reads both directions of every connection and checks what the
// server sends, independently of the server's own code:
//
//   - Encryption: a response to a request that came inside a TRANSFORM
//     header (MS-SMB2 3.3.4.1.4) must itself be transform-wrapped, and so
//     must every response of a session that the server marked
//     SMB2_SESSION_FLAG_ENCRYPT_DATA. The proxy derives the session's
//     cipher keys (MS-SMB2 3.1.4.2, 3.3.5.5.3) and decrypts both
//     directions with its own AES-CCM and the standard library's AES-GCM:
//     every server transform message must authenticate under the
//     server-to-client key, use a nonce not used before on that session,
//     and hold responses to requests the client sent; a plaintext response
//     to an encrypted request is a violation.
//   - Signing: on an established, non-anonymous session every plaintext
//     response but an interim one must carry SMB2_FLAGS_SIGNED and a valid
//     signature (MS-SMB2 3.3.4.1.1; the server requires signing). The proxy
//     derives the session's signing key itself from the NTLMv2 exchange it
//     saw and the account's password (MS-NLMP 3.3.2, 3.4.5.1; MS-SMB2
//     3.3.5.5.3, 3.1.4.2 with its own preauthentication hash), and checks
//     HMAC-SHA256, AES-CMAC and AES-GMAC signatures with its own code.
//
// Every violation is recorded with the connection, command and MessageId;
// Check fails the test with them. It is a test tool: the product never
// imports it.
package smbtap
