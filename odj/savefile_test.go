package odj

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func utf16le(s string) []byte {
	var b []byte
	for _, c := range s {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

func TestSavefileForms(t *testing.T) {
	bin := readVector(t, "windows2019-provision.bin")
	text := EncodeText(bin)
	file := EncodeSavefile(bin)
	if !bytes.Equal(file, append(append([]byte{0xFF, 0xFE}, utf16le(text)...), 0, 0)) {
		t.Fatal("EncodeSavefile is not BOM + UTF-16LE base64 + NUL")
	}
	if strings.ContainsAny(text, "\r\n") {
		t.Fatal("the text form has line breaks")
	}
	bom := []byte{0xFF, 0xFE}
	accepted := map[string][]byte{
		"djoin/Samba savefile":       file,
		"UTF-16LE, no trailing NUL":  append(append([]byte(nil), bom...), utf16le(text)...),
		"UTF-16LE with CRLF":         append(append([]byte(nil), bom...), utf16le(text+"\r\n")...),
		"UTF-16LE, NUL then CRLF":    append(append([]byte(nil), bom...), utf16le(text+"\x00\r\n")...),
		"ASCII /printblob":           []byte(text),
		"ASCII with a final newline": []byte(text + "\n"),
		"ASCII with CRLF":            []byte(text + "\r\n"),
		"binary form":                bin,
	}
	for name, in := range accepted {
		got, err := DecodeSavefile(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, bin) {
			t.Errorf("%s: decoded to other bytes", name)
		}
	}
	wrapped := text[:76] + "\r\n" + text[76:]
	refused := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"empty", nil, "empty"},
		{"UTF-8 with BOM", append([]byte{0xEF, 0xBB, 0xBF}, text...), "UTF-8 byte-order mark"},
		{"UTF-16LE without BOM", utf16le(text), "without a byte-order mark"},
		{"UTF-16BE", append([]byte{0xFE, 0xFF}, utf16le(text)...), "big endian"},
		{"line-wrapped ASCII", []byte(wrapped), "broken into lines"},
		{"line-wrapped UTF-16LE", append(append([]byte(nil), bom...), utf16le(wrapped)...), "broken into lines"},
		{"odd UTF-16 length", append(append([]byte(nil), file...), 'A'), "odd number"},
		{"not base64", []byte("this is not base64!"), "not base64"},
		{"bad padding", []byte(text[:len(text)-2]), "base64"},
		{"non-ASCII UTF-16", append(append([]byte(nil), bom...), utf16le("AAAA€")...), "not base64"},
		{"BOM only", bom, "no base64"},
	}
	for _, c := range refused {
		_, err := DecodeSavefile(c.in)
		if err == nil || !errors.Is(err, ErrSavefile) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.msg)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	bin := readVector(t, "windows2019-provision.bin")
	// Every truncation is an error, never a panic.
	for n := 0; n < len(bin); n++ {
		if _, err := DecodeProvision(bin[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), bin...)
		f(b)
		return b
	}
	cases := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"pickle version 2", mutate(func(b []byte) { b[0] = 2 }), ErrFormat, "version 2"},
		{"big endian", mutate(func(b []byte) { b[1] = 0 }), ErrFormat, "little endian"},
		{"header length", mutate(func(b []byte) { b[2] = 9 }), ErrFormat, "header length"},
		{"buffer length not a multiple of 8", mutate(func(b []byte) { b[8] -= 4 }), ErrFormat, "multiple of 8"},
		{"buffer length past the end", mutate(func(b []byte) { b[9] += 1 }), ErrFormat, "truncated"},
		{"ulVersion 2", mutate(func(b []byte) { b[20] = 2 }), ErrUnsupportedVersion, "ulVersion 2"},
		{"NULL top pointer", mutate(func(b []byte) { copy(b[16:20], []byte{0, 0, 0, 0}) }), ErrFormat, "NULL top-level"},
		{"blob count mismatch", mutate(func(b []byte) { b[24] = 3 }), ErrFormat, "ulcBlobs"},
		{"huge blob count", mutate(func(b []byte) { copy(b[32:36], []byte{0xFF, 0xFF, 0xFF, 0x7F}) }), ErrFormat, "cannot fit"},
		{"cbBlob disagrees", mutate(func(b []byte) { b[40]++ }), ErrFormat, "size member"},
	}
	for _, c := range cases {
		_, err := DecodeProvision(c.in)
		if err == nil || !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %v saying %q", c.name, err, c.want, c.msg)
		}
	}
}

