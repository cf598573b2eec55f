package odj

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// testdata/windows2019-provision.bin is the binary form a Windows Server
// 2019 DC's djoin /provision produced (machine "wurst2"), the vector
// Samba's NDR torture test decodes; testdata/samba417-provision-newpc1.txt
// is a savefile Samba 4.17's net offlinejoin provision wrote (machine
// NEWPC1, domain odj.test).

func readVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantWin7 checks the join data of a decoded vector against the values
// odj.md §1.3 lists for it.
type win7Want struct {
	domain, machine, netbios, guid, sid string
	dcName, dcAddr, site                string
	flags, options                      uint32
	pwLen                               int
}

func checkWin7(t *testing.T, what string, w *Win7Blob, want win7Want) {
	t.Helper()
	got := []struct {
		field     string
		got, want any
	}{
		{"lpDomain", w.Domain, want.domain},
		{"lpMachineName", w.MachineName, want.machine},
		{"password length", len(w.MachinePassword), want.pwLen},
		{"Name", w.DomainInfo.Name, want.netbios},
		{"DnsDomainName", w.DomainInfo.DNSDomainName, want.domain},
		{"DnsForestName", w.DomainInfo.DNSForestName, want.domain},
		{"DomainGuid", w.DomainInfo.DomainGUID.String(), want.guid},
		{"Sid", fmt.Sprint(w.DomainInfo.SID), want.sid},
		{"DcInfo.DomainControllerName", w.DCInfo.DCName, want.dcName},
		{"DcInfo.DomainControllerAddress", w.DCInfo.DCAddress, want.dcAddr},
		{"DcInfo.AddressType", w.DCInfo.AddressType, uint32(DSInetAddress)},
		{"DcInfo.DomainGuid", w.DCInfo.DomainGUID.String(), want.guid},
		{"DcInfo.DomainName", w.DCInfo.DomainName, want.domain},
		{"DcInfo.DnsForestName", w.DCInfo.DNSForestName, want.domain},
		{"DcInfo.Flags", w.DCInfo.Flags, want.flags},
		{"DcInfo.DcSiteName", w.DCInfo.DCSiteName, want.site},
		{"DcInfo.ClientSiteName", w.DCInfo.ClientSiteName, want.site},
		{"Options", w.Options, want.options},
	}
	for _, g := range got {
		if !reflect.DeepEqual(g.got, g.want) {
			t.Errorf("%s: %s = %v, want %v", what, g.field, g.got, g.want)
		}
	}
}

var windowsWant = win7Want{
	domain: "w2k19dom.ber.redhat.com", machine: "wurst2", netbios: "W2K19DOM",
	guid: "c0761a96-e242-4ec2-9160-7a66a4ac4929", sid: "S-1-5-21-306967272-1096148586-1957995587",
	dcName: `\\gdw2k19dc.w2k19dom.ber.redhat.com`, dcAddr: `\\192.168.56.108`, site: "Default-First-Site-Name",
	flags: 0xE003F3FD, options: 4, pwLen: 6,
}

var sambaWant = win7Want{
	domain: "odj.test", machine: "NEWPC1", netbios: "ODJ",
	guid: "38cafbe2-a398-4499-885f-0413d9b81bb3", sid: "S-1-5-21-3070927447-2750013856-1874614257",
	dcName: `\\dc1.odj.test`, dcAddr: `\\127.0.0.3`, site: "Default-First-Site-Name",
	flags: 0xE00013FD, options: 6, pwLen: 120,
}

func TestWindowsVector(t *testing.T) {
	bin := readVector(t, "windows2019-provision.bin")
	p, err := DecodeProvision(bin)
	if err != nil {
		t.Fatal(err)
	}
	checkVector(t, p, windowsWant, 1605, 792, 1120)
	// The Windows file was made with /defpwd: its password is the machine
	// name in lower case, and Options is 4, the
	// NETSETUP_PROVISION_USE_DEFAULT_PASSWORD flag of the request (so
	// Options echoes the provisioning flags).
	pw, err := p.Blobs[0].Win7.MachinePassword.Text()
	if err != nil || pw != "wurst2" {
		t.Fatalf("password: %d characters, %v; want the default password", len(pw), err)
	}
	reencode(t, p, bin)
}

