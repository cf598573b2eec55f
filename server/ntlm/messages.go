package ntlm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// NegotiateFlags bits (MS-NLMP 2.2.2.5).
const (
	flagUnicode                 = 0x00000001
	flagOEM                     = 0x00000002
	flagRequestTarget           = 0x00000004
	flagSign                    = 0x00000010
	flagSeal                    = 0x00000020
	flagDatagram                = 0x00000040
	flagLMKey                   = 0x00000080
	flagNTLM                    = 0x00000200
	flagAnonymous               = 0x00000800
	flagOEMDomainSupplied       = 0x00001000
	flagOEMWorkstationSupplied  = 0x00002000
	flagAlwaysSign              = 0x00008000
	flagTargetTypeDomain        = 0x00010000
	flagTargetTypeServer        = 0x00020000
	flagExtendedSessionSecurity = 0x00080000
	flagIdentify                = 0x00100000
	flagRequestNonNTSessionKey  = 0x00400000
	flagTargetInfo              = 0x00800000
	flagVersion                 = 0x02000000
	flag128                     = 0x20000000
	flagKeyExch                 = 0x40000000
	flag56                      = 0x80000000
)

// Message types (MS-NLMP 2.2.1).
const (
	msgNegotiate    = 1
	msgChallenge    = 2
	msgAuthenticate = 3
)

var signature = []byte("NTLMSSP\x00")

var errMessage = errors.New("ntlm: malformed message")

// isNTLMSSP reports whether b starts with the NTLMSSP signature.
func isNTLMSSP(b []byte) bool { return bytes.HasPrefix(b, signature) }

// readHeader checks the signature and message type.
func readHeader(b []byte, typ uint32, minLen int) error {
	if len(b) < minLen || !isNTLMSSP(b) {
		return fmt.Errorf("%w: short or missing signature", errMessage)
	}
	if t := binary.LittleEndian.Uint32(b[8:12]); t != typ {
		return fmt.Errorf("%w: message type %d, want %d", errMessage, t, typ)
	}
	return nil
}

// readField resolves a (Len, MaxLen, Offset) field descriptor at off
// (MS-NLMP 2.2.1) against the whole message, bounds-checked. The result
// aliases msg. MaxLen is ignored, as the spec says receivers should.
func readField(msg []byte, off int) (data []byte, start int, err error) {
	if off+8 > len(msg) {
		return nil, 0, fmt.Errorf("%w: field descriptor out of range", errMessage)
	}
	n := int(binary.LittleEndian.Uint16(msg[off:]))
	o := int(binary.LittleEndian.Uint32(msg[off+4:]))
	if n == 0 {
		return nil, 0, nil
	}
	if o > len(msg) || n > len(msg)-o {
		return nil, 0, fmt.Errorf("%w: field at %d (len %d, offset %d) exceeds message of %d bytes", errMessage, off, n, o, len(msg))
	}
	return msg[o : o+n : o+n], o, nil
}

// negotiateMessage is NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1).
type negotiateMessage struct {
	Flags       uint32
	Domain      []byte // OEM, only when NEGOTIATE_OEM_DOMAIN_SUPPLIED
	Workstation []byte // OEM, only when NEGOTIATE_OEM_WORKSTATION_SUPPLIED
}

