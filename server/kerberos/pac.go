package kerberos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	mspac "github.com/oiweiwei/go-msrpc/msrpc/pac"
	"github.com/oiweiwei/go-msrpc/ndr"
	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/adtype"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/types"
)

// PAC buffer types (MS-PAC 2.4).
const (
	pacLogonInfo       = 0x00000001
	pacServerChecksum  = 0x00000006
	pacKDCChecksum     = 0x00000007
	pacClientInfo      = 0x0000000A
	pacTicketChecksum  = 0x00000010
	pacExtendedKDCCsum = 0x00000013
)

// Signature types (MS-PAC 2.8).
const (
	cksumHMACMD5          = -138 // KERB_CHECKSUM_HMAC_MD5
	cksumHMACSHA196AES128 = 15
	cksumHMACSHA196AES256 = 16
)

// keyUsageNonKerbCksumSalt is KERB_NON_KERB_CKSUM_SALT (MS-KILE 3.1.5.9).
const keyUsageNonKerbCksumSalt = 17

// maxPACBuffers bounds cBuffers; real PACs have fewer than twenty.
const maxPACBuffers = 64

var (
	errNoPAC        = errors.New("the ticket carries no PAC")
	errPACMalformed = errors.New("malformed PAC")
	errPACSignature = errors.New("PAC server signature does not verify with the machine key")
	errPACClient    = errors.New("PAC client information does not match the ticket")
)

// pacInfo is what the acceptor takes from a verified PAC.
type pacInfo struct {
	User   string   // EffectiveName
	Domain string   // LogonDomainName (NetBIOS)
	SIDs   []string // user, primary group, groups, extra SIDs, resource groups
}

type pacBuffer struct {
	typ    uint32
	offset int
	size   int
}

