package odj

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxSavefileSize bounds what DecodeSavefile reads: the text form of the
// largest binary form DecodeProvision accepts, in UTF-16.
const MaxSavefileSize = 2*4*(maxProvisionSize/3+1) + 16

// ErrSavefile is wrapped by every error of the text layer.
var ErrSavefile = errors.New("odj: not a provisioning file")

func savefileErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSavefile, fmt.Sprintf(format, args...))
}

// EncodeText returns the text form of the binary form b: standard base64
// with padding, one line (what djoin /printblob prints and unattend.xml's
// AccountData holds).
func EncodeText(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// EncodeSavefile returns the file djoin /savefile writes for the binary
// form b: the UTF-16LE byte-order mark, the text form in UTF-16LE, and one
// UTF-16 NUL. Samba writes the same bytes.
func EncodeSavefile(b []byte) []byte {
	t := EncodeText(b)
	out := make([]byte, 0, 2+2*len(t)+2)
	out = append(out, 0xFF, 0xFE)
	for i := 0; i < len(t); i++ {
		out = append(out, t[i], 0)
	}
	return append(out, 0, 0)
}

// DecodeSavefile returns the binary form held by a provisioning file. It
// accepts what djoin and Samba's net offlinejoin read:
//
//   - UTF-16LE with a byte-order mark (the form they write), with or
//     without the trailing NUL, with or without a final line break;
//   - the text form in ASCII (djoin /printblob output, an unattend.xml
//     AccountData value), a final line break allowed;
//
// and, for convenience, the binary form itself (what
// NetRequestOfflineDomainJoin takes). It refuses, each with its own
// message, what Samba refuses: UTF-16 without a byte-order mark, a UTF-8
// byte-order mark, and base64 broken into several lines.
func DecodeSavefile(data []byte) ([]byte, error) {
	if len(data) > MaxSavefileSize {
		return nil, savefileErr("%d bytes, more than the %d a provisioning file can need", len(data), MaxSavefileSize)
	}
	var text []byte
	switch {
	case len(data) == 0:
		return nil, savefileErr("the file is empty")
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return nil, savefileErr("the file starts with a UTF-8 byte-order mark; provisioning files are UTF-16LE with a byte-order mark (as djoin writes them) or plain ASCII base64")
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return nil, savefileErr("the file is UTF-16 big endian; provisioning files are UTF-16LE with a byte-order mark or plain ASCII base64")
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		u := data[2:]
		if len(u)%2 != 0 {
			return nil, savefileErr("UTF-16LE text of an odd number of bytes (truncated?)")
		}
		text = make([]byte, 0, len(u)/2)
		for i := 0; i < len(u); i += 2 {
			c := binary.LittleEndian.Uint16(u[i:])
			if c >= 0x80 {
				return nil, savefileErr("character U+%04X at offset %d is not base64", c, 2+i)
			}
			text = append(text, byte(c))
		}
	case isPickle(data):
		return data, nil
	case len(data) >= 2 && data[1] == 0 && data[0] != 0:
		return nil, savefileErr("the file looks like UTF-16LE without a byte-order mark; provisioning files start with FF FE (or are plain ASCII base64)")
	default:
		text = data
	}
	// The terminating NUL and a final line break, in any order.
	text = bytes.TrimRight(text, "\x00\r\n")
	if len(text) == 0 {
		return nil, savefileErr("no base64 text")
	}
	if i := bytes.IndexAny(text, "\r\n"); i >= 0 {
		return nil, savefileErr("the base64 text is broken into lines (line break at character %d); djoin and Samba write it on one line", i)
	}
	if i := bytes.IndexFunc(text, func(r rune) bool { return !isBase64(r) }); i >= 0 {
		return nil, savefileErr("character %q at %d is not base64", text[i], i)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(string(text))
	if err != nil {
		return nil, savefileErr("base64: %v", err)
	}
	return b, nil
}

func isBase64(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '='
}

// isPickle reports whether b starts with a little-endian type
// serialization version 1 header.
func isPickle(b []byte) bool {
	return len(b) >= pickleHeaderLen && b[0] == pickleVersion && b[1] == pickleLittleEnd &&
		b[2] == pickleCommonLen && b[3] == 0
}

// DecodeFile decodes a provisioning file (any form DecodeSavefile takes)
// into its provisioning data.
func DecodeFile(data []byte) (*Provision, error) {
	b, err := DecodeSavefile(data)
	if err != nil {
		return nil, err
	}
	return DecodeProvision(b)
}
