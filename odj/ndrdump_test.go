package odj

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Samba's ndrdump (Debian package samba-testsuite) decodes every type of
// the ODJ IDL with Samba's own NDR code: an independent reader for what
// the encoder writes.

func ndrdumpPath(t *testing.T) string {
	t.Helper()
	return testenv.Tool(t, "ndrdump", "samba-testsuite")
}

var spaces = regexp.MustCompile(`\s+:\s+`)

// ndrdump decodes b as typ of interface iface and returns the dump with
// "name : value" lines normalised to "name: value", failing unless Samba
// pulled it successfully.
func ndrdump(t *testing.T, iface, typ string, b []byte) string {
	t.Helper()
	bin := ndrdumpPath(t)
	f := filepath.Join(t.TempDir(), "in.bin")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, iface, typ, "struct", f).CombinedOutput()
	s := string(out)
	if err != nil || !strings.Contains(s, "pull returned Success") || !strings.HasSuffix(strings.TrimSpace(s), "dump OK") {
		t.Fatalf("ndrdump %s %s: %v\n%s", iface, typ, err, s)
	}
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, spaces.ReplaceAllString(strings.TrimSpace(l), ": "))
	}
	return strings.Join(lines, "\n")
}

func wantLines(t *testing.T, what, dump string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(dump, w) {
			t.Errorf("%s: ndrdump shows no %q", what, w)
		}
	}
}

