package wkssvc

import (
	"context"
	"encoding/binary"
	"strings"
	"unicode/utf16"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/server/dcerpc"
)

// Opnums served without a goroutine hand-off (MS-WKST 3.2.4).
const (
	opGetInfo            = 0
	opGetJoinInformation = 20
)

var le = binary.LittleEndian

// inline reports the calls that may run on the transport's goroutine
// (dcerpc.Interface.Inline): they do no I/O and return in microseconds.
// NetrGetJoinInformation and NetrWkstaGetInfo at levels 100 and 101 read
// only the names and the membership, which are in memory; level 102
// counts the logged-on users from the host's records, and every other
// method may touch files or the network, so they run on the pipe's
// worker.
func inline(c dcerpc.Call) bool {
	switch c.Opnum {
	case opGetJoinInformation:
		return true
	case opGetInfo:
		if !c.NDR20LittleEndian {
			return false
		}
		req, ok := decodeGetInfoRequest(c.Stub)
		return ok && (req.Level == levelInfo100 || req.Level == levelInfo101)
	}
	return false
}

// fast serves NetrWkstaGetInfo at level 100, the method management tools
// poll, without go-msrpc's codec (dcerpc.Interface.Fast): the request is
// decoded and the response encoded here, byte for byte as go-msrpc does,
// around the same GetInfo. Anything else, or anything it cannot encode
// exactly as go-msrpc would, goes to the generated handle.
func (s *Server) fast(ctx context.Context, opnum uint16, stub []byte) ([]byte, bool) {
	if opnum != opGetInfo {
		return nil, false
	}
	req, ok := decodeGetInfoRequest(stub)
	if !ok || req.Level != levelInfo100 {
		return nil, false
	}
	resp, err := s.GetInfo(ctx, req)
	if err != nil {
		return nil, false
	}
	return encodeGetInfo100(resp)
}

// decodeGetInfoRequest reads the NDR 2.0 little-endian stub of a
// NetrWkstaGetInfo request (MS-WKST 3.2.4.1): ServerName, a unique
// pointer to a conformant varying string, then Level. It accepts only a
// stub that is exactly that, with a zero offset and an actual count equal
// to the maximum (as clients send it); anything else is for go-msrpc's
// decoder to judge.
func decodeGetInfoRequest(stub []byte) (*wkst.GetInfoRequest, bool) {
	if len(stub) < 8 {
		return nil, false
	}
	req := &wkst.GetInfoRequest{}
	off := 4
	if le.Uint32(stub) != 0 {
		if len(stub) < off+12 {
			return nil, false
		}
		maxCount, offset, actual := le.Uint32(stub[off:]), le.Uint32(stub[off+4:]), le.Uint32(stub[off+8:])
		off += 12
		if offset != 0 || actual != maxCount || uint64(actual)*2 > uint64(len(stub)-off) {
			return nil, false
		}
		units := make([]uint16, actual)
		for i := range units {
			units[i] = le.Uint16(stub[off+2*i:])
		}
		off += 2 * int(actual)
		off = (off + 3) &^ 3
		// As go-msrpc reads a [string] wchar_t*: trailing NULs dropped.
		req.ServerName = strings.TrimRight(string(utf16.Decode(units)), "\x00")
	}
	if len(stub) != off+4 {
		return nil, false
	}
	req.Level = le.Uint32(stub[off:])
	return req, true
}

// Referent ids go-msrpc gives the pointers of a level-100 response: the
// union arm, then wki100_computername and wki100_langroup.
const (
	refInfo100     = 0x05
	refComputer100 = 0x0d
	refLANGroup100 = 0x11
)

// encodeGetInfo100 writes the NDR 2.0 stub of a level-100
// NetrWkstaGetInfo response as go-msrpc does: the union discriminant,
// the arm's unique pointer (NULL when the call failed), WKSTA_INFO_100
// with unique pointers to its strings (NULL for an empty one), the
// strings (conformant varying, NUL-terminated, 4-aligned) and the return
// code. Names that are not plain ASCII, or hold a NUL, are left to
// go-msrpc.
func encodeGetInfo100(resp *wkst.GetInfoResponse) ([]byte, bool) {
	if resp.Level != levelInfo100 {
		return nil, false
	}
	if resp.WorkstationInfo == nil {
		b := make([]byte, 0, 12)
		b = le.AppendUint32(b, levelInfo100)
		b = le.AppendUint32(b, 0)
		return le.AppendUint32(b, resp.Return), true
	}
	v, ok := resp.WorkstationInfo.Value.(*wkst.WorkstationInfo_100)
	if !ok || v.WorkstationInfo100 == nil {
		return nil, false
	}
	info := v.WorkstationInfo100
	if !plainASCII(info.ComputerName) || !plainASCII(info.LANGroup) {
		return nil, false
	}
	b := make([]byte, 0, 28+stringSize(info.ComputerName)+stringSize(info.LANGroup)+4)
	b = le.AppendUint32(b, levelInfo100)
	b = le.AppendUint32(b, refInfo100)
	b = le.AppendUint32(b, info.PlatformID)
	b = le.AppendUint32(b, ref(info.ComputerName, refComputer100))
	b = le.AppendUint32(b, ref(info.LANGroup, refLANGroup100))
	b = le.AppendUint32(b, info.VerMajor)
	b = le.AppendUint32(b, info.VerMinor)
	b = appendString(b, info.ComputerName)
	b = appendString(b, info.LANGroup)
	return le.AppendUint32(b, resp.Return), true
}

func ref(s string, id uint32) uint32 {
	if s == "" {
		return 0
	}
	return id
}

// plainASCII reports whether s is printable-range ASCII without NUL (one
// UTF-16 unit per byte, as the encoder counts).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// stringSize is the wire size of s as appendString writes it.
func stringSize(s string) int {
	if s == "" {
		return 0
	}
	return (12 + 2*(len(s)+1) + 3) &^ 3
}

// appendString appends the deferred referent of a non-empty [string]
// wchar_t*: maximum count, offset 0, actual count (the characters and the
// terminating NUL), the UTF-16LE characters, padding to 4 bytes.
func appendString(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	n := uint32(len(s) + 1)
	b = le.AppendUint32(b, n)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, n)
	for i := 0; i < len(s); i++ {
		b = append(b, s[i], 0)
	}
	b = append(b, 0, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
