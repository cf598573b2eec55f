package odj

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// windowsSpec is what the provisioning behind the Windows Server 2019
// vector gathered, read back from the vector: machine "wurst2" made with
// /defpwd (password = the name in lower case) by the DC
// gdw2k19dc.w2k19dom.ber.redhat.com.
func windowsSpec(t *testing.T) (FileSpec, []byte) {
	t.Helper()
	bin := readVector(t, "windows2019-provision.bin")
	p, err := DecodeProvision(bin)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Blobs[0].Win7
	sid, err := ParseSID("S-1-5-21-306967272-1096148586-1957995587")
	if err != nil {
		t.Fatal(err)
	}
	return FileSpec{
		DomainDNS: "W2K19DOM.ber.redhat.com", DomainNetBIOS: "w2k19dom", ForestDNS: "w2k19dom.ber.redhat.com",
		DomainSID: sid, DomainGUID: MustParseGUID("c0761a96-e242-4ec2-9160-7a66a4ac4929"),
		MachineName: "wurst2", Password: PasswordFromString("wurst2"),
		AccountRID: 1605,
		DCName:     "gdw2k19dc.w2k19dom.ber.redhat.com", DCAddress: "192.168.56.108",
		// The locator's answer without the DS_DNS_* bits, as a CLDAP
		// netlogon ping returns it.
		DCFlags:    w.DCInfo.Flags &^ (dsDNSController | dsDNSDomain | dsDNSForest),
		DCSiteName: "Default-First-Site-Name", ClientSiteName: "Default-First-Site-Name",
		DefaultPassword: true,
	}, bin
}

// TestBuildMatchesWindows proves the file we write against the one
// Windows wrote: built from the same values, it decodes to the same
// values, Samba's ndrdump shows every field alike, and the bytes are the
// same but for the referent IDs (which only need to be non-zero).
func TestBuildMatchesWindows(t *testing.T) {
	spec, win := windowsSpec(t)
	p, err := BuildProvision(spec)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := DecodeProvision(win)
	got, err := DecodeProvision(ours)
	if err != nil {
		t.Fatal(err)
	}
	// Field by field, through our decoder (the password included).
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded values differ:\nours    %+v\nwindows %+v", got, want)
	}
	// Byte by byte: the same length at every level, and the only
	// differing words are referent IDs.
	if len(ours) != len(win) {
		t.Fatalf("%d bytes, Windows wrote %d", len(ours), len(win))
	}
	refs := referentCount(t, win)
	diff := differingWords(t, ours, win)
	if diff > refs {
		t.Fatalf("%d words differ, but the file has only %d referent IDs", diff, refs)
	}
	t.Logf("%d bytes; %d of the %d referent IDs differ, nothing else", len(win), diff, refs)
	// Field by field, through Samba's decoder.
	if a, b := dumpFields(t, ours), dumpFields(t, win); a != b {
		t.Fatalf("ndrdump shows different fields:\n%s", lineDiff(a, b))
	}
}

