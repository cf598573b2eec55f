package dcerpc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PDU types (C706 12.6.4, MS-RPCE 2.2.2.10).
const (
	ptRequest          = 0
	ptPing             = 1
	ptResponse         = 2
	ptFault            = 3
	ptBind             = 11
	ptBindAck          = 12
	ptBindNak          = 13
	ptAlterContext     = 14
	ptAlterContextResp = 15
	ptAuth3            = 16
	ptShutdown         = 17
	ptCoCancel         = 18
	ptOrphaned         = 19
)

// pfc_flags (C706 12.6.3.1, MS-RPCE 2.2.2.3).
const (
	pfcFirstFrag     = 0x01
	pfcLastFrag      = 0x02
	pfcPendingCancel = 0x04 // PFC_SUPPORT_HEADER_SIGN on bind-type PDUs
	pfcConcMpx       = 0x10
	pfcDidNotExecute = 0x20
	pfcMaybe         = 0x40
	pfcObjectUUID    = 0x80
)

// Sizes of fixed PDU parts (C706 12.6.3.1, 12.6.4).
const (
	headerLen       = 16
	requestHdrLen   = headerLen + 8 // alloc_hint, p_cont_id, opnum
	responseHdrLen  = headerLen + 8 // alloc_hint, p_cont_id, cancel_count, reserved
	faultLen        = headerLen + 16
	secTrailerLen   = 8
	syntaxIDLen     = 20
	mustRecvFragLen = 1432 // C706 12.6.3.1 MustRecvFragSize
)

// p_cont_def_result_t (C706 12.6.3.1, MS-RPCE 2.2.2.4).
const (
	resultAcceptance         = 0
	resultProviderRejection  = 2
	resultNegotiateAck       = 3
	reasonNotSpecified       = 0
	reasonAbstractSyntaxNS   = 1 // abstract_syntax_not_supported
	reasonTransferSyntaxesNS = 2 // proposed_transfer_syntaxes_not_supported
)

// bind_nak provider_reject_reason (C706 12.6.3.1, MS-RPCE 2.2.2.5).
const (
	nakReasonNotSpecified      = 0
	nakLocalLimitExceeded      = 2
	nakProtocolVersionNS       = 4
	nakAuthTypeNotRecognized   = 8
	nakInvalidChecksum         = 9
	rpcVersion                 = 5
	rpcVersionMinorMax         = 1
	littleEndianDrep0          = 0x10 // integer little-endian, ASCII characters
	drepIntegerLittleEndianBit = 0x10
)

// Fault status values (C706 appendix N, MS-RPCE 3.3.3.5, MS-ERREF 2.2).
const (
	StatusOpRangeError  uint32 = 0x1C010002 // nca_op_rng_error
	StatusUnknownIf     uint32 = 0x1C010003 // nca_unk_if
	StatusProtocolError uint32 = 0x1C01000B // nca_proto_error (MS-RPCE 3.3.3.5.7)
	StatusFaultCancel   uint32 = 0x1C00000D // nca_s_fault_cancel
	StatusFaultUnspec   uint32 = 0x1C000012 // nca_s_fault_unspec
	StatusBadStubData   uint32 = 0x000006F7 // RPC_X_BAD_STUB_DATA
	StatusInputTooLarge uint32 = 0x00000005 // MS-RPCE 3.3.3.5.4
	// StatusRemoteNoMemory is nca_s_fault_remote_no_memory (C706 N.2),
	// RPC_S_SERVER_OUT_OF_MEMORY to the client (MS-RPCE 3.1.1.5.5): the
	// call did not fit the connection's or the server's byte budget.
	StatusRemoteNoMemory uint32 = 0x1C00001B
)

var errMalformed = errors.New("dcerpc: malformed PDU")

// syntaxID is a p_syntax_id_t (C706 12.6.3.1). UUID holds the 16 bytes in
// little-endian wire order (the layout of a GUID on a little-endian NDR
// stream), whatever the data representation of the PDU it came from.
type syntaxID struct {
	UUID         [16]byte
	Major, Minor uint16
}

