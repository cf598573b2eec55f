package smbraw

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
	"unicode/utf16"

	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"
	msntlm "github.com/oiweiwei/go-msrpc/ssp/ntlm"
	"github.com/oiweiwei/go-msrpc/ssp/spnego"

	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

var le = binary.LittleEndian

// SMB2 commands (MS-SMB2 2.2.1).
const (
	CmdNegotiate    uint16 = 0x0000
	CmdSessionSetup uint16 = 0x0001
	CmdLogoff       uint16 = 0x0002
	CmdTreeConnect  uint16 = 0x0003
	CmdCreate       uint16 = 0x0005
	CmdClose        uint16 = 0x0006
	CmdRead         uint16 = 0x0008
	CmdWrite        uint16 = 0x0009
	CmdIoctl        uint16 = 0x000B
	CmdCancel       uint16 = 0x000C
	CmdEcho         uint16 = 0x000D
)

// Header flags and NT status values clients look at.
const (
	FlagServerToRedir uint32 = 0x00000001
	FlagAsync         uint32 = 0x00000002
	FlagRelated       uint32 = 0x00000004
	FlagSigned        uint32 = 0x00000008

	StatusSuccess                = 0x00000000
	StatusPending                = 0x00000103
	StatusMoreProcessingRequired = 0xC0000016
	StatusAccessDenied           = 0xC0000022
	StatusCancelled              = 0xC0000120
	StatusInsufficientResources  = 0xC000009A
	StatusInvalidParameter       = 0xC000000D
	StatusLogonFailure           = 0xC000006D
	StatusUserSessionDeleted     = 0xC0000203
	StatusBufferOverflow         = 0x80000005
)

// Session flags of a SESSION_SETUP response (MS-SMB2 2.2.6).
const (
	SessionFlagIsGuest     uint16 = 0x0001
	SessionFlagIsNull      uint16 = 0x0002
	SessionFlagEncryptData uint16 = 0x0004
)

// Negotiate context types (MS-SMB2 2.2.3.1).
const (
	ContextPreauth    uint16 = 0x0001
	ContextEncryption uint16 = 0x0002
	ContextSigning    uint16 = 0x0008
)

// FsctlPipeTransceive is the FSCTL_PIPE_TRANSCEIVE control code (MS-FSCC
// 2.3.50).
const FsctlPipeTransceive uint32 = 0x0011C017

// HeaderSize is the size of the SMB2 header (MS-SMB2 2.2.1).
const HeaderSize = 64

const headerSize = HeaderSize

// Header is the SMB2 header of a received message.
type Header struct {
	Status    uint32
	Command   uint16
	Credit    uint16
	Flags     uint32
	MessageID uint64
	AsyncID   uint64
	TreeID    uint32
	SessionID uint64
}

// ParseHeader decodes the SMB2 header at the start of msg.
func ParseHeader(msg []byte) (Header, error) {
	if len(msg) < headerSize || string(msg[:4]) != "\xfeSMB" {
		return Header{}, errors.New("smbraw: not an SMB2 message")
	}
	h := Header{Status: le.Uint32(msg[8:]), Command: le.Uint16(msg[12:]), Credit: le.Uint16(msg[14:]),
		Flags: le.Uint32(msg[16:]), MessageID: le.Uint64(msg[24:]), SessionID: le.Uint64(msg[40:])}
	if h.Flags&FlagAsync != 0 {
		h.AsyncID = le.Uint64(msg[32:])
	} else {
		h.TreeID = le.Uint32(msg[36:])
	}
	return h, nil
}

// FileID is an SMB2 FileId: Persistent then Volatile, little-endian.
type FileID [16]byte

