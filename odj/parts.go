package odj

import (
	"github.com/oiweiwei/go-msrpc/ndr"
)

// Part types of an OP_PACKAGE (the provider GUIDs of the ODJ IDL's
// documentation).
var (
	PartJoinProvider   = MustParseGUID("631c7621-5289-4321-bc9e-80f843f868c3") // ODJ_WIN7BLOB
	PartJoinProvider2  = MustParseGUID("57bfc56b-52f9-480c-adcb-91b3f8a82317") // OP_JOINPROV2_PART
	PartJoinProvider3  = MustParseGUID("fc0ccf25-7ffa-474a-8611-69ffe269645f") // OP_JOINPROV3_PART
	PartJoinProvider4  = MustParseGUID("4a08716a-6710-4647-8211-fdbb0b03f60b") // OP_JOINPROV4_PART
	PartCertProvider   = MustParseGUID("9c0971e9-832f-4873-8e87-ef1419d4781e") // OP_CERT_PART
	PartPolicyProvider = MustParseGUID("68fb602a-0c09-48ce-b75f-07b7bd58f7ec") // OP_POLICY_PART
)

// PartName names a part type for people.
func PartName(t GUID) string {
	switch t {
	case PartJoinProvider:
		return "JOIN_PROVIDER"
	case PartJoinProvider2:
		return "JOIN_PROVIDER2"
	case PartJoinProvider3:
		return "JOIN_PROVIDER3"
	case PartJoinProvider4:
		return "JOIN_PROVIDER4"
	case PartCertProvider:
		return "CERT_PROVIDER"
	case PartPolicyProvider:
		return "POLICY_PROVIDER"
	}
	return "unknown"
}

// PartContent is the decoded content of a part of a known type.
type PartContent interface {
	partType() GUID
	marshal(w ndr.Writer)
	unmarshal(r *reader)
}

// JoinProv2 is OP_JOINPROV2_PART (djoin /netbios, /psite, /dsite,
// /primarydns).
type JoinProv2 struct {
	Flags            uint32 // OP_JP2_FLAG_PERSISTENTSITE (1)
	NetbiosName      string
	SiteName         string
	PrimaryDNSDomain string
	Reserved         uint32
	ReservedString   string
}

// OpJP2FlagPersistentSite is OP_JP2_FLAG_PERSISTENTSITE.
const OpJP2FlagPersistentSite = 0x00000001

func (p *JoinProv2) partType() GUID { return PartJoinProvider2 }

func (p *JoinProv2) marshal(w ndr.Writer) {
	w.WriteAlign(4)
	wU32(w, p.Flags)
	wStrPtr(w, p.NetbiosName)
	wStrPtr(w, p.SiteName)
	wStrPtr(w, p.PrimaryDNSDomain)
	wU32(w, p.Reserved)
	wStrPtr(w, p.ReservedString)
}

func (p *JoinProv2) unmarshal(r *reader) {
	r.align(4)
	p.Flags = r.u32()
	r.strPtr(&p.NetbiosName, "lpNetbiosName")
	r.strPtr(&p.SiteName, "lpSiteName")
	r.strPtr(&p.PrimaryDNSDomain, "lpPrimaryDNSDomain")
	p.Reserved = r.u32()
	r.strPtr(&p.ReservedString, "lpReserved")
}

// JoinProv3 is OP_JOINPROV3_PART: the machine account's RID and SID.
type JoinProv3 struct {
	RID uint32
	SID string // string form, "S-1-5-21-...-RID"
}

func (p *JoinProv3) partType() GUID { return PartJoinProvider3 }

func (p *JoinProv3) marshal(w ndr.Writer) {
	w.WriteAlign(4)
	wU32(w, p.RID)
	wStrPtr(w, p.SID)
}

func (p *JoinProv3) unmarshal(r *reader) {
	r.align(4)
	p.RID = r.u32()
	r.strPtr(&p.SID, "lpSid")
}

// JoinProv4 is OP_JOINPROV4_PART: RID, SID and the objectGUID of the
// machine account.
type JoinProv4 struct {
	RID        uint32
	SID        string
	ObjectGUID GUID
}

func (p *JoinProv4) partType() GUID { return PartJoinProvider4 }

func (p *JoinProv4) marshal(w ndr.Writer) {
	w.WriteAlign(4)
	wU32(w, p.RID)
	wStrPtr(w, p.SID)
	wGUID(w, p.ObjectGUID)
}

