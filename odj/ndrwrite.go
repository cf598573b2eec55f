package odj

import (
	"context"
	"fmt"
	"math"
	"unicode/utf16"

	"github.com/oiweiwei/go-msrpc/ndr"
)

// The encoder is go-msrpc's NDR20 writer: writes stop at the first error,
// which the writer keeps (Writer.Err), so the helpers below do not check
// each call. Pointers get go-msrpc's referent IDs (buffer offset + 1),
// which are unique within a pickle, as unique pointers need.

// encodePickle pickles a pointer type whose pointee body writes
// (MS-RPCE 2.2.6: common and private headers, body padded to 8).
func encodePickle(what string, body func(w ndr.Writer)) ([]byte, error) {
	v := ndr.MarshalNDRFunc(func(_ context.Context, w ndr.Writer) error {
		body(w)
		return w.Err()
	})
	b, err := ndr.MarshalWithTypeSerializationV1(ndr.MarshalerPointer(v))
	if err != nil {
		return nil, fmt.Errorf("odj: encoding %s: %w", what, err)
	}
	return b, nil
}

func wU32(w ndr.Writer, v uint32) { w.WriteData(v) }

func wU16(w ndr.Writer, v uint16) { w.WriteData(v) }

func wGUID(w ndr.Writer, g GUID) {
	w.WriteAlign(4)
	w.Write(g[:])
}

// wPtr writes a unique pointer: NULL when present is false, else a
// referent whose pointee is deferred.
func wPtr(w ndr.Writer, present bool, pointee func(w ndr.Writer)) {
	if !present {
		w.WritePointer(nil)
		return
	}
	w.WritePointer(new(byte), ndr.MarshalNDRFunc(func(_ context.Context, w ndr.Writer) error {
		pointee(w)
		return w.Err()
	}))
}

// wStrPtr writes a [string] wchar_t* member: NULL for "", else the string
// with its NUL terminator.
func wStrPtr(w ndr.Writer, s string) {
	wPtr(w, s != "", func(w ndr.Writer) { wWString(w, utf16.Encode([]rune(s))) })
}

// wWString writes a NUL-terminated conformant varying string.
func wWString(w ndr.Writer, u []uint16) {
	n := uint32(len(u) + 1)
	wU32(w, n)
	wU32(w, 0)
	wU32(w, n)
	for _, c := range u {
		w.WriteData(c)
	}
	w.WriteData(uint16(0))
}

// wBytesPtr writes a [size_is(len(b))] PBYTE member: NULL when empty.
func wBytesPtr(w ndr.Writer, b []byte) {
	wPtr(w, len(b) > 0, func(w ndr.Writer) {
		wU32(w, uint32(len(b)))
		w.Write(b)
	})
}

// size32 checks that n fits the 32-bit count of the wire.
func size32(n int, what string) (uint32, error) {
	if n < 0 || uint64(n) > math.MaxUint32 {
		return 0, fmt.Errorf("odj: %s: %d is too large", what, n)
	}
	return uint32(n), nil
}
