package odj

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// Type serialization version 1 (MS-RPCE 2.2.6): an 8-byte common header
// (version 1, endianness, header length 8, filler) and an 8-byte private
// header (ObjectBufferLength, filler), then the NDR body padded to 8.
const (
	pickleHeaderLen   = 16
	pickleVersion     = 1
	pickleLittleEnd   = 0x10
	pickleCommonLen   = 8
	maxNestingOfTypes = 8 // deepest pointer chain of these types is 4
)

// ErrFormat is wrapped by every decoding error.
var ErrFormat = errors.New("odj: malformed provisioning data")

// formatErr wraps ErrFormat with what was being decoded.
func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// pickleBody checks the headers of a type serialization v1 pickle and
// returns its NDR body (ObjectBufferLength bytes). Only little-endian
// pickles are accepted: every writer seen (Windows, Samba) emits them, and
// MS-RPCE 2.2.6.1 lets the writer choose.
func pickleBody(b []byte, what string) ([]byte, error) {
	if len(b) < pickleHeaderLen {
		return nil, formatErr("%s: %d bytes, shorter than the 16-byte type serialization header", what, len(b))
	}
	if b[0] != pickleVersion {
		return nil, formatErr("%s: type serialization version %d (want 1)", what, b[0])
	}
	if b[1] != pickleLittleEnd {
		return nil, formatErr("%s: byte order 0x%02x is not little endian (0x10)", what, b[1])
	}
	if l := binary.LittleEndian.Uint16(b[2:4]); l != pickleCommonLen {
		return nil, formatErr("%s: common header length %d (want 8)", what, l)
	}
	n := binary.LittleEndian.Uint32(b[8:12])
	if uint64(n) > uint64(len(b)-pickleHeaderLen) {
		return nil, formatErr("%s: object buffer of %d bytes, but only %d follow the header (truncated?)", what, n, len(b)-pickleHeaderLen)
	}
	if n%8 != 0 {
		return nil, formatErr("%s: object buffer length %d is not a multiple of 8", what, n)
	}
	return b[pickleHeaderLen : pickleHeaderLen+int(n)], nil
}

// reader decodes an NDR20 little-endian body. It implements unique
// pointers (a non-zero referent ID means a pointee follows, deferred), keeps
// the first error and turns every later read into a no-op, and never
// allocates more than the bytes left in its input.
type reader struct {
	b        []byte
	off      int
	err      error
	deferred []func()
	depth    int
}

func newReader(b []byte) *reader { return &reader{b: b} }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = formatErr(format, args...)
	}
}

// remaining is the number of bytes not yet read.
func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) align(n int) {
	if r.err != nil {
		return
	}
	pad := (n - r.off%n) % n
	if pad > r.remaining() {
		r.fail("truncated at offset %d", r.off)
		return
	}
	r.off += pad
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.remaining() {
		r.fail("truncated at offset %d (%d bytes wanted, %d left)", r.off, n, r.remaining())
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	r.align(2)
	if v := r.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	r.align(4)
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) guid() GUID {
	var g GUID
	r.align(4)
	if v := r.take(16); v != nil {
		copy(g[:], v)
	}
	return g
}

// count reads a conformance (max count) of elements of at least minSize
// bytes each, refusing one that the rest of the input cannot hold.
func (r *reader) count(minSize int, what string) int {
	n := r.u32()
	if r.err != nil {
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(r.remaining()) {
		r.fail("%s: %d elements cannot fit in the %d bytes left", what, n, r.remaining())
		return 0
	}
	return int(n)
}

// ptr reads a unique pointer's referent ID; for a non-zero one, pointee is
// queued to run after the enclosing construct (NDR deferral, depth first).
func (r *reader) ptr(pointee func()) bool {
	id := r.u32()
	if r.err != nil || id == 0 {
		return false
	}
	r.deferred = append(r.deferred, pointee)
	return true
}

// run decodes one construct and then, depth first, the pointees it
// deferred: each pointee's own deferred pointees come right after it.
func (r *reader) run(fn func()) {
	if r.err != nil {
		return
	}
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxNestingOfTypes {
		r.fail("pointers nested too deeply")
		return
	}
	saved := r.deferred
	r.deferred = nil
	fn()
	list := r.deferred
	r.deferred = saved
	for _, f := range list {
		r.run(f)
	}
}

// bytesArray reads the pointee of a [size_is(n)] PBYTE: max count then
// bytes. The count must agree with the size member n.
func (r *reader) bytesArray(n uint32, what string) []byte {
	m := r.u32()
	if r.err != nil {
		return nil
	}
	if m != n {
		r.fail("%s: array of %d bytes, but the size member says %d", what, m, n)
		return nil
	}
	v := r.take(int(m))
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

// wchars reads a conformant varying array of UTF-16 code units (max count,
// offset, actual count, units).
func (r *reader) wchars(what string) []uint16 {
	maxCount := r.u32()
	offset := r.u32()
	actual := r.u32()
	if r.err != nil {
		return nil
	}
	if offset != 0 || actual > maxCount {
		r.fail("%s: string with offset %d, %d of %d characters", what, offset, actual, maxCount)
		return nil
	}
	raw := r.take(2 * int(actual))
	if raw == nil {
		return nil
	}
	u := make([]uint16, actual)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	return u
}

// wstring reads the pointee of a [string] wchar_t*: a NUL-terminated
// conformant varying string. The terminator is dropped.
func (r *reader) wstring(what string) []uint16 {
	u := r.wchars(what)
	if r.err != nil {
		return nil
	}
	if len(u) == 0 || u[len(u)-1] != 0 {
		r.fail("%s: string without its NUL terminator", what)
		return nil
	}
	return u[:len(u)-1]
}

// strPtr reads a [string] wchar_t* member into *s (left empty for NULL).
func (r *reader) strPtr(s *string, what string) {
	r.ptr(func() { *s = string(utf16.Decode(r.wstring(what))) })
}

// decodePickle decodes the pickle b of a pointer type: the body must hold a
// non-NULL top-level referent, then the pointee (read by body), and nothing
// but padding after it.
func decodePickle(b []byte, what string, body func(r *reader)) error {
	nb, err := pickleBody(b, what)
	if err != nil {
		return err
	}
	r := newReader(nb)
	present := false
	r.run(func() {
		present = r.ptr(func() { body(r) })
	})
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	if !present {
		return formatErr("%s: NULL top-level pointer", what)
	}
	// What is left is the padding to 8 (its content is not looked at).
	if r.remaining() >= 8 {
		return formatErr("%s: %d bytes after the data", what, r.remaining())
	}
	return nil
}
