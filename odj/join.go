package odj

import (
	"errors"
	"fmt"
	"strings"
)

// NewProvision builds provisioning data the way djoin and Samba write it:
// a WIN7 blob holding w, then a WIN8 package whose parts are w as
// JOIN_PROVIDER (essential) followed by parts.
func NewProvision(w *Win7Blob, parts ...Part) *Provision {
	all := append([]Part{{Type: PartJoinProvider, Flags: OPSPIPackagePartEssential, Content: w}}, parts...)
	return &Provision{
		Version: ProvisionVersion,
		Blobs: []Blob{
			{Format: FormatWin7, Win7: w},
			{Format: FormatWin8, Package: &Package{Parts: all}},
		},
	}
}

// ContentPart wraps content as a part of its own type with flags.
func ContentPart(c PartContent, flags uint32) Part {
	return Part{Type: c.partType(), Flags: flags, Content: c}
}

// Join is what provisioning data gives the machine it is for, gathered and
// checked as a consumer must (see Provision.Join).
type Join struct {
	// Win7 is the join itself.
	Win7 *Win7Blob
	// RID and AccountSID identify the machine account (JOIN_PROVIDER4,
	// else JOIN_PROVIDER3); HaveRID is false when the file has neither
	// (a Windows 7 era file).
	HaveRID    bool
	RID        uint32
	AccountSID string
	// AccountGUID is the account's objectGUID (JOIN_PROVIDER4 only).
	AccountGUID *GUID
	// Prov2 holds the NetBIOS name, site and primary DNS suffix settings
	// of djoin /netbios /psite /dsite /primarydns, when given.
	Prov2 *JoinProv2
	// Policies and Certs are the DirectAccess parts, in file order.
	Policies []*PolicyPart
	Certs    []*CertPart
	// Unknown are parts of types this package does not know, none of them
	// essential.
	Unknown []Part
}

// Errors of Provision.Join.
var (
	ErrEncrypted        = errors.New("odj: the package is encrypted (EncryptionType is not GUID_NULL)")
	ErrUnknownEssential = errors.New("odj: a part of an unknown type is flagged essential")
	ErrNoJoinData       = errors.New("odj: no join data (neither a WIN7 blob nor a JOIN_PROVIDER part)")
	ErrInconsistent     = errors.New("odj: the provisioning data contradicts itself")
)

// Join checks p as a consumer must and gathers what it holds: the package
// must not be encrypted (no encryption type is defined), every part
// flagged OPSPI_PACKAGE_PART_ESSENTIAL must be of a type this package
// knows, and the join data must be present and agree with itself (the WIN7
// blob and the JOIN_PROVIDER part, the RID and the account SID). Parts of
// unknown types without the flag are kept in Unknown.
func (p *Provision) Join() (*Join, error) {
	j := new(Join)
	var fromPart *Win7Blob
	var prov3 *JoinProv3
	var prov4 *JoinProv4
	for _, bl := range p.Blobs {
		switch {
		case bl.Win7 != nil && j.Win7 == nil:
			j.Win7 = bl.Win7
		case bl.Package != nil:
			pk := bl.Package
			if !pk.EncryptionType.IsZero() {
				return nil, fmt.Errorf("%w: %s", ErrEncrypted, pk.EncryptionType)
			}
			for _, part := range pk.Parts {
				switch c := part.Content.(type) {
				case nil:
					if part.Essential() {
						return nil, fmt.Errorf("%w: %s", ErrUnknownEssential, part.Type)
					}
					j.Unknown = append(j.Unknown, part)
				case *Win7Blob:
					if fromPart == nil {
						fromPart = c
					}
				case *JoinProv2:
					if j.Prov2 == nil {
						j.Prov2 = c
					}
				case *JoinProv3:
					if prov3 == nil {
						prov3 = c
					}
				case *JoinProv4:
					if prov4 == nil {
						prov4 = c
					}
				case *PolicyPart:
					j.Policies = append(j.Policies, c)
				case *CertPart:
					j.Certs = append(j.Certs, c)
				}
			}
		}
	}
	switch {
	case j.Win7 == nil && fromPart == nil:
		return nil, ErrNoJoinData
	case j.Win7 == nil:
		j.Win7 = fromPart
	case fromPart != nil:
		if err := sameJoin(j.Win7, fromPart); err != nil {
			return nil, err
		}
	}
	if j.Win7.Domain == "" || j.Win7.MachineName == "" || len(j.Win7.MachinePassword) == 0 {
		return nil, fmt.Errorf("%w: the join data lacks the domain, the machine name or the password", ErrInconsistent)
	}
	if j.Win7.DomainInfo.SID == nil {
		return nil, fmt.Errorf("%w: the join data lacks the domain SID", ErrInconsistent)
	}
	switch {
	case prov4 != nil:
		j.HaveRID, j.RID, j.AccountSID = true, prov4.RID, prov4.SID
		g := prov4.ObjectGUID
		j.AccountGUID = &g
		if prov3 != nil && (prov3.RID != prov4.RID || !strings.EqualFold(prov3.SID, prov4.SID)) {
			return nil, fmt.Errorf("%w: JOIN_PROVIDER3 and JOIN_PROVIDER4 name different accounts", ErrInconsistent)
		}
	case prov3 != nil:
		j.HaveRID, j.RID, j.AccountSID = true, prov3.RID, prov3.SID
	}
	dom := *j.Win7.DomainInfo.SID
	want := SID{Revision: dom.Revision, Authority: dom.Authority, SubAuthorities: append(append([]uint32(nil), dom.SubAuthorities...), j.RID)}
	switch {
	case !j.HaveRID:
	case j.AccountSID == "":
		j.AccountSID = want.String()
	default:
		sid, err := ParseSID(j.AccountSID)
		if err != nil {
			return nil, fmt.Errorf("%w: account SID: %v", ErrInconsistent, err)
		}
		if sid.String() != want.String() {
			return nil, fmt.Errorf("%w: account SID %s is not RID %d of domain %s", ErrInconsistent, sid, j.RID, dom)
		}
		j.AccountSID = sid.String()
	}
	return j, nil
}

// sameJoin checks that the WIN7 blob and the JOIN_PROVIDER part agree on
// what a consumer applies.
func sameJoin(a, b *Win7Blob) error {
	switch {
	case !strings.EqualFold(a.Domain, b.Domain), !strings.EqualFold(a.MachineName, b.MachineName),
		!a.MachinePassword.Equal(b.MachinePassword),
		a.DomainInfo.SID == nil != (b.DomainInfo.SID == nil),
		a.DomainInfo.SID != nil && a.DomainInfo.SID.String() != b.DomainInfo.SID.String():
		return fmt.Errorf("%w: the WIN7 blob and the JOIN_PROVIDER part describe different joins", ErrInconsistent)
	}
	return nil
}
