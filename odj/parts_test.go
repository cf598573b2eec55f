package odj

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestFullRoundTrip(t *testing.T) {
	p, certs := fullProvision(t)
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := DecodeFile(EncodeSavefile(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip:\n%+v\n%+v", p, q)
	}
	j, err := q.Join()
	if err != nil {
		t.Fatal(err)
	}
	if j.AccountGUID == nil || j.AccountGUID.String() != "fedcba98-7654-3210-fedc-ba9876543210" || j.Prov2 == nil || j.Prov2.SiteName != "Branch" ||
		len(j.Policies) != 1 || len(j.Policies[0].Lists) != 2 || len(j.Certs) != 1 || len(j.Unknown) != 1 {
		t.Fatalf("join %+v", j)
	}
	got, other, err := DecodeSST(j.Certs[0].SSTStores[0].SST)
	if err != nil || other != 0 || !reflect.DeepEqual(got, certs) {
		t.Fatalf("SST: %d certificates, %d other, %v", len(got), other, err)
	}
}

func TestSST(t *testing.T) {
	certs := [][]byte{testCert(t, "A"), testCert(t, "B")}
	sst := EncodeSST(certs)
	// Header: version 0, "CERT"; each certificate an element of id 0x20,
	// encoding 1; the end element.
	if !bytes.HasPrefix(sst, []byte{0, 0, 0, 0, 'C', 'E', 'R', 'T', 0x20, 0, 0, 0, 1, 0, 0, 0}) || !bytes.HasSuffix(sst, make([]byte, 12)) {
		t.Fatalf("SST framing % x", sst[:16])
	}
	// Property elements before a certificate (as Windows writes them) are
	// skipped; CRLs counted.
	withProps := append([]byte(nil), sst[:8]...)
	withProps = append(withProps, 3, 0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0) // SHA-1 hash property
	withProps = append(withProps, make([]byte, 20)...)
	withProps = append(withProps, sst[8:len(sst)-12]...)
	withProps = append(withProps, 0x21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x30, 0)
	withProps = append(withProps, make([]byte, 12)...)
	for name, in := range map[string][]byte{"ours": sst, "with properties": withProps, "no end element": sst[:len(sst)-12]} {
		got, other, err := DecodeSST(in)
		if err != nil || !reflect.DeepEqual(got, certs) {
			t.Errorf("%s: %d certificates, %v", name, len(got), err)
		}
		if name == "with properties" && other != 1 {
			t.Errorf("%s: %d other elements, want 1", name, other)
		}
	}
	for name, in := range map[string][]byte{
		"short":        sst[:6],
		"version":      append([]byte{1}, sst[1:]...),
		"type":         append(append([]byte(nil), sst[:4]...), append([]byte("CRTX"), sst[8:]...)...),
		"truncated":    sst[:40],
		"element size": append(append(append([]byte(nil), sst[:16]...), 0xFF, 0xFF, 0xFF, 0xFF), sst[20:]...),
	} {
		if _, _, err := DecodeSST(in); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPReg(t *testing.T) {
	vals := []RegistryValue{
		{Key: `Software\Policies\A`, ValueName: "n", Type: 4, Data: []byte{1, 0, 0, 0}},
		{Key: `Software\Policies\A`, ValueName: "**del.x", Type: 1, Data: []byte{' ', 0}},
		{Key: `Software\Policies\B`, ValueName: "bin", Type: 3},
	}
	b, err := EncodePReg(vals)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePReg(b)
	if err != nil || !reflect.DeepEqual(got, vals) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := EncodePReg([]RegistryValue{{Key: "k", ValueName: "v", Data: make([]byte, 70000)}}); err == nil {
		t.Fatal("EncodePReg accepted 70000 bytes of data")
	}
	if got, err := DecodePReg([]byte("PReg\x01\x00\x00\x00")); err != nil || len(got) != 0 {
		t.Fatalf("empty policy file: %v %v", got, err)
	}
	for name, in := range map[string][]byte{
		"no signature": []byte("Preg\x01\x00\x00\x00"),
		"version 2":    []byte("PReg\x02\x00\x00\x00"),
		"truncated":    b[:len(b)-3],
		"bad bracket":  append(append([]byte(nil), b[:8]...), append([]byte{'(', 0}, b[10:]...)...),
	} {
		if _, err := DecodePReg(in); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
