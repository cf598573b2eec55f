package smb2

import (
	"unicode/utf16"
)

// Request bodies are decoded from the whole message (header included) so
// that offsets, which MS-SMB2 measures from the start of the header, can be
// bounds-checked. Each decoder checks StructureSize and every
// offset/length pair.

func body(msg []byte, size int) ([]byte, error) {
	if len(msg) < headerSize+size {
		return nil, errMalformed
	}
	return msg[headerSize:], nil
}

// checkSize verifies the StructureSize field of a request body.
func checkSize(b []byte, want uint16) error {
	if le.Uint16(b) != want {
		return errMalformed
	}
	return nil
}

// negotiateRequest is MS-SMB2 2.2.3.
type negotiateRequest struct {
	SecurityMode  uint16
	Capabilities  uint32
	ClientGUID    [16]byte
	Dialects      []uint16
	ContextOffset uint32
	ContextCount  uint16
	Contexts      []negotiateContext
}

// negotiateContext is MS-SMB2 2.2.3.1.
type negotiateContext struct {
	Type uint16
	Data []byte
}

// Negotiate context types (MS-SMB2 2.2.3.1).
const (
	ctxPreauth     uint16 = 0x0001
	ctxEncryption  uint16 = 0x0002
	ctxCompression uint16 = 0x0003
	ctxNetname     uint16 = 0x0005
	ctxTransport   uint16 = 0x0006
	ctxRDMA        uint16 = 0x0007
	ctxSigning     uint16 = 0x0008
)

const hashSHA512 uint16 = 0x0001

func decodeNegotiate(msg []byte) (*negotiateRequest, error) {
	b, err := body(msg, 36)
	if err != nil {
		return nil, err
	}
	if err := checkSize(b, 36); err != nil {
		return nil, err
	}
	r := &negotiateRequest{
		SecurityMode: le.Uint16(b[4:]),
		Capabilities: le.Uint32(b[8:]),
	}
	n := int(le.Uint16(b[2:]))
	copy(r.ClientGUID[:], b[12:28])
	r.ContextOffset = le.Uint32(b[28:])
	r.ContextCount = le.Uint16(b[32:])
	if len(b) < 36+2*n {
		return nil, errMalformed
	}
	r.Dialects = make([]uint16, n)
	for i := range r.Dialects {
		r.Dialects[i] = le.Uint16(b[36+2*i:])
	}
	return r, nil
}

// decodeNegotiateContexts parses count contexts starting at off (relative to
// the header), each 8-byte aligned (MS-SMB2 2.2.3.1).
func decodeNegotiateContexts(msg []byte, off uint32, count uint16) ([]negotiateContext, error) {
	if count == 0 {
		return nil, nil
	}
	if off%8 != 0 || uint64(off) > uint64(len(msg)) || off < headerSize {
		return nil, errMalformed
	}
	p := int(off)
	out := make([]negotiateContext, 0, min(int(count), 64))
	for i := 0; i < int(count); i++ {
		if i > 0 {
			p = (p + 7) &^ 7
		}
		if p+8 > len(msg) {
			return nil, errMalformed
		}
		t := le.Uint16(msg[p:])
		n := int(le.Uint16(msg[p+2:]))
		if p+8+n > len(msg) {
			return nil, errMalformed
		}
		out = append(out, negotiateContext{Type: t, Data: msg[p+8 : p+8+n]})
		p += 8 + n
	}
	return out, nil
}

// preauthContext is SMB2_PREAUTH_INTEGRITY_CAPABILITIES (MS-SMB2 2.2.3.1.1).
type preauthContext struct {
	Hashes []uint16
	Salt   []byte
}

func decodePreauthContext(d []byte) (*preauthContext, error) {
	if len(d) < 4 {
		return nil, errMalformed
	}
	n, s := int(le.Uint16(d)), int(le.Uint16(d[2:]))
	if n == 0 || len(d) < 4+2*n+s {
		return nil, errMalformed
	}
	c := &preauthContext{Hashes: make([]uint16, n)}
	for i := range c.Hashes {
		c.Hashes[i] = le.Uint16(d[4+2*i:])
	}
	c.Salt = d[4+2*n : 4+2*n+s]
	return c, nil
}