func TestSambaVector(t *testing.T) {
	file := readVector(t, "samba417-provision-newpc1.txt")
	// The exact savefile shape: BOM, UTF-16LE base64, one NUL.
	if !bytes.HasPrefix(file, []byte{0xFF, 0xFE}) || !bytes.HasSuffix(file, []byte{'=', 0, 0, 0}) {
		t.Fatalf("unexpected savefile framing % x ... % x", file[:4], file[len(file)-4:])
	}
	bin, err := DecodeSavefile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(EncodeSavefile(bin), file) {
		t.Fatal("EncodeSavefile(DecodeSavefile(samba file)) differs from the file")
	}
	p, err := DecodeProvision(bin)
	if err != nil {
		t.Fatal(err)
	}
	checkVector(t, p, sambaWant, 1103, 816, 0)
	reencode(t, p, bin)
}

func checkVector(t *testing.T, p *Provision, want win7Want, rid uint32, win7Len, pkgLen int) {
	t.Helper()
	if p.Version != 1 || len(p.Blobs) != 2 || p.Blobs[0].Format != FormatWin7 || p.Blobs[1].Format != FormatWin8 {
		t.Fatalf("provision data: version %d, %d blobs", p.Version, len(p.Blobs))
	}
	checkWin7(t, "WIN7 blob", p.Blobs[0].Win7, want)
	pk := p.Blobs[1].Package
	if !pk.EncryptionType.IsZero() || len(pk.Parts) != 2 {
		t.Fatalf("package: encryption %s, %d parts", pk.EncryptionType, len(pk.Parts))
	}
	if pk.Parts[0].Type != PartJoinProvider || pk.Parts[0].Flags != 1 {
		t.Fatalf("part 0: %s flags %d", pk.Parts[0].Type, pk.Parts[0].Flags)
	}
	w7 := pk.Parts[0].Content.(*Win7Blob)
	checkWin7(t, "JOIN_PROVIDER part", w7, want)
	if !w7.MachinePassword.Equal(p.Blobs[0].Win7.MachinePassword) {
		t.Error("the JOIN_PROVIDER part's password differs from the WIN7 blob's")
	}
	if pk.Parts[1].Type != PartJoinProvider3 || pk.Parts[1].Flags != 0 {
		t.Fatalf("part 1: %s flags %d", pk.Parts[1].Type, pk.Parts[1].Flags)
	}
	jp3 := pk.Parts[1].Content.(*JoinProv3)
	if jp3.RID != rid || jp3.SID != want.sid+fmt.Sprintf("-%d", rid) {
		t.Errorf("JOIN_PROVIDER3: %+v", jp3)
	}
	j, err := p.Join()
	if err != nil {
		t.Fatal(err)
	}
	if !j.HaveRID || j.RID != rid || j.AccountSID != jp3.SID || len(j.Unknown) != 0 {
		t.Errorf("Join: %+v", j)
	}
	// The blob lengths (cbBlob) of the top level.
	if win7Len != 0 {
		if b, _ := EncodeWin7Blob(p.Blobs[0].Win7); len(b) != win7Len {
			t.Errorf("re-encoded WIN7 blob: %d bytes, the vector's is %d", len(b), win7Len)
		}
	}
	if pkgLen != 0 {
		if b, _ := EncodePackage(pk); len(b) != pkgLen {
			t.Errorf("re-encoded package: %d bytes, the vector's is %d", len(b), pkgLen)
		}
	}
}

// reencode checks that p encodes to data of the original's length that
// decodes to the same values (the bytes differ only in referent IDs).
func reencode(t *testing.T, p *Provision, orig []byte) {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != len(orig) {
		t.Errorf("re-encoded: %d bytes, original %d", len(b), len(orig))
	}
	q, err := DecodeProvision(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("re-encoded data decodes differently:\n%+v\n%+v", p, q)
	}
}