// Client is one raw SMB2 connection. It is not safe for concurrent use.
// Its exported fields are the state a caller may read or, to break the
// rules on purpose, change between messages.
type Client struct {
	Conn    net.Conn
	Timeout time.Duration // for every read and write; default 10 s

	MsgID     uint64
	SessionID uint64
	TreeID    uint32
	Dialect   uint16
	// Sign signs every request with SignKey and SignAlg once a session
	// is established (Login sets all three).
	Sign    bool
	SignKey []byte
	SignAlg uint16
	// NegAlg is the signing algorithm the NEGOTIATE settled (AES-CMAC
	// unless OfferGMAC made the server pick AES-GMAC); Login signs with
	// it from dialect 3.0 on, with HMAC-SHA256 below.
	NegAlg uint16
	// OfferGMAC offers AES-GMAC signing (then AES-CMAC) at 3.1.1.
	OfferGMAC bool
	// Encrypt sends every request in a TRANSFORM_HEADER (Login sets the
	// keys when the server offered a cipher and encryption was asked).
	Encrypt bool
	// CipherID is the cipher the NEGOTIATE settled (0 for none).
	CipherID uint16
	// Preauth is the running preauth integrity hash (3.1.1), set by
	// Negotiate; FinalPreauth is its value when the session was
	// established and ExportedKey the security context's session key.
	Preauth, FinalPreauth, ExportedKey []byte
	// AppKey is the session's application key (MS-SMB2 3.3.5.5.3).
	AppKey []byte
	// SessionFlags are those of the last successful SESSION_SETUP.
	SessionFlags uint16
	// Domain is the domain of the credentials Login uses ("" lets the
	// user name carry it as DOMAIN\user, or none).
	Domain string
	// NegotiateResponse is the last NEGOTIATE response.
	NegotiateResponse []byte
	// ClientGUID is what Negotiate sends as ClientGuid; New makes it
	// random.
	ClientGUID [16]byte

	enc, dec cipher.AEAD
	nonces   *smbcrypto.NonceSource
}

// New wraps an established connection.
func New(c net.Conn) *Client {
	cl := &Client{Conn: c, Timeout: 10 * time.Second}
	rand.Read(cl.ClientGUID[:])
	return cl
}

// Dial connects to addr (host:port) from the local address local ("" for
// the kernel's choice).
func Dial(addr, local string) (*Client, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return New(c), nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 10 * time.Second
	}
	return c.Timeout
}

// WriteRaw sends b as is.
func (c *Client) WriteRaw(b []byte) error {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	_, err := c.Conn.Write(b)
	return err
}

// WriteFrame sends msg with its Direct TCP header, encrypted first when
// c.Encrypt is set.
func (c *Client) WriteFrame(msg []byte) error {
	if c.Encrypt && c.enc != nil {
		var err error
		if msg, err = c.Seal(msg); err != nil {
			return err
		}
	}
	f := make([]byte, 4+len(msg))
	f[1], f[2], f[3] = byte(len(msg)>>16), byte(len(msg)>>8), byte(len(msg))
	copy(f[4:], msg)
	return c.WriteRaw(f)
}

// Seal wraps msg in a TRANSFORM_HEADER with the session's client-to-server
// key and a fresh nonce.
func (c *Client) Seal(msg []byte) ([]byte, error) {
	if c.enc == nil {
		return nil, errors.New("smbraw: no encryption keys")
	}
	n, err := c.nonces.Next()
	if err != nil {
		return nil, err
	}
	return smbcrypto.Encrypt(c.enc, n, c.SessionID, msg), nil
}

// Ciphers returns the session's AEADs (client to server, server to
// client) and its nonce source, or nils before an encrypting Login.
func (c *Client) Ciphers() (enc, dec cipher.AEAD, nonces *smbcrypto.NonceSource) {
	return c.enc, c.dec, c.nonces
}

// ReadFrame returns the next transport message as received (a
// TRANSFORM_HEADER message stays encrypted).
func (c *Client) ReadFrame() ([]byte, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout()))
	var h [4]byte
	if _, err := io.ReadFull(c.Conn, h[:]); err != nil {
		return nil, err
	}
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	b := make([]byte, n)
	if _, err := io.ReadFull(c.Conn, b); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadMessage returns the next message, decrypted when it came in a
