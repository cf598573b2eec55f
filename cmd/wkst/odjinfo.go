package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/wkssvcd/wkssvcd/odj"
)

// wkst odjinfo: what an offline domain join file holds.

// fileError is a provisioning file that cannot be used; it exits with 1.
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

type odjinfoCmd struct {
	loadfile     string
	asJSON       bool
	showPassword bool
}

func newODJInfoFlagSet() (*flag.FlagSet, *odjinfoCmd) {
	c := &odjinfoCmd{}
	fs := flag.NewFlagSet("odjinfo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.loadfile, "loadfile", "", "provisioning `FILE` to read (- for standard input): a djoin or Samba savefile, the base64 text, or the binary form")
	fs.BoolVar(&c.asJSON, "json", false, "print JSON instead of text")
	fs.BoolVar(&c.showPassword, "show-password", false, "include the machine password")
	return fs, c
}

func runODJInfo(args []string, e env) error {
	fs, c := newODJInfoFlagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return cmdUsagef("odjinfo", "odjinfo: %v", err)
	}
	if fs.NArg() > 0 {
		return cmdUsagef("odjinfo", "odjinfo: unexpected argument %q", fs.Arg(0))
	}
	if c.loadfile == "" {
		return cmdUsagef("odjinfo", "odjinfo: --loadfile is required")
	}
	data, err := readProvisioningFile(c.loadfile, e.stdin)
	if err != nil {
		return err
	}
	info, err := describeFile(data, c.showPassword)
	if err != nil {
		return &fileError{fmt.Errorf("%s: %w", c.loadfile, err)}
	}
	if c.asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	writeInfo(e.stdout, info)
	return nil
}

// readProvisioningFile reads a provisioning file ("-" for standard input),
// bounded.
func readProvisioningFile(path string, stdin io.Reader) ([]byte, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, odj.MaxSavefileSize+1))
		if err == nil && len(data) > odj.MaxSavefileSize {
			err = fmt.Errorf("standard input holds more than %d bytes", odj.MaxSavefileSize)
		}
	} else {
		data, err = readBoundedFile(path, odj.MaxSavefileSize)
	}
	if err != nil {
		return nil, &fileError{fmt.Errorf("reading %s: %w", path, err)}
	}
	return data, nil
}

// fileInfo is what odjinfo prints.
type fileInfo struct {
	Form            string          `json:"form"`
	BinaryBytes     int             `json:"binary_bytes"`
	Version         uint32          `json:"version"`
	Blobs           []blobInfo      `json:"blobs"`
	Domain          string          `json:"domain"`
	DomainNetBIOS   string          `json:"domain_netbios"`
	DomainDNS       string          `json:"domain_dns"`
	Forest          string          `json:"forest"`
	DomainSID       string          `json:"domain_sid"`
	DomainGUID      string          `json:"domain_guid"`
	Machine         string          `json:"machine"`
	PasswordLength  int             `json:"password_length"`
	Password        *string         `json:"password,omitempty"`
	PasswordUTF16LE string          `json:"password_utf16le_hex,omitempty"`
	RID             *uint32         `json:"rid,omitempty"`
	AccountSID      string          `json:"account_sid,omitempty"`
	AccountGUID     string          `json:"account_guid,omitempty"`
	DC              dcInfoJSON      `json:"dc"`
	Options         uint32          `json:"options"`
	Parts           []partInfo      `json:"parts"`
	Consumable      bool            `json:"consumable"`
	Problem         string          `json:"problem,omitempty"`
	JoinProvider2   *odj.JoinProv2  `json:"join_provider2,omitempty"`
	Policies        []policyInfo    `json:"policies,omitempty"`
	Certificates    []certStoreInfo `json:"certificate_stores,omitempty"`
}

type blobInfo struct {
	Format string `json:"format"`
	Bytes  int    `json:"bytes,omitempty"`
}

type dcInfoJSON struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	AddressType uint32 `json:"address_type"`
	Domain      string `json:"domain"`
	Forest      string `json:"forest"`
	Flags       string `json:"flags"`
	Site        string `json:"site"`
	ClientSite  string `json:"client_site"`
}

