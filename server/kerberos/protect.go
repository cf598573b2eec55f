package kerberos

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/oiweiwei/go-msrpc/ssp/krb5/crypto"
	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/crypto/common"
	"github.com/oiweiwei/gokrb5.fork/v9/crypto/etype"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/keyusage"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Errors of message protection.
var (
	errNoProtection = errors.New("kerberos: the context cannot protect messages")
	errBadToken     = errors.New("kerberos: per-message token does not verify")
)

// Protection returns the per-message protection of the established
// context: RFC 4121 tokens (AES) or RFC 4757 tokens (RC4) in the DCE
// style of MS-KILE 3.4.5.4 and 3.4.5.5 when the context is DCE style,
// under the context key, with each side's sequence numbers continuing
// from the establishment (a mechListMIC used the first ones).
func (c *Context) Protection() (ipc.PDUProtection, error) {
	if c.state != stateDone {
		return nil, errNoProtection
	}
	in, err := c.cipher(true)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoProtection, err)
	}
	out, err := c.cipher(false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoProtection, err)
	}
	et, err := krbcrypto.GetEtype(c.contextKey.KeyType)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoProtection, err)
	}
	p := &protection{in: in, out: out, et: et, key: c.contextKey.KeyValue, acceptorSub: c.acceptorSub,
		inSeq: c.initiatorSeq, outSeq: c.acceptorSeq}
	switch c.contextKey.KeyType {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96:
		p.aes = true
	case etypeID.RC4_HMAC:
	default:
		return nil, fmt.Errorf("%w: key type %d", errNoProtection, c.contextKey.KeyType)
	}
	return p, nil
}

// protection is the Kerberos message protection of one context on the
// acceptor's side: inbound tokens are the initiator's.
type protection struct {
	in, out     crypto.Cipher
	et          etype.EType
	key         []byte
	acceptorSub bool
	aes         bool
	inSeq       uint64
	outSeq      uint64
}

var _ ipc.PDUProtection = (*protection)(nil)

// segments are the buffers a token protects (MS-RPCE 3.3.1.5.2.2).
func segments(header, body, trailer []byte, headerSign bool) [][]byte {
	if headerSign {
		return [][]byte{header, body, trailer}
	}
	return [][]byte{body}
}

func (p *protection) SignatureSize(seal bool) int { return p.out.Size(context.Background(), seal) }

func (p *protection) Sign(header, body, trailer []byte, headerSign bool) ([]byte, error) {
	sig, err := p.out.MakeSignature(context.Background(), p.outSeq, segments(header, body, trailer, headerSign))
	if err != nil {
		return nil, err
	}
	p.outSeq++
	return sig, nil
}

func (p *protection) Seal(header, body, trailer []byte, headerSign bool) ([]byte, error) {
	sig, err := p.out.WrapEx(context.Background(), p.outSeq, segments(header, body, trailer, headerSign), [][]byte{body})
	if err != nil {
		return nil, err
	}
	p.outSeq++
	return sig, nil
}

// Verify recomputes the initiator's MIC token at the expected sequence
// number: a replayed or reordered PDU does not verify.
func (p *protection) Verify(header, body, trailer, verifier []byte, headerSign bool) error {
	want, err := p.in.MakeSignature(context.Background(), p.inSeq, segments(header, body, trailer, headerSign))
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(want, verifier) != 1 {
		return errBadToken
	}
	p.inSeq++
	return nil
}

func (p *protection) Unseal(header, body, trailer, verifier []byte, headerSign bool) error {
	forSign := segments(header, body, trailer, headerSign)
	if p.aes {
		if err := p.unwrapAES(forSign, body, verifier); err != nil {
			return err
		}
		p.inSeq++
		return nil
	}
	// The RC4 routine rebuilds the whole expected token, sequence number
	// included, and compares.
	ok, err := p.unwrapRC4(forSign, body, verifier)
	if err != nil || !ok {
		return errBadToken
	}
	p.inSeq++
	return nil
}