// findPAC returns the AD-WIN2K-PAC element of the ticket's authorization
// data, which the KDC puts inside AD-IF-RELEVANT (MS-KILE 3.4.5.3, RFC
// 4120 7.5.4). More than one PAC is refused.
func findPAC(ad types.AuthorizationData) ([]byte, error) {
	var found []byte
	n := 0
	var walk func(ad types.AuthorizationData, depth int) error
	walk = func(ad types.AuthorizationData, depth int) error {
		for _, e := range ad {
			switch e.ADType {
			case adtype.ADWin2KPAC:
				n++
				found = e.ADData
			case adtype.ADIfRelevant:
				if depth > 4 {
					return errPACMalformed
				}
				var inner types.AuthorizationData
				if err := unmarshalAD(&inner, e.ADData); err != nil {
					return fmt.Errorf("%w: AD-IF-RELEVANT: %v", errPACMalformed, err)
				}
				if err := walk(inner, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(ad, 0); err != nil {
		return nil, err
	}
	switch {
	case n == 0:
		return nil, errNoPAC
	case n > 1:
		return nil, fmt.Errorf("%w: more than one PAC", errPACMalformed)
	}
	return found, nil
}

func unmarshalAD(ad *types.AuthorizationData, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errPACMalformed
		}
	}()
	return ad.Unmarshal(b)
}

// parsePACBuffers reads the PACTYPE header (MS-PAC 2.3, 2.4), checking
// that every buffer lies inside the PAC.
func parsePACBuffers(b []byte) ([]pacBuffer, error) {
	if len(b) < 8 {
		return nil, errPACMalformed
	}
	n := binary.LittleEndian.Uint32(b[0:])
	if ver := binary.LittleEndian.Uint32(b[4:]); ver != 0 {
		return nil, fmt.Errorf("%w: version %d", errPACMalformed, ver)
	}
	if n == 0 || n > maxPACBuffers || len(b) < 8+16*int(n) {
		return nil, fmt.Errorf("%w: %d buffers", errPACMalformed, n)
	}
	bufs := make([]pacBuffer, n)
	for i := range bufs {
		e := b[8+16*i:]
		typ := binary.LittleEndian.Uint32(e[0:])
		size := uint64(binary.LittleEndian.Uint32(e[4:]))
		off := binary.LittleEndian.Uint64(e[8:])
		if off < uint64(8+16*n) || off > uint64(len(b)) || size > uint64(len(b))-off {
			return nil, fmt.Errorf("%w: buffer %d outside the PAC", errPACMalformed, typ)
		}
		bufs[i] = pacBuffer{typ: typ, offset: int(off), size: int(size)}
	}
	return bufs, nil
}

// onlyBuffer returns the one buffer of type typ.
func onlyBuffer(bufs []pacBuffer, typ uint32) (pacBuffer, bool, error) {
	var out pacBuffer
	found := false
	for _, b := range bufs {
		if b.typ == typ {
			if found {
				return pacBuffer{}, false, fmt.Errorf("%w: two buffers of type %d", errPACMalformed, typ)
			}
			out, found = b, true
		}
	}
	return out, found, nil
}

// checksumFor is the server signature type MS-PAC 2.8.4 pairs with the
// key's encryption type.
func checksumFor(etype int32) (int32, int, bool) {
	switch etype {
	case etypeID.AES256_CTS_HMAC_SHA1_96:
		return cksumHMACSHA196AES256, 12, true
	case etypeID.AES128_CTS_HMAC_SHA1_96:
		return cksumHMACSHA196AES128, 12, true
	case etypeID.RC4_HMAC:
		return cksumHMACMD5, 16, true
	}
	return 0, 0, false
}

// verifyPAC checks the PAC of a ticket decrypted with key (MS-KILE
// 3.4.5.3, MS-PAC 2.8.4, 2.7) and returns the caller it describes.
// cname/authTime are the ticket's client name and authentication time.
func verifyPAC(raw []byte, key types.EncryptionKey, cname string, authTime time.Time) (*pacInfo, error) {
	bufs, err := parsePACBuffers(raw)
	if err != nil {
		return nil, err
	}
	srv, ok, err := onlyBuffer(bufs, pacServerChecksum)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no server signature", errPACMalformed)
	}
	kdc, ok, err := onlyBuffer(bufs, pacKDCChecksum)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no KDC signature", errPACMalformed)
	}
	wantType, sigLen, ok := checksumFor(key.KeyType)
	if !ok {
		return nil, fmt.Errorf("%w: no PAC signature type for key type %d", errPACSignature, key.KeyType)
	}
	if srv.size < 4+sigLen || kdc.size < 4 {
		return nil, fmt.Errorf("%w: short signature buffer", errPACMalformed)
	}
	sigType := int32(binary.LittleEndian.Uint32(raw[srv.offset:]))
	if sigType != wantType {
		return nil, fmt.Errorf("%w: signature type %d, want %d for the ticket's key", errPACSignature, sigType, wantType)
	}
	sig := append([]byte(nil), raw[srv.offset+4:srv.offset+4+sigLen]...)
	// The server signature covers the whole PAC with the signature fields
	// of the server and KDC signatures zeroed (MS-PAC 2.8.4). MS-PAC 2.8.1
	// also names the extended KDC signature among the zeroed fields while
	// 2.8.3 orders it before the server signature; both readings are
	// tried.
	zeroed := append([]byte(nil), raw...)
	clear(zeroed[srv.offset+4 : srv.offset+srv.size])
	clear(zeroed[kdc.offset+4 : kdc.offset+kdc.size])
	verified := verifyChecksum(key, sigType, zeroed, sig)
	if !verified {
		if ext, ok, _ := onlyBuffer(bufs, pacExtendedKDCCsum); ok && ext.size >= 4 {
			clear(zeroed[ext.offset+4 : ext.offset+ext.size])
			verified = verifyChecksum(key, sigType, zeroed, sig)
		}
	}
	if !verified {
		return nil, errPACSignature
	}

	ci, ok, err := onlyBuffer(bufs, pacClientInfo)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no client information", errPACMalformed)
	}
	if err := checkClientInfo(raw[ci.offset:ci.offset+ci.size], cname, authTime); err != nil {
		return nil, err
	}

	li, ok, err := onlyBuffer(bufs, pacLogonInfo)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no logon information", errPACMalformed)
	}
	return logonInfo(raw[li.offset : li.offset+li.size])
}

