package odj

import (
	"errors"
	"fmt"
	"strings"
)

// The shape of the file djoin /provision writes, which a provisioning tool
// fills with what it gathered from the directory. It is settled against
// the Windows Server 2019 vector (testdata/windows2019-provision.bin):
// built from that file's values, BuildProvision gives the same bytes but
// for the referent IDs (TestBuildMatchesWindows).

// FileSpec is what provisioning gathered for one computer account.
type FileSpec struct {
	// The domain, as its controller reports it.
	DomainDNS, DomainNetBIOS, ForestDNS string
	DomainSID                           SID
	DomainGUID                          GUID
	// MachineName is the computer's name as provisioning was asked for
	// it (djoin /machine), without '$'.
	MachineName string
	Password    Password
	// AccountRID and AccountSID identify the account (JOIN_PROVIDER3);
	// AccountSID "" is the domain SID followed by the RID.
	AccountRID uint32
	AccountSID string
	// AccountGUID is the account's objectGUID; when not zero a
	// JOIN_PROVIDER4 part carries it after JOIN_PROVIDER3. Windows Server
	// 2019 writes no such part; like its JOIN_PROVIDER3 part, it is not
	// flagged essential, so a consumer that does not know it skips it.
	AccountGUID GUID
	// The DC locator's answer: host name and address without the leading
	// "\\", the DS_* flags of the answer (the DS_DNS_* bits are added, as
	// the names here are DNS names), the sites.
	DCName, DCAddress          string
	DCFlags                    uint32
	DCSiteName, ClientSiteName string
	// Reuse and DefaultPassword are the NETSETUP_PROVISION_* options of the
	// request, which Windows echoes in the blob's Options.
	Reuse, DefaultPassword bool
	// Prov2 is the JOIN_PROVIDER2 part (djoin /netbios, /psite, /dsite,
	// /primarydns); nil for none.
	Prov2 *JoinProv2
	// Parts follow the join parts (POLICY_PROVIDER, CERT_PROVIDER).
	Parts []Part
}

// NETSETUP_PROVISION_* options (lmjoin.h) as Options echoes them.
const (
	provisionReuseAccount       = 0x00000002
	provisionUseDefaultPassword = 0x00000004
)

// DS_DNS_* flags of a locator answer (MS-NRPC 2.2.1.2.1): the names are
// DNS names.
const (
	dsDNSController = 0x20000000
	dsDNSDomain     = 0x40000000
	dsDNSForest     = 0x80000000
)

// BuildProvision returns the provisioning data djoin writes for s: the
// WIN7 blob, then a package of JOIN_PROVIDER (the same blob, essential),
// JOIN_PROVIDER2 when s has one, JOIN_PROVIDER3, JOIN_PROVIDER4 when the
// account GUID is known, and s.Parts. Names take Windows' case: the DNS
// names in lower case, the domain's NetBIOS name in upper case, the
// machine name as given. The result passes Provision.Join.
func BuildProvision(s FileSpec) (*Provision, error) {
	switch {
	case s.DomainDNS == "" || s.DomainNetBIOS == "":
		return nil, errors.New("odj: the domain's DNS and NetBIOS names are required")
	case len(s.DomainSID.SubAuthorities) == 0:
		return nil, errors.New("odj: the domain SID is required")
	case s.MachineName == "" || len(s.Password) == 0:
		return nil, errors.New("odj: the machine name and password are required")
	case s.DCName == "":
		return nil, errors.New("odj: the domain controller is required")
	}
	domain := strings.ToLower(s.DomainDNS)
	forest := strings.ToLower(s.ForestDNS)
	if forest == "" {
		forest = domain
	}
	flags := s.DCFlags | dsDNSDomain | dsDNSForest
	if strings.Contains(s.DCName, ".") {
		flags |= dsDNSController
	}
	var options uint32
	if s.Reuse {
		options |= provisionReuseAccount
	}
	if s.DefaultPassword {
		options |= provisionUseDefaultPassword
	}
	sid := s.DomainSID
	w := &Win7Blob{
		Domain:          domain,
		MachineName:     strings.TrimSuffix(s.MachineName, "$"),
		MachinePassword: s.Password,
		DomainInfo: DNSDomainInfo{
			Name: strings.ToUpper(s.DomainNetBIOS), DNSDomainName: domain, DNSForestName: forest,
			DomainGUID: s.DomainGUID, SID: &sid,
		},
		DCInfo: DCInfo{
			DCName: `\\` + s.DCName, AddressType: DSInetAddress, DomainGUID: s.DomainGUID,
			DomainName: domain, DNSForestName: forest, Flags: flags, DCSiteName: s.DCSiteName, ClientSiteName: s.ClientSiteName,
		},
		Options: options,
	}
	if s.DCAddress != "" {
		w.DCInfo.DCAddress = `\\` + s.DCAddress
	}
	acctSID := s.AccountSID
	if acctSID == "" {
		a := SID{Revision: sid.Revision, Authority: sid.Authority, SubAuthorities: append(append([]uint32(nil), sid.SubAuthorities...), s.AccountRID)}
		acctSID = a.String()
	}
	var parts []Part
	if s.Prov2 != nil {
		parts = append(parts, ContentPart(s.Prov2, 0))
	}
	parts = append(parts, ContentPart(&JoinProv3{RID: s.AccountRID, SID: acctSID}, 0))
	if !s.AccountGUID.IsZero() {
		parts = append(parts, ContentPart(&JoinProv4{RID: s.AccountRID, SID: acctSID, ObjectGUID: s.AccountGUID}, 0))
	}
	p := NewProvision(w, append(parts, s.Parts...)...)
	if _, err := p.Join(); err != nil {
		return nil, fmt.Errorf("odj: the provisioning data would be refused: %w", err)
	}
	return p, nil
}
