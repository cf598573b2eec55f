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
	// other error is a malformed token (STATUS_INVALID_PARAMETER). The
	// exchange may keep in: the transport does not reuse its memory.
	Step(in []byte) (out []byte, done bool, err error)
	// SessionKey is the established context's key (for NTLM the
	// ExportedSessionKey, 16 bytes); nil for an anonymous session.
	// Valid once Step returned done.
	SessionKey() []byte
	// Identity is the authenticated caller. Valid once Step returned done.
	Identity() Identity
}

// Authentication services of RPC-level security (MS-RPCE 2.2.1.1.7): the
// auth_type of a sec_trailer.
const (
	RPCAuthSPNEGO   uint8 = 9  // RPC_C_AUTHN_GSS_NEGOTIATE
	RPCAuthNTLM     uint8 = 10 // RPC_C_AUTHN_WINNT
	RPCAuthKerberos uint8 = 16 // RPC_C_AUTHN_GSS_KERBEROS
)

// RPCAuthenticator accepts the security contexts of RPC-level
// authentication (MS-RPCE 3.3.1.5.2): the tokens of bind, alter_context
// and rpc_auth_3 PDUs. The RPC runtime knows nothing of the mechanisms.
type RPCAuthenticator interface {
	// NewRPCExchange starts a security context of the security provider
	// authType; nil when that provider is not offered.
	NewRPCExchange(authType uint8) RPCExchange
}

// RPCExchange is one RPC-level security context: the legs of its
// establishment (as AuthExchange), then the protection of PDUs.
type RPCExchange interface {
	AuthExchange
	// Protection returns the per-PDU protection of the established
	// context (MS-RPCE 3.3.1.5.2.2); an error when the mechanism cannot
	// protect messages (a null session, NTLM without extended session
	// security). Valid once Step returned done; each call starts the
	// sequence numbers afresh, so it is called once per context.
	Protection() (PDUProtection, error)
}

// PDUProtection protects the request and response PDUs of one security
// context (GSS_GetMICEx, GSS_VerifyMICEx, GSS_WrapEx, GSS_UnwrapEx with
// the segments of MS-RPCE 3.3.1.5.2.2). header is the PDU from its start
// to the stub, body the stub and its padding, trailer the sec_trailer.
// With headerSign the header and trailer are protected too, else only the
// body. The inbound methods (Verify, Unseal) and the outbound ones (Sign,
// Seal) each keep their direction's sequence number: calls of one
// direction must be sequential, the two directions may run concurrently.
// A failed Verify or Unseal leaves that direction unusable.
type PDUProtection interface {
	// SignatureSize is the length of the verifier (auth_value) of a
	// signed, or with seal a sealed, PDU.
	SignatureSize(seal bool) int
	// Sign returns the verifier of an outbound PDU.
	Sign(header, body, trailer []byte, headerSign bool) ([]byte, error)
	// Seal encrypts body in place and returns the verifier.
	Seal(header, body, trailer []byte, headerSign bool) ([]byte, error)
	// Verify checks the verifier of an inbound PDU.
	Verify(header, body, trailer, verifier []byte, headerSign bool) error
	// Unseal decrypts body in place and checks the verifier.
	Unseal(header, body, trailer, verifier []byte, headerSign bool) error
}
