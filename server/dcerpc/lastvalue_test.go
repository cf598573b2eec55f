package dcerpc

import (
	"testing"

	"github.com/oiweiwei/go-msrpc/ndr"
)

// LastUint32 is the 32-bit value a request read last, at both syntaxes;
// a reader that read none, or is not the runtime's, has none.
func TestLastUint32(t *testing.T) {
	stub := []byte{1, 0, 0, 0, 7, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde}
	for name, r := range map[string]ndr.Reader{"NDR": NewStubReader(stub, nil), "NDR64": NewNDR64StubReader(stub)} {
		if _, ok := LastUint32(r); ok {
			t.Errorf("%s: a value before any read", name)
		}
		var a, b uint32
		var s uint16
		if err := r.ReadData(&a); err != nil {
			t.Fatal(err)
		}
		if err := r.ReadData(&s); err != nil {
			t.Fatal(err)
		}
		if v, ok := LastUint32(r); !ok || v != 1 {
			t.Errorf("%s: after one value: %#x %v", name, v, ok)
		}
		if err := r.ReadData(&b); err != nil {
			t.Fatal(err)
		}
		if v, ok := LastUint32(r); !ok || v != 0xdeadbeef {
			t.Errorf("%s: %#x %v", name, v, ok)
		}
	}
	if _, ok := LastUint32(ndr.NDR20(stub, ndr.DefaultDataRepresentation)); ok {
		t.Error("a foreign reader")
	}
}