// Well-known transfer syntaxes (C706 appendix I, MS-RPCE 2.2.4.12, 3.3.1.5.3).
var (
	ndr20Syntax = syntaxID{UUID: guid(0x8a885d04, 0x1ceb, 0x11c9, [8]byte{0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60}), Major: 2}
	ndr64Syntax = syntaxID{UUID: guid(0x71710533, 0xbeba, 0x4937, [8]byte{0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36}), Major: 1}
	// bindFeaturePrefix is the first 8 bytes (6CB71C2C-9812-4540) of the
	// bind-time feature negotiation pseudo transfer syntax.
	bindFeaturePrefix = [8]byte{0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45}
)

// guid lays out a UUID in little-endian wire order.
func guid(d1 uint32, d2, d3 uint16, d4 [8]byte) [16]byte {
	var u [16]byte
	binary.LittleEndian.PutUint32(u[0:], d1)
	binary.LittleEndian.PutUint16(u[4:], d2)
	binary.LittleEndian.PutUint16(u[6:], d3)
	copy(u[8:], d4[:])
	return u
}

func (s syntaxID) isBindFeature() bool {
	return [8]byte(s.UUID[:8]) == bindFeaturePrefix && s.Major == 1 && s.Minor == 0
}

func (s syntaxID) String() string {
	u := s.UUID
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x v%d.%d",
		binary.LittleEndian.Uint32(u[0:]), binary.LittleEndian.Uint16(u[4:]),
		binary.LittleEndian.Uint16(u[6:]), u[8:10], u[10:], s.Major, s.Minor)
}

// header is the common header of every connection-oriented PDU
// (C706 12.6.3.1).
type header struct {
	Vers, VersMinor uint8
	Type            uint8
	Flags           uint8
	Drep            [4]byte
	FragLength      uint16
	AuthLength      uint16
	CallID          uint32
}