// TestPickleFraming checks the bytes of what the encoder writes: headers,
// lengths, nesting, GUIDs and flags.
func TestPickleFraming(t *testing.T) {
	p := NewProvision(sampleWin7(), ContentPart(&JoinProv3{RID: 1105, SID: "S-1-5-21-1-2-3-1105"}, 0))
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	checkHeader := func(what string, b []byte) []byte {
		t.Helper()
		if !bytes.Equal(b[:8], []byte{1, 0x10, 8, 0, 0xCC, 0xCC, 0xCC, 0xCC}) {
			t.Fatalf("%s: common header % x", what, b[:8])
		}
		n := binary.LittleEndian.Uint32(b[8:12])
		if int(n) != len(b)-16 || n%8 != 0 || binary.LittleEndian.Uint32(b[12:16]) != 0 {
			t.Fatalf("%s: ObjectBufferLength %d for %d bytes", what, n, len(b))
		}
		return b[16:]
	}
	body := checkHeader("ODJ_PROVISION_DATA", b)
	// referent, ulVersion 1, ulcBlobs 2, pBlobs referent, conformance 2,
	// then {format, cbBlob, pBlob} twice, then the two nested pickles.
	u := func(off int) uint32 { return binary.LittleEndian.Uint32(body[off:]) }
	if u(0) == 0 || u(4) != 1 || u(8) != 2 || u(12) == 0 || u(16) != 2 || u(20) != 1 || u(32) != 2 {
		t.Fatalf("ODJ_PROVISION_DATA body % x", body[:40])
	}
	off := 44
	for i, want := range []uint32{u(24), u(36)} {
		if u(off) != want {
			t.Fatalf("blob %d: conformance %d, cbBlob %d", i, u(off), want)
		}
		nested := body[off+4 : off+4+int(want)]
		checkHeader(fmt.Sprintf("blob %d", i), nested)
		off = (off + 4 + int(want) + 3) &^ 3
	}
	pk := p.Blobs[1].Package
	pb, _ := EncodePackage(pk)
	pbody := checkHeader("OP_PACKAGE", pb)
	if !bytes.Equal(pbody[4:20], make([]byte, 16)) {
		t.Fatalf("EncryptionType % x", pbody[4:20])
	}
	// The part collection: its parts carry the JOIN_PROVIDER GUID with
	// flag 1, then JOIN_PROVIDER3 with flag 0.
	g1, g3 := PartJoinProvider, PartJoinProvider3
	i1 := bytes.Index(pb, g1[:])
	i3 := bytes.Index(pb, g3[:])
	if i1 < 0 || i3 < 0 || binary.LittleEndian.Uint32(pb[i1+16:]) != 1 || binary.LittleEndian.Uint32(pb[i3+16:]) != 0 {
		t.Fatal("part GUIDs and flags not found as expected")
	}
	if !strings.HasPrefix(g1.String(), "631c7621-5289-4321-bc9e-80f843f868c3") || !bytes.Equal(g1[:4], []byte{0x21, 0x76, 0x1c, 0x63}) {
		t.Fatalf("GUID layout %x %s", g1[:], g1)
	}
}

func sampleWin7() *Win7Blob {
	sid, _ := ParseSID("S-1-5-21-1-2-3")
	g := MustParseGUID("01234567-89ab-cdef-0123-456789abcdef")
	return &Win7Blob{
		Domain: "example.test", MachineName: "PC1", MachinePassword: PasswordFromString("pw-äöü-密码"),
		DomainInfo: DNSDomainInfo{Name: "EXAMPLE", DNSDomainName: "example.test", DNSForestName: "example.test", DomainGUID: g, SID: &sid},
		DCInfo: DCInfo{DCName: `\\dc1.example.test`, DCAddress: `\\192.0.2.1`, AddressType: DSInetAddress, DomainGUID: g,
			DomainName: "example.test", DNSForestName: "example.test", Flags: 0xE00013FD, DCSiteName: "Default-First-Site-Name", ClientSiteName: "Default-First-Site-Name"},
		Options: 0,
	}
}
