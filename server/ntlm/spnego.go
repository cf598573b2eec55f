package ntlm

import (
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers (RFC 4178 4.1, MS-NLMP 1.9).
var (
	oidSPNEGO  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 2}
	oidNTLMSSP = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}
)

// negState values of NegTokenResp (RFC 4178 4.2.2).
const (
	negStateAbsent           = -1
	negStateAcceptCompleted  = 0
	negStateAcceptIncomplete = 1
	negStateReject           = 2
	negStateRequestMIC       = 3
)

// hintName is the NegHints.hintName of NegTokenInit2 (MS-SPNG 2.2.1).
const hintName = "not_defined_in_RFC4178@please_ignore"

var errSPNEGO = errors.New("spnego: malformed token")

const (
	tagApplication0 = cbasn1.Tag(0x60) // [APPLICATION 0] constructed
	tagGeneralStr   = cbasn1.Tag(27)
)

func ctxTag(n uint8) cbasn1.Tag { return cbasn1.Tag(n).ContextSpecific().Constructed() }

// negTokenInit is the client's NegTokenInit (RFC 4178 4.2.1), also
// tolerating the NegTokenInit2 layout (MS-SPNG 2.2.1).
type negTokenInit struct {
	MechTypes []asn1.ObjectIdentifier
	// MechTypesDER is the exact DER of the mechTypes SEQUENCE, the input of
	// the mechListMIC (RFC 4178 5).
	MechTypesDER []byte
	MechToken    []byte // nil when absent
	MechListMIC  []byte // nil when absent
}

// parseInitialContextToken decodes the GSS InitialContextToken
// (RFC 2743 3.1) carrying SPNEGO's negTokenInit [0].
func parseInitialContextToken(b []byte) (*negTokenInit, error) {
	s := cryptobyte.String(b)
	var inner cryptobyte.String
	if !s.ReadASN1(&inner, tagApplication0) || !s.Empty() {
		return nil, fmt.Errorf("%w: not an InitialContextToken", errSPNEGO)
	}
	var mech asn1.ObjectIdentifier
	if !inner.ReadASN1ObjectIdentifier(&mech) {
		return nil, fmt.Errorf("%w: no thisMech", errSPNEGO)
	}
	if !mech.Equal(oidSPNEGO) {
		return nil, fmt.Errorf("%w: mechanism %v is not SPNEGO", errSPNEGO, mech)
	}
	var choice, seq cryptobyte.String
	if !inner.ReadASN1(&choice, ctxTag(0)) || !inner.Empty() {
		return nil, fmt.Errorf("%w: not a negTokenInit", errSPNEGO)
	}
	if !choice.ReadASN1(&seq, cbasn1.SEQUENCE) || !choice.Empty() {
		return nil, fmt.Errorf("%w: negTokenInit is not a SEQUENCE", errSPNEGO)
	}
	return parseNegTokenInitBody(seq)
}

func parseNegTokenInitBody(seq cryptobyte.String) (*negTokenInit, error) {
	t := &negTokenInit{}
	// mechTypes [0] MechTypeList
	var mt cryptobyte.String
	if !seq.ReadASN1(&mt, ctxTag(0)) {
		return nil, fmt.Errorf("%w: no mechTypes", errSPNEGO)
	}
	var der cryptobyte.String
	if !mt.ReadASN1Element(&der, cbasn1.SEQUENCE) || !mt.Empty() {
		return nil, fmt.Errorf("%w: mechTypes is not a SEQUENCE", errSPNEGO)
	}
	t.MechTypesDER = append([]byte(nil), der...)
	var list cryptobyte.String
	if !der.ReadASN1(&list, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: mechTypes", errSPNEGO)
	}
	for !list.Empty() {
		var oid asn1.ObjectIdentifier
		if !list.ReadASN1ObjectIdentifier(&oid) {
			return nil, fmt.Errorf("%w: bad mechanism OID", errSPNEGO)
		}
		t.MechTypes = append(t.MechTypes, oid)
	}
	if len(t.MechTypes) == 0 {
		return nil, fmt.Errorf("%w: empty mechTypes", errSPNEGO)
	}
	// reqFlags [1] ContextFlags OPTIONAL: ignored (RFC 4178 4.2.1).
	var skip cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&skip, &present, ctxTag(1)) {
		return nil, fmt.Errorf("%w: reqFlags", errSPNEGO)
	}
	// mechToken [2] OCTET STRING OPTIONAL
	var w cryptobyte.String
	if !seq.ReadOptionalASN1(&w, &present, ctxTag(2)) {
		return nil, fmt.Errorf("%w: mechToken", errSPNEGO)
	}
	if present {
		var tok cryptobyte.String
		if !w.ReadASN1(&tok, cbasn1.OCTET_STRING) || !w.Empty() {
			return nil, fmt.Errorf("%w: mechToken", errSPNEGO)
		}
		t.MechToken = append([]byte{}, tok...)
	}
	// [3] is mechListMIC in NegTokenInit and negHints in NegTokenInit2;
	// [4] is mechListMIC in NegTokenInit2.
	for _, n := range []uint8{3, 4} {
		if !seq.ReadOptionalASN1(&w, &present, ctxTag(n)) {
			return nil, fmt.Errorf("%w: field [%d]", errSPNEGO, n)
		}
		if !present {
			continue
		}
		if w.PeekASN1Tag(cbasn1.OCTET_STRING) {
			var mic cryptobyte.String
			if !w.ReadASN1(&mic, cbasn1.OCTET_STRING) || !w.Empty() {
				return nil, fmt.Errorf("%w: mechListMIC", errSPNEGO)
			}
			t.MechListMIC = append([]byte{}, mic...)
		} else if n == 4 || !w.PeekASN1Tag(cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: field [%d]", errSPNEGO, n)
		}
	}
	if !seq.Empty() {
		return nil, fmt.Errorf("%w: trailing data in negTokenInit", errSPNEGO)
	}
	return t, nil
}

