package odj

import (
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/oiweiwei/go-msrpc/ndr"
)

// ODJ_BLOB formats.
const (
	FormatWin7 = 1 // ODJ_WIN7_FORMAT: a pickled PODJ_WIN7BLOB
	FormatWin8 = 2 // ODJ_WIN8_FORMAT: a pickled POP_PACKAGE
)

// ProvisionVersion is the only ODJ_PROVISION_DATA.ulVersion there is.
const ProvisionVersion = 1

// OPSPIPackagePartEssential is OPSPI_PACKAGE_PART_ESSENTIAL: a consumer
// that does not understand or cannot apply the part must fail.
const OPSPIPackagePartEssential = 0x00000001

// Provision is ODJ_PROVISION_DATA with its blobs decoded.
type Provision struct {
	Version uint32
	Blobs   []Blob
}

// Blob is one ODJ_BLOB. Exactly one of Win7 (FormatWin7), Package
// (FormatWin8) and Raw (any other format, kept as it came) is set.
type Blob struct {
	Format  uint32
	Win7    *Win7Blob
	Package *Package
	Raw     []byte
}

// Package is OP_PACKAGE with its part collection decoded. When
// EncryptionType is not GUID_NULL the collection cannot be read: it is
// kept in Wrapped and Parts is nil.
type Package struct {
	EncryptionType    GUID
	EncryptionContext []byte
	// DecryptedLength is cbDecryptedPartCollection (0 when not encrypted).
	DecryptedLength uint32
	Extension       []byte
	Parts           []Part
	// CollectionExtension is the Extension of OP_PACKAGE_PART_COLLECTION.
	CollectionExtension []byte
	// Wrapped is WrappedPartCollection as it came, for an encrypted
	// package only.
	Wrapped []byte
}

// Part is one OP_PACKAGE_PART. Content is set for the part types this
// package knows; other parts keep their bytes in Raw.
type Part struct {
	Type      GUID
	Flags     uint32
	Content   PartContent
	Raw       []byte
	Extension []byte
}

// Essential reports the OPSPI_PACKAGE_PART_ESSENTIAL flag.
func (p *Part) Essential() bool { return p.Flags&OPSPIPackagePartEssential != 0 }

// maxProvisionSize bounds the binary form DecodeProvision accepts: real
// files are a few kilobytes, with certificate stores and policies tens.
const maxProvisionSize = 16 << 20

// DecodeProvision decodes the binary form of provisioning data (a
// PODJ_PROVISION_DATA pickle) and every nested pickle of a known type.
func DecodeProvision(b []byte) (*Provision, error) {
	if len(b) > maxProvisionSize {
		return nil, formatErr("provisioning data of %d bytes (limit %d)", len(b), maxProvisionSize)
	}
	p := new(Provision)
	type rawBlob struct {
		format uint32
		data   []byte
	}
	var raws []rawBlob
	err := decodePickle(b, "ODJ_PROVISION_DATA", func(r *reader) {
		r.align(4)
		p.Version = r.u32()
		n := r.u32()
		present := r.ptr(func() {
			m := r.count(12, "pBlobs")
			if r.err == nil && uint32(m) != n {
				r.fail("pBlobs: %d blobs, ulcBlobs %d", m, n)
			}
			raws = make([]rawBlob, m)
			for i := range raws {
				rb := &raws[i]
				r.align(4)
				rb.format = r.u32()
				cb := r.u32()
				present := r.ptr(func() { rb.data = r.bytesArray(cb, "pBlob") })
				nullCount(r, present, cb, "pBlob")
			}
		})
		nullCount(r, present, n, "pBlobs")
	})
	if err != nil {
		return nil, err
	}
	if p.Version != ProvisionVersion {
		return nil, fmt.Errorf("%w: ulVersion %d (only 1 is defined)", ErrUnsupportedVersion, p.Version)
	}
	for i, rb := range raws {
		bl := Blob{Format: rb.format}
		switch rb.format {
		case FormatWin7:
			if bl.Win7, err = DecodeWin7Blob(rb.data); err != nil {
				return nil, fmt.Errorf("blob %d: %w", i, err)
			}
		case FormatWin8:
			if bl.Package, err = DecodePackage(rb.data); err != nil {
				return nil, fmt.Errorf("blob %d: %w", i, err)
			}
		default:
			bl.Raw = rb.data
		}
		p.Blobs = append(p.Blobs, bl)
	}
	return p, nil
}