// TestConsumerRules: what Provision.Join refuses.
func TestConsumerRules(t *testing.T) {
	jp3 := ContentPart(&JoinProv3{RID: 1105, SID: "S-1-5-21-1-2-3-1105"}, 0)
	roundTrip := func(p *Provision) *Provision {
		t.Helper()
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		q, err := DecodeProvision(b)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	unknownType := MustParseGUID("11111111-2222-3333-4444-555555555555")

	// Unknown parts without the flag are kept, and survive re-encoding.
	p := roundTrip(NewProvision(sampleWin7(), jp3, Part{Type: unknownType, Raw: []byte("opaque part")}))
	j, err := p.Join()
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Unknown) != 1 || string(j.Unknown[0].Raw) != "opaque part" || j.RID != 1105 || j.AccountSID != "S-1-5-21-1-2-3-1105" {
		t.Fatalf("join %+v", j)
	}

	encrypted := NewProvision(sampleWin7(), jp3)
	encrypted.Blobs[1].Package.EncryptionType = unknownType
	encrypted.Blobs[1].Package.Wrapped = []byte("ciphertext")
	encrypted.Blobs[1].Package.Parts = nil
	bad := []struct {
		name string
		p    *Provision
		want error
	}{
		{"encrypted package", encrypted, ErrEncrypted},
		{"unknown essential part", NewProvision(sampleWin7(), jp3, Part{Type: unknownType, Flags: OPSPIPackagePartEssential, Raw: []byte{1}}), ErrUnknownEssential},
		{"no join data", &Provision{Version: 1}, ErrNoJoinData},
		{"SID of another RID", NewProvision(sampleWin7(), ContentPart(&JoinProv3{RID: 1105, SID: "S-1-5-21-1-2-3-1106"}, 0)), ErrInconsistent},
		{"SID of another domain", NewProvision(sampleWin7(), ContentPart(&JoinProv3{RID: 1105, SID: "S-1-5-21-9-2-3-1105"}, 0)), ErrInconsistent},
		{"JP3 and JP4 disagree", NewProvision(sampleWin7(), jp3, ContentPart(&JoinProv4{RID: 7, SID: "S-1-5-21-1-2-3-7"}, 0)), ErrInconsistent},
	}
	for _, c := range bad {
		_, err := roundTrip(c.p).Join()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// The WIN7 blob and the JOIN_PROVIDER part must describe one join.
	other := sampleWin7()
	other.MachineName = "PC2"
	split := NewProvision(sampleWin7(), jp3)
	split.Blobs[1].Package.Parts[0].Content = other
	if _, err := roundTrip(split).Join(); !errors.Is(err, ErrInconsistent) {
		t.Errorf("WIN7 blob and JOIN_PROVIDER naming different machines: %v", err)
	}
	// A file with only the package (no WIN7 blob) still joins.
	pkgOnly := NewProvision(sampleWin7(), jp3)
	pkgOnly.Blobs = pkgOnly.Blobs[1:]
	if j, err := roundTrip(pkgOnly).Join(); err != nil || j.Win7.MachineName != "PC1" {
		t.Errorf("package-only file: %v", err)
	}
}

func TestPasswordRedacted(t *testing.T) {
	w := sampleWin7()
	for _, s := range []string{fmtAll(w), fmtAll(*w), fmtAll(NewProvision(w))} {
		if strings.Contains(s, "pw-") {
			t.Fatalf("password printed: %s", s)
		}
	}
	// Unpaired surrogates have no text form; the code units survive.
	p := Password{'a', 0xD800, 'b'}
	if _, err := p.Text(); !errors.Is(err, ErrUnpairedSurrogate) {
		t.Fatalf("Text of an unpaired surrogate: %v", err)
	}
	w.MachinePassword = p
	b, err := EncodeWin7Blob(w)
	if err != nil {
		t.Fatal(err)
	}
	q, err := DecodeWin7Blob(b)
	if err != nil || !q.MachinePassword.Equal(p) {
		t.Fatalf("unpaired surrogate did not survive: %v", err)
	}
	if pw, err := PasswordFromString("ok密码").Text(); err != nil || pw != "ok密码" {
		t.Fatalf("Text: %q %v", pw, err)
	}
}

func fmtAll(v any) string {
	var sb strings.Builder
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		sb.WriteString(fmt.Sprintf(f, v))
	}
	return sb.String()
}
