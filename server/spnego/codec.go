package spnego

import (
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers (RFC 4178 4.1, MS-NLMP 1.9, RFC 4121 1, MS-SPNG
// 3.1.5.2).
var (
	OIDSPNEGO       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 2}
	OIDNTLMSSP      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}
	OIDKerberos     = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}
	OIDKerberosMS   = asn1.ObjectIdentifier{1, 2, 840, 48018, 1, 2, 2} // the truncated OID of MS-SPNG <9>
	OIDKerberosUser = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2, 3}
)

// NegState values of NegTokenResp (RFC 4178 4.2.2).
const (
	StateAbsent           = -1
	StateAcceptCompleted  = 0
	StateAcceptIncomplete = 1
	StateReject           = 2
	StateRequestMIC       = 3
)

// HintName is the NegHints.hintName of NegTokenInit2 (MS-SPNG 3.2.5.2).
const HintName = "not_defined_in_RFC4178@please_ignore"

// ErrMalformed wraps every decoding error.
var ErrMalformed = errors.New("spnego: malformed token")

const (
	tagApplication0 = cbasn1.Tag(0x60) // [APPLICATION 0] constructed
	tagGeneralStr   = cbasn1.Tag(27)
)

func ctxTag(n uint8) cbasn1.Tag { return cbasn1.Tag(n).ContextSpecific().Constructed() }

// NegTokenInit is the initiator's NegTokenInit (RFC 4178 4.2.1); the parser
// also reads the NegTokenInit2 layout (MS-SPNG 2.2.1).
type NegTokenInit struct {
	MechTypes []asn1.ObjectIdentifier
	// MechTypesDER is the exact DER of the mechTypes SEQUENCE, the input of
	// the mechListMIC (RFC 4178 5).
	MechTypesDER []byte
	MechToken    []byte // nil when absent
	MechListMIC  []byte // nil when absent
}

// IsInitialContextToken reports whether b is a GSS InitialContextToken
// (RFC 2743 3.1) whose thisMech is SPNEGO, without decoding the rest.
func IsInitialContextToken(b []byte) bool {
	s := cryptobyte.String(b)
	var inner cryptobyte.String
	if !s.ReadASN1(&inner, tagApplication0) {
		return false
	}
	var mech asn1.ObjectIdentifier
	return inner.ReadASN1ObjectIdentifier(&mech) && mech.Equal(OIDSPNEGO)
}

// ParseInitialContextToken decodes the GSS InitialContextToken (RFC 2743
// 3.1) carrying SPNEGO's negTokenInit [0].
func ParseInitialContextToken(b []byte) (*NegTokenInit, error) {
	s := cryptobyte.String(b)
	var inner cryptobyte.String
	if !s.ReadASN1(&inner, tagApplication0) || !s.Empty() {
		return nil, fmt.Errorf("%w: not an InitialContextToken", ErrMalformed)
	}
	var mech asn1.ObjectIdentifier
	if !inner.ReadASN1ObjectIdentifier(&mech) {
		return nil, fmt.Errorf("%w: no thisMech", ErrMalformed)
	}
	if !mech.Equal(OIDSPNEGO) {
		return nil, fmt.Errorf("%w: mechanism %v is not SPNEGO", ErrMalformed, mech)
	}
	var choice, seq cryptobyte.String
	if !inner.ReadASN1(&choice, ctxTag(0)) || !inner.Empty() {
		return nil, fmt.Errorf("%w: not a negTokenInit", ErrMalformed)
	}
	if !choice.ReadASN1(&seq, cbasn1.SEQUENCE) || !choice.Empty() {
		return nil, fmt.Errorf("%w: negTokenInit is not a SEQUENCE", ErrMalformed)
	}
	return parseNegTokenInitBody(seq)
}

func parseNegTokenInitBody(seq cryptobyte.String) (*NegTokenInit, error) {
	t := &NegTokenInit{}
	// mechTypes [0] MechTypeList
	var mt cryptobyte.String
	if !seq.ReadASN1(&mt, ctxTag(0)) {
		return nil, fmt.Errorf("%w: no mechTypes", ErrMalformed)
	}
	var der cryptobyte.String
	if !mt.ReadASN1Element(&der, cbasn1.SEQUENCE) || !mt.Empty() {
		return nil, fmt.Errorf("%w: mechTypes is not a SEQUENCE", ErrMalformed)
	}
	t.MechTypesDER = append([]byte(nil), der...)
	var list cryptobyte.String
	if !der.ReadASN1(&list, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: mechTypes", ErrMalformed)
	}
	for !list.Empty() {
		var oid asn1.ObjectIdentifier
		if !list.ReadASN1ObjectIdentifier(&oid) {
			return nil, fmt.Errorf("%w: bad mechanism OID", ErrMalformed)
		}
		t.MechTypes = append(t.MechTypes, oid)
	}
	if len(t.MechTypes) == 0 {
		return nil, fmt.Errorf("%w: empty mechTypes", ErrMalformed)
	}
	// reqFlags [1] ContextFlags OPTIONAL: ignored (MS-SPNG 3.1.5.3).
	var skip cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&skip, &present, ctxTag(1)) {
		return nil, fmt.Errorf("%w: reqFlags", ErrMalformed)
	}
	// mechToken [2] OCTET STRING OPTIONAL
	var w cryptobyte.String
	if !seq.ReadOptionalASN1(&w, &present, ctxTag(2)) {
		return nil, fmt.Errorf("%w: mechToken", ErrMalformed)
	}
	if present {
		var tok cryptobyte.String
		if !w.ReadASN1(&tok, cbasn1.OCTET_STRING) || !w.Empty() {
			return nil, fmt.Errorf("%w: mechToken", ErrMalformed)
		}
		t.MechToken = append([]byte{}, tok...)
	}
	// [3] is mechListMIC in NegTokenInit and negHints in NegTokenInit2;
	// [4] is mechListMIC in NegTokenInit2.
	for _, n := range []uint8{3, 4} {
		if !seq.ReadOptionalASN1(&w, &present, ctxTag(n)) {
			return nil, fmt.Errorf("%w: field [%d]", ErrMalformed, n)
		}
		if !present {
			continue
		}
		if w.PeekASN1Tag(cbasn1.OCTET_STRING) {
			var mic cryptobyte.String
			if !w.ReadASN1(&mic, cbasn1.OCTET_STRING) || !w.Empty() {
				return nil, fmt.Errorf("%w: mechListMIC", ErrMalformed)
			}
			t.MechListMIC = append([]byte{}, mic...)
		} else if n == 4 || !w.PeekASN1Tag(cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: field [%d]", ErrMalformed, n)
		}
	}
	if !seq.Empty() {
		return nil, fmt.Errorf("%w: trailing data in negTokenInit", ErrMalformed)
	}
	return t, nil
}

