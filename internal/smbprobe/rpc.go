package smbprobe

import (
	"encoding/binary"

	"github.com/wkssvcd/wkssvcd/internal/smbraw"
)

// DCE/RPC PDU types, flags and builders of the raw client.
const (
	PtypeRequest  = smbraw.PtypeRequest
	PtypeResponse = smbraw.PtypeResponse
	PtypeFault    = smbraw.PtypeFault
	PtypeBind     = smbraw.PtypeBind
	PtypeBindAck  = smbraw.PtypeBindAck

	FlagFirstFrag = smbraw.FlagFirstFrag
	FlagLastFrag  = smbraw.FlagLastFrag
)

var (
	// WkssvcSyntax is the abstract syntax of wkssvc v1.0 (MS-WKST 1.9).
	WkssvcSyntax = smbraw.WkssvcSyntax
	Bind         = smbraw.Bind
	Request      = smbraw.Request
	PDUType      = smbraw.PDUType
	FaultStatus  = smbraw.FaultStatus
)

// UserEnumAmplification is a NetrWkstaUserEnum (opnum 2) request stub at
// level 0 whose container claims count entries while carrying present
// entries (4-byte non-null pointers to user names that never follow): the
// shape that made a decoder allocate for the claimed count.
func UserEnumAmplification(count, present uint32) []byte {
	w := binary.LittleEndian
	b := w.AppendUint32(nil, 0)    // ServerName: NULL
	b = w.AppendUint32(b, 0)       // Level 0
	b = w.AppendUint32(b, 0)       // union switch
	b = w.AppendUint32(b, 0x20000) // Level0 container pointer
	b = w.AppendUint32(b, count)   // EntriesRead
	b = w.AppendUint32(b, 0x20004) // Buffer pointer
	b = w.AppendUint32(b, count)   // max_count
	for i := uint32(0); i < present; i++ {
		b = w.AppendUint32(b, 0x20008+4*i) // wkui0_username pointers
	}
	return b
}