type partInfo struct {
	Type      string `json:"type"`
	Name      string `json:"name"`
	Flags     uint32 `json:"flags"`
	Essential bool   `json:"essential"`
	Bytes     int    `json:"bytes,omitempty"` // unknown parts
	Summary   string `json:"summary"`
}

type policyInfo struct {
	Source    string        `json:"source"`
	RootKeyID string        `json:"root_key"`
	Values    []policyValue `json:"values"`
}

type policyValue struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type certStoreInfo struct {
	Kind         string     `json:"kind"` // "sst" or "pfx"
	Store        string     `json:"store,omitempty"`
	Location     string     `json:"location,omitempty"`
	Template     string     `json:"template,omitempty"`
	Bytes        int        `json:"bytes"`
	Certificates []certInfo `json:"certificates,omitempty"`
}

type certInfo struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	SHA256  string `json:"sha256"`
	Expires string `json:"not_after,omitempty"`
}

// describeFile decodes a provisioning file for people.
func describeFile(data []byte, showPassword bool) (*fileInfo, error) {
	bin, err := odj.DecodeSavefile(data)
	if err != nil {
		return nil, err
	}
	p, err := odj.DecodeProvision(bin)
	if err != nil {
		return nil, err
	}
	info := &fileInfo{Form: fileForm(data), BinaryBytes: len(bin), Version: p.Version, Consumable: true}
	for _, bl := range p.Blobs {
		switch {
		case bl.Win7 != nil:
			info.Blobs = append(info.Blobs, blobInfo{Format: "ODJ_WIN7_FORMAT"})
		case bl.Package != nil:
			info.Blobs = append(info.Blobs, blobInfo{Format: "ODJ_WIN8_FORMAT"})
			for _, part := range bl.Package.Parts {
				info.Parts = append(info.Parts, describePart(part))
			}
			if !bl.Package.EncryptionType.IsZero() {
				info.Parts = append(info.Parts, partInfo{Name: "encrypted part collection", Bytes: len(bl.Package.Wrapped),
					Summary: "EncryptionType " + bl.Package.EncryptionType.String()})
			}
		default:
			info.Blobs = append(info.Blobs, blobInfo{Format: fmt.Sprintf("format %d", bl.Format), Bytes: len(bl.Raw)})
		}
	}
	j, err := p.Join()
	if err != nil {
		info.Consumable, info.Problem = false, err.Error()
		// Show what there is: the first WIN7 blob or JOIN_PROVIDER part.
		j = &odj.Join{Win7: firstWin7(p)}
		if j.Win7 == nil {
			return info, nil
		}
	}
	w := j.Win7
	info.Domain, info.Machine, info.Options = w.Domain, w.MachineName, w.Options
	d := w.DomainInfo
	info.DomainNetBIOS, info.DomainDNS, info.Forest, info.DomainGUID = d.Name, d.DNSDomainName, d.DNSForestName, d.DomainGUID.String()
	if d.SID != nil {
		info.DomainSID = d.SID.String()
	}
	info.PasswordLength = len(w.MachinePassword)
	if showPassword {
		if s, err := w.MachinePassword.Text(); err == nil {
			info.Password = &s
		} else {
			info.PasswordUTF16LE = hex.EncodeToString(w.MachinePassword.UTF16LE())
		}
	}
	if j.HaveRID {
		rid := j.RID
		info.RID, info.AccountSID = &rid, j.AccountSID
	}
	if j.AccountGUID != nil {
		info.AccountGUID = j.AccountGUID.String()
	}
	c := w.DCInfo
	info.DC = dcInfoJSON{Name: c.DCName, Address: c.DCAddress, AddressType: c.AddressType, Domain: c.DomainName,
		Forest: c.DNSForestName, Flags: fmt.Sprintf("0x%08X", c.Flags), Site: c.DCSiteName, ClientSite: c.ClientSiteName}
	info.JoinProvider2 = j.Prov2
	for _, pp := range j.Policies {
		for _, l := range pp.Lists {
			pi := policyInfo{Source: l.Source, RootKeyID: rootKeyName(l.RootKeyID)}
			for _, el := range l.Elements {
				pi.Values = append(pi.Values, policyValue{Key: el.KeyPath, Name: el.ValueName, Type: odj.RegTypeName(el.ValueType), Value: regValue(el.ValueType, el.Data)})
			}
			info.Policies = append(info.Policies, pi)
		}
	}
	for _, cp := range j.Certs {
		for _, s := range cp.SSTStores {
			st := certStoreInfo{Kind: "sst", Store: s.StoreName, Location: storeLocation(s.StoreLocation), Bytes: len(s.SST)}
			certs, _, err := odj.DecodeSST(s.SST)
			if err != nil {
				st.Certificates = []certInfo{{Subject: "unreadable store: " + err.Error()}}
			}
			for _, der := range certs {
				st.Certificates = append(st.Certificates, describeCert(der))
			}
			info.Certificates = append(info.Certificates, st)
		}
		for _, s := range cp.PFXStores {
			info.Certificates = append(info.Certificates, certStoreInfo{Kind: "pfx", Template: s.TemplateName, Bytes: len(s.PFX)})
		}
	}
	return info, nil
}

