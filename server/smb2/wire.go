package smb2

import (
	"encoding/binary"
	"errors"
)

// Protocol identifiers (MS-SMB2 2.2.1, 2.2.41; MS-SMB 2.2.3.1).
var (
	protoSMB2      = [4]byte{0xFE, 'S', 'M', 'B'}
	protoTransform = [4]byte{0xFD, 'S', 'M', 'B'}
	protoSMB1      = [4]byte{0xFF, 'S', 'M', 'B'}
)

const headerSize = 64

// Command codes (MS-SMB2 2.2.1.2).
const (
	cmdNegotiate      uint16 = 0x0000
	cmdSessionSetup   uint16 = 0x0001
	cmdLogoff         uint16 = 0x0002
	cmdTreeConnect    uint16 = 0x0003
	cmdTreeDisconnect uint16 = 0x0004
	cmdCreate         uint16 = 0x0005
	cmdClose          uint16 = 0x0006
	cmdFlush          uint16 = 0x0007
	cmdRead           uint16 = 0x0008
	cmdWrite          uint16 = 0x0009
	cmdLock           uint16 = 0x000A
	cmdIoctl          uint16 = 0x000B
	cmdCancel         uint16 = 0x000C
	cmdEcho           uint16 = 0x000D
	cmdQueryDirectory uint16 = 0x000E
	cmdChangeNotify   uint16 = 0x000F
	cmdQueryInfo      uint16 = 0x0010
	cmdSetInfo        uint16 = 0x0011
	cmdOplockBreak    uint16 = 0x0012
	cmdMax                   = cmdOplockBreak
)

// Header flags (MS-SMB2 2.2.1.2).
const (
	flagServerToRedir   uint32 = 0x00000001
	flagAsyncCommand    uint32 = 0x00000002
	flagRelated         uint32 = 0x00000004
	flagSigned          uint32 = 0x00000008
	flagPriorityMask    uint32 = 0x00000070
	flagDFSOperations   uint32 = 0x10000000
	flagReplayOperation uint32 = 0x20000000
)

// NT status codes used by the server (MS-ERREF 2.3.1).
const (
	statusSuccess                uint32 = 0x00000000
	statusPending                uint32 = 0x00000103
	statusBufferOverflow         uint32 = 0x80000005
	statusInvalidInfoClass       uint32 = 0xC0000003
	statusInvalidHandle          uint32 = 0xC0000008
	statusInvalidParameter       uint32 = 0xC000000D
	statusInvalidDeviceRequest   uint32 = 0xC0000010
	statusMoreProcessingRequired uint32 = 0xC0000016
	statusAccessDenied           uint32 = 0xC0000022
	statusBufferTooSmall         uint32 = 0xC0000023
	statusObjectNameInvalid      uint32 = 0xC0000033
	statusObjectNameNotFound     uint32 = 0xC0000034
	statusLogonFailure           uint32 = 0xC000006D
	statusInsufficientResources  uint32 = 0xC000009A
	statusBadImpersonationLevel  uint32 = 0xC00000A5
	statusPipeBusy               uint32 = 0xC00000AE
	statusPipeDisconnected       uint32 = 0xC00000B0
	statusNotSupported           uint32 = 0xC00000BB
	statusNetworkNameDeleted     uint32 = 0xC00000C9
	statusBadNetworkName         uint32 = 0xC00000CC
	statusRequestNotAccepted     uint32 = 0xC00000D0
	statusCancelled              uint32 = 0xC0000120
	statusFileClosed             uint32 = 0xC0000128
	statusPipeBroken             uint32 = 0xC000014B
	statusFSDriverRequired       uint32 = 0xC000019C
	statusUserSessionDeleted     uint32 = 0xC0000203
	statusNoPreauthOverlap       uint32 = 0xC05D0000
)

// errMalformed is returned by every decoder for a body that does not
// conform to MS-SMB2 section 2.
var errMalformed = errors.New("smb2: malformed message")

var le = binary.LittleEndian

