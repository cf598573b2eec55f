package smbprobe

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
	CmdCancel       uint16 = 0x000C
	CmdEcho         uint16 = 0x000D
)

// Header flags and NT status values the probes look at.
const (
	FlagServerToRedir uint32 = 0x00000001
	FlagAsync         uint32 = 0x00000002
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

const headerSize = 64

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
		return Header{}, errors.New("smbprobe: not an SMB2 message")
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

// FileID is an SMB2 FileId.
type FileID [16]byte

// Client is one raw SMB2 connection. It is not safe for concurrent use.
type Client struct {
	Conn    net.Conn
	Timeout time.Duration // for every read and write; default 10 s

	MsgID     uint64
	SessionID uint64
	TreeID    uint32
	Dialect   uint16
	// Sign signs every request with SignKey once a session is
	// established (Login sets both).
	Sign    bool
	SignKey []byte
	SignAlg uint16
	// Encrypt sends every request in a TRANSFORM_HEADER (Login sets the
	// keys when the server offered a cipher).
	Encrypt bool

	cipherID uint16
	preauth  []byte
	enc, dec cipher.AEAD
	nonces   *smbcrypto.NonceSource
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
	return &Client{Conn: c, Timeout: 10 * time.Second}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }

// WriteRaw sends b as is.
func (c *Client) WriteRaw(b []byte) error {
	c.Conn.SetWriteDeadline(time.Now().Add(c.Timeout))
	_, err := c.Conn.Write(b)
	return err
}

// WriteFrame sends msg with its Direct TCP header, encrypted first when
// c.Encrypt is set.
func (c *Client) WriteFrame(msg []byte) error {
	if c.Encrypt && c.enc != nil {
		n, err := c.nonces.Next()
		if err != nil {
			return err
		}
		msg = smbcrypto.Encrypt(c.enc, n, c.SessionID, msg)
	}
	f := make([]byte, 4+len(msg))
	f[1], f[2], f[3] = byte(len(msg)>>16), byte(len(msg)>>8), byte(len(msg))
	copy(f[4:], msg)
	return c.WriteRaw(f)
}

// ReadMessage returns the next message, decrypted when it came in a
// TRANSFORM_HEADER.
func (c *Client) ReadMessage() ([]byte, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.Timeout))
	var h [4]byte
	if _, err := io.ReadFull(c.Conn, h[:]); err != nil {
		return nil, err
	}
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	b := make([]byte, n)
	if _, err := io.ReadFull(c.Conn, b); err != nil {
		return nil, err
	}
	if len(b) >= 4 && string(b[:4]) == "\xfdSMB" {
		if c.dec == nil {
			return nil, errors.New("smbprobe: encrypted message without keys")
		}
		return smbcrypto.Decrypt(c.dec, b)
	}
	return b, nil
}