func firstWin7(p *odj.Provision) *odj.Win7Blob {
	for _, bl := range p.Blobs {
		if bl.Win7 != nil {
			return bl.Win7
		}
	}
	for _, bl := range p.Blobs {
		if bl.Package == nil {
			continue
		}
		for _, part := range bl.Package.Parts {
			if w, ok := part.Content.(*odj.Win7Blob); ok {
				return w
			}
		}
	}
	return nil
}

func fileForm(data []byte) string {
	switch {
	case len(data) >= 2 && data[0] == 0xFF && data[1] == 0xFE:
		return "UTF-16LE savefile"
	case len(data) >= 4 && data[0] == 1 && data[1] == 0x10 && data[2] == 8 && data[3] == 0:
		return "binary"
	}
	return "base64 text"
}

func describePart(part odj.Part) partInfo {
	pi := partInfo{Type: part.Type.String(), Name: odj.PartName(part.Type), Flags: part.Flags, Essential: part.Essential()}
	switch c := part.Content.(type) {
	case nil:
		pi.Bytes = len(part.Raw)
		pi.Summary = fmt.Sprintf("%d bytes, not understood", len(part.Raw))
	case *odj.Win7Blob:
		pi.Summary = fmt.Sprintf("join of %s to %s", c.MachineName, c.Domain)
	case *odj.JoinProv2:
		pi.Summary = fmt.Sprintf("NetBIOS name %q, site %q, primary DNS suffix %q, flags 0x%x", c.NetbiosName, c.SiteName, c.PrimaryDNSDomain, c.Flags)
	case *odj.JoinProv3:
		pi.Summary = fmt.Sprintf("RID %d, SID %s", c.RID, c.SID)
	case *odj.JoinProv4:
		pi.Summary = fmt.Sprintf("RID %d, SID %s, objectGUID %s", c.RID, c.SID, c.ObjectGUID)
	case *odj.PolicyPart:
		n := 0
		for _, l := range c.Lists {
			n += len(l.Elements)
		}
		pi.Summary = fmt.Sprintf("%d policy files, %d registry values", len(c.Lists), n)
	case *odj.CertPart:
		pi.Summary = fmt.Sprintf("%d certificate stores, %d enrolled certificates", len(c.SSTStores), len(c.PFXStores))
	}
	return pi
}

func rootKeyName(k uint32) string {
	if k == odj.HKeyLocalMachine {
		return "HKEY_LOCAL_MACHINE"
	}
	if k == 0x80000001 {
		return "HKEY_CURRENT_USER"
	}
	return fmt.Sprintf("0x%08X", k)
}

func storeLocation(l uint32) string {
	if l == odj.CertSystemStoreLocalMachine {
		return "LocalMachine"
	}
	return fmt.Sprintf("0x%08X", l)
}