// marshalNegTokenInit2 encodes the server's InitialContextToken holding a
// NegTokenInit2 (MS-SPNG 2.2.1) with mechTypes and negHints.hintName.
func marshalNegTokenInit2(mechs []asn1.ObjectIdentifier, hint string) []byte {
	var b cryptobyte.Builder
	b.AddASN1(tagApplication0, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSPNEGO)
		b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, m := range mechs {
							b.AddASN1ObjectIdentifier(m)
						}
					})
				})
				b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
							b.AddASN1(tagGeneralStr, func(b *cryptobyte.Builder) {
								b.AddBytes([]byte(hint))
							})
						})
					})
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// marshalMechTypes is the DER of a MechTypeList.
func marshalMechTypes(mechs []asn1.ObjectIdentifier) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, m := range mechs {
			b.AddASN1ObjectIdentifier(m)
		}
	})
	return b.BytesOrPanic()
}

// negTokenResp is NegTokenResp (RFC 4178 4.2.2).
type negTokenResp struct {
	NegState      int // negStateAbsent when absent
	SupportedMech asn1.ObjectIdentifier
	ResponseToken []byte // nil when absent
	MechListMIC   []byte // nil when absent
}

// parseNegTokenResp decodes a negTokenResp [1] NegotiationToken.
func parseNegTokenResp(b []byte) (*negTokenResp, error) {
	s := cryptobyte.String(b)
	var choice, seq cryptobyte.String
	if !s.ReadASN1(&choice, ctxTag(1)) || !s.Empty() {
		return nil, fmt.Errorf("%w: not a negTokenResp", errSPNEGO)
	}
	if !choice.ReadASN1(&seq, cbasn1.SEQUENCE) || !choice.Empty() {
		return nil, fmt.Errorf("%w: negTokenResp is not a SEQUENCE", errSPNEGO)
	}
	r := &negTokenResp{NegState: negStateAbsent}
	var w cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&w, &present, ctxTag(0)) {
		return nil, fmt.Errorf("%w: negState", errSPNEGO)
	}
	if present {
		var st int
		if !w.ReadASN1Enum(&st) || !w.Empty() || st < 0 || st > negStateRequestMIC {
			return nil, fmt.Errorf("%w: negState", errSPNEGO)
		}
		r.NegState = st
	}
	if !seq.ReadOptionalASN1(&w, &present, ctxTag(1)) {
		return nil, fmt.Errorf("%w: supportedMech", errSPNEGO)
	}
	if present {
		if !w.ReadASN1ObjectIdentifier(&r.SupportedMech) || !w.Empty() {
			return nil, fmt.Errorf("%w: supportedMech", errSPNEGO)
		}
	}
	for _, f := range []struct {
		n   uint8
		dst *[]byte
	}{{2, &r.ResponseToken}, {3, &r.MechListMIC}} {
		if !seq.ReadOptionalASN1(&w, &present, ctxTag(f.n)) {
			return nil, fmt.Errorf("%w: field [%d]", errSPNEGO, f.n)
		}
		if present {
			var v cryptobyte.String
			if !w.ReadASN1(&v, cbasn1.OCTET_STRING) || !w.Empty() {
				return nil, fmt.Errorf("%w: field [%d]", errSPNEGO, f.n)
			}
			*f.dst = append([]byte{}, v...)
		}
	}
	if !seq.Empty() {
		return nil, fmt.Errorf("%w: trailing data in negTokenResp", errSPNEGO)
	}
	return r, nil
}

// marshal encodes r as a negTokenResp [1] NegotiationToken.
func (r *negTokenResp) marshal() []byte {
	var b cryptobyte.Builder
	b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if r.NegState != negStateAbsent {
				b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
					b.AddASN1Enum(int64(r.NegState))
				})
			}
			if r.SupportedMech != nil {
				b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(r.SupportedMech)
				})
			}
			if r.ResponseToken != nil {
				b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) {
					b.AddASN1OctetString(r.ResponseToken)
				})
			}
			if r.MechListMIC != nil {
				b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) {
					b.AddASN1OctetString(r.MechListMIC)
				})
			}
		})
	})
	return b.BytesOrPanic()
}
