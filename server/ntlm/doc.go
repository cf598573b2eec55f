// Package ntlm is the server-side authentication acceptor used by SMB2
// SESSION_SETUP: SPNEGO (RFC 4178, MS-SPNG) wrapping NTLMSSP (MS-NLMP),
// NTLMv2 only. It implements ipc.Authenticator.
//
// It owns the NTLM message codecs (NEGOTIATE, CHALLENGE, AUTHENTICATE, AV
// pairs), the SPNEGO DER codec, NTLMv2 response and MIC verification, the
// mechListMIC exchange and the key derivation up to the ExportedSessionKey
// handed to the SMB layer.
//
// It must not touch anything above that key: no SMB signing, sealing or
// dialect-specific key derivation, no transport I/O, no global state, and
// it never logs passwords, hashes or keys.
package ntlm
