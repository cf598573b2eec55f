package odj

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
)

// Every decoder either fails with an error wrapping ErrFormat (or, for the
// text layer, ErrSavefile) or yields a value that re-encodes to bytes that
// decode to the same value.

func checkErr(t *testing.T, err error, kinds ...error) {
	t.Helper()
	for _, k := range kinds {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("error of an unexpected kind: %v", err)
}

func seedVectors(f *testing.F) {
	for _, name := range []string{"windows2019-provision.bin", "samba417-provision-newpc1.txt"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		if bin, err := DecodeSavefile(b); err == nil {
			f.Add(bin)
		}
	}
}

func FuzzDecodeSavefile(f *testing.F) {
	for _, name := range []string{"windows2019-provision.bin", "samba417-provision-newpc1.txt"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(b)
		f.Add([]byte(EncodeText(b[:64])))
	}
	f.Add([]byte{0xEF, 0xBB, 0xBF, 'A', 'A'})
	f.Add([]byte{0xFF, 0xFE, 'A', 0, '\n', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		bin, err := DecodeSavefile(data)
		if err != nil {
			checkErr(t, err, ErrSavefile)
			return
		}
		again, err := DecodeSavefile(EncodeSavefile(bin))
		if err != nil || !bytes.Equal(again, bin) {
			t.Fatalf("EncodeSavefile does not round trip: %v", err)
		}
	})
}

func FuzzDecodeProvision(f *testing.F) {
	seedVectors(f)
	p, _ := fullProvision(f)
	if b, err := p.Encode(); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeProvision(data)
		if err != nil {
			checkErr(t, err, ErrFormat, ErrUnsupportedVersion)
			return
		}
		p.Join() // must not panic, whatever it says
		b, err := p.Encode()
		if err != nil {
			t.Fatalf("decoded data does not encode: %v", err)
		}
		q, err := DecodeProvision(b)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("re-encoded data decodes differently: %v", err)
		}
	})
}

// fuzzPickle is the body of the per-type pickle targets.
func fuzzPickle[T any](f *testing.F, seeds [][]byte, decode func([]byte) (T, error), encode func(T) ([]byte, error)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			checkErr(t, err, ErrFormat)
			return
		}
		b, err := encode(v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		w, err := decode(b)
		if err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("re-encoded value decodes differently: %v", err)
		}
	})
}

// seedParts returns the pickles of fullProvision's parts of type typ.
func seedParts(tb testing.TB, typ GUID) [][]byte {
	p, _ := fullProvision(tb)
	var out [][]byte
	for _, part := range p.Blobs[1].Package.Parts {
		if part.Type == typ {
			b, err := EncodePart(part.Content)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

func FuzzDecodeWin7Blob(f *testing.F) {
	fuzzPickle(f, seedParts(f, PartJoinProvider), DecodeWin7Blob, EncodeWin7Blob)
}

func FuzzDecodePackage(f *testing.F) {
	p, _ := fullProvision(f)
	b, _ := EncodePackage(p.Blobs[1].Package)
	fuzzPickle(f, [][]byte{b}, DecodePackage, EncodePackage)
}

type collection struct {
	Parts []Part
	Ext   []byte
}

func FuzzDecodePartCollection(f *testing.F) {
	p, _ := fullProvision(f)
	pk := p.Blobs[1].Package
	b, _ := encodePartCollection(pk.Parts, []byte("ext"))
	fuzzPickle(f, [][]byte{b},
		func(b []byte) (collection, error) {
			parts, ext, err := decodePartCollection(b)
			return collection{parts, ext}, err
		},
		func(c collection) ([]byte, error) { return encodePartCollection(c.Parts, c.Ext) })
}

func fuzzPart(f *testing.F, typ GUID) {
	fuzzPickle(f, seedParts(f, typ),
		func(b []byte) (PartContent, error) { return DecodePart(typ, b) },
		EncodePart)
}

func FuzzDecodeJoinProv2(f *testing.F)    { fuzzPart(f, PartJoinProvider2) }
func FuzzDecodeJoinProv3(f *testing.F)    { fuzzPart(f, PartJoinProvider3) }
func FuzzDecodeJoinProv4(f *testing.F)    { fuzzPart(f, PartJoinProvider4) }
func FuzzDecodePolicyPart(f *testing.F)   { fuzzPart(f, PartPolicyProvider) }
func FuzzDecodeCertPart(f *testing.F)     { fuzzPart(f, PartCertProvider) }
func FuzzDecodeJoinProvider(f *testing.F) { fuzzPart(f, PartJoinProvider) }

func FuzzDecodeSST(f *testing.F) {
	f.Add(EncodeSST([][]byte{testCert(f, "A"), []byte("x")}))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, _, err := DecodeSST(data)
		if err != nil {
			checkErr(t, err, ErrFormat)
			return
		}
		again, _, err := DecodeSST(EncodeSST(certs))
		if err != nil || len(again) != len(certs) {
			t.Fatalf("re-encoded store: %d of %d certificates, %v", len(again), len(certs), err)
		}
	})
}

func FuzzDecodePReg(f *testing.F) {
	b, _ := EncodePReg([]RegistryValue{{Key: `Software\A`, ValueName: "v", Type: 4, Data: []byte{1, 0, 0, 0}}, {Key: "B", ValueName: "**del.c", Type: 1}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, err := DecodePReg(data)
		if err != nil {
			checkErr(t, err, ErrFormat)
			return
		}
		out, err := EncodePReg(vals)
		if err != nil {
			t.Fatalf("decoded values do not encode: %v", err)
		}
		again, err := DecodePReg(out)
		if err != nil || !reflect.DeepEqual(again, vals) {
			t.Fatalf("re-encoded file decodes differently: %v", err)
		}
	})
}
