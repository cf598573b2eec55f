package smbraw

import "encoding/binary"

// DCE/RPC PDU types and flags (C706 12.6.3.1).
const (
	PtypeRequest  = 0
	PtypeResponse = 2
	PtypeFault    = 3
	PtypeBind     = 11
	PtypeBindAck  = 12

	FlagFirstFrag = 0x01
	FlagLastFrag  = 0x02
)

// WkssvcSyntax is the abstract syntax of wkssvc v1.0 (MS-WKST 1.9).
var WkssvcSyntax = syntax([16]byte{0x98, 0xd0, 0xff, 0x6b, 0x12, 0xa1, 0x10, 0x36, 0x98, 0x33, 0x46, 0xc3, 0xf8, 0x7e, 0x34, 0x5a}, 1, 0)

var ndr20 = syntax([16]byte{0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60}, 2, 0)

func syntax(uuid [16]byte, major, minor uint16) []byte {
	b := append([]byte(nil), uuid[:]...)
	b = binary.LittleEndian.AppendUint16(b, major)
	return binary.LittleEndian.AppendUint16(b, minor)
}

func pduHeader(ptype, flags uint8, callID uint32, bodyLen int) []byte {
	b := []byte{5, 0, ptype, flags, 0x10, 0, 0, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(16+bodyLen))
	b = binary.LittleEndian.AppendUint16(b, 0)
	return binary.LittleEndian.AppendUint32(b, callID)
}

// Bind is a bind PDU for one presentation context (id 0) of abstract with
// NDR 2.0.
func Bind(callID uint32, abstract []byte) []byte {
	body := binary.LittleEndian.AppendUint16(nil, 4280)
	body = binary.LittleEndian.AppendUint16(body, 4280)
	body = binary.LittleEndian.AppendUint32(body, 0)
	body = append(body, 1, 0, 0, 0) // one context
	body = append(body, 0, 0, 1, 0) // id 0, one transfer syntax
	body = append(body, abstract...)
	body = append(body, ndr20...)
	return append(pduHeader(PtypeBind, FlagFirstFrag|FlagLastFrag, callID, len(body)), body...)
}

// Request is one request fragment with the given flags and alloc_hint.
func Request(callID uint32, flags uint8, opnum uint16, allocHint uint32, stub []byte) []byte {
	body := binary.LittleEndian.AppendUint32(nil, allocHint)
	body = binary.LittleEndian.AppendUint16(body, 0) // context 0
	body = binary.LittleEndian.AppendUint16(body, opnum)
	body = append(body, stub...)
	return append(pduHeader(PtypeRequest, flags, callID, len(body)), body...)
}

// PDUType and FaultStatus read a received PDU.
func PDUType(pdu []byte) int {
	if len(pdu) < 16 {
		return -1
	}
	return int(pdu[2])
}

// FaultStatus is the status of a fault PDU, or 0.
func FaultStatus(pdu []byte) uint32 {
	if PDUType(pdu) != PtypeFault || len(pdu) < 28 {
		return 0
	}
	return binary.LittleEndian.Uint32(pdu[24:])
}
