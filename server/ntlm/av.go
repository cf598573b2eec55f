package ntlm

import (
	"encoding/binary"
	"errors"
)

// AV pair identifiers (MS-NLMP 2.2.2.1).
const (
	avEOL             = 0x0000
	avNbComputerName  = 0x0001
	avNbDomainName    = 0x0002
	avDNSComputerName = 0x0003
	avDNSDomainName   = 0x0004
	avDNSTreeName     = 0x0005
	avFlags           = 0x0006
	avTimestamp       = 0x0007
	avSingleHost      = 0x0008
	avTargetName      = 0x0009
	avChannelBindings = 0x000A
)

// MsvAvFlags bits (MS-NLMP 2.2.2.1).
const avFlagMICPresent = 0x00000002

var errAVPairs = errors.New("ntlm: malformed AV pair list")

// avPair is one AV_PAIR; Value aliases the parsed buffer.
type avPair struct {
	ID    uint16
	Value []byte
}

// parseAVPairs decodes an AV_PAIR list up to and including MsvAvEOL
// (MS-NLMP 2.2.2.1). Bytes after MsvAvEOL are ignored (NTLMv2 clients pad
// the client challenge). A list without MsvAvEOL is an error, except an
// entirely empty input, which is an empty list.
func parseAVPairs(b []byte) ([]avPair, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var pairs []avPair
	for {
		if len(b) < 4 {
			return nil, errAVPairs
		}
		id := binary.LittleEndian.Uint16(b[0:2])
		n := int(binary.LittleEndian.Uint16(b[2:4]))
		b = b[4:]
		if id == avEOL {
			return pairs, nil
		}
		if n > len(b) {
			return nil, errAVPairs
		}
		pairs = append(pairs, avPair{ID: id, Value: b[:n:n]})
		b = b[n:]
	}
}

// marshalAVPairs encodes pairs followed by MsvAvEOL.
func marshalAVPairs(pairs []avPair) []byte {
	n := 4
	for _, p := range pairs {
		n += 4 + len(p.Value)
	}
	out := make([]byte, 0, n)
	for _, p := range pairs {
		out = binary.LittleEndian.AppendUint16(out, p.ID)
		out = binary.LittleEndian.AppendUint16(out, uint16(len(p.Value)))
		out = append(out, p.Value...)
	}
	return append(out, 0, 0, 0, 0)
}

// findAV returns the value of the first pair with id.
func findAV(pairs []avPair, id uint16) ([]byte, bool) {
	for _, p := range pairs {
		if p.ID == id {
			return p.Value, true
		}
	}
	return nil, false
}
