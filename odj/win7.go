package odj

import (
	"unicode/utf16"

	"github.com/oiweiwei/go-msrpc/ndr"
)

// Win7Blob is ODJ_WIN7BLOB: the join itself. Both Windows and Samba put
// the DNS name of the domain in Domain.
type Win7Blob struct {
	Domain          string   // lpDomain
	MachineName     string   // lpMachineName: the computer's NetBIOS name, without '$'
	MachinePassword Password // lpMachinePassword
	DomainInfo      DNSDomainInfo
	DCInfo          DCInfo
	// Options is documented as reserved (0). Windows has been seen
	// writing 4 and Samba writes 6; no reader is known to look at it.
	Options uint32
}

// DNSDomainInfo is ODJ_POLICY_DNS_DOMAIN_INFO (the LSA
// PolicyDnsDomainInformation of the domain).
type DNSDomainInfo struct {
	Name          string // NetBIOS name of the domain
	DNSDomainName string
	DNSForestName string
	DomainGUID    GUID
	SID           *SID
}

// DCInfo is DOMAIN_CONTROLLER_INFOW (MS-NRPC 2.2.1.2.1) as the DC locator
// answered while provisioning.
type DCInfo struct {
	DCName         string // DomainControllerName, "\\" + host name
	DCAddress      string // DomainControllerAddress, "\\" + address
	AddressType    uint32 // DS_INET_ADDRESS (1) or DS_NETBIOS_ADDRESS (2)
	DomainGUID     GUID
	DomainName     string // DNS name of the domain
	DNSForestName  string
	Flags          uint32 // DS_* flags of the locator answer
	DCSiteName     string
	ClientSiteName string
}

// Address types of DCInfo (MS-NRPC 2.2.1.2.1).
const (
	DSInetAddress    = 1
	DSNetbiosAddress = 2
)

func (b *Win7Blob) partType() GUID { return PartJoinProvider }

func (b *Win7Blob) marshal(w ndr.Writer) {
	w.WriteAlign(4)
	wStrPtr(w, b.Domain)
	wStrPtr(w, b.MachineName)
	pw := b.MachinePassword
	wPtr(w, pw != nil, func(w ndr.Writer) { wWString(w, pw) })
	d := &b.DomainInfo
	wUnicodeString(w, d.Name)
	wUnicodeString(w, d.DNSDomainName)
	wUnicodeString(w, d.DNSForestName)
	wGUID(w, d.DomainGUID)
	wPtr(w, d.SID != nil, func(w ndr.Writer) { wSID(w, d.SID) })
	b.DCInfo.marshal(w)
	wU32(w, b.Options)
}

func (b *Win7Blob) unmarshal(r *reader) {
	r.align(4)
	r.strPtr(&b.Domain, "lpDomain")
	r.strPtr(&b.MachineName, "lpMachineName")
	r.ptr(func() {
		b.MachinePassword = r.wstring("lpMachinePassword")
		if b.MachinePassword == nil && r.err == nil {
			b.MachinePassword = Password{}
		}
	})
	d := &b.DomainInfo
	rUnicodeString(r, &d.Name, "DnsDomainInfo.Name")
	rUnicodeString(r, &d.DNSDomainName, "DnsDomainInfo.DnsDomainName")
	rUnicodeString(r, &d.DNSForestName, "DnsDomainInfo.DnsForestName")
	d.DomainGUID = r.guid()
	r.ptr(func() {
		sid := rSID(r)
		d.SID = &sid
	})
	b.DCInfo.unmarshal(r)
	b.Options = r.u32()
}

func (c *DCInfo) marshal(w ndr.Writer) {
	w.WriteAlign(4)
	wStrPtr(w, c.DCName)
	wStrPtr(w, c.DCAddress)
	wU32(w, c.AddressType)
	wGUID(w, c.DomainGUID)
	wStrPtr(w, c.DomainName)
	wStrPtr(w, c.DNSForestName)
	wU32(w, c.Flags)
	wStrPtr(w, c.DCSiteName)
	wStrPtr(w, c.ClientSiteName)
}

