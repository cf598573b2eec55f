package odj

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// Registry policy files ("Registry.pol", MS-GPREG 2.2.1): the signature
// "PReg", version 1, then instructions "[" key ";" value ";" type ";"
// size ";" data "]", where the delimiters and the NUL-terminated key and
// value names are UTF-16LE and type and size are 32-bit little endian.

// RegistryValue is one instruction of a registry policy file, the
// settings an OP_POLICY_ELEMENT carries.
type RegistryValue struct {
	Key       string // key path under HKLM (computer) or HKCU (user)
	ValueName string // may be a "**"-prefixed directive (MS-GPREG 2.2.1.1)
	Type      uint32 // REG_*
	Data      []byte
}

const (
	pregSignature = "PReg"
	pregVersion   = 1
	// maxPRegData is the largest Size MS-GPREG 2.2.1 allows.
	maxPRegData = 0xFFFF
)

// EncodePReg writes values as a registry policy file.
func EncodePReg(values []RegistryValue) ([]byte, error) {
	b := []byte(pregSignature)
	b = binary.LittleEndian.AppendUint32(b, pregVersion)
	for i, v := range values {
		if len(v.Data) > maxPRegData {
			return nil, fmt.Errorf("odj: registry value %d (%s\\%s): %d bytes of data, more than %d", i, v.Key, v.ValueName, len(v.Data), maxPRegData)
		}
		b = appendUTF16(b, "[")
		b = appendUTF16(b, v.Key+"\x00")
		b = appendUTF16(b, ";")
		b = appendUTF16(b, v.ValueName+"\x00")
		b = appendUTF16(b, ";")
		b = binary.LittleEndian.AppendUint32(b, v.Type)
		b = appendUTF16(b, ";")
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v.Data)))
		b = appendUTF16(b, ";")
		b = append(b, v.Data...)
		b = appendUTF16(b, "]")
	}
	return b, nil
}

func appendUTF16(b []byte, s string) []byte {
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// DecodePReg reads a registry policy file, keeping the instructions in
// file order (MS-GPREG 2.2.1: the order is significant).
func DecodePReg(b []byte) ([]RegistryValue, error) {
	if len(b) < 8 || string(b[:4]) != pregSignature {
		return nil, formatErr("registry policy file: no \"PReg\" signature")
	}
	if v := binary.LittleEndian.Uint32(b[4:8]); v != pregVersion {
		return nil, formatErr("registry policy file: version %d (want 1)", v)
	}
	p := pregParser{b: b, off: 8}
	var out []RegistryValue
	for p.off < len(b) {
		var v RegistryValue
		p.delim('[')
		v.Key = p.name("key")
		p.delim(';')
		v.ValueName = p.name("value name")
		p.delim(';')
		v.Type = p.u32()
		p.delim(';')
		n := p.u32()
		p.delim(';')
		if p.err == nil && n > maxPRegData {
			p.fail("a value of %d bytes (the limit is %d)", n, maxPRegData)
		}
		if p.err == nil && int(n) > len(b)-p.off {
			p.fail("a value of %d bytes runs past the end", n)
		}
		if p.err == nil {
			v.Data = append([]byte(nil), b[p.off:p.off+int(n)]...)
			p.off += int(n)
		}
		p.delim(']')
		if p.err != nil {
			return nil, p.err
		}
		out = append(out, v)
	}
	return out, nil
}

type pregParser struct {
	b   []byte
	off int
	err error
}

func (p *pregParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = formatErr("registry policy file at offset %d: %s", p.off, fmt.Sprintf(format, args...))
	}
}

func (p *pregParser) unit() uint16 {
	if p.err != nil {
		return 0
	}
	if len(p.b)-p.off < 2 {
		p.fail("truncated")
		return 0
	}
	c := binary.LittleEndian.Uint16(p.b[p.off:])
	p.off += 2
	return c
}

func (p *pregParser) delim(want rune) {
	if c := p.unit(); p.err == nil && rune(c) != want {
		p.off -= 2
		p.fail("%q where %q belongs", rune(c), want)
	}
}

func (p *pregParser) name(what string) string {
	var u []uint16
	for p.err == nil {
		c := p.unit()
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	if p.err != nil {
		return ""
	}
	return string(utf16.Decode(u))
}

func (p *pregParser) u32() uint32 {
	if p.err != nil {
		return 0
	}
	if len(p.b)-p.off < 4 {
		p.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint32(p.b[p.off:])
	p.off += 4
	return v
}

// PolicyList turns the values of one registry policy file into the element
// list of a POLICY_PROVIDER part; source names the file.
func PolicyList(source string, values []RegistryValue) PolicyElementList {
	l := PolicyElementList{Source: source, RootKeyID: HKeyLocalMachine}
	for _, v := range values {
		l.Elements = append(l.Elements, PolicyElement{KeyPath: v.Key, ValueName: v.ValueName, ValueType: v.Type, Data: v.Data})
	}
	return l
}
