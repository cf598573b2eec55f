package ntlm

import (
	"bytes"
	"testing"
)

func TestAVPairsRoundTrip(t *testing.T) {
	in := []avPair{{avNbComputerName, utf16le("HOST")}, {avFlags, []byte{2, 0, 0, 0}}, {avSingleHost, []byte{}}}
	b := marshalAVPairs(in)
	if !bytes.HasSuffix(b, []byte{0, 0, 0, 0}) {
		t.Fatal("no MsvAvEOL")
	}
	out, err := parseAVPairs(append(b, 0xde, 0xad)) // bytes after EOL are padding
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d pairs", len(out))
	}
	for i := range in {
		if out[i].ID != in[i].ID || !bytes.Equal(out[i].Value, in[i].Value) {
			t.Fatalf("pair %d: %+v", i, out[i])
		}
	}
	if v, ok := findAV(out, avFlags); !ok || !bytes.Equal(v, []byte{2, 0, 0, 0}) {
		t.Fatal("findAV")
	}
	if _, ok := findAV(out, avTimestamp); ok {
		t.Fatal("findAV found an absent pair")
	}
}

func TestAVPairsMalformed(t *testing.T) {
	if p, err := parseAVPairs(nil); err != nil || p != nil {
		t.Fatal("empty list")
	}
	for name, b := range map[string][]byte{
		"short header":   {1, 0, 2},
		"value too long": {1, 0, 9, 0, 'a', 0},
		"no EOL":         {1, 0, 2, 0, 'a', 0},
		"EOL cut":        {1, 0, 0, 0, 0, 0},
	} {
		if _, err := parseAVPairs(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
