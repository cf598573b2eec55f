package ipc

// Authenticator accepts the security exchanges of SMB2 SESSION_SETUP
// (SPNEGO wrapping NTLMSSP). The SMB front knows nothing of the mechanism.
type Authenticator interface {
	// NegotiateToken returns the security buffer for the NEGOTIATE response
	// (an SPNEGO NegTokenInit2, MS-SPNG 2.2.1); it may be empty.
	NegotiateToken() []byte
	// NewExchange starts the exchange for one new session.
	NewExchange() AuthExchange
}

// AuthExchange is one security context being established.
type AuthExchange interface {
	// Step consumes the client's security buffer and returns the server's
	// next token. done is true once the context is established. A failed
	// authentication returns an error wrapping ErrLogonFailure (out may
	// then hold a reject token to send with STATUS_LOGON_FAILURE); any
	// other error is a malformed token (STATUS_INVALID_PARAMETER).
	Step(in []byte) (out []byte, done bool, err error)
	// SessionKey is the established context's key (for NTLM the
	// ExportedSessionKey, 16 bytes); nil for an anonymous session.
	// Valid once Step returned done.
	SessionKey() []byte
	// Identity is the authenticated caller. Valid once Step returned done.
	Identity() Identity
}