// TRANSFORM_HEADER.
func (c *Client) ReadMessage() ([]byte, error) {
	b, err := c.ReadFrame()
	if err != nil {
		return nil, err
	}
	if len(b) >= 4 && string(b[:4]) == "\xfdSMB" {
		if c.dec == nil {
			return nil, errors.New("smbraw: encrypted message without keys")
		}
		return smbcrypto.Decrypt(c.dec, b)
	}
	return b, nil
}

// PutHeader writes a request header for cmd with the given MessageId and
// the client's SessionId and TreeId into m[:64]: CreditCharge 1, 64
// credits requested.
func (c *Client) PutHeader(m []byte, cmd uint16, msgID uint64) {
	copy(m, "\xfeSMB")
	le.PutUint16(m[4:], headerSize)
	le.PutUint16(m[6:], 1) // CreditCharge
	le.PutUint16(m[12:], cmd)
	le.PutUint16(m[14:], 64) // credits requested
	le.PutUint64(m[24:], msgID)
	le.PutUint32(m[36:], c.TreeID)
	le.PutUint64(m[40:], c.SessionID)
}

// Build returns a request with the next MessageId, signed when c.Sign is
// set and a signing key exists (and the request is not to be encrypted).
func (c *Client) Build(cmd uint16, body []byte) []byte {
	m := make([]byte, headerSize+len(body))
	c.PutHeader(m, cmd, c.MsgID)
	copy(m[headerSize:], body)
	c.MsgID++
	if c.Sign && c.SignKey != nil && !c.Encrypt {
		le.PutUint32(m[16:], le.Uint32(m[16:])|FlagSigned)
		smbcrypto.Sign(c.SignAlg, c.SignKey, m)
	}
	return m
}

// Recv returns the next final response, skipping interim STATUS_PENDING.
func (c *Client) Recv() (Header, []byte, error) {
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return Header{}, nil, err
		}
		h, err := ParseHeader(m)
		if err != nil {
			return Header{}, nil, err
		}
		if h.Status == StatusPending && h.Flags&FlagAsync != 0 {
			continue
		}
		return h, m, nil
	}
}

// Call sends one request and returns its final response.
func (c *Client) Call(cmd uint16, body []byte) (Header, []byte, error) {
	if err := c.WriteFrame(c.Build(cmd, body)); err != nil {
		return Header{}, nil, err
	}
	return c.Recv()
}