// regValue renders registry data for people (and the JSON).
func regValue(t uint32, d []byte) string {
	switch t {
	case 1, 2: // REG_SZ, REG_EXPAND_SZ
		return utf16String(d)
	case 7: // REG_MULTI_SZ
		var parts []string
		for _, s := range strings.Split(utf16String(d), "\x00") {
			if s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	case 4:
		if len(d) == 4 {
			return fmt.Sprint(binary.LittleEndian.Uint32(d))
		}
	case 5:
		if len(d) == 4 {
			return fmt.Sprint(binary.BigEndian.Uint32(d))
		}
	case 11:
		if len(d) == 8 {
			return fmt.Sprint(binary.LittleEndian.Uint64(d))
		}
	}
	return hex.EncodeToString(d)
}

func utf16String(d []byte) string {
	u := make([]uint16, len(d)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(d[2*i:])
	}
	return strings.TrimRight(string(utf16.Decode(u)), "\x00")
}

func describeCert(der []byte) certInfo {
	sum := sha256.Sum256(der)
	ci := certInfo{SHA256: hex.EncodeToString(sum[:])}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		ci.Subject = "unparsable certificate: " + err.Error()
		return ci
	}
	ci.Subject, ci.Issuer, ci.Expires = c.Subject.String(), c.Issuer.String(), c.NotAfter.UTC().Format("2006-01-02")
	return ci
}

func writeInfo(w io.Writer, i *fileInfo) {
	p := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-19s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	p("File", "%s, %d bytes of provisioning data, version %d", i.Form, i.BinaryBytes, i.Version)
	var blobs []string
	for _, b := range i.Blobs {
		if b.Bytes > 0 {
			blobs = append(blobs, fmt.Sprintf("%s (%d bytes)", b.Format, b.Bytes))
		} else {
			blobs = append(blobs, b.Format)
		}
	}
	p("Blobs", "%s", strings.Join(blobs, ", "))
	if i.Consumable {
		p("Usable", "yes")
	} else {
		p("Usable", "no: %s", i.Problem)
	}
	if i.Machine == "" {
		return
	}
	p("Domain", "%s (NetBIOS %s, DNS %s, forest %s)", i.Domain, i.DomainNetBIOS, i.DomainDNS, i.Forest)
	p("Domain SID", "%s", i.DomainSID)
	p("Domain GUID", "%s", i.DomainGUID)
	p("Machine", "%s", i.Machine)
	switch {
	case i.Password != nil:
		p("Password", "%s", *i.Password)
	case i.PasswordUTF16LE != "":
		p("Password", "UTF-16LE %s (unpaired surrogates; no text form)", i.PasswordUTF16LE)
	default:
		p("Password", "%d UTF-16 code units (--show-password shows it)", i.PasswordLength)
	}
	if i.RID != nil {
		p("Account", "RID %d, SID %s", *i.RID, i.AccountSID)
	} else {
		p("Account", "no RID in the file (no JOIN_PROVIDER3/4 part)")
	}
	if i.AccountGUID != "" {
		p("Account GUID", "%s", i.AccountGUID)
	}
	p("Domain controller", "%s at %s, flags %s", i.DC.Name, i.DC.Address, i.DC.Flags)
	p("Sites", "DC in %q, client in %q", i.DC.Site, i.DC.ClientSite)
	p("Options", "0x%08X", i.Options)
	fmt.Fprintln(w, "Parts:")
	for _, pt := range i.Parts {
		ess := ""
		if pt.Essential {
			ess = ", essential"
		}
		fmt.Fprintf(w, "  %-15s {%s} flags 0x%x%s: %s\n", pt.Name, pt.Type, pt.Flags, ess, pt.Summary)
	}
	for _, pl := range i.Policies {
		fmt.Fprintf(w, "Policy %s (%s):\n", pl.Source, pl.RootKeyID)
		for _, v := range pl.Values {
			fmt.Fprintf(w, "  %s\\%s = %s %s\n", v.Key, v.Name, v.Type, v.Value)
		}
	}
	for _, st := range i.Certificates {
		if st.Kind == "pfx" {
			fmt.Fprintf(w, "Enrolled certificate (template %q): %d bytes of PKCS #12\n", st.Template, st.Bytes)
			continue
		}
		fmt.Fprintf(w, "Certificate store %s\\%s: %d certificates\n", st.Location, st.Store, len(st.Certificates))
		for _, c := range st.Certificates {
			fmt.Fprintf(w, "  %s (issuer %s, until %s, SHA-256 %s)\n", c.Subject, c.Issuer, c.Expires, c.SHA256)
		}
	}
}
