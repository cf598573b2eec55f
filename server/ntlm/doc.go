// Package ntlm is the server-side NTLMSSP acceptor (MS-NLMP), NTLMv2 only:
// a mechanism registered with the SPNEGO acceptor (server/spnego), which
// SMB2 SESSION_SETUP and the RPC runtime drive.
//
// It owns the NTLM message codecs (NEGOTIATE, CHALLENGE, AUTHENTICATE, AV
// pairs), NTLMv2 response and MIC verification against local accounts,
// the choice between a local account and a domain account (whose response
// it hands to a PassThrough, a domain controller's check over Netlogon,
// MS-APDS 3.1.5.1), the mechListMIC with NTLM keys, and the key derivation
// up to the ExportedSessionKey handed to the SMB layer.
//
// It must not touch anything above that key: no SMB signing, sealing or
// dialect-specific key derivation, no transport I/O, no global state, and
// it never logs passwords, hashes or keys.
package ntlm
