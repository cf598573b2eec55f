package dcerpc

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/oiweiwei/go-msrpc/ndr"
)

// stringRef is a unique pointer to a conformant varying string, decoded
// the way go-msrpc's generated code does it.
type stringRef struct{ s string }

func (o *stringRef) UnmarshalNDR(ctx context.Context, r ndr.Reader) error {
	read := ndr.UnmarshalNDRFunc(func(ctx context.Context, r ndr.Reader) error {
		return ndr.ReadUTF16String(ctx, r, &o.s)
	})
	if err := r.ReadPointer(&o.s, func(any) {}, read); err != nil {
		return err
	}
	return r.ReadDeferred()
}

func stringStub(count uint32, chars string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0x20000) // referent id
	b = binary.LittleEndian.AppendUint32(b, count)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, count)
	for _, c := range chars {
		b = binary.LittleEndian.AppendUint16(b, uint16(c))
	}
	return b
}

func TestStubReaderBoundsSizes(t *testing.T) {
	var ok stringRef
	if err := NewStubReader(stringStub(3, "ab\x00"), nil).Unmarshal(context.Background(), &ok); err != nil || ok.s != "ab\x00" {
		t.Fatalf("valid string: %q %v", ok.s, err)
	}
	// A forged count in a deferred referent is refused before any
	// allocation of that size.
	var bad stringRef
	if err := NewStubReader(stringStub(0xFFFFFFFF, "ab"), nil).Unmarshal(context.Background(), &bad); err == nil {
		t.Fatal("forged count accepted")
	}
	// Directly, without a pointer.
	var s string
	r := NewStubReader(stringStub(0x7FFFFFFF, "")[4:], []byte{0x10, 0, 0, 0})
	if err := ndr.ReadUTF16String(context.Background(), r, &s); err == nil {
		t.Fatal("forged count accepted")
	}
}