func (c *DCInfo) unmarshal(r *reader) {
	r.align(4)
	r.strPtr(&c.DCName, "DcInfo.DomainControllerName")
	r.strPtr(&c.DCAddress, "DcInfo.DomainControllerAddress")
	c.AddressType = r.u32()
	c.DomainGUID = r.guid()
	r.strPtr(&c.DomainName, "DcInfo.DomainName")
	r.strPtr(&c.DNSForestName, "DcInfo.DnsForestName")
	c.Flags = r.u32()
	r.strPtr(&c.DCSiteName, "DcInfo.DcSiteName")
	r.strPtr(&c.ClientSiteName, "DcInfo.ClientSiteName")
}

// wUnicodeString writes an ODJ_UNICODE_STRING: Length and MaximumLength
// in bytes (MaximumLength = Length + 2, as Windows and Samba write), and a
// buffer of Length/2 characters with no terminator. An empty string is
// 0, 0 and a NULL buffer.
func wUnicodeString(w ndr.Writer, s string) {
	u := utf16.Encode([]rune(s))
	w.WriteAlign(4)
	wU16(w, uint16(2*len(u)))
	if s == "" {
		wU16(w, 0)
	} else {
		wU16(w, uint16(2*len(u)+2))
	}
	wPtr(w, s != "", func(w ndr.Writer) {
		wU32(w, uint32(len(u)+1))
		wU32(w, 0)
		wU32(w, uint32(len(u)))
		for _, c := range u {
			w.WriteData(c)
		}
	})
}

func rUnicodeString(r *reader, s *string, what string) {
	r.align(4)
	length := r.u16()
	maxLength := r.u16()
	r.ptr(func() {
		m := r.u32()
		off := r.u32()
		actual := r.u32()
		if r.err != nil {
			return
		}
		if off != 0 || uint32(length) != 2*actual || length > maxLength || uint32(maxLength)/2 != m {
			r.fail("%s: Length %d, MaximumLength %d disagree with the buffer (%d of %d characters at %d)", what, length, maxLength, actual, m, off)
			return
		}
		raw := r.take(2 * int(actual))
		u := make([]uint16, len(raw)/2)
		for i := range u {
			u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
		}
		*s = string(utf16.Decode(u))
	})
}

// wSID writes the pointee of a PODJ_SID: the conformance, then the SID.
func wSID(w ndr.Writer, s *SID) {
	wU32(w, uint32(len(s.SubAuthorities)))
	w.WriteData(s.Revision)
	w.WriteData(uint8(len(s.SubAuthorities)))
	w.Write(s.Authority[:])
	for _, v := range s.SubAuthorities {
		wU32(w, v)
	}
}

func rSID(r *reader) SID {
	n := r.u32()
	var s SID
	s.Revision = r.u8()
	c := r.u8()
	copy(s.Authority[:], r.take(6))
	if r.err != nil {
		return SID{}
	}
	if n != uint32(c) || c > maxSubAuthorities {
		r.fail("SID: %d sub-authorities, conformance %d", c, n)
		return SID{}
	}
	s.SubAuthorities = make([]uint32, 0, c)
	for i := 0; i < int(c); i++ {
		s.SubAuthorities = append(s.SubAuthorities, r.u32())
	}
	return s
}

// EncodeWin7Blob pickles b as PODJ_WIN7BLOB.
func EncodeWin7Blob(b *Win7Blob) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	return encodePickle("ODJ_WIN7BLOB", b.marshal)
}

// DecodeWin7Blob reads a PODJ_WIN7BLOB pickle.
func DecodeWin7Blob(p []byte) (*Win7Blob, error) {
	b := new(Win7Blob)
	if err := decodePickle(p, "ODJ_WIN7BLOB", b.unmarshal); err != nil {
		return nil, err
	}
	return b, nil
}
