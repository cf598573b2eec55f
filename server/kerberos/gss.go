package kerberos

import (
	"encoding/asn1"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Mechanism OIDs: the Kerberos V5 GSS mechanism (RFC 4121 1) and the
// truncated OID Windows clients offer first (MS-SPNG 3.1.5.2 <9>).
var (
	OID   = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}
	OIDMS = asn1.ObjectIdentifier{1, 2, 840, 48018, 1, 2, 2}
)

// Token identifiers of the krb5 mechanism's context tokens (RFC 4121 4.1).
var (
	tokIDAPReq = [2]byte{0x01, 0x00}
	tokIDAPRep = [2]byte{0x02, 0x00}
	tokIDError = [2]byte{0x03, 0x00}
)

var errNotKrb5 = errors.New("not a Kerberos token")

// splitGSSToken takes apart an InitialContextToken framing (RFC 2743 3.1,
// RFC 4121 4.1): [APPLICATION 0] { thisMech OID, TOK_ID, inner token }. It
// returns the token ID and the inner token; the OID must be krb5's.
func splitGSSToken(b []byte) (tokID [2]byte, inner []byte, err error) {
	s := cryptobyte.String(b)
	var body cryptobyte.String
	if !s.ReadASN1(&body, cbasn1.Tag(0x60)) || !s.Empty() {
		return tokID, nil, errNotKrb5
	}
	var oid asn1.ObjectIdentifier
	if !body.ReadASN1ObjectIdentifier(&oid) || !(oid.Equal(OID) || oid.Equal(OIDMS)) {
		return tokID, nil, errNotKrb5
	}
	if len(body) < 2 {
		return tokID, nil, errNotKrb5
	}
	copy(tokID[:], body[:2])
	return tokID, []byte(body[2:]), nil
}

// isGSSKrb5 reports whether b is a GSS-framed krb5 token.
func isGSSKrb5(b []byte) bool {
	_, _, err := splitGSSToken(b)
	return err == nil
}

// gssFrame wraps an inner token as an InitialContextToken of the krb5
// mechanism with tokID.
func gssFrame(tokID [2]byte, inner []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0x60), func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OID)
		b.AddBytes(tokID[:])
		b.AddBytes(inner)
	})
	return b.BytesOrPanic()
}

// GSS checksum flags (RFC 4121 4.1.1.1, RFC 4757 7.1).
const (
	gssDelegFlag    = 0x01
	gssMutualFlag   = 0x02
	gssReplayFlag   = 0x04
	gssSequenceFlag = 0x08
	gssConfFlag     = 0x10
	gssIntegFlag    = 0x20
	gssDCEStyle     = 0x1000
)

// gssChecksumType is the authenticator checksum type of the GSS mechanism
// (RFC 4121 4.1.1).
const gssChecksumType = 0x8003

// gssChecksumFlags reads the Flags field of the authenticator checksum
// (RFC 4121 4.1.1): Lgth (4, little-endian, 16), Bnd (16), Flags (4). The
// channel bindings are not checked: this server has no outer channel to
// bind to (RFC 4121 4.1.1.2 lets an acceptor without bindings ignore
// them).
func gssChecksumFlags(b []byte) (uint32, error) {
	if len(b) < 24 || binary.LittleEndian.Uint32(b[0:]) != 16 {
		return 0, errors.New("malformed GSS checksum")
	}
	return binary.LittleEndian.Uint32(b[20:]), nil
}