// ErrUnsupportedVersion reports ODJ_PROVISION_DATA of a version other
// than 1 (NERR_ProvisioningBlobUnsupported for Windows and Samba).
var ErrUnsupportedVersion = errors.New("odj: unsupported provisioning data version")

// Encode returns the binary form of p.
func (p *Provision) Encode() ([]byte, error) {
	type rawBlob struct {
		format uint32
		data   []byte
	}
	raws := make([]rawBlob, len(p.Blobs))
	for i, bl := range p.Blobs {
		var data []byte
		var err error
		switch {
		case bl.Format == FormatWin7 && bl.Win7 != nil:
			data, err = EncodeWin7Blob(bl.Win7)
		case bl.Format == FormatWin8 && bl.Package != nil:
			data, err = EncodePackage(bl.Package)
		case bl.Win7 == nil && bl.Package == nil:
			data = bl.Raw
		default:
			err = fmt.Errorf("odj: blob %d of format %d holds the wrong content", i, bl.Format)
		}
		if err != nil {
			return nil, err
		}
		raws[i] = rawBlob{bl.Format, data}
	}
	version := p.Version
	return encodePickle("ODJ_PROVISION_DATA", func(w ndr.Writer) {
		w.WriteAlign(4)
		wU32(w, version)
		wU32(w, uint32(len(raws)))
		wPtr(w, len(raws) > 0, func(w ndr.Writer) {
			wU32(w, uint32(len(raws)))
			for _, rb := range raws {
				w.WriteAlign(4)
				wU32(w, rb.format)
				wU32(w, uint32(len(rb.data)))
				wBytesPtr(w, rb.data)
			}
		})
	})
}

// DecodePackage reads a POP_PACKAGE pickle and, unless it is encrypted,
// its part collection and the parts of known types.
func DecodePackage(b []byte) (*Package, error) {
	pk := new(Package)
	var wrapped []byte
	err := decodePickle(b, "OP_PACKAGE", func(r *reader) {
		r.align(4)
		pk.EncryptionType = r.guid()
		rOPBlob(r, &pk.EncryptionContext, "EncryptionContext")
		rOPBlob(r, &wrapped, "WrappedPartCollection")
		pk.DecryptedLength = r.u32()
		rOPBlob(r, &pk.Extension, "Extension")
	})
	if err != nil {
		return nil, err
	}
	if !pk.EncryptionType.IsZero() {
		pk.Wrapped = wrapped
		return pk, nil
	}
	pk.Parts, pk.CollectionExtension, err = decodePartCollection(wrapped)
	if err != nil {
		return nil, err
	}
	return pk, nil
}

// decodePartCollection reads a POP_PACKAGE_PART_COLLECTION pickle and the
// parts of known types in it.
func decodePartCollection(b []byte) (parts []Part, ext []byte, err error) {
	type rawPart struct {
		typ   GUID
		flags uint32
		data  []byte
		ext   []byte
	}
	var raws []rawPart
	err = decodePickle(b, "OP_PACKAGE_PART_COLLECTION", func(r *reader) {
		r.align(4)
		n := r.u32()
		present := r.ptr(func() {
			m := r.count(36, "pParts")
			if r.err == nil && uint32(m) != n {
				r.fail("pParts: %d parts, cParts %d", m, n)
			}
			raws = make([]rawPart, m)
			for i := range raws {
				rp := &raws[i]
				r.align(4)
				rp.typ = r.guid()
				rp.flags = r.u32()
				rOPBlob(r, &rp.data, "Part")
				rOPBlob(r, &rp.ext, "Part.Extension")
			}
		})
		nullCount(r, present, n, "pParts")
		rOPBlob(r, &ext, "Extension")
	})
	if err != nil {
		return nil, nil, err
	}
	for i, rp := range raws {
		part := Part{Type: rp.typ, Flags: rp.flags, Extension: rp.ext}
		c := newContent(rp.typ)
		if c == nil {
			part.Raw = rp.data
		} else {
			if err := decodePickle(rp.data, PartName(rp.typ), c.unmarshal); err != nil {
				return nil, nil, fmt.Errorf("part %d: %w", i, err)
			}
			part.Content = c
		}
		parts = append(parts, part)
	}
	return parts, ext, nil
}