func (p *JoinProv4) unmarshal(r *reader) {
	r.align(4)
	p.RID = r.u32()
	r.strPtr(&p.SID, "lpSid")
	p.ObjectGUID = r.guid()
}

// PolicyPart is OP_POLICY_PART: registry policy settings, one element
// list per registry policy file (djoin /policynames, /policypaths).
type PolicyPart struct {
	Lists     []PolicyElementList
	Extension []byte
}

// PolicyElementList is OP_POLICY_ELEMENT_LIST.
type PolicyElementList struct {
	Source    string // pSource: where the settings came from (the Registry.pol path)
	RootKeyID uint32 // ulRootKeyId: a predefined registry key handle value
	Elements  []PolicyElement
}

// HKeyLocalMachine is the predefined handle value of HKEY_LOCAL_MACHINE,
// the root of a computer-scoped registry policy file (MS-GPREG 2.2.1).
const HKeyLocalMachine = 0x80000002

// PolicyElement is OP_POLICY_ELEMENT, one registry value.
type PolicyElement struct {
	KeyPath   string
	ValueName string
	ValueType uint32 // REG_*
	Data      []byte
}

func (p *PolicyPart) partType() GUID { return PartPolicyProvider }

func (p *PolicyPart) marshal(w ndr.Writer) {
	w.WriteAlign(4)
	wU32(w, uint32(len(p.Lists)))
	lists := p.Lists
	wPtr(w, len(lists) > 0, func(w ndr.Writer) {
		wU32(w, uint32(len(lists)))
		for i := range lists {
			l := &lists[i]
			w.WriteAlign(4)
			wStrPtr(w, l.Source)
			wU32(w, l.RootKeyID)
			wU32(w, uint32(len(l.Elements)))
			wPtr(w, len(l.Elements) > 0, func(w ndr.Writer) {
				wU32(w, uint32(len(l.Elements)))
				for j := range l.Elements {
					e := &l.Elements[j]
					w.WriteAlign(4)
					wStrPtr(w, e.KeyPath)
					wStrPtr(w, e.ValueName)
					wU32(w, e.ValueType)
					wU32(w, uint32(len(e.Data)))
					wBytesPtr(w, e.Data)
				}
			})
		}
	})
	wOPBlob(w, p.Extension)
}

func (p *PolicyPart) unmarshal(r *reader) {
	r.align(4)
	n := r.u32()
	present := r.ptr(func() {
		m := r.count(16, "pElementLists")
		if r.err == nil && uint32(m) != n {
			r.fail("pElementLists: %d lists, cElementLists %d", m, n)
		}
		p.Lists = make([]PolicyElementList, m)
		for i := range p.Lists {
			l := &p.Lists[i]
			r.align(4)
			r.strPtr(&l.Source, "pSource")
			l.RootKeyID = r.u32()
			ne := r.u32()
			present := r.ptr(func() {
				m := r.count(20, "pElements")
				if r.err == nil && uint32(m) != ne {
					r.fail("pElements: %d elements, cElements %d", m, ne)
				}
				l.Elements = make([]PolicyElement, m)
				for j := range l.Elements {
					e := &l.Elements[j]
					r.align(4)
					r.strPtr(&e.KeyPath, "pKeyPath")
					r.strPtr(&e.ValueName, "pValueName")
					e.ValueType = r.u32()
					cb := r.u32()
					present := r.ptr(func() { e.Data = r.bytesArray(cb, "pValueData") })
					nullCount(r, present, cb, "pValueData")
				}
			})
			nullCount(r, present, ne, "pElements")
		}
	})
	nullCount(r, present, n, "pElementLists")
	rOPBlob(r, &p.Extension, "Extension")
}

// CertPart is OP_CERT_PART: certificate stores to install (djoin
// /rootcacerts, /certtemplate).
type CertPart struct {
	PFXStores []CertPFXStore
	SSTStores []CertSSTStore
	Extension []byte
}

// CertPFXStore is OP_CERT_PFX_STORE: an enrolled certificate with its key.
type CertPFXStore struct {
	TemplateName           string
	PrivateKeyExportPolicy uint32
	PolicyServerURL        string
	PolicyServerURLFlags   uint32
	PolicyServerID         string
	PFX                    []byte // PKCS #12
}

// CertSSTStore is OP_CERT_SST_STORE: a serialized certificate store (see
// DecodeSST) for the system store StoreName at StoreLocation.
type CertSSTStore struct {
	StoreLocation uint32 // CERT_SYSTEM_STORE_* location
	StoreName     string // e.g. "Root"
	SST           []byte
}