// order is the integer byte order selected by the data representation.
func (h *header) order() binary.ByteOrder {
	if h.Drep[0]&drepIntegerLittleEndianBit != 0 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// peekFragLength returns the frag_length of the PDU starting at b, or
// false when fewer than headerLen bytes are present.
func peekFragLength(b []byte) (int, bool) {
	if len(b) < headerLen {
		return 0, false
	}
	if b[4]&drepIntegerLittleEndianBit != 0 {
		return int(binary.LittleEndian.Uint16(b[8:])), true
	}
	return int(binary.BigEndian.Uint16(b[8:])), true
}

// pdu is one parsed fragment: its header, its body (between the header
// and the sec_trailer) and the authentication verifier, if any.
type pdu struct {
	header
	body      []byte
	authType  uint8
	hasAuth   bool
	trailer   secTrailer // when hasAuth
	trailerAt int        // offset of the sec_trailer in the fragment
	authValue []byte     // the auth_value (token or verifier), aliasing the fragment
}

// secTrailer is a sec_trailer (MS-RPCE 2.2.2.11).
type secTrailer struct {
	Type, Level, PadLen uint8
	ContextID           uint32
}

// Authentication levels (MS-RPCE 2.2.1.1.8).
const (
	levelNone      = 1
	levelConnect   = 2
	levelCall      = 3
	levelPkt       = 4
	levelIntegrity = 5
	levelPrivacy   = 6
)

// parsePDU parses exactly one fragment; len(b) must equal its frag_length.
// The body aliases b.
func parsePDU(b []byte) (*pdu, error) {
	p := &pdu{}
	if err := p.parse(b); err != nil {
		if len(b) < headerLen {
			return nil, err
		}
		return p, err
	}
	return p, nil
}

// parse is parsePDU into p, which callers can keep off the heap.
func (p *pdu) parse(b []byte) error {
	if len(b) < headerLen {
		return fmt.Errorf("%w: %d bytes is shorter than the header", errMalformed, len(b))
	}
	p.Vers, p.VersMinor, p.Type, p.Flags = b[0], b[1], b[2], b[3]
	copy(p.Drep[:], b[4:8])
	o := p.order()
	p.FragLength = o.Uint16(b[8:])
	p.AuthLength = o.Uint16(b[10:])
	p.CallID = o.Uint32(b[12:])
	if p.Vers != rpcVersion || p.VersMinor > rpcVersionMinorMax {
		return fmt.Errorf("%w: version %d.%d", errMalformed, p.Vers, p.VersMinor)
	}
	if int(p.FragLength) != len(b) {
		return fmt.Errorf("%w: frag_length %d, have %d bytes", errMalformed, p.FragLength, len(b))
	}
	end := len(b)
	if p.AuthLength > 0 {
		// MS-RPCE 2.2.2.11: sec_trailer then auth_length token bytes.
		t := end - int(p.AuthLength) - secTrailerLen
		if t < headerLen {
			return fmt.Errorf("%w: auth_length %d too large", errMalformed, p.AuthLength)
		}
		p.hasAuth = true
		p.authType = b[t]
		p.trailer = secTrailer{Type: b[t], Level: b[t+1], PadLen: b[t+2], ContextID: o.Uint32(b[t+4:])}
		p.trailerAt = t
		p.authValue = b[t+secTrailerLen:]
		end = t
	}
	p.body = b[headerLen:end]
	return nil
}

// reader is a bounds-checked cursor over a PDU body.
type reader struct {
	b   []byte
	off int
	o   binary.ByteOrder
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = errMalformed
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if s := r.take(2); s != nil {
		return r.o.Uint16(s)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.take(4); s != nil {
		return r.o.Uint32(s)
	}
	return 0
}

// uuid reads an NDR uuid_t and returns it in little-endian wire order.
func (r *reader) uuid() [16]byte {
	var u [16]byte
	s := r.take(16)
	if s == nil {
		return u
	}
	binary.LittleEndian.PutUint32(u[0:], r.o.Uint32(s[0:]))
	binary.LittleEndian.PutUint16(u[4:], r.o.Uint16(s[4:]))
	binary.LittleEndian.PutUint16(u[6:], r.o.Uint16(s[6:]))
	copy(u[8:], s[8:])
	return u
}

// syntax reads a p_syntax_id_t: the if_version is an unsigned long whose
// low 16 bits are the major and high 16 bits the minor version.
func (r *reader) syntax() syntaxID {
	u := r.uuid()
	v := r.u32()
	return syntaxID{UUID: u, Major: uint16(v), Minor: uint16(v >> 16)}
}

// contextElem is a p_cont_elem_t (C706 12.6.3.1).
type contextElem struct {
	ID        uint16
	Abstract  syntaxID
	Transfers []syntaxID
}

// bindBody is the body of a bind or alter_context PDU (C706 12.6.4.3).
type bindBody struct {
	MaxXmitFrag, MaxRecvFrag uint16
	AssocGroupID             uint32
	Contexts                 []contextElem
}

func parseBind(p *pdu) (*bindBody, error) {
	r := &reader{b: p.body, o: p.order()}
	b := &bindBody{}
	b.MaxXmitFrag = r.u16()
	b.MaxRecvFrag = r.u16()
	b.AssocGroupID = r.u32()
	n := int(r.u8())
	r.take(3) // reserved, reserved2
	for i := 0; i < n && r.err == nil; i++ {
		var c contextElem
		c.ID = r.u16()
		nt := int(r.u8())
		r.take(1)
		c.Abstract = r.syntax()
		if r.err == nil && nt*syntaxIDLen > len(r.b)-r.off {
			r.err = errMalformed
		}
		for j := 0; j < nt && r.err == nil; j++ {
			c.Transfers = append(c.Transfers, r.syntax())
		}
		b.Contexts = append(b.Contexts, c)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: bind body", errMalformed)
	}
	return b, nil
}

// requestBody is the body of a request PDU (C706 12.6.4.9).
type requestBody struct {
	AllocHint uint32
	ContextID uint16
	Opnum     uint16
	Object    [16]byte
	Stub      []byte
}

func parseRequest(p *pdu) (requestBody, error) {
	r := &reader{b: p.body, o: p.order()}
	var q requestBody
	q.AllocHint = r.u32()
	q.ContextID = r.u16()
	q.Opnum = r.u16()
	if p.Flags&pfcObjectUUID != 0 {
		q.Object = r.uuid()
	}
	if r.err != nil {
		return requestBody{}, fmt.Errorf("%w: request body", errMalformed)
	}
	q.Stub = p.body[r.off:]
	return q, nil
}

// writer builds little-endian PDUs.
type writer struct{ b []byte }

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *writer) syntax(s syntaxID) {
	w.b = append(w.b, s.UUID[:]...)
	w.u16(s.Major)
	w.u16(s.Minor)
}
func (w *writer) align(n int) {
	for len(w.b)%n != 0 {
		w.b = append(w.b, 0)
	}
}

// start writes a common header with frag_length to be patched by finish.
func (w *writer) start(ptype, flags uint8, callID uint32) {
	w.b = append(w.b, rpcVersion, 0, ptype, flags, littleEndianDrep0, 0, 0, 0)
	w.u16(0) // frag_length
	w.u16(0) // auth_length
	w.u32(callID)
}

func (w *writer) finish() []byte {
	binary.LittleEndian.PutUint16(w.b[8:], uint16(len(w.b)))
	return w.b
}

// contextResult is a p_result_t (C706 12.6.3.1).
type contextResult struct {
	Result, Reason uint16
	Transfer       syntaxID
}

// encodeBindAck builds a bind_ack or alter_context_resp (C706 12.6.4.4,
// 12.6.4.2). secAddr is empty for alter_context_resp.
func encodeBindAck(ptype uint8, callID uint32, frag uint16, assocGroup uint32, secAddr string, results []contextResult) []byte {
	w := &writer{b: make([]byte, 0, 64+len(secAddr)+len(results)*24)}
	w.start(ptype, pfcFirstFrag|pfcLastFrag, callID)
	w.u16(frag) // max_xmit_frag
	w.u16(frag) // max_recv_frag
	w.u32(assocGroup)
	// port_any_t: length including the terminating NUL, then the string.
	if secAddr == "" {
		w.u16(0)
	} else {
		w.u16(uint16(len(secAddr) + 1))
		w.b = append(w.b, secAddr...)
		w.u8(0)
	}
	w.align(4)
	w.u8(uint8(len(results)))
	w.u8(0)
	w.u16(0)
	for _, r := range results {
		w.u16(r.Result)
		w.u16(r.Reason)
		w.syntax(r.Transfer)
	}
	return w.finish()
}

// encodeBindNak builds a bind_nak (C706 12.6.4.5, MS-RPCE 2.2.2.9) naming
// protocol version 5.0 as supported.
func encodeBindNak(callID uint32, reason uint16) []byte {
	w := &writer{b: make([]byte, 0, 24)}
	w.start(ptBindNak, pfcFirstFrag|pfcLastFrag, callID)
	w.u16(reason)
	w.u8(1) // n_protocols
	w.u8(rpcVersion)
	w.u8(0)
	w.align(4)
	return w.finish()
}

// encodeResponse builds one response fragment (C706 12.6.4.10).
func encodeResponse(callID uint32, flags uint8, allocHint uint32, ctxID uint16, stub []byte) []byte {
	w := &writer{b: make([]byte, 0, responseHdrLen+len(stub))}
	w.start(ptResponse, flags, callID)
	w.u32(allocHint)
	w.u16(ctxID)
	w.u8(0) // cancel_count
	w.u8(0) // reserved
	w.b = append(w.b, stub...)
	return w.finish()
}

// encodeFault builds a fault PDU without stub data (C706 12.6.4.7,
// MS-RPCE 2.2.2.8).
func encodeFault(callID uint32, flags uint8, ctxID uint16, status uint32) []byte {
	w := &writer{b: make([]byte, 0, faultLen)}
	w.start(ptFault, pfcFirstFrag|pfcLastFrag|flags, callID)
	w.u32(0) // alloc_hint
	w.u16(ctxID)
	w.u8(0) // cancel_count
	w.u8(0) // reserved
	w.u32(status)
	w.u32(0) // reserved
	return w.finish()
}