// decodeIDList parses the Count + uint16 list of the ENCRYPTION and SIGNING
// contexts (MS-SMB2 2.2.3.1.2, 2.2.3.1.7).
func decodeIDList(d []byte) ([]uint16, error) {
	if len(d) < 2 {
		return nil, errMalformed
	}
	n := int(le.Uint16(d))
	if n == 0 || len(d) < 2+2*n {
		return nil, errMalformed
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = le.Uint16(d[2+2*i:])
	}
	return out, nil
}

// negotiateResponse is MS-SMB2 2.2.4.
type negotiateResponse struct {
	SecurityMode    uint16
	Dialect         uint16
	ServerGUID      [16]byte
	Capabilities    uint32
	MaxTransactSize uint32
	MaxReadSize     uint32
	MaxWriteSize    uint32
	SystemTime      uint64
	SecurityBuffer  []byte
	Contexts        []negotiateContext
}

// encode returns the response body; the security buffer sits at 0x80 from
// the header, the context list 8-byte aligned after it.
func (r *negotiateResponse) encode() []byte {
	n := 64 + len(r.SecurityBuffer)
	ctxOff := 0
	if len(r.Contexts) > 0 {
		ctxOff = (headerSize + n + 7) &^ 7
		n = ctxOff - headerSize
		for i, c := range r.Contexts {
			if i > 0 {
				n = (n + 7) &^ 7
			}
			n += 8 + len(c.Data)
		}
	}
	b := make([]byte, n)
	le.PutUint16(b, 65)
	le.PutUint16(b[2:], r.SecurityMode)
	le.PutUint16(b[4:], r.Dialect)
	le.PutUint16(b[6:], uint16(len(r.Contexts)))
	copy(b[8:24], r.ServerGUID[:])
	le.PutUint32(b[24:], r.Capabilities)
	le.PutUint32(b[28:], r.MaxTransactSize)
	le.PutUint32(b[32:], r.MaxReadSize)
	le.PutUint32(b[36:], r.MaxWriteSize)
	le.PutUint64(b[40:], r.SystemTime)
	if len(r.SecurityBuffer) > 0 {
		le.PutUint16(b[56:], headerSize+64)
	}
	le.PutUint16(b[58:], uint16(len(r.SecurityBuffer)))
	le.PutUint32(b[60:], uint32(ctxOff))
	copy(b[64:], r.SecurityBuffer)
	if len(r.Contexts) > 0 {
		p := ctxOff - headerSize
		for i, c := range r.Contexts {
			if i > 0 {
				p = (p + 7) &^ 7
			}
			le.PutUint16(b[p:], c.Type)
			le.PutUint16(b[p+2:], uint16(len(c.Data)))
			copy(b[p+8:], c.Data)
			p += 8 + len(c.Data)
		}
	}
	return b
}

// sessionSetupRequest is MS-SMB2 2.2.5.
type sessionSetupRequest struct {
	Flags             uint8
	SecurityMode      uint8
	Capabilities      uint32
	SecurityBuffer    []byte
	PreviousSessionID uint64
}

const sessionFlagBinding = 0x01

func decodeSessionSetup(msg []byte) (*sessionSetupRequest, error) {
	b, err := body(msg, 24)
	if err != nil {
		return nil, err
	}
	if err := checkSize(b, 25); err != nil {
		return nil, err
	}
	r := &sessionSetupRequest{
		Flags:             b[2],
		SecurityMode:      b[3],
		Capabilities:      le.Uint32(b[4:]),
		PreviousSessionID: le.Uint64(b[16:]),
	}
	r.SecurityBuffer, err = region(msg, uint32(le.Uint16(b[12:])), uint32(le.Uint16(b[14:])))
	if err != nil {
		return nil, err
	}
	return r, nil
}

// encodeSessionSetupResponse builds MS-SMB2 2.2.6 (buffer at 0x48).
func encodeSessionSetupResponse(flags uint16, token []byte) []byte {
	b := make([]byte, 8+max(len(token), 1))
	le.PutUint16(b, 9)
	le.PutUint16(b[2:], flags)
	if len(token) > 0 {
		le.PutUint16(b[4:], headerSize+8)
	}
	le.PutUint16(b[6:], uint16(len(token)))
	copy(b[8:], token)
	return b
}

