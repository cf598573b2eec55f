package ldapdir

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Operation codes of a ping response (MS-ADTS 6.3.1.3).
const (
	opLogonSAMLogonResponseEx = 23 // LOGON_SAM_LOGON_RESPONSE_EX
	opLogonSAMPauseResponseEx = 24 // LOGON_SAM_PAUSE_RESPONSE_EX
	opLogonSAMUserUnknownEx   = 25 // LOGON_SAM_USER_UNKNOWN_EX
)

// DS_FLAG bits of a ping response (MS-ADTS 6.3.1.2).
const (
	FlagPDC       = 0x00000001 // DS_PDC_FLAG
	FlagGC        = 0x00000004 // DS_GC_FLAG
	FlagLDAP      = 0x00000008 // DS_LDAP_FLAG
	FlagDS        = 0x00000010 // DS_DS_FLAG
	FlagKDC       = 0x00000020 // DS_KDC_FLAG
	FlagTimeServ  = 0x00000040 // DS_TIMESERV_FLAG
	FlagClosest   = 0x00000080 // DS_CLOSEST_FLAG
	FlagWritable  = 0x00000100 // DS_WRITABLE_FLAG
	FlagGoodTime  = 0x00000200 // DS_GOOD_TIMESERV_FLAG
	FlagNDNC      = 0x00000400 // DS_NDNC_FLAG
	FlagDNSDC     = 0x20000000 // DS_DNS_CONTROLLER_FLAG
	FlagDNSDomain = 0x40000000 // DS_DNS_DOMAIN_FLAG
	FlagDNSForest = 0x80000000 // DS_DNS_FOREST_FLAG
)

// NETLOGON_NT_VERSION bits of the NtVer filter term (MS-ADTS 6.3.1.1).
const (
	NtVersion5      = 0x00000002 // NETLOGON_NT_VERSION_5
	NtVersion5EX    = 0x00000004 // NETLOGON_NT_VERSION_5EX
	ntVersion5EXIP  = 0x00000008 // NETLOGON_NT_VERSION_5EX_WITH_IP
	ntVersionClSite = 0x00000010 // NETLOGON_NT_VERSION_WITH_CLOSEST_SITE
)

// PingResponse is a decoded NETLOGON_SAM_LOGON_RESPONSE_EX (MS-ADTS
// 6.3.1.9), the answer to an LDAP ping.
type PingResponse struct {
	Opcode              uint16
	Flags               uint32
	DomainGUID          [16]byte
	DNSForestName       string
	DNSDomainName       string
	DNSHostName         string
	NetBIOSDomainName   string
	NetBIOSComputerName string
	UserName            string
	DCSiteName          string
	ClientSiteName      string
	DCAddress           string // dotted IPv4, only with NETLOGON_NT_VERSION_5EX_WITH_IP
	NextClosestSiteName string
	NtVersion           uint32
}

// GUIDString returns DomainGUID in its string form (MS-DTYP 2.3.4.3).
func (r *PingResponse) GUIDString() string { return guidString(r.DomainGUID[:]) }

// maxNameLen bounds one decompressed name: 255 octets is the DNS limit
// (RFC 1035 2.3.4); the NetBIOS and site names in a ping fit as well.
const maxNameLen = 255

var errShortPing = errors.New("ldapdir: truncated NETLOGON_SAM_LOGON_RESPONSE_EX")

// ParsePingResponse decodes the Netlogon attribute value of an LDAP ping
// (MS-ADTS 6.3.3.2) sent with NtVer = ntVer: the optional DcSockAddr and
// NextClosestSiteName fields are present according to what was asked
// (6.3.1.9), not according to the NtVersion the answer carries. Every
// offset and length is checked; malformed input yields an error, never a
// panic.
func ParsePingResponse(b []byte, ntVer uint32) (*PingResponse, error) {
	// Opcode, Sbz, Flags, DomainGuid, then eight names at least one byte
	// each, then NtVersion, LmNtToken, Lm20Token.
	if len(b) < 2+2+4+16+8+8 {
		return nil, errShortPing
	}
	r := &PingResponse{
		Opcode: binary.LittleEndian.Uint16(b[0:2]),
		Flags:  binary.LittleEndian.Uint32(b[4:8]),
	}
	switch r.Opcode {
	case opLogonSAMLogonResponseEx, opLogonSAMPauseResponseEx, opLogonSAMUserUnknownEx:
	default:
		return nil, fmt.Errorf("ldapdir: ping response opcode %d is not a NETLOGON_SAM_LOGON_RESPONSE_EX", r.Opcode)
	}
	copy(r.DomainGUID[:], b[8:24])
	// The trailer (NtVersion, LmNtToken, Lm20Token) is the last 8 bytes.
	end := len(b) - 8
	r.NtVersion = binary.LittleEndian.Uint32(b[end : end+4])
	off := 24
	for _, dst := range []*string{
		&r.DNSForestName, &r.DNSDomainName, &r.DNSHostName, &r.NetBIOSDomainName,
		&r.NetBIOSComputerName, &r.UserName, &r.DCSiteName, &r.ClientSiteName,
	} {
		s, next, err := readCompressedName(b[:end], off)
		if err != nil {
			return nil, err
		}
		*dst, off = s, next
	}
	if ntVer&ntVersion5EXIP != 0 && off < end {
		n := int(b[off])
		off++
		if n > end-off {
			return nil, errShortPing
		}
		// sockaddr_in: family (LE), port, address (big-endian).
		if n >= 8 && binary.LittleEndian.Uint16(b[off:off+2]) == 2 {
			a := b[off+4 : off+8]
			r.DCAddress = fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3])
		}
		off += n
	}
	// A controller below DS_BEHAVIOR_WIN2008 leaves this field out.
	if ntVer&ntVersionClSite != 0 && off < end {
		s, next, err := readCompressedName(b[:end], off)
		if err != nil {
			return nil, err
		}
		r.NextClosestSiteName, off = s, next
	}
	if off != end {
		return nil, fmt.Errorf("ldapdir: %d unexpected bytes in ping response", end-off)
	}
	return r, nil
}

// readCompressedName decodes a name compressed as in RFC 1035 4.1.4 (MS-ADTS
// 6.3.7) starting at off within msg, and returns it with the offset just
// past its in-place part. Pointers must point backwards, so a loop is
// impossible; the total length is bounded by maxNameLen.
func readCompressedName(msg []byte, off int) (string, int, error) {
	var sb strings.Builder
	next := -1 // offset after the in-place part, set at the first pointer
	limit := off
	for {
		if off < 0 || off >= len(msg) {
			return "", 0, errShortPing
		}
		l := int(msg[off])
		switch {
		case l == 0:
			if next < 0 {
				next = off + 1
			}
			return sb.String(), next, nil
		case l&0xC0 == 0xC0:
			if off+1 >= len(msg) {
				return "", 0, errShortPing
			}
			ptr := (l&0x3F)<<8 | int(msg[off+1])
			if next < 0 {
				next = off + 2
			}
			// Strictly backwards from the start of the current run.
			if ptr >= limit {
				return "", 0, errors.New("ldapdir: forward or looping name pointer in ping response")
			}
			off, limit = ptr, ptr
		case l&0xC0 != 0:
			return "", 0, fmt.Errorf("ldapdir: reserved label type 0x%02x in ping response", l&0xC0)
		default:
			if off+1+l > len(msg) {
				return "", 0, errShortPing
			}
			if sb.Len()+1+l > maxNameLen {
				return "", 0, errors.New("ldapdir: name too long in ping response")
			}
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.Write(msg[off+1 : off+1+l])
			off += 1 + l
		}
	}
}
