package dcerpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/ndr"
)

// NewStubReader returns the NDR 2.0 reader the runtime hands to an
// interface's Handle for a request stub in data representation drep
// (the packed_drep of the request PDU; nil means little-endian ASCII).
//
// go-msrpc's decoders allocate strings and arrays from the counts on the
// wire before reading the elements, so a forged count could make a call
// allocate gigabytes. The reader refuses any NDR size (max_count, offset
// or actual_count, C706 14.3.3) larger than the bytes left in the stub
// after it, divided by the minimum wire size of an element. A size label
// does not say what it counts, and the smallest NDR element (a byte, a
// char) takes one byte, so that minimum is one: the count is bounded by
// the bytes left. The check is also applied to deferred pointer
// referents. The elements themselves are allocated one by one as they
// are read, so what a decode allocates grows with the bytes it consumes;
// a conformant-varying [in] array whose max_count exceeds the bytes left
// is refused too (no client sends one).
//
// Decoding is further bounded by the runtime: stubs are at most
// Config.MaxReassembly bytes, and at most Config.MaxDecodes calls decode
// at once.
func NewStubReader(stub []byte, drep []byte) ndr.Reader {
	d := ndr.DefaultDataRepresentation
	if len(drep) == 4 {
		d = ndr.DataRepresentation(binary.LittleEndian.Uint32(drep))
	}
	return &boundedReader{Reader: ndr.NDR20(stub, d), limit: uint64(len(stub))}
}

// NewNDR64StubReader is NewStubReader for a call on a presentation
// context that negotiated NDR64 (MS-RPCE 2.2.5): the same bounds, with
// the 64-bit sizes and pointers of that transfer syntax. NDR64 is always
// little-endian.
func NewNDR64StubReader(stub []byte) ndr.Reader {
	return &boundedReader{Reader: ndr.NDR64(stub, ndr.DefaultDataRepresentation), limit: uint64(len(stub)), ndr64: true}
}

// MarshalResponse encodes the [out] parameters of op in the transfer
// syntax of its presentation context: NDR64 when ndr64, else NDR 2.0.
func MarshalResponse(op msrpc.Operation, ndr64 bool) ([]byte, error) {
	if !ndr64 {
		return ndr.MarshalResponse(op)
	}
	w := ndr.NDR64(nil, ndr.DefaultDataRepresentation)
	if err := op.MarshalNDRResponse(context.Background(), w); err != nil {
		return nil, err
	}
	return w.Bytes(), nil
}

// boundedReader checks every size label against limit.
type boundedReader struct {
	ndr.Reader
	limit uint64
	ndr64 bool
	// last is the pointer ReadPointer saw last: the final [unique]
	// parameter of a request, once it is decoded.
	last *pointerRead
	// lastU32 is the 32-bit value ReadData read last (lastvalue.go).
	lastU32    uint32
	hasLastU32 bool
}

// pointerRead records whether the referent of one pointer was read: it
// is not for a NULL pointer.
type pointerRead struct{ referent bool }

// minElementSize is the smallest wire size of an NDR element: a size
// label can count bytes.
const minElementSize = 1

// ReadSize reads a size label and refuses one that the rest of the stub
// cannot hold: count · minElementSize must not exceed the bytes left.
func (r *boundedReader) ReadSize(sz *uint64) error {
	if err := r.Reader.ReadSize(sz); err != nil {
		return err
	}
	left := uint64(0)
	if off := uint64(r.Reader.Offset()); off < r.limit {
		left = r.limit - off
	}
	if *sz > left/minElementSize {
		return fmt.Errorf("ndr: size %d exceeds the %d bytes left in the stub", *sz, left)
	}
	return nil
}

// ReadPointer makes the referent decoders, run later by ReadDeferred,
// read through r. go-msrpc resolves a referent id seen before by handing
// the earlier pointer to set, whose type assertion panics when the two
// pointers differ in type; unique pointers never alias (C706 14.3.10),
// so such a stub is refused instead.
func (r *boundedReader) ReadPointer(p ndr.Pointer, set func(any), mrs ...ndr.Unmarshaler) error {
	rec := &pointerRead{}
	r.last = rec
	wrapped := make([]ndr.Unmarshaler, len(mrs))
	for i, m := range mrs {
		wrapped[i] = rebound{m: m, r: r, rec: rec}
	}
	aliased := false
	guarded := func(v any) {
		defer func() {
			if recover() != nil {
				aliased = true
			}
		}()
		set(v)
	}
	if err := r.Reader.ReadPointer(p, guarded, wrapped...); err != nil {
		return err
	}
	if aliased {
		return errors.New("ndr: referent id reused for a pointer of another type")
	}
	return nil
}

// Unmarshal decodes m through r.
func (r *boundedReader) Unmarshal(ctx context.Context, m ndr.Unmarshaler) error {
	return r.Reader.Unmarshal(ctx, rebound{m: m, r: r})
}

// rebound runs an Unmarshaler against the bounded reader instead of the
// reader that invokes it, noting in rec that the referent was read.
type rebound struct {
	m   ndr.Unmarshaler
	r   *boundedReader
	rec *pointerRead
}

func (b rebound) UnmarshalNDR(ctx context.Context, _ ndr.Reader) error {
	if b.rec != nil {
		b.rec.referent = true
	}
	return b.m.UnmarshalNDR(ctx, b.r)
}

// LastPointerNull reports whether the last pointer of the request r (a
// reader from NewStubReader or NewNDR64StubReader) decoded was NULL. A
// generated server handle decodes the whole request before it calls the
// method, so inside a call it tells whether the last pointer parameter
// was NULL — which go-msrpc's types do not keep: they decode a NULL
// [unique] pointer to a number as 0.
func LastPointerNull(r ndr.Reader) bool {
	br, ok := r.(*boundedReader)
	return ok && br.last != nil && !br.last.referent
}

// NullTailPointer wraps op, a call whose request's last pointer
// parameter was a NULL [in, out, unique] pointer to a 32-bit value that
// the response encodes last before a 32-bit return value (a
// ResumeHandle or an ErrorParameter). go-msrpc's generated response
// encoders always write such a pointer non-NULL; for a NULL one the
// response must carry NULL too, as clients (and their decoders) expect
// when they sent none (C706 14.3.12.3). The wrapper encodes the response
// as usual in the syntax of r and rewrites its tail: [pointer][value]
// [return] becomes [NULL][return].
func NullTailPointer(op msrpc.Operation, r ndr.Reader) msrpc.Operation {
	br, ok := r.(*boundedReader)
	if !ok {
		return op
	}
	return nullTail{Operation: op, ndr64: br.ndr64}
}

type nullTail struct {
	msrpc.Operation
	ndr64 bool
}

// MarshalNDRResponse writes the rewritten response.
func (n nullTail) MarshalNDRResponse(ctx context.Context, w ndr.Writer) error {
	b, err := MarshalResponse(n.Operation, n.ndr64)
	if err != nil {
		return err
	}
	ptr := 4 // NDR: a 4-byte referent id
	if n.ndr64 {
		ptr = 8 // NDR64: 8 bytes, and aligned to 8 (MS-RPCE 2.2.5.3.4)
	}
	tail := ptr + 4 + 4
	if len(b) < tail {
		return fmt.Errorf("dcerpc: response of %d bytes has no pointer tail", len(b))
	}
	out := make([]byte, 0, len(b)-4)
	out = append(out, b[:len(b)-tail]...)
	out = append(out, make([]byte, ptr)...)
	out = append(out, b[len(b)-4:]...)
	_, err = w.Write(out)
	return err
}