// decodeTreeConnect returns the UTF-16 path of MS-SMB2 2.2.9 as a string.
func decodeTreeConnect(msg []byte) (string, error) {
	b, err := body(msg, 8)
	if err != nil {
		return "", err
	}
	if err := checkSize(b, 9); err != nil {
		return "", err
	}
	p, err := region(msg, uint32(le.Uint16(b[4:])), uint32(le.Uint16(b[6:])))
	if err != nil {
		return "", err
	}
	return decodeUTF16(p)
}

func decodeUTF16(p []byte) (string, error) {
	if len(p)%2 != 0 {
		return "", errMalformed
	}
	u := make([]uint16, len(p)/2)
	for i := range u {
		u[i] = le.Uint16(p[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// Share types and flags (MS-SMB2 2.2.10).
const (
	shareTypePipe    = 0x02
	shareFlagNoCache = 0x00000030
)

func encodeTreeConnectResponse(shareType uint8, flags, caps, access uint32) []byte {
	b := make([]byte, 16)
	le.PutUint16(b, 16)
	b[2] = shareType
	le.PutUint32(b[4:], flags)
	le.PutUint32(b[8:], caps)
	le.PutUint32(b[12:], access)
	return b
}

// createRequest is MS-SMB2 2.2.13 (the fields a pipe server uses).
type createRequest struct {
	ImpersonationLevel uint32
	DesiredAccess      uint32
	ShareAccess        uint32
	CreateDisposition  uint32
	CreateOptions      uint32
	Name               string
}

const impersonationDelegate = 3

func decodeCreate(msg []byte) (*createRequest, error) {
	b, err := body(msg, 56)
	if err != nil {
		return nil, err
	}
	if err := checkSize(b, 57); err != nil {
		return nil, err
	}
	r := &createRequest{
		ImpersonationLevel: le.Uint32(b[4:]),
		DesiredAccess:      le.Uint32(b[24:]),
		ShareAccess:        le.Uint32(b[32:]),
		CreateDisposition:  le.Uint32(b[36:]),
		CreateOptions:      le.Uint32(b[40:]),
	}
	name, err := region(msg, uint32(le.Uint16(b[44:])), uint32(le.Uint16(b[46:])))
	if err != nil {
		return nil, err
	}
	if _, err := region(msg, le.Uint32(b[48:]), le.Uint32(b[52:])); err != nil {
		return nil, err
	}
	if r.Name, err = decodeUTF16(name); err != nil {
		return nil, err
	}
	return r, nil
}

const (
	fileAttributeNormal = 0x00000080
	fileOpened          = 0x00000001
)

func encodeCreateResponse(id fileID) []byte {
	b := make([]byte, 89)
	le.PutUint16(b, 89)
	le.PutUint32(b[4:], fileOpened)
	le.PutUint32(b[56:], fileAttributeNormal)
	putFileID(b[64:], id)
	return b
}

// decodeFileIDBody decodes CLOSE (2.2.15) and FLUSH (2.2.17): StructureSize
// 24, FileId at body offset 8.
func decodeFileIDBody(msg []byte) (fileID, error) {
	b, err := body(msg, 24)
	if err != nil {
		return fileID{}, err
	}
	if err := checkSize(b, 24); err != nil {
		return fileID{}, err
	}
	return getFileID(b[8:]), nil
}

func encodeCloseResponse() []byte {
	b := make([]byte, 60)
	le.PutUint16(b, 60)
	return b
}

// encodeSimpleResponse is the 4-byte body of LOGOFF, TREE_DISCONNECT,
// FLUSH and ECHO responses.
func encodeSimpleResponse() []byte {
	b := make([]byte, 4)
	le.PutUint16(b, 4)
	return b
}

// decodeSimple validates the 4-byte body of LOGOFF, TREE_DISCONNECT, ECHO
// and CANCEL requests.
func decodeSimple(msg []byte) error {
	b, err := body(msg, 4)
	if err != nil {
		return err
	}
	return checkSize(b, 4)
}

// readRequest is MS-SMB2 2.2.19.
type readRequest struct {
	Flags        uint8
	Length       uint32
	Offset       uint64
	FileID       fileID
	MinimumCount uint32
}

const readFlagUnbuffered = 0x01

func decodeRead(msg []byte) (*readRequest, error) {
	b, err := body(msg, 48)
	if err != nil {
		return nil, err
	}
	if err := checkSize(b, 49); err != nil {
		return nil, err
	}
	r := &readRequest{
		Flags:        b[3],
		Length:       le.Uint32(b[4:]),
		Offset:       le.Uint64(b[8:]),
		FileID:       getFileID(b[16:]),
		MinimumCount: le.Uint32(b[32:]),
	}
	if _, err := region(msg, uint32(le.Uint16(b[44:])), uint32(le.Uint16(b[46:]))); err != nil {
		return nil, err
	}
	return r, nil
}

// encodeReadResponse builds MS-SMB2 2.2.20 with data at 0x50.
func encodeReadResponse(data []byte) []byte {
	b := make([]byte, 16+max(len(data), 1))
	le.PutUint16(b, 17)
	b[2] = headerSize + 16
	le.PutUint32(b[4:], uint32(len(data)))
	copy(b[16:], data)
	return b
}

// writeRequest is MS-SMB2 2.2.21.
type writeRequest struct {
	FileID fileID
	Offset uint64
	Data   []byte
}

func decodeWrite(msg []byte) (*writeRequest, error) {
	b, err := body(msg, 48)
	if err != nil {
		return nil, err
	}
	if err := checkSize(b, 49); err != nil {
		return nil, err
	}
	r := &writeRequest{
		Offset: le.Uint64(b[8:]),
		FileID: getFileID(b[16:]),
	}
	r.Data, err = region(msg, uint32(le.Uint16(b[2:])), le.Uint32(b[4:]))
	if err != nil {
		return nil, err
	}
	if _, err := region(msg, uint32(le.Uint16(b[40:])), uint32(le.Uint16(b[42:]))); err != nil {
		return nil, err
	}
	return r, nil
}

func encodeWriteResponse(count uint32) []byte {
	b := make([]byte, 16)
	le.PutUint16(b, 17)
	le.PutUint32(b[4:], count)
	return b
}

// ioctlRequest is MS-SMB2 2.2.31.
type ioctlRequest struct {
	CtlCode           uint32
	FileID            fileID
	Input             []byte
	InputOffset       uint32
	MaxInputResponse  uint32
	MaxOutputResponse uint32
	Flags             uint32
}

// FSCTL codes (MS-FSCC 2.3, MS-SMB2 2.2.31).
const (
	fsctlDFSGetReferrals           uint32 = 0x00060194
	fsctlDFSGetReferralsEx         uint32 = 0x000601B0
	fsctlPipePeek                  uint32 = 0x0011400C
	fsctlPipeWait                  uint32 = 0x00110018
	fsctlPipeTransceive            uint32 = 0x0011C017
	fsctlValidateNegotiateInfo     uint32 = 0x00140204
	fsctlQueryNetworkInterfaceInfo uint32 = 0x001401FC
	ioctlIsFSCTL                   uint32 = 0x00000001
)

func decodeIoctl(msg []byte) (*ioctlRequest, error) {
	b, err := body(msg, 56)
	if err != nil {
		return nil, err
	}
	if err := checkSize(b, 57); err != nil {
		return nil, err
	}
	r := &ioctlRequest{
		CtlCode:           le.Uint32(b[4:]),
		FileID:            getFileID(b[8:]),
		InputOffset:       le.Uint32(b[24:]),
		MaxInputResponse:  le.Uint32(b[32:]),
		MaxOutputResponse: le.Uint32(b[44:]),
		Flags:             le.Uint32(b[48:]),
	}
	r.Input, err = region(msg, r.InputOffset, le.Uint32(b[28:]))
	if err != nil {
		return nil, err
	}
	if _, err := region(msg, le.Uint32(b[36:]), le.Uint32(b[40:])); err != nil {
		return nil, err
	}
	return r, nil
}

// encodeIoctlResponse builds MS-SMB2 2.2.32: InputCount 0, output at 0x70.
func encodeIoctlResponse(ctl uint32, id fileID, out []byte) []byte {
	b := make([]byte, 48+len(out))
	le.PutUint16(b, 49)
	le.PutUint32(b[4:], ctl)
	putFileID(b[8:], id)
	le.PutUint32(b[24:], headerSize+48)
	le.PutUint32(b[32:], headerSize+48)
	le.PutUint32(b[36:], uint32(len(out)))
	copy(b[48:], out)
	return b
}

// validateNegotiateInfo is the input of FSCTL_VALIDATE_NEGOTIATE_INFO
// (MS-SMB2 2.2.31.4).
type validateNegotiateInfo struct {
	Capabilities uint32
	GUID         [16]byte
	SecurityMode uint16
	Dialects     []uint16
}

func decodeValidateNegotiateInfo(in []byte) (*validateNegotiateInfo, error) {
	if len(in) < 24 {
		return nil, errMalformed
	}
	v := &validateNegotiateInfo{
		Capabilities: le.Uint32(in),
		SecurityMode: le.Uint16(in[20:]),
	}
	copy(v.GUID[:], in[4:20])
	n := int(le.Uint16(in[22:]))
	if len(in) < 24+2*n {
		return nil, errMalformed
	}
	v.Dialects = make([]uint16, n)
	for i := range v.Dialects {
		v.Dialects[i] = le.Uint16(in[24+2*i:])
	}
	return v, nil
}

// queryInfoRequest is MS-SMB2 2.2.37.
type queryInfoRequest struct {
	InfoType           uint8
	FileInfoClass      uint8
	OutputBufferLength uint32
	FileID             fileID
}

const (
	infoFile                = 0x01
	fileStandardInformation = 0x05
)

func decodeQueryInfo(msg []byte) (*queryInfoRequest, error) {
	b, err := body(msg, 40)
	if err != nil {
		return nil, err
	}
	if err := checkSize(b, 41); err != nil {
		return nil, err
	}
	r := &queryInfoRequest{
		InfoType:           b[2],
		FileInfoClass:      b[3],
		OutputBufferLength: le.Uint32(b[4:]),
		FileID:             getFileID(b[24:]),
	}
	if _, err := region(msg, uint32(le.Uint16(b[8:])), le.Uint32(b[12:])); err != nil {
		return nil, err
	}
	return r, nil
}

func encodeQueryInfoResponse(out []byte) []byte {
	b := make([]byte, 8+max(len(out), 1))
	le.PutUint16(b, 9)
	le.PutUint16(b[2:], headerSize+8)
	le.PutUint32(b[4:], uint32(len(out)))
	copy(b[8:], out)
	return b
}

// decodeSetInfo validates MS-SMB2 2.2.39 and returns its FileId.
func decodeSetInfo(msg []byte) (fileID, error) {
	b, err := body(msg, 32)
	if err != nil {
		return fileID{}, err
	}
	if err := checkSize(b, 33); err != nil {
		return fileID{}, err
	}
	if _, err := region(msg, uint32(le.Uint16(b[8:])), le.Uint32(b[4:])); err != nil {
		return fileID{}, err
	}
	return getFileID(b[16:]), nil
}

// smb1Negotiate parses an SMB_COM_NEGOTIATE request (MS-SMB 2.2.4.52.1,
// MS-CIFS 2.2.4.52.1) and returns its dialect strings.
func smb1Negotiate(msg []byte) ([]string, error) {
	if len(msg) < 35 || [4]byte(msg[0:4]) != protoSMB1 || msg[4] != 0x72 {
		return nil, errMalformed
	}
	wc := int(msg[32])
	p := 33 + 2*wc
	if len(msg) < p+2 {
		return nil, errMalformed
	}
	n := int(le.Uint16(msg[p:]))
	p += 2
	if len(msg) < p+n {
		return nil, errMalformed
	}
	d := msg[p : p+n]
	var out []string
	for len(d) > 0 {
		if d[0] != 0x02 {
			return nil, errMalformed
		}
		end := -1
		for i := 1; i < len(d); i++ {
			if d[i] == 0 {
				end = i
				break
			}
		}
		if end < 0 {
			return nil, errMalformed
		}
		out = append(out, string(d[1:end]))
		d = d[end+1:]
	}
	return out, nil
}