// newContent returns an empty content value for a known part type.
func newContent(t GUID) PartContent {
	switch t {
	case PartJoinProvider:
		return new(Win7Blob)
	case PartJoinProvider2:
		return new(JoinProv2)
	case PartJoinProvider3:
		return new(JoinProv3)
	case PartJoinProvider4:
		return new(JoinProv4)
	case PartPolicyProvider:
		return new(PolicyPart)
	case PartCertProvider:
		return new(CertPart)
	}
	return nil
}

// EncodePackage pickles pk as POP_PACKAGE, its part collection as a
// nested POP_PACKAGE_PART_COLLECTION and each part's content as the
// pickle of its type.
func EncodePackage(pk *Package) ([]byte, error) {
	wrapped := pk.Wrapped
	if pk.EncryptionType.IsZero() {
		var err error
		if wrapped, err = encodePartCollection(pk.Parts, pk.CollectionExtension); err != nil {
			return nil, err
		}
	}
	return encodePickle("OP_PACKAGE", func(w ndr.Writer) {
		w.WriteAlign(4)
		wGUID(w, pk.EncryptionType)
		wOPBlob(w, pk.EncryptionContext)
		wOPBlob(w, wrapped)
		wU32(w, pk.DecryptedLength)
		wOPBlob(w, pk.Extension)
	})
}

// encodePartCollection pickles parts as POP_PACKAGE_PART_COLLECTION.
func encodePartCollection(parts []Part, ext []byte) ([]byte, error) {
	type rawPart struct {
		typ   GUID
		flags uint32
		data  []byte
		ext   []byte
	}
	raws := make([]rawPart, len(parts))
	for i, part := range parts {
		data := part.Raw
		if part.Content != nil {
			if part.Content.partType() != part.Type {
				return nil, fmt.Errorf("odj: part %d of type %s holds %s content", i, part.Type, PartName(part.Content.partType()))
			}
			var err error
			if data, err = EncodePart(part.Content); err != nil {
				return nil, fmt.Errorf("odj: part %d: %w", i, err)
			}
		}
		raws[i] = rawPart{part.Type, part.Flags, data, part.Extension}
	}
	return encodePickle("OP_PACKAGE_PART_COLLECTION", func(w ndr.Writer) {
		w.WriteAlign(4)
		wU32(w, uint32(len(raws)))
		wPtr(w, len(raws) > 0, func(w ndr.Writer) {
			wU32(w, uint32(len(raws)))
			for _, rp := range raws {
				w.WriteAlign(4)
				wGUID(w, rp.typ)
				wU32(w, rp.flags)
				wOPBlob(w, rp.data)
				wOPBlob(w, rp.ext)
			}
		})
		wOPBlob(w, ext)
	})
}

// validateContent refuses values the wire cannot carry.
func validateContent(c PartContent) error {
	if b, ok := c.(*Win7Blob); ok {
		return b.validate()
	}
	return nil
}

// maxUnicodeStringChars is what the 16-bit byte lengths of an
// ODJ_UNICODE_STRING can describe.
const maxUnicodeStringChars = (0xFFFF - 2) / 2

func (b *Win7Blob) validate() error {
	for _, s := range []string{b.DomainInfo.Name, b.DomainInfo.DNSDomainName, b.DomainInfo.DNSForestName} {
		if len(utf16.Encode([]rune(s))) > maxUnicodeStringChars {
			return fmt.Errorf("odj: domain name of %d characters is too long", len(s))
		}
	}
	if s := b.DomainInfo.SID; s != nil && len(s.SubAuthorities) > maxSubAuthorities {
		return fmt.Errorf("odj: domain SID with %d sub-authorities", len(s.SubAuthorities))
	}
	return nil
}

// EncodePart pickles the content of one part, as it travels in OP_BLOB.
func EncodePart(c PartContent) ([]byte, error) {
	if err := validateContent(c); err != nil {
		return nil, err
	}
	return encodePickle(PartName(c.partType()), c.marshal)
}

// DecodePart decodes the pickle of a part of type t; unknown types are an
// error.
func DecodePart(t GUID, b []byte) (PartContent, error) {
	c := newContent(t)
	if c == nil {
		return nil, fmt.Errorf("odj: unknown part type %s", t)
	}
	if err := decodePickle(b, PartName(t), c.unmarshal); err != nil {
		return nil, err
	}
	return c, nil
}
