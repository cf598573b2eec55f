package odj

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// GUID is a GUID in its wire layout (MS-DTYP 2.3.4.2): Data1, Data2 and
// Data3 little endian, Data4 as bytes — the layout of AD's objectGUID.
type GUID [16]byte

// String formats g as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (MS-DTYP
// 2.3.4.3), in lower case.
func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]), binary.LittleEndian.Uint16(g[6:8]), g[8:10], g[10:16])
}

// IsZero reports whether g is GUID_NULL.
func (g GUID) IsZero() bool { return g == GUID{} }

// ParseGUID reads the string form of a GUID, with or without braces.
func ParseGUID(s string) (GUID, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	parts := strings.Split(t, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		return GUID{}, fmt.Errorf("odj: %q is not a GUID", s)
	}
	raw, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return GUID{}, fmt.Errorf("odj: %q is not a GUID", s)
	}
	var g GUID
	binary.LittleEndian.PutUint32(g[0:4], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(g[4:6], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(g[6:8], binary.BigEndian.Uint16(raw[6:8]))
	copy(g[8:], raw[8:])
	return g, nil
}

// MustParseGUID is ParseGUID for constants; it panics on a bad string.
func MustParseGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// SID is a security identifier (MS-DTYP 2.4.2), the ODJ_SID of the IDL.
type SID struct {
	Revision       uint8
	Authority      [6]byte // big endian
	SubAuthorities []uint32
}

// maxSubAuthorities is the most a SID may have (MS-DTYP 2.4.2).
const maxSubAuthorities = 15

// String formats s as "S-1-5-21-...".
func (s SID) String() string {
	var auth uint64
	for _, b := range s.Authority {
		auth = auth<<8 | uint64(b)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "S-%d-", s.Revision)
	if auth >= 1<<32 {
		fmt.Fprintf(&sb, "0x%012X", auth)
	} else {
		sb.WriteString(strconv.FormatUint(auth, 10))
	}
	for _, v := range s.SubAuthorities {
		sb.WriteString("-" + strconv.FormatUint(uint64(v), 10))
	}
	return sb.String()
}

// ParseSID reads the string form "S-1-<authority>-<sub>...".
func ParseSID(str string) (SID, error) {
	parts := strings.Split(str, "-")
	if len(parts) < 3 || !strings.EqualFold(parts[0], "S") {
		return SID{}, fmt.Errorf("odj: %q is not a SID", str)
	}
	rev, err := strconv.ParseUint(parts[1], 10, 8)
	if err != nil || rev != 1 {
		return SID{}, fmt.Errorf("odj: %q is not a SID (revision)", str)
	}
	var auth uint64
	if strings.HasPrefix(parts[2], "0x") || strings.HasPrefix(parts[2], "0X") {
		auth, err = strconv.ParseUint(parts[2][2:], 16, 48)
	} else {
		auth, err = strconv.ParseUint(parts[2], 10, 32)
	}
	if err != nil {
		return SID{}, fmt.Errorf("odj: %q is not a SID (authority)", str)
	}
	if len(parts)-3 > maxSubAuthorities {
		return SID{}, fmt.Errorf("odj: %q has more than %d sub-authorities", str, maxSubAuthorities)
	}
	sid := SID{Revision: uint8(rev)}
	for i := 5; i >= 0; i-- {
		sid.Authority[i] = byte(auth)
		auth >>= 8
	}
	for _, p := range parts[3:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return SID{}, fmt.Errorf("odj: %q is not a SID (sub-authority %q)", str, p)
		}
		sid.SubAuthorities = append(sid.SubAuthorities, uint32(v))
	}
	return sid, nil
}

// RID returns the last sub-authority, the relative identifier of an
// account SID; ok is false for a SID without sub-authorities.
func (s SID) RID() (rid uint32, ok bool) {
	if len(s.SubAuthorities) == 0 {
		return 0, false
	}
	return s.SubAuthorities[len(s.SubAuthorities)-1], true
}

// Password is a machine password as UTF-16 code units, exactly as the
// file carries it (Samba's machine passwords are random code points, not
// all of them valid UTF-16 in every tool's eyes). It prints as
// "[REDACTED]"; Text and Units reveal it.
type Password []uint16

// PasswordFromString encodes s as UTF-16.
func PasswordFromString(s string) Password { return Password(utf16.Encode([]rune(s))) }

// String redacts the password.
func (p Password) String() string {
	if len(p) == 0 {
		return ""
	}
	return "[REDACTED]"
}

// GoString redacts the password for %#v.
func (p Password) GoString() string { return `odj.Password("` + p.String() + `")` }

// Format redacts the password for every verb.
func (p Password) Format(f fmt.State, verb rune) { fmt.Fprint(f, p.String()) }

// ErrUnpairedSurrogate reports a password holding a UTF-16 surrogate that
// is not part of a pair: it has no exact string (UTF-8) form, which the
// Kerberos AES keys are derived from (RFC 3962, MS-KILE 3.1.1.2).
var ErrUnpairedSurrogate = errors.New("odj: the password holds an unpaired UTF-16 surrogate and has no exact text form")

// Text returns the password as a Go string. A password with an unpaired
// surrogate has none: ErrUnpairedSurrogate.
func (p Password) Text() (string, error) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 0xD800 && c < 0xDC00:
			if i+1 >= len(p) || p[i+1] < 0xDC00 || p[i+1] >= 0xE000 {
				return "", ErrUnpairedSurrogate
			}
			i++
		case c >= 0xDC00 && c < 0xE000:
			return "", ErrUnpairedSurrogate
		}
	}
	return string(utf16.Decode(p)), nil
}

// UTF16LE returns the password's bytes as UTF-16LE, what its NT hash
// (MD4) is computed over.
func (p Password) UTF16LE() []byte {
	b := make([]byte, 2*len(p))
	for i, c := range p {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// Equal reports whether p and q hold the same code units.
func (p Password) Equal(q Password) bool {
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}
