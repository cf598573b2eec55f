package ntlm

import (
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Errors of message protection.
var (
	errNoProtection = errors.New("ntlm: the context cannot protect messages")
	errBadSignature = errors.New("ntlm: message signature mismatch")
)

// signatureSize is the size of an NTLMSSP_MESSAGE_SIGNATURE (MS-NLMP
// 2.2.2.9.1).
const signatureSize = 16

// Protection returns the per-message protection of the established
// context (MS-NLMP 3.4.4, 3.4.6, 3.4.7 with extended session security):
// HMAC-MD5 signatures under the per-direction signing keys, RC4 sealing
// handles that run for the life of the context. The handles are new: a
// mechListMIC checked or made during SPNEGO used handles of its own (they
// are reset after it, MS-SPNG 3.1.5.1), but its sequence number is
// spent: each direction continues after its mechListMIC.
func (c *Context) Protection() (ipc.PDUProtection, error) {
	if c.state != stateDone || c.identity.Anonymous || c.sessionKey == nil {
		return nil, errNoProtection
	}
	if c.negFlags&flagExtendedSessionSecurity == 0 {
		return nil, fmt.Errorf("%w: without extended session security", errNoProtection)
	}
	k := deriveKeys(c.negFlags, c.sessionKey)
	in, err := rc4.NewCipher(k.clientSeal)
	if err != nil {
		return nil, err
	}
	out, err := rc4.NewCipher(k.serverSeal)
	if err != nil {
		return nil, err
	}
	return &protection{keys: k, in: in, out: out, inSeq: c.micIn, outSeq: c.micOut}, nil
}

// protection is the NTLM message protection of one context, on the
// acceptor's side: inbound messages use the client-to-server keys.
type protection struct {
	keys    sessionKeys
	in, out *rc4.Cipher
	inSeq   uint32
	outSeq  uint32
}

var _ ipc.PDUProtection = (*protection)(nil)

func (p *protection) SignatureSize(bool) int { return signatureSize }

// The NTLM provider signs the whole PDU up to the verifier whether or not
// header signing was negotiated, as Windows does: clients sign it so
// (impacket, Samba). A client that signs only the body when header
// signing is off (go-msrpc) is verified too.

// checksum is the first 8 bytes of HMAC_MD5(key, seq ‖ parts).
func checksum(key []byte, seq uint32, parts ...[]byte) []byte {
	var s [4]byte
	binary.LittleEndian.PutUint32(s[:], seq)
	return hmacMD5(key, append([][]byte{s[:]}, parts...)...)[:8]
}

// signature lays out the NTLMSSP_MESSAGE_SIGNATURE of an outbound message
// whose plaintext is parts, after the data (if sealed) went through the
// handle: the checksum goes through it when keys were exchanged.
func (p *protection) signature(sum []byte) []byte {
	sig := make([]byte, signatureSize)
	binary.LittleEndian.PutUint32(sig[0:4], 1)
	copy(sig[4:12], sum)
	if p.keys.keyExch {
		p.out.XORKeyStream(sig[4:12], sig[4:12])
	}
	binary.LittleEndian.PutUint32(sig[12:16], p.outSeq)
	p.outSeq++
	return sig
}

func (p *protection) Sign(header, body, trailer []byte, _ bool) ([]byte, error) {
	return p.signature(checksum(p.keys.serverSign, p.outSeq, header, body, trailer)), nil
}

func (p *protection) Seal(header, body, trailer []byte, _ bool) ([]byte, error) {
	// MS-NLMP 3.4.3: the checksum is over the plaintext; the handle
	// encrypts the message, then the checksum.
	sum := checksum(p.keys.serverSign, p.outSeq, header, body, trailer)
	p.out.XORKeyStream(body, body)
	return p.signature(sum), nil
}

func (p *protection) Verify(header, body, trailer, verifier []byte, headerSign bool) error {
	return p.check(header, body, trailer, verifier, headerSign)
}

func (p *protection) Unseal(header, body, trailer, verifier []byte, headerSign bool) error {
	p.in.XORKeyStream(body, body)
	return p.check(header, body, trailer, verifier, headerSign)
}

// check verifies an inbound signature over the plaintext message and
// advances the inbound sequence number.
func (p *protection) check(header, body, trailer, verifier []byte, headerSign bool) error {
	if len(verifier) != signatureSize {
		return fmt.Errorf("%w: verifier of %d bytes", errBadSignature, len(verifier))
	}
	seq := p.inSeq
	p.inSeq++
	var ks [8]byte
	if p.keys.keyExch {
		p.in.XORKeyStream(ks[:], ks[:])
	}
	ok := func(sum []byte) bool {
		var want [signatureSize]byte
		binary.LittleEndian.PutUint32(want[0:4], 1)
		subtle.XORBytes(want[4:12], sum, ks[:])
		binary.LittleEndian.PutUint32(want[12:16], seq)
		return subtle.ConstantTimeCompare(want[:], verifier) == 1
	}
	if ok(checksum(p.keys.clientSign, seq, header, body, trailer)) {
		return nil
	}
	if !headerSign && ok(checksum(p.keys.clientSign, seq, body)) {
		return nil
	}
	return errBadSignature
}