// Closed waits up to d for the server to close the connection.
func (c *Client) Closed(d time.Duration) bool {
	c.Conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Conn.Read(buf); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// NegotiateContext is one negotiate context (MS-SMB2 2.2.3.1).
type NegotiateContext struct {
	Type uint16
	Data []byte
}

// NegotiateBody is a NEGOTIATE request body offering dialects, with the
// given capabilities and security mode and, when not empty, contexts. Its
// ClientGuid (bytes 12..28) is zero.
func NegotiateBody(dialects []uint16, caps uint32, secMode uint16, contexts []NegotiateContext) []byte {
	n := 36 + 2*len(dialects)
	b := make([]byte, n)
	le.PutUint16(b, 36)
	le.PutUint16(b[2:], uint16(len(dialects)))
	le.PutUint16(b[4:], secMode)
	le.PutUint32(b[8:], caps)
	for i, d := range dialects {
		le.PutUint16(b[36+2*i:], d)
	}
	if len(contexts) > 0 {
		off := (headerSize + n + 7) &^ 7
		b = append(b, make([]byte, off-headerSize-n)...)
		le.PutUint32(b[28:], uint32(off))
		le.PutUint16(b[32:], uint16(len(contexts)))
		for i, x := range contexts {
			if i > 0 {
				for len(b)%8 != 0 {
					b = append(b, 0)
				}
			}
			h := make([]byte, 8)
			le.PutUint16(h, x.Type)
			le.PutUint16(h[2:], uint16(len(x.Data)))
			b = append(append(b, h...), x.Data...)
		}
	}
	return b
}

// PreauthContext offers the hash algorithm hash (1 = SHA-512) with a
// 32-byte salt.
func PreauthContext(hash uint16) NegotiateContext {
	d := make([]byte, 6+32)
	le.PutUint16(d, 1)
	le.PutUint16(d[2:], 32)
	le.PutUint16(d[4:], hash)
	rand.Read(d[6:])
	return NegotiateContext{Type: ContextPreauth, Data: d}
}

// IDListContext is a context of type typ listing ids (ciphers, signing
// algorithms).
func IDListContext(typ uint16, ids ...uint16) NegotiateContext {
	d := make([]byte, 2+2*len(ids))
	le.PutUint16(d, uint16(len(ids)))
	for i, id := range ids {
		le.PutUint16(d[2+2*i:], id)
	}
	return NegotiateContext{Type: typ, Data: d}
}

// ParseNegotiateContexts returns the contexts of a 3.1.1 NEGOTIATE
// response.
func ParseNegotiateContexts(resp []byte) ([]NegotiateContext, error) {
	if len(resp) < headerSize+64 {
		return nil, errors.New("smbraw: short NEGOTIATE response")
	}
	off := int(le.Uint32(resp[headerSize+60:]))
	n := int(le.Uint16(resp[headerSize+6:]))
	var out []NegotiateContext
	for i := 0; i < n; i++ {
		off = (off + 7) &^ 7
		if off+8 > len(resp) {
			return nil, errors.New("smbraw: negotiate context out of bounds")
		}
		typ, l := le.Uint16(resp[off:]), int(le.Uint16(resp[off+2:]))
		if off+8+l > len(resp) {
			return nil, errors.New("smbraw: negotiate context out of bounds")
		}
		out = append(out, NegotiateContext{Type: typ, Data: resp[off+8 : off+8+l]})
		off += 8 + l
	}
	return out, nil
}

// Negotiate offers exactly dialect with signing enabled; at 3.1.1 it
// offers SHA-512, the cipher cipherID when not zero, and AES-GMAC signing
// when OfferGMAC is set. It returns the status; the response is kept in
// NegotiateResponse.
func (c *Client) Negotiate(dialect, cipherID uint16) (uint32, error) {
	var ctxs []NegotiateContext
	if dialect == smbcrypto.Dialect311 {
		ctxs = []NegotiateContext{PreauthContext(1)}
		if cipherID != 0 {
			ctxs = append(ctxs, IDListContext(ContextEncryption, cipherID))
		}
		if c.OfferGMAC {
			ctxs = append(ctxs, IDListContext(ContextSigning, smbcrypto.SigningAESGMAC, smbcrypto.SigningAESCMAC))
		}
	}
	body := NegotiateBody([]uint16{dialect}, 0x40, 1, ctxs)
	copy(body[12:28], c.ClientGUID[:])
	req := c.Build(CmdNegotiate, body)
	if err := c.WriteFrame(req); err != nil {
		return 0, err
	}
	h, resp, err := c.Recv()
	if err != nil {
		return 0, err
	}
	c.NegotiateResponse = resp
	if h.Status != StatusSuccess {
		return h.Status, nil
	}
	if len(resp) < headerSize+64 {
		return 0, errors.New("smbraw: short NEGOTIATE response")
	}
	return h.Status, c.Negotiated(req, resp, cipherID)
}

// Negotiated records the outcome of a NEGOTIATE exchange req/resp the
// caller made itself: dialect, signing algorithm, cipher (cipherID, if
// offered) and the preauth hash.
func (c *Client) Negotiated(req, resp []byte, cipherID uint16) error {
	c.Dialect = le.Uint16(resp[headerSize+4:])
	c.NegAlg = smbcrypto.SigningAESCMAC
	c.CipherID = 0
	c.Preauth = nil
	switch {
	case c.Dialect == smbcrypto.Dialect311:
		c.Preauth = smbcrypto.PreauthHash(smbcrypto.PreauthHash(make([]byte, 64), req), resp)
		ctxs, err := ParseNegotiateContexts(resp)
		if err != nil {
			return err
		}
		for _, x := range ctxs {
			switch {
			case x.Type == ContextSigning && len(x.Data) >= 4:
				c.NegAlg = le.Uint16(x.Data[2:])
			case x.Type == ContextEncryption && len(x.Data) >= 4:
				c.CipherID = le.Uint16(x.Data[2:])
			}
		}
		if cipherID == 0 {
			c.CipherID = 0
		}
	case c.Dialect >= smbcrypto.Dialect300 && le.Uint32(resp[headerSize+24:])&0x40 != 0:
		c.CipherID = smbcrypto.AES128CCM
	}
	return nil
}

// SessionSetupBody is an SMB2 SESSION_SETUP request body carrying token.
func SessionSetupBody(token []byte) []byte {
	b := make([]byte, 24+len(token))
	le.PutUint16(b, 25)
	b[3] = 1
	le.PutUint16(b[12:], headerSize+24)
	le.PutUint16(b[14:], uint16(len(token)))
	copy(b[24:], token)
	return b
}

// SessionSetup sends one leg for session sid (0 for a new one) and
// returns the status, the session id and the server's token.
func (c *Client) SessionSetup(sid uint64, token []byte) (uint32, uint64, []byte, error) {
	saved := c.SessionID
	c.SessionID = sid
	h, resp, err := c.Call(CmdSessionSetup, SessionSetupBody(token))
	c.SessionID = saved
	if err != nil {
		return 0, 0, nil, err
	}
	var out []byte
	if len(resp) >= headerSize+8 {
		off, n := int(le.Uint16(resp[headerSize+4:])), int(le.Uint16(resp[headerSize+6:]))
		if off+n <= len(resp) && off >= headerSize {
			out = resp[off : off+n]
		}
	}
	return h.Status, h.SessionID, out, nil
}

// NTLMNegotiate is a raw NTLMSSP NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1).
func NTLMNegotiate() []byte {
	b := make([]byte, 32)
	copy(b, "NTLMSSP\x00")
	le.PutUint32(b[8:], 1)
	le.PutUint32(b[12:], 0x00000001|0x00000004|0x00000200|0x00080000|0x20000000|0x80000000)
	return b
}

// NTLMAnonymousAuthenticate is a raw NTLMSSP AUTHENTICATE_MESSAGE of an
// anonymous logon (MS-NLMP 3.2.5.1.2) claiming the given domain name;
// pad bytes of payload follow the fields, to size a token exactly.
func NTLMAnonymousAuthenticate(domain string, pad int) []byte {
	d := UTF16LE(domain)
	b := make([]byte, 64, 64+len(d)+pad)
	copy(b, "NTLMSSP\x00")
	le.PutUint32(b[8:], 3)
	field := func(at, n, off int) {
		le.PutUint16(b[at:], uint16(n))
		le.PutUint16(b[at+2:], uint16(n))
		le.PutUint32(b[at+4:], uint32(off))
	}
	field(12, 0, 64)      // LmChallengeResponse
	field(20, 0, 64)      // NtChallengeResponse
	field(28, len(d), 64) // DomainName
	field(36, 0, 64+len(d))
	field(44, 0, 64+len(d))
	field(52, 0, 64+len(d))
	le.PutUint32(b[60:], 0x00000001|0x00000800|0x00000200)
	b = append(b, d...)
	return append(b, make([]byte, pad)...)
}

// LoginAnonymous establishes a null session with raw NTLMSSP tokens.
func (c *Client) LoginAnonymous() (uint32, error) {
	st, sid, _, err := c.SessionSetup(0, NTLMNegotiate())
	if err != nil || st != StatusMoreProcessingRequired {
		return st, err
	}
	st, _, _, err = c.SessionSetup(sid, NTLMAnonymousAuthenticate("", 0))
	if err == nil && st == StatusSuccess {
		c.SessionID = sid
	}
	return st, err
}

// ErrBadSignature is returned by Login when the final SESSION_SETUP
// response of an authenticated session is not signed with its key
// (MS-SMB2 3.3.5.5.3 requires the server to sign it).
var ErrBadSignature = errors.New("smbraw: final SESSION_SETUP response not signed with the session's key")

// Login authenticates user with go-msrpc's SPNEGO/NTLM initiator on the
// session c.SessionID (0: a new one), derives the session's keys and signs
// from then on, encrypting too when encrypt is set and the connection
// negotiated a cipher. When the client already holds a signing key, it is
// a re-authentication: the keys stay those of the first logon and the
// final response must be signed with them. It returns the final status.
func (c *Client) Login(user, password string, encrypt bool) (uint32, error) {
	var opts []credential.Option
	if c.Domain != "" {
		opts = append(opts, credential.Domain(c.Domain))
	}
	ctx := gssapi.NewSecurityContext(context.Background(),
		gssapi.WithMechanismFactory(spnego.Mechanism{}),
		gssapi.WithMechanismFactory(msntlm.Mechanism{}, msntlm.NewConfig()),
		gssapi.WithCredential(credential.NewFromPassword(user, password, opts...)),
	)
	tok, err := gssapi.InitSecurityContext(ctx, &gssapi.Token{})
	if err != nil {
		return 0, err
	}
	reauth := c.SignKey != nil
	preauth := c.Preauth
	for leg := 0; leg < 4; leg++ {
		req := c.Build(CmdSessionSetup, SessionSetupBody(tok.Payload))
		if preauth != nil {
			preauth = smbcrypto.PreauthHash(preauth, req)
		}
		if err := c.WriteFrame(req); err != nil {
			return 0, err
		}
		h, resp, err := c.Recv()
		if err != nil {
			return 0, err
		}
		c.SessionID = h.SessionID
		switch h.Status {
		case StatusMoreProcessingRequired:
			if preauth != nil {
				preauth = smbcrypto.PreauthHash(preauth, resp)
			}
			off, n := int(le.Uint16(resp[headerSize+4:])), int(le.Uint16(resp[headerSize+6:]))
			if off+n > len(resp) {
				return 0, errors.New("smbraw: SESSION_SETUP token out of bounds")
			}
			if tok, err = gssapi.InitSecurityContext(ctx, &gssapi.Token{Payload: resp[off : off+n]}); err != nil {
				return 0, err
			}
		case StatusSuccess:
			c.SessionFlags = le.Uint16(resp[headerSize+2:])
			signed := func(alg uint16, key []byte) bool {
				return le.Uint32(resp[16:])&FlagSigned != 0 && smbcrypto.Verify(alg, key, resp)
			}
			if reauth {
				if !signed(c.SignAlg, c.SignKey) {
					return h.Status, ErrBadSignature
				}
				return h.Status, nil
			}
			v, _ := gssapi.GetAttribute(ctx, gssapi.AttributeSessionKey)
			key, _ := v.([]byte)
			keys := smbcrypto.DeriveSessionKeys(c.Dialect, key, key, preauth, c.CipherID)
			c.ExportedKey, c.FinalPreauth = key, preauth
			c.SignKey, c.AppKey = keys.Signing, keys.Application
			c.SignAlg = c.NegAlg
			if c.Dialect < smbcrypto.Dialect300 {
				c.SignAlg = smbcrypto.SigningHMACSHA256
			}
			if c.SessionFlags&(SessionFlagIsGuest|SessionFlagIsNull) == 0 && !signed(c.SignAlg, c.SignKey) {
				return h.Status, ErrBadSignature
			}
			c.Sign = true
			if encrypt && c.CipherID != 0 && keys.Decryption != nil {
				if c.enc, err = smbcrypto.NewAEAD(c.CipherID, keys.Decryption); err != nil {
					return 0, err
				}
				if c.dec, err = smbcrypto.NewAEAD(c.CipherID, keys.Encryption); err != nil {
					return 0, err
				}
				if c.nonces, err = smbcrypto.NewNonceSource(c.enc.NonceSize()); err != nil {
					return 0, err
				}
				c.Encrypt = true
			}
			return h.Status, nil
		default:
			return h.Status, nil
		}
	}
	return 0, errors.New("smbraw: session setup did not finish")
}

// Logoff ends the session.
func (c *Client) Logoff() (uint32, error) {
	h, _, err := c.Call(CmdLogoff, []byte{4, 0, 0, 0})
	return h.Status, err
}

// TreeConnectBody is a TREE_CONNECT request body for path (\\server\share).
func TreeConnectBody(path string) []byte {
	p := UTF16LE(path)
	b := make([]byte, 8+len(p))
	le.PutUint16(b, 9)
	le.PutUint16(b[4:], headerSize+8)
	le.PutUint16(b[6:], uint16(len(p)))
	copy(b[8:], p)
	return b
}

// TreeConnectPath connects path (\\server\share) and keeps its TreeId.
func (c *Client) TreeConnectPath(path string) (uint32, error) {
	h, _, err := c.Call(CmdTreeConnect, TreeConnectBody(path))
	if err == nil && h.Status == StatusSuccess {
		c.TreeID = h.TreeID
	}
	return h.Status, err
}

// TreeConnect connects \\server\share and keeps its TreeId.
func (c *Client) TreeConnect(share string) (uint32, error) {
	return c.TreeConnectPath(`\\server\` + share)
}

// CreateBody is a CREATE request body opening the pipe name (FILE_OPEN,
// impersonation level Impersonation, read/write access).
func CreateBody(name string) []byte {
	n := UTF16LE(name)
	b := make([]byte, 56+max(len(n), 1))
	le.PutUint16(b, 57)
	le.PutUint32(b[4:], 2)           // impersonation
	le.PutUint32(b[24:], 0x0012019F) // access
	le.PutUint32(b[36:], 1)          // FILE_OPEN
	le.PutUint16(b[44:], headerSize+56)
	le.PutUint16(b[46:], uint16(len(n)))
	copy(b[56:], n)
	return b
}

// Create opens a named pipe of IPC$.
func (c *Client) Create(pipe string) (uint32, FileID, error) {
	h, resp, err := c.Call(CmdCreate, CreateBody(pipe))
	var id FileID
	if err == nil && h.Status == StatusSuccess && len(resp) >= headerSize+80 {
		copy(id[:], resp[headerSize+64:])
	}
	return h.Status, id, err
}

// WriteBody is an SMB2 WRITE request body.
func WriteBody(id FileID, data []byte) []byte {
	b := make([]byte, 48+len(data))
	le.PutUint16(b, 49)
	le.PutUint16(b[2:], headerSize+48)
	le.PutUint32(b[4:], uint32(len(data)))
	copy(b[16:], id[:])
	copy(b[48:], data)
	return b
}

// ReadBody is an SMB2 READ request body.
func ReadBody(id FileID, n uint32) []byte {
	b := make([]byte, 49)
	le.PutUint16(b, 49)
	le.PutUint32(b[4:], n)
	copy(b[16:], id[:])
	return b
}

// IoctlBody is an SMB2 IOCTL request body for the FSCTL ctl on id with
// input in and at most maxOut bytes of output.
func IoctlBody(ctl uint32, id FileID, in []byte, maxOut uint32) []byte {
	b := make([]byte, 56+len(in))
	le.PutUint16(b, 57)
	le.PutUint32(b[4:], ctl)
	copy(b[8:], id[:])
	if len(in) > 0 {
		le.PutUint32(b[24:], headerSize+56)
	}
	le.PutUint32(b[28:], uint32(len(in)))
	le.PutUint32(b[44:], maxOut)
	le.PutUint32(b[48:], 1) // SMB2_0_IOCTL_IS_FSCTL
	copy(b[56:], in)
	return b
}

// ReadData is the data of a READ response.
func ReadData(resp []byte) ([]byte, error) {
	if len(resp) < headerSize+16 {
		return nil, errors.New("smbraw: short READ response")
	}
	off := int(resp[headerSize+2])
	l := int(le.Uint32(resp[headerSize+4:]))
	if off < headerSize || off+l > len(resp) {
		return nil, fmt.Errorf("smbraw: READ response of %d bytes claims %d at %d", len(resp), l, off)
	}
	return resp[off : off+l], nil
}

// IoctlOutput is the output of an IOCTL response.
func IoctlOutput(resp []byte) ([]byte, error) {
	if len(resp) < headerSize+48 {
		return nil, errors.New("smbraw: short IOCTL response")
	}
	off := int(le.Uint32(resp[headerSize+32:]))
	l := int(le.Uint32(resp[headerSize+36:]))
	if l == 0 {
		return nil, nil
	}
	if off < headerSize || off+l > len(resp) {
		return nil, fmt.Errorf("smbraw: IOCTL response of %d bytes claims %d at %d", len(resp), l, off)
	}
	return resp[off : off+l], nil
}

// Write writes data to the pipe and returns the status.
func (c *Client) Write(id FileID, data []byte) (uint32, error) {
	h, _, err := c.Call(CmdWrite, WriteBody(id, data))
	return h.Status, err
}

// Read reads one message (at most n bytes) from the pipe.
func (c *Client) Read(id FileID, n uint32) (uint32, []byte, error) {
	h, resp, err := c.Call(CmdRead, ReadBody(id, n))
	if err != nil || (h.Status != StatusSuccess && h.Status != StatusBufferOverflow) {
		return h.Status, nil, err
	}
	data, err := ReadData(resp)
	return h.Status, data, err
}

// Transceive writes in to the pipe and reads one message of at most
// maxOut bytes with FSCTL_PIPE_TRANSCEIVE.
func (c *Client) Transceive(id FileID, in []byte, maxOut uint32) (uint32, []byte, error) {
	h, resp, err := c.Call(CmdIoctl, IoctlBody(FsctlPipeTransceive, id, in, maxOut))
	if err != nil || (h.Status != StatusSuccess && h.Status != StatusBufferOverflow) {
		return h.Status, nil, err
	}
	out, err := IoctlOutput(resp)
	return h.Status, out, err
}

// Cancel builds a CANCEL for the async request asyncID (or, when
// asyncID is 0, for MessageId mid), signed when sign is set.
func (c *Client) Cancel(asyncID, mid uint64, sign bool) []byte {
	m := make([]byte, headerSize+4)
	copy(m, "\xfeSMB")
	le.PutUint16(m[4:], headerSize)
	le.PutUint16(m[12:], CmdCancel)
	flags := uint32(0)
	if asyncID != 0 {
		flags |= FlagAsync
		le.PutUint64(m[32:], asyncID)
	} else {
		le.PutUint64(m[24:], mid)
	}
	le.PutUint64(m[40:], c.SessionID)
	le.PutUint16(m[headerSize:], 4)
	if sign {
		flags |= FlagSigned
	}
	le.PutUint32(m[16:], flags)
	if sign {
		smbcrypto.Sign(c.SignAlg, c.SignKey, m)
	}
	return m
}

// UTF16LE encodes s as UTF-16LE without a terminator.
func UTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		le.PutUint16(b[2*i:], r)
	}
	return b
}