// unwrapRC4 runs go-msrpc's RFC 4757 unwrap; a panic on a hostile token
// is a failed check.
func (p *protection) unwrapRC4(forSign [][]byte, body, verifier []byte) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, errBadToken
		}
	}()
	return p.in.UnwrapEx(context.Background(), p.inSeq, forSign, [][]byte{body}, bytes.Clone(verifier))
}

// CFX token flags (RFC 4121 4.2.2).
const (
	cfxSentByAcceptor = 0x01
	cfxSealed         = 0x02
	cfxAcceptorSubkey = 0x04
)

// unwrapAES is GSS_UnwrapEx of an RFC 4121 wrap token in the DCE layout
// of MS-KILE 3.4.5.4.1: the verifier holds the token header, then the
// ciphertext rotated right by RRC+EC, without the encrypted data, which
// is body. It checks the header (an initiator's sealed token at the
// expected sequence number), the encrypted copy of the header and the
// checksum, and decrypts body in place.
func (p *protection) unwrapAES(forSign [][]byte, body, verifier []byte) error {
	if len(verifier) < 16 {
		return errBadToken
	}
	hdr := bytes.Clone(verifier[:16])
	flags := byte(cfxSealed)
	if p.acceptorSub {
		flags |= cfxAcceptorSubkey
	}
	if hdr[0] != 0x05 || hdr[1] != 0x04 || hdr[2] != flags || hdr[3] != 0xff ||
		binary.BigEndian.Uint64(hdr[8:]) != p.inSeq {
		return errBadToken
	}
	ec, rrc := int(binary.BigEndian.Uint16(hdr[4:])), int(binary.BigEndian.Uint16(hdr[6:]))
	conf := p.et.GetConfounderByteSize()
	cksum := p.et.GetHMACBitLength() / 8
	// The verifier's rest is E(filler ‖ header) ‖ checksum ‖ E(confounder):
	// RRC+EC is the rotation that leaves the data alone in the body.
	if rrc != 16+cksum || len(verifier) != 16+ec+rrc+conf {
		return errBadToken
	}
	rot := append(bytes.Clone(verifier[16:]), body...)
	n := rrc + ec
	buf := append(rot[n:], rot[:n]...) // E(confounder ‖ data ‖ filler ‖ header) ‖ checksum
	ct, mac := buf[:len(buf)-cksum], buf[len(buf)-cksum:]
	ke, err := p.et.DeriveKey(p.key, common.GetUsageKe(uint32(keyusage.GSSAPI_INITIATOR_SEAL)))
	if err != nil {
		return err
	}
	pt, err := p.et.DecryptData(ke, ct)
	if err != nil || len(pt) != conf+len(body)+ec+16 {
		return errBadToken
	}
	ki, err := p.et.DeriveKey(p.key, common.GetUsageKi(uint32(keyusage.GSSAPI_INITIATOR_SEAL)))
	if err != nil {
		return err
	}
	inner := pt[conf+len(body)+ec:]
	// The encrypted copy of the header has RRC 0 (RFC 4121 4.2.4).
	binary.BigEndian.PutUint16(hdr[6:], 0)
	if !bytes.Equal(inner, hdr) {
		return errBadToken
	}
	h := hmac.New(p.et.GetHashFunc(), ki)
	h.Write(pt[:conf])
	// forSign holds body, still encrypted: the checksum is over the
	// plaintext, so it is hashed from pt in its place.
	for _, s := range forSign {
		if len(s) > 0 && len(body) > 0 && &s[0] == &body[0] {
			h.Write(pt[conf : conf+len(body)])
		} else {
			h.Write(s)
		}
	}
	h.Write(pt[conf+len(body):])
	if subtle.ConstantTimeCompare(h.Sum(nil)[:cksum], mac) != 1 {
		return errBadToken
	}
	copy(body, pt[conf:conf+len(body)])
	return nil
}