// CertSystemStoreLocalMachine is CERT_SYSTEM_STORE_LOCAL_MACHINE
// (CERT_SYSTEM_STORE_LOCAL_MACHINE_ID 2 << CERT_SYSTEM_STORE_LOCATION_SHIFT
// 16, wincrypt.h).
const CertSystemStoreLocalMachine = 0x00020000

func (p *CertPart) partType() GUID { return PartCertProvider }

func (p *CertPart) marshal(w ndr.Writer) {
	w.WriteAlign(4)
	pfx, sst := p.PFXStores, p.SSTStores
	wU32(w, uint32(len(pfx)))
	wPtr(w, len(pfx) > 0, func(w ndr.Writer) {
		wU32(w, uint32(len(pfx)))
		for i := range pfx {
			s := &pfx[i]
			w.WriteAlign(4)
			wStrPtr(w, s.TemplateName)
			wU32(w, s.PrivateKeyExportPolicy)
			wStrPtr(w, s.PolicyServerURL)
			wU32(w, s.PolicyServerURLFlags)
			wStrPtr(w, s.PolicyServerID)
			wU32(w, uint32(len(s.PFX)))
			wBytesPtr(w, s.PFX)
		}
	})
	wU32(w, uint32(len(sst)))
	wPtr(w, len(sst) > 0, func(w ndr.Writer) {
		wU32(w, uint32(len(sst)))
		for i := range sst {
			s := &sst[i]
			w.WriteAlign(4)
			wU32(w, s.StoreLocation)
			wStrPtr(w, s.StoreName)
			wU32(w, uint32(len(s.SST)))
			wBytesPtr(w, s.SST)
		}
	})
	wOPBlob(w, p.Extension)
}

func (p *CertPart) unmarshal(r *reader) {
	r.align(4)
	npfx := r.u32()
	present := r.ptr(func() {
		m := r.count(28, "pPfxStores")
		if r.err == nil && uint32(m) != npfx {
			r.fail("pPfxStores: %d stores, cPfxStores %d", m, npfx)
		}
		p.PFXStores = make([]CertPFXStore, m)
		for i := range p.PFXStores {
			s := &p.PFXStores[i]
			r.align(4)
			r.strPtr(&s.TemplateName, "pTemplateName")
			s.PrivateKeyExportPolicy = r.u32()
			r.strPtr(&s.PolicyServerURL, "pPolicyServerUrl")
			s.PolicyServerURLFlags = r.u32()
			r.strPtr(&s.PolicyServerID, "pPolicyServerId")
			cb := r.u32()
			present := r.ptr(func() { s.PFX = r.bytesArray(cb, "pPfx") })
			nullCount(r, present, cb, "pPfx")
		}
	})
	nullCount(r, present, npfx, "pPfxStores")
	nsst := r.u32()
	present = r.ptr(func() {
		m := r.count(16, "pSstStores")
		if r.err == nil && uint32(m) != nsst {
			r.fail("pSstStores: %d stores, cSstStores %d", m, nsst)
		}
		p.SSTStores = make([]CertSSTStore, m)
		for i := range p.SSTStores {
			s := &p.SSTStores[i]
			r.align(4)
			s.StoreLocation = r.u32()
			r.strPtr(&s.StoreName, "pStoreName")
			cb := r.u32()
			present := r.ptr(func() { s.SST = r.bytesArray(cb, "pSst") })
			nullCount(r, present, cb, "pSst")
		}
	})
	nullCount(r, present, nsst, "pSstStores")
	rOPBlob(r, &p.Extension, "Extension")
}

// wOPBlob writes an OP_BLOB: cbBlob and a [size_is(cbBlob)] PBYTE.
func wOPBlob(w ndr.Writer, b []byte) {
	w.WriteAlign(4)
	wU32(w, uint32(len(b)))
	wBytesPtr(w, b)
}

// rOPBlob reads an OP_BLOB; *dst is set when the deferred pointee is read.
func rOPBlob(r *reader, dst *[]byte, what string) {
	r.align(4)
	cb := r.u32()
	present := r.ptr(func() { *dst = r.bytesArray(cb, what) })
	nullCount(r, present, cb, what)
}

// nullCount fails a count that announces elements behind a NULL pointer.
func nullCount(r *reader, present bool, n uint32, what string) {
	if r.err == nil && !present && n != 0 {
		r.fail("%s: %d elements announced behind a NULL pointer", what, n)
	}
}
