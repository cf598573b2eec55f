// Package spnego is the server side of SPNEGO (RFC 4178, MS-SPNG): it
// implements ipc.Authenticator for SMB2 SESSION_SETUP (and the RPC
// runtime's RPC_C_AUTHN_GSS_NEGOTIATE) by negotiating one of the
// mechanisms registered with it — the NTLM acceptor (server/ntlm) and the
// Kerberos acceptor (server/kerberos) — and running the mechListMIC
// exchange with that mechanism's keys.
//
// It owns the SPNEGO DER codec, the NegTokenInit2 the server advertises,
// mechanism selection and the order of the legs. It also accepts the raw
// tokens of its mechanisms (a bare NTLMSSP or GSS Kerberos token).
//
// It must not know any mechanism's internals (NTLM messages, Kerberos
// tickets), touch the transport, or keep global state, and it never logs
// keys.
package spnego