func testCert(t testing.TB, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// fullProvision holds every part type, an unknown one included.
func fullProvision(t testing.TB) (*Provision, [][]byte) {
	certs := [][]byte{testCert(t, "Root CA One"), testCert(t, "Root CA Two")}
	dword := binary.LittleEndian.AppendUint32(nil, 42)
	policy := &PolicyPart{Lists: []PolicyElementList{
		PolicyList(`\\example.test\SysVol\example.test\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\Machine\Registry.pol`, []RegistryValue{
			{Key: `Software\Policies\Microsoft\Windows NT\DNSClient`, ValueName: "EnableMulticast", Type: 4, Data: dword},
			{Key: `Software\Policies\Example`, ValueName: "Motto", Type: 1, Data: utf16le("Hällo\x00")},
		}),
		PolicyList(`C:\policies\extra.pol`, []RegistryValue{{Key: `Software\Empty`, ValueName: "**DeleteValues", Type: 1, Data: nil}}),
	}}
	cert := &CertPart{
		SSTStores: []CertSSTStore{{StoreLocation: CertSystemStoreLocalMachine, StoreName: "Root", SST: EncodeSST(certs)}},
		PFXStores: []CertPFXStore{{TemplateName: "Machine", PrivateKeyExportPolicy: 1, PolicyServerURL: "https://ca.example.test", PolicyServerID: "{id}", PFX: []byte("not really PKCS#12")}},
	}
	p := NewProvision(sampleWin7(),
		ContentPart(&JoinProv2{Flags: OpJP2FlagPersistentSite, NetbiosName: "PC1", SiteName: "Branch", PrimaryDNSDomain: "corp.example.test"}, 0),
		ContentPart(&JoinProv3{RID: 1105, SID: "S-1-5-21-1-2-3-1105"}, 0),
		ContentPart(&JoinProv4{RID: 1105, SID: "S-1-5-21-1-2-3-1105", ObjectGUID: MustParseGUID("fedcba98-7654-3210-fedc-ba9876543210")}, 0),
		ContentPart(policy, 0),
		ContentPart(cert, 0),
		Part{Type: MustParseGUID("11111111-2222-3333-4444-555555555555"), Raw: []byte("opaque")},
	)
	return p, certs
}

func TestNdrdumpReadsOurs(t *testing.T) {
	p, _ := fullProvision(t)
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	top := ndrdump(t, "ODJ", "ODJ_PROVISION_DATA_serialized_ptr", b)
	win7 := []string{
		"lpDomain: 'example.test'", "lpMachineName: 'PC1'", "lpMachinePassword: <REDACTED SECRET VALUE>",
		"string: 'EXAMPLE'", "string: 'example.test'", "DomainGuid: 01234567-89ab-cdef-0123-456789abcdef",
		"Sid: S-1-5-21-1-2-3", `dc_unc: '\\dc1.example.test'`, `dc_address: '\\192.0.2.1'`,
		"dc_address_type: DS_ADDRESS_TYPE_INET (1)", "domain_name: 'example.test'", "forest_name: 'example.test'",
		"dc_flags: 0xe00013fd", "dc_site_name: 'Default-First-Site-Name'", "client_site_name: 'Default-First-Site-Name'",
		"Options: 0x00000000",
	}
	wantLines(t, "ODJ_PROVISION_DATA", top, append(win7,
		"ulVersion: 0x00000001 (1)", "ulcBlobs: 0x00000002 (2)", "ulODJFormat: ODJ_WIN7_FORMAT (1)", "ulODJFormat: ODJ_WIN8_FORMAT (2)",
		"EncryptionType: 00000000-0000-0000-0000-000000000000", "cParts: 0x00000007 (7)",
		"PartType: 631c7621-5289-4321-bc9e-80f843f868c3", "PartType: 57bfc56b-52f9-480c-adcb-91b3f8a82317",
		"PartType: fc0ccf25-7ffa-474a-8611-69ffe269645f", "PartType: 4a08716a-6710-4647-8211-fdbb0b03f60b",
		"PartType: 68fb602a-0c09-48ce-b75f-07b7bd58f7ec", "PartType: 9c0971e9-832f-4873-8e87-ef1419d4781e",
		"PartType: 11111111-2222-3333-4444-555555555555",
		"Rid: 0x00000451 (1105)", "lpSid: 'S-1-5-21-1-2-3-1105'",
		"lpNetbiosName: 'PC1'", "lpSiteName: 'Branch'", "lpPrimaryDNSDomain: 'corp.example.test'",
		"cElementLists: 0x00000002 (2)", "pKeyPath: 'Software\\Policies\\Microsoft\\Windows NT\\DNSClient'",
		"pValueName: 'EnableMulticast'", "ulValueType: REG_DWORD (4)", "pValueName: '**DeleteValues'",
		"cSstStores: 0x00000001 (1)", "StoreLocation: 0x00020000 (131072)", "pStoreName: 'Root'",
		"cPfxStores: 0x00000001 (1)", "pTemplateName: 'Machine'", "pPolicyServerUrl: 'https://ca.example.test'",
	)...)
	if n := strings.Count(top, "ulFlags: 0x00000001 (1)"); n != 1 {
		t.Errorf("%d parts flagged essential, want only JOIN_PROVIDER", n)
	}

	// Each nested pickle through its own type. (ndrdump 4.17 cannot pull
	// an ODJ_WIN7BLOB on its own, not even the one inside the Windows
	// vector: its IDL models the blob without the top-level pointer. The
	// WIN7 blob is checked above, both as blob 0 and as the JOIN_PROVIDER
	// part.)
	pk := p.Blobs[1].Package
	pb, _ := EncodePackage(pk)
	wantLines(t, "OP_PACKAGE", ndrdump(t, "ODJ", "OP_PACKAGE_serialized_ptr", pb), "cParts: 0x00000007 (7)", "lpSid: 'S-1-5-21-1-2-3-1105'")
	for _, c := range []struct {
		typ  string
		part int
		want []string
	}{
		{"OP_JOINPROV2_PART_serialized_ptr", 1, []string{"dwFlags: 0x00000001 (1)", "lpNetbiosName: 'PC1'", "lpSiteName: 'Branch'", "lpPrimaryDNSDomain: 'corp.example.test'", "lpReserved: NULL"}},
		{"OP_JOINPROV3_PART_serialized_ptr", 2, []string{"Rid: 0x00000451 (1105)", "lpSid: 'S-1-5-21-1-2-3-1105'"}},
		{"OP_POLICY_PART_serialized_ptr", 4, []string{"cElementLists: 0x00000002 (2)", "ulRootKeyId: 0x80000002", "cElements: 0x00000002 (2)",
			"pValueName: 'EnableMulticast'", "cbValueData: 0x00000004 (4)", "pValueName: 'Motto'", "ulValueType: REG_SZ (1)", "cbValueData: 0x00000000 (0)"}},
		{"OP_CERT_PART_serialized_ptr", 5, []string{"cPfxStores: 0x00000001 (1)", "pPolicyServerId: '{id}'", "cSstStores: 0x00000001 (1)", "pStoreName: 'Root'"}},
	} {
		b, err := EncodePart(pk.Parts[c.part].Content)
		if err != nil {
			t.Fatal(err)
		}
		wantLines(t, c.typ, ndrdump(t, "ODJ", c.typ, b), c.want...)
	}
}

// TestNdrdumpReadsPReg: Samba's PReg parser reads what EncodePReg writes.
func TestNdrdumpReadsPReg(t *testing.T) {
	b, err := EncodePReg([]RegistryValue{
		{Key: `Software\Policies\Example`, ValueName: "Number", Type: 4, Data: []byte{7, 0, 0, 0}},
		{Key: `Software\Policies\Example`, ValueName: "Text", Type: 1, Data: utf16le("abc\x00")},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, "preg_file", ndrdump(t, "preg", "preg_file", b),
		"signature: 'PReg'", "num_entries: 0x00000002 (2)", "keyname: 'Software\\Policies\\Example'",
		"valuename: 'Number'", "type: REG_DWORD (0x4)", "value: 0x00000007 (7)", "valuename: 'Text'", "type: REG_SZ (0x1)", "string: 'abc'")
}