// parseNegotiate decodes a NEGOTIATE_MESSAGE. Early clients send only the
// 16-byte header; the field descriptors are read only when present.
func parseNegotiate(b []byte) (*negotiateMessage, error) {
	if err := readHeader(b, msgNegotiate, 16); err != nil {
		return nil, err
	}
	m := &negotiateMessage{Flags: binary.LittleEndian.Uint32(b[12:16])}
	if len(b) >= 32 {
		var err error
		if m.Flags&flagOEMDomainSupplied != 0 {
			if m.Domain, _, err = readField(b, 16); err != nil {
				return nil, err
			}
		}
		if m.Flags&flagOEMWorkstationSupplied != 0 {
			if m.Workstation, _, err = readField(b, 24); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// marshalNegotiate encodes a NEGOTIATE_MESSAGE with empty domain and
// workstation fields and, when VERSION is set, the given version.
func marshalNegotiate(flags uint32, version []byte) []byte {
	b := make([]byte, 32, 40)
	copy(b, signature)
	binary.LittleEndian.PutUint32(b[8:], msgNegotiate)
	binary.LittleEndian.PutUint32(b[12:], flags)
	binary.LittleEndian.PutUint32(b[20:], 32)
	binary.LittleEndian.PutUint32(b[28:], 32)
	if flags&flagVersion != 0 {
		v := make([]byte, 8)
		copy(v, version)
		b = append(b, v...)
		binary.LittleEndian.PutUint32(b[20:], 40)
		binary.LittleEndian.PutUint32(b[28:], 40)
	}
	return b
}

// challengeMessage is CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
type challengeMessage struct {
	TargetName      []byte // encoded per the UNICODE flag
	Flags           uint32
	ServerChallenge [8]byte
	TargetInfo      []byte // AV_PAIR list
	Version         [8]byte
}

const challengeHeaderLen = 56

// marshal encodes the message: fixed header with the Version field
// always present (zero unless VERSION is negotiated), then TargetName and
// TargetInfo.
func (m *challengeMessage) marshal() []byte {
	b := make([]byte, challengeHeaderLen, challengeHeaderLen+len(m.TargetName)+len(m.TargetInfo))
	copy(b, signature)
	binary.LittleEndian.PutUint32(b[8:], msgChallenge)
	off := challengeHeaderLen
	putField(b, 12, len(m.TargetName), off)
	off += len(m.TargetName)
	binary.LittleEndian.PutUint32(b[20:], m.Flags)
	copy(b[24:32], m.ServerChallenge[:])
	putField(b, 40, len(m.TargetInfo), off)
	if m.Flags&flagVersion != 0 {
		copy(b[48:56], m.Version[:])
	}
	b = append(b, m.TargetName...)
	return append(b, m.TargetInfo...)
}

func putField(b []byte, at, n, off int) {
	binary.LittleEndian.PutUint16(b[at:], uint16(n))
	binary.LittleEndian.PutUint16(b[at+2:], uint16(n))
	binary.LittleEndian.PutUint32(b[at+4:], uint32(off))
}

// parseChallenge decodes a CHALLENGE_MESSAGE.
func parseChallenge(b []byte) (*challengeMessage, error) {
	if err := readHeader(b, msgChallenge, 48); err != nil {
		return nil, err
	}
	m := &challengeMessage{Flags: binary.LittleEndian.Uint32(b[20:24])}
	copy(m.ServerChallenge[:], b[24:32])
	var err error
	if m.TargetName, _, err = readField(b, 12); err != nil {
		return nil, err
	}
	if m.TargetInfo, _, err = readField(b, 40); err != nil {
		return nil, err
	}
	if m.Flags&flagVersion != 0 && len(b) >= 56 {
		copy(m.Version[:], b[48:56])
	}
	return m, nil
}

// authenticateMessage is AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3). Byte
// slices alias the parsed buffer.
type authenticateMessage struct {
	LmChallengeResponse       []byte
	NtChallengeResponse       []byte
	DomainName                []byte
	UserName                  []byte
	Workstation               []byte
	EncryptedRandomSessionKey []byte
	Flags                     uint32
	// MIC is the 16-byte field at offset 72, nil when the payload starts
	// before offset 88 (no room for Version and MIC).
	MIC []byte
}

const (
	authMinLen    = 64
	authMICOffset = 72
	authMICEnd    = 88
)

// parseAuthenticate decodes an AUTHENTICATE_MESSAGE, resolving every
// field through its descriptor.
func parseAuthenticate(b []byte) (*authenticateMessage, error) {
	if err := readHeader(b, msgAuthenticate, authMinLen); err != nil {
		return nil, err
	}
	m := &authenticateMessage{Flags: binary.LittleEndian.Uint32(b[60:64])}
	payloadStart := len(b)
	for _, f := range []struct {
		at  int
		dst *[]byte
	}{
		{12, &m.LmChallengeResponse},
		{20, &m.NtChallengeResponse},
		{28, &m.DomainName},
		{36, &m.UserName},
		{44, &m.Workstation},
		{52, &m.EncryptedRandomSessionKey},
	} {
		data, start, err := readField(b, f.at)
		if err != nil {
			return nil, err
		}
		*f.dst = data
		if len(data) > 0 && start < payloadStart {
			payloadStart = start
		}
	}
	if payloadStart >= authMICEnd && len(b) >= authMICEnd {
		m.MIC = b[authMICOffset:authMICEnd:authMICEnd]
	}
	return m, nil
}

// authFields is the input of marshalAuthenticate (tests and fuzz seeds).
type authFields struct {
	Lm, Nt, Domain, User, Workstation, EncKey []byte
	Flags                                     uint32
	Version                                   []byte
	WithMIC                                   bool
}

// marshalAuthenticate encodes an AUTHENTICATE_MESSAGE; with WithMIC the
// header has Version and a zero MIC (88 bytes), else 64 bytes.
func marshalAuthenticate(f authFields) []byte {
	hdr := authMinLen
	if f.WithMIC {
		hdr = authMICEnd
	}
	b := make([]byte, hdr)
	copy(b, signature)
	binary.LittleEndian.PutUint32(b[8:], msgAuthenticate)
	off := hdr
	for _, fd := range []struct {
		at   int
		data []byte
	}{
		{28, f.Domain}, {36, f.User}, {44, f.Workstation},
		{12, f.Lm}, {20, f.Nt}, {52, f.EncKey},
	} {
		putField(b, fd.at, len(fd.data), off)
		b = append(b, fd.data...)
		off += len(fd.data)
	}
	binary.LittleEndian.PutUint32(b[60:], f.Flags)
	if f.WithMIC {
		copy(b[64:72], f.Version)
	}
	return b
}

// ntlmv2ClientChallenge is NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7).
type ntlmv2ClientChallenge struct {
	Timestamp           uint64
	ChallengeFromClient [8]byte
	AVPairs             []avPair
}

const ntlmv2ClientChallengeMin = 28

var errClientChallenge = errors.New("ntlm: malformed NTLMv2_CLIENT_CHALLENGE")

// parseNTLMv2ClientChallenge decodes the part of an NTLMv2_RESPONSE after
// the 16-byte NTProofStr. RespType and HiRespType must both be 1.
func parseNTLMv2ClientChallenge(b []byte) (*ntlmv2ClientChallenge, error) {
	if len(b) < ntlmv2ClientChallengeMin {
		return nil, errClientChallenge
	}
	if b[0] != 1 || b[1] != 1 {
		return nil, fmt.Errorf("%w: RespType %d HiRespType %d", errClientChallenge, b[0], b[1])
	}
	c := &ntlmv2ClientChallenge{Timestamp: binary.LittleEndian.Uint64(b[8:16])}
	copy(c.ChallengeFromClient[:], b[16:24])
	pairs, err := parseAVPairs(b[28:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errClientChallenge, err)
	}
	c.AVPairs = pairs
	return c, nil
}