// With the account's objectGUID the file is Windows' with a
// JOIN_PROVIDER4 part after JOIN_PROVIDER3, not essential; with the
// JOIN_PROVIDER2 settings, that part comes before JOIN_PROVIDER3.
func TestBuildAddsOnlyOptionalParts(t *testing.T) {
	spec, win := windowsSpec(t)
	want, _ := DecodeProvision(win)
	spec.AccountGUID = MustParseGUID("0b8e9f4c-1d2e-4f3a-8b5c-6d7e8f9a0b1c")
	spec.Prov2 = &JoinProv2{Flags: OpJP2FlagPersistentSite, NetbiosName: "WURST2", SiteName: "Branch", PrimaryDNSDomain: "corp.example"}
	p, err := BuildProvision(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeProvision(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Blobs[0], want.Blobs[0]) {
		t.Fatal("the WIN7 blob differs from Windows'")
	}
	parts := got.Blobs[1].Package.Parts
	wparts := want.Blobs[1].Package.Parts
	if len(parts) != 4 || !reflect.DeepEqual(parts[0], wparts[0]) || !reflect.DeepEqual(parts[2], wparts[1]) {
		t.Fatalf("parts: %+v", parts)
	}
	if parts[1].Type != PartJoinProvider2 || parts[1].Flags != 0 || !reflect.DeepEqual(parts[1].Content, spec.Prov2) {
		t.Fatalf("JOIN_PROVIDER2: %+v", parts[1])
	}
	jp4, ok := parts[3].Content.(*JoinProv4)
	if parts[3].Type != PartJoinProvider4 || parts[3].Flags != 0 || !ok || jp4.RID != 1605 || jp4.ObjectGUID != spec.AccountGUID ||
		jp4.SID != "S-1-5-21-306967272-1096148586-1957995587-1605" {
		t.Fatalf("JOIN_PROVIDER4: %+v", parts[3])
	}
	j, err := got.Join()
	if err != nil || j.Prov2 == nil || j.AccountGUID == nil || *j.AccountGUID != spec.AccountGUID {
		t.Fatalf("Join: %+v, %v", j, err)
	}
	// Samba reads it, JOIN_PROVIDER2 decoded, JOIN_PROVIDER4 as an unknown
	// part.
	d := ndrdump(t, "ODJ", "ODJ_PROVISION_DATA_serialized_ptr", b)
	wantLines(t, "file", d, "lpNetbiosName: 'WURST2'", "lpSiteName: 'Branch'", "lpPrimaryDNSDomain: 'corp.example'",
		"PartType: 4a08716a-6710-4647-8211-fdbb0b03f60b", "Rid: 0x00000645 (1605)")
}

func TestBuildRefuses(t *testing.T) {
	spec, _ := windowsSpec(t)
	for name, mod := range map[string]func(*FileSpec){
		"no domain":   func(s *FileSpec) { s.DomainDNS = "" },
		"no NetBIOS":  func(s *FileSpec) { s.DomainNetBIOS = "" },
		"no SID":      func(s *FileSpec) { s.DomainSID = SID{} },
		"no machine":  func(s *FileSpec) { s.MachineName = "" },
		"no password": func(s *FileSpec) { s.Password = nil },
		"no DC":       func(s *FileSpec) { s.DCName = "" },
		"foreign SID": func(s *FileSpec) { s.AccountSID = "S-1-5-21-1-2-3-1605" },
	} {
		s := spec
		mod(&s)
		if _, err := BuildProvision(s); err == nil {
			t.Errorf("%s: built", name)
		}
	}
}

// referentCount counts the non-NULL pointers Samba's ndrdump sees in a
// provisioning file: a "name: *" line each, and the "_pad" word of its
// shifted ODJ_WIN7BLOB, which is Windows' password referent.
func referentCount(t *testing.T, bin []byte) int {
	d := ndrdump(t, "ODJ", "ODJ_PROVISION_DATA_serialized_ptr", bin)
	n := 0
	for _, l := range strings.Split(d, "\n") {
		if strings.HasSuffix(l, ": *") || strings.HasPrefix(l, "_pad: ") {
			n++
		}
	}
	if n == 0 {
		t.Fatal("ndrdump shows no pointers")
	}
	return n
}

// differingWords counts the 4-byte words (aligned to the start of the
// file, which nested pickles keep) in which a and b differ, failing on a
// difference that cannot be a pair of referent IDs: one of them zero.
func differingWords(t *testing.T, a, b []byte) int {
	t.Helper()
	n := 0
	for i := 0; i+4 <= len(a); i += 4 {
		x, y := binary.LittleEndian.Uint32(a[i:]), binary.LittleEndian.Uint32(b[i:])
		if x == y {
			continue
		}
		if x == 0 || y == 0 {
			t.Fatalf("offset %d: % x, Windows wrote % x", i, a[i:i+4], b[i:i+4])
		}
		n++
	}
	if !bytes.Equal(a[len(a)&^3:], b[len(b)&^3:]) {
		t.Fatal("the last bytes differ")
	}
	return n
}

var padLine = regexp.MustCompile(`(?m)^_pad: .*$`)

// dumpFields is ndrdump's view of a file without the referent value it
// prints (the "_pad" word).
func dumpFields(t *testing.T, bin []byte) string {
	return padLine.ReplaceAllString(ndrdump(t, "ODJ", "ODJ_PROVISION_DATA_serialized_ptr", bin), "_pad: (referent)")
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "ours:    "+x, "windows: "+y)
		}
	}
	return strings.Join(out, "\n")
}