// header is the 64-byte SMB2 packet header (MS-SMB2 2.2.1.1, 2.2.1.2).
type header struct {
	CreditCharge uint16
	Status       uint32 // ChannelSequence/Reserved in requests
	Command      uint16
	Credit       uint16 // CreditRequest or CreditResponse
	Flags        uint32
	NextCommand  uint32
	MessageID    uint64
	AsyncID      uint64 // valid when Flags has flagAsyncCommand
	TreeID       uint32 // valid when Flags lacks flagAsyncCommand
	SessionID    uint64
	Signature    [16]byte
}

// parseHeader decodes the SMB2 header at the start of b.
func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize || [4]byte(b[0:4]) != protoSMB2 || le.Uint16(b[4:]) != headerSize {
		return h, errMalformed
	}
	h.CreditCharge = le.Uint16(b[6:])
	h.Status = le.Uint32(b[8:])
	h.Command = le.Uint16(b[12:])
	h.Credit = le.Uint16(b[14:])
	h.Flags = le.Uint32(b[16:])
	h.NextCommand = le.Uint32(b[20:])
	h.MessageID = le.Uint64(b[24:])
	if h.Flags&flagAsyncCommand != 0 {
		h.AsyncID = le.Uint64(b[32:])
	} else {
		h.TreeID = le.Uint32(b[36:])
	}
	h.SessionID = le.Uint64(b[40:])
	copy(h.Signature[:], b[48:64])
	return h, nil
}

// put encodes h into b[0:64].
func (h *header) put(b []byte) {
	copy(b[0:4], protoSMB2[:])
	le.PutUint16(b[4:], headerSize)
	le.PutUint16(b[6:], h.CreditCharge)
	le.PutUint32(b[8:], h.Status)
	le.PutUint16(b[12:], h.Command)
	le.PutUint16(b[14:], h.Credit)
	le.PutUint32(b[16:], h.Flags)
	le.PutUint32(b[20:], h.NextCommand)
	le.PutUint64(b[24:], h.MessageID)
	if h.Flags&flagAsyncCommand != 0 {
		le.PutUint64(b[32:], h.AsyncID)
	} else {
		le.PutUint32(b[32:], 0)
		le.PutUint32(b[36:], h.TreeID)
	}
	le.PutUint64(b[40:], h.SessionID)
	copy(b[48:64], h.Signature[:])
}

// splitCompound splits a chain of SMB2 messages by NextCommand (MS-SMB2
// 3.3.5.2.7). Every element must hold at least a header, each NextCommand
// must be a multiple of 8 that stays inside b. At most max elements.
func splitCompound(b []byte, max int) ([][]byte, error) {
	var out [][]byte
	for {
		if len(b) < headerSize || [4]byte(b[0:4]) != protoSMB2 {
			return nil, errMalformed
		}
		if len(out) >= max {
			return nil, errMalformed
		}
		next := le.Uint32(b[20:])
		if next == 0 {
			return append(out, b), nil
		}
		if next%8 != 0 || next < headerSize || uint64(next) >= uint64(len(b)) {
			return nil, errMalformed
		}
		out = append(out, b[:next])
		b = b[next:]
	}
}

// errorBody is the 9-byte SMB2 ERROR response body (MS-SMB2 2.2.2).
func errorBody() []byte {
	b := make([]byte, 9)
	le.PutUint16(b, 9)
	return b
}

// fileID is the SMB2_FILEID (MS-SMB2 2.2.14.1).
type fileID struct {
	Persistent, Volatile uint64
}

func (f fileID) isAllOnes() bool {
	return f.Persistent == ^uint64(0) && f.Volatile == ^uint64(0)
}

func getFileID(b []byte) fileID {
	return fileID{le.Uint64(b), le.Uint64(b[8:])}
}

func putFileID(b []byte, f fileID) {
	le.PutUint64(b, f.Persistent)
	le.PutUint64(b[8:], f.Volatile)
}

// region returns b[off:off+n] for an offset relative to the start of the
// SMB2 header, or an error when it does not lie inside msg. A zero length is
// always valid.
func region(msg []byte, off, n uint32) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	end := uint64(off) + uint64(n)
	if uint64(off) < headerSize || end > uint64(len(msg)) {
		return nil, errMalformed
	}
	return msg[off:end], nil
}