// verifyChecksum checks a keyed checksum with usage 17.
func verifyChecksum(key types.EncryptionKey, sigType int32, data, sig []byte) bool {
	et, err := krbcrypto.GetChksumEtype(sigType)
	if err != nil {
		return false
	}
	return et.VerifyChecksum(key.KeyValue, data, sig, keyUsageNonKerbCksumSalt)
}

// checkClientInfo matches PAC_CLIENT_INFO (MS-PAC 2.7) with the ticket:
// ClientId is the ticket's authtime, Name the client's name.
func checkClientInfo(b []byte, cname string, authTime time.Time) error {
	if len(b) < 10 {
		return errPACMalformed
	}
	clientID := binary.LittleEndian.Uint64(b[0:])
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if n%2 != 0 || len(b) < 10+n {
		return errPACMalformed
	}
	u := make([]uint16, n/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[10+2*i:])
	}
	name := string(utf16.Decode(u))
	if clientID != timeToFiletime(authTime) {
		return fmt.Errorf("%w: ClientId is not the ticket's authtime", errPACClient)
	}
	short, _, _ := strings.Cut(cname, "@")
	if !strings.EqualFold(name, cname) && !strings.EqualFold(name, short) {
		return fmt.Errorf("%w: name %q, ticket client %q", errPACClient, name, cname)
	}
	return nil
}

// logonInfo decodes KERB_VALIDATION_INFO (MS-PAC 2.5) and builds the
// caller's SIDs as MS-KILE 3.4.5.3 lists them.
func logonInfo(b []byte) (info *pacInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			info, err = nil, fmt.Errorf("%w: logon information", errPACMalformed)
		}
	}()
	var v mspac.KerberosValidationInfo
	if err := ndr.UnmarshalWithTypeSerializationV1(b, ndr.UnmarshalerPointer(&v)); err != nil {
		return nil, fmt.Errorf("%w: logon information: %v", errPACMalformed, err)
	}
	if v.LogonDomainID == nil {
		return nil, fmt.Errorf("%w: no LogonDomainId", errPACMalformed)
	}
	dom := v.LogonDomainID.String()
	info = &pacInfo{}
	if v.EffectiveName != nil {
		info.User = v.EffectiveName.Buffer
	}
	if v.LogonDomainName != nil {
		info.Domain = v.LogonDomainName.Buffer
	}
	rid := func(base string, r uint32) string { return base + "-" + strconv.FormatUint(uint64(r), 10) }
	add := func(sid string) {
		for _, s := range info.SIDs {
			if strings.EqualFold(s, sid) {
				return
			}
		}
		info.SIDs = append(info.SIDs, sid)
	}
	add(rid(dom, v.UserID))
	add(rid(dom, v.PrimaryGroupID))
	for _, g := range v.GroupIDs {
		if g != nil {
			add(rid(dom, g.RelativeID))
		}
	}
	for _, s := range v.ExtraSIDs {
		if s != nil && s.SID != nil {
			add(s.SID.String())
		}
	}
	if v.ResourceGroupDomainSID != nil {
		base := v.ResourceGroupDomainSID.String()
		for _, g := range v.ResourceGroupIDs {
			if g != nil {
				add(rid(base, g.RelativeID))
			}
		}
	}
	return info, nil
}

// FILETIME (MS-DTYP 2.3.3) conversion.
const filetimeEpochDelta = 116444736000000000 // 100ns ticks 1601→1970

func timeToFiletime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100 + filetimeEpochDelta)
}