// Build returns a request with the next MessageId, signed when c.Sign.
func (c *Client) Build(cmd uint16, body []byte) []byte {
	m := make([]byte, headerSize+len(body))
	copy(m, "\xfeSMB")
	le.PutUint16(m[4:], headerSize)
	le.PutUint16(m[6:], 1) // CreditCharge
	le.PutUint16(m[12:], cmd)
	le.PutUint16(m[14:], 64) // credits requested
	le.PutUint64(m[24:], c.MsgID)
	le.PutUint32(m[36:], c.TreeID)
	le.PutUint64(m[40:], c.SessionID)
	copy(m[headerSize:], body)
	c.MsgID++
	if c.Sign && c.SignKey != nil && !c.Encrypt {
		le.PutUint32(m[16:], FlagSigned)
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

// Negotiate offers exactly dialect; at 3.1.1 it offers SHA-512 and, when
// cipherID is not zero, that cipher. It returns the status.
func (c *Client) Negotiate(dialect, cipherID uint16) (uint32, error) {
	body := make([]byte, 36+2)
	le.PutUint16(body, 36)
	le.PutUint16(body[2:], 1)
	le.PutUint16(body[4:], 1) // signing enabled
	le.PutUint32(body[8:], 0x40)
	rand.Read(body[12:28])
	le.PutUint16(body[36:], dialect)
	if dialect == smbcrypto.Dialect311 {
		off := (headerSize + len(body) + 7) &^ 7
		body = append(body, make([]byte, off-headerSize-len(body))...)
		le.PutUint32(body[28:], uint32(off))
		ctxs := [][]byte{preauthContext()}
		if cipherID != 0 {
			ctxs = append(ctxs, idListContext(2, cipherID))
		}
		le.PutUint16(body[32:], uint16(len(ctxs)))
		for i, x := range ctxs {
			if i > 0 {
				for len(body)%8 != 0 {
					body = append(body, 0)
				}
			}
			body = append(body, x...)
		}
	}
	req := c.Build(CmdNegotiate, body)
	if err := c.WriteFrame(req); err != nil {
		return 0, err
	}
	h, resp, err := c.Recv()
	if err != nil {
		return 0, err
	}
	if h.Status != StatusSuccess {
		return h.Status, nil
	}
	c.Dialect = le.Uint16(resp[headerSize+4:])
	c.SignAlg = smbcrypto.SigningHMACSHA256
	if c.Dialect >= smbcrypto.Dialect300 {
		c.SignAlg = smbcrypto.SigningAESCMAC
	}
	if c.Dialect == smbcrypto.Dialect311 {
		c.preauth = smbcrypto.PreauthHash(smbcrypto.PreauthHash(make([]byte, 64), req), resp)
		c.cipherID = cipherID
	} else if c.Dialect >= smbcrypto.Dialect300 && le.Uint32(resp[headerSize+24:])&0x40 != 0 {
		c.cipherID = smbcrypto.AES128CCM
	}
	return h.Status, nil
}

func preauthContext() []byte {
	d := make([]byte, 8+6+32)
	le.PutUint16(d, 1)
	le.PutUint16(d[2:], 6+32)
	le.PutUint16(d[8:], 1)
	le.PutUint16(d[10:], 32)
	le.PutUint16(d[12:], 1) // SHA-512
	rand.Read(d[14:])
	return d
}

func idListContext(typ uint16, ids ...uint16) []byte {
	d := make([]byte, 8+2+2*len(ids))
	le.PutUint16(d, typ)
	le.PutUint16(d[2:], uint16(2+2*len(ids)))
	le.PutUint16(d[8:], uint16(len(ids)))
	for i, id := range ids {
		le.PutUint16(d[10+2*i:], id)
	}
	return d
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
	d := utf16le(domain)
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

// Login authenticates user with go-msrpc's SPNEGO/NTLM initiator,
// derives the session's keys and signs from then on (encrypting too when
// the connection negotiated a cipher and encrypt is set).
func (c *Client) Login(user, password string, encrypt bool) (uint32, error) {
	ctx := gssapi.NewSecurityContext(context.Background(),
		gssapi.WithMechanismFactory(spnego.Mechanism{}),
		gssapi.WithMechanismFactory(msntlm.Mechanism{}, msntlm.NewConfig()),
		gssapi.WithCredential(credential.NewFromPassword(user, password)),
	)
	tok, err := gssapi.InitSecurityContext(ctx, &gssapi.Token{})
	if err != nil {
		return 0, err
	}
	preauth := c.preauth
	sid := uint64(0)
	for leg := 0; leg < 4; leg++ {
		saved := c.SessionID
		c.SessionID = sid
		req := c.Build(CmdSessionSetup, SessionSetupBody(tok.Payload))
		c.SessionID = saved
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
		sid = h.SessionID
		switch h.Status {
		case StatusMoreProcessingRequired:
			if preauth != nil {
				preauth = smbcrypto.PreauthHash(preauth, resp)
			}
			off, n := le.Uint16(resp[headerSize+4:]), le.Uint16(resp[headerSize+6:])
			if tok, err = gssapi.InitSecurityContext(ctx, &gssapi.Token{Payload: resp[off : off+n]}); err != nil {
				return 0, err
			}
		case StatusSuccess:
			v, _ := gssapi.GetAttribute(ctx, gssapi.AttributeSessionKey)
			key, _ := v.([]byte)
			sk := make([]byte, 16)
			copy(sk, key)
			keys := smbcrypto.DeriveSessionKeys(c.Dialect, sk, key, preauth, c.cipherID)
			c.SessionID, c.SignKey, c.Sign = sid, keys.Signing, true
			if encrypt && c.cipherID != 0 && keys.Decryption != nil {
				if c.enc, err = smbcrypto.NewAEAD(c.cipherID, keys.Decryption); err != nil {
					return 0, err
				}
				if c.dec, err = smbcrypto.NewAEAD(c.cipherID, keys.Encryption); err != nil {
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
	return 0, errors.New("smbprobe: session setup did not finish")
}

// TreeConnect connects \\server\share and keeps its TreeId.
func (c *Client) TreeConnect(share string) (uint32, error) {
	p := utf16le(`\\server\` + share)
	b := make([]byte, 8+len(p))
	le.PutUint16(b, 9)
	le.PutUint16(b[4:], headerSize+8)
	le.PutUint16(b[6:], uint16(len(p)))
	copy(b[8:], p)
	h, _, err := c.Call(CmdTreeConnect, b)
	if err == nil && h.Status == StatusSuccess {
		c.TreeID = h.TreeID
	}
	return h.Status, err
}

// Create opens a named pipe of IPC$.
func (c *Client) Create(pipe string) (uint32, FileID, error) {
	n := utf16le(pipe)
	b := make([]byte, 56+max(len(n), 1))
	le.PutUint16(b, 57)
	le.PutUint32(b[4:], 2)           // impersonation
	le.PutUint32(b[24:], 0x0012019F) // access
	le.PutUint32(b[36:], 1)          // FILE_OPEN
	le.PutUint16(b[44:], headerSize+56)
	le.PutUint16(b[46:], uint16(len(n)))
	copy(b[56:], n)
	h, resp, err := c.Call(CmdCreate, b)
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
	off := int(resp[headerSize+2])
	l := int(le.Uint32(resp[headerSize+4:]))
	if off+l > len(resp) {
		return h.Status, nil, fmt.Errorf("smbprobe: READ response of %d bytes claims %d at %d", len(resp), l, off)
	}
	return h.Status, resp[off : off+l], nil
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

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		le.PutUint16(b[2*i:], r)
	}
	return b
}