// MarshalNegTokenInit2 encodes the acceptor's InitialContextToken holding
// a NegTokenInit2 (MS-SPNG 2.2.1) with mechTypes and negHints.hintName.
func MarshalNegTokenInit2(mechs []asn1.ObjectIdentifier, hint string) []byte {
	var b cryptobyte.Builder
	b.AddASN1(tagApplication0, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OIDSPNEGO)
		b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
					b.AddBytes(MarshalMechTypes(mechs))
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

// MarshalNegTokenInit encodes an initiator's InitialContextToken with a
// NegTokenInit (RFC 4178 4.2.1); mechToken and mechListMIC are omitted
// when nil. The acceptor never sends one; tests and clients do.
func MarshalNegTokenInit(mechs []asn1.ObjectIdentifier, mechToken, mic []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(tagApplication0, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OIDSPNEGO)
		b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
					b.AddBytes(MarshalMechTypes(mechs))
				})
				if mechToken != nil {
					b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { b.AddASN1OctetString(mechToken) })
				}
				if mic != nil {
					b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) { b.AddASN1OctetString(mic) })
				}
			})
		})
	})
	return b.BytesOrPanic()
}

// MarshalMechTypes is the DER of a MechTypeList, the data a mechListMIC
// covers.
func MarshalMechTypes(mechs []asn1.ObjectIdentifier) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, m := range mechs {
			b.AddASN1ObjectIdentifier(m)
		}
	})
	return b.BytesOrPanic()
}

// NegTokenResp is NegTokenResp (RFC 4178 4.2.2).
type NegTokenResp struct {
	NegState      int // StateAbsent when absent
	SupportedMech asn1.ObjectIdentifier
	ResponseToken []byte // nil when absent
	MechListMIC   []byte // nil when absent
}

// ParseNegTokenResp decodes a negTokenResp [1] NegotiationToken.
func ParseNegTokenResp(b []byte) (*NegTokenResp, error) {
	s := cryptobyte.String(b)
	var choice, seq cryptobyte.String
	if !s.ReadASN1(&choice, ctxTag(1)) || !s.Empty() {
		return nil, fmt.Errorf("%w: not a negTokenResp", ErrMalformed)
	}
	if !choice.ReadASN1(&seq, cbasn1.SEQUENCE) || !choice.Empty() {
		return nil, fmt.Errorf("%w: negTokenResp is not a SEQUENCE", ErrMalformed)
	}
	r := &NegTokenResp{NegState: StateAbsent}
	var w cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&w, &present, ctxTag(0)) {
		return nil, fmt.Errorf("%w: negState", ErrMalformed)
	}
	if present {
		var st int
		if !w.ReadASN1Enum(&st) || !w.Empty() || st < 0 || st > StateRequestMIC {
			return nil, fmt.Errorf("%w: negState", ErrMalformed)
		}
		r.NegState = st
	}
	if !seq.ReadOptionalASN1(&w, &present, ctxTag(1)) {
		return nil, fmt.Errorf("%w: supportedMech", ErrMalformed)
	}
	if present {
		if !w.ReadASN1ObjectIdentifier(&r.SupportedMech) || !w.Empty() {
			return nil, fmt.Errorf("%w: supportedMech", ErrMalformed)
		}
	}
	for _, f := range []struct {
		n   uint8
		dst *[]byte
	}{{2, &r.ResponseToken}, {3, &r.MechListMIC}} {
		if !seq.ReadOptionalASN1(&w, &present, ctxTag(f.n)) {
			return nil, fmt.Errorf("%w: field [%d]", ErrMalformed, f.n)
		}
		if present {
			var v cryptobyte.String
			if !w.ReadASN1(&v, cbasn1.OCTET_STRING) || !w.Empty() {
				return nil, fmt.Errorf("%w: field [%d]", ErrMalformed, f.n)
			}
			*f.dst = append([]byte{}, v...)
		}
	}
	if !seq.Empty() {
		return nil, fmt.Errorf("%w: trailing data in negTokenResp", ErrMalformed)
	}
	return r, nil
}

// Marshal encodes r as a negTokenResp [1] NegotiationToken.
func (r *NegTokenResp) Marshal() []byte {
	var b cryptobyte.Builder
	b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if r.NegState != StateAbsent {
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
