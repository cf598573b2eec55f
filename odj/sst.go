package odj

import (
	"encoding/binary"
	"fmt"
)

// A serialized certificate store (SST, the content of an
// OP_CERT_SST_STORE): MS-OSHARED 2.3.9.1 and 2.3.2.5.1–2.3.2.5.4. A header
// (version 0, file type "CERT"), then elements {id, encoding type, length,
// value}: a certificate is zero or more property elements followed by its
// certificate element (id 0x20, the DER certificate); an element of id 0
// and length 0 ends the store.
const (
	sstFileType      = 0x54524543 // "CERT"
	sstElementCert   = 0x20       // FILE_ELEMENT_CERT_ID
	sstElementCRL    = 0x21       // FILE_ELEMENT_CRL_ID
	sstElementCTL    = 0x22       // FILE_ELEMENT_CTL_ID
	sstElementEnd    = 0
	sstX509Encoding  = 1 // X509_ASN_ENCODING
	sstElementHeader = 12
)

// EncodeSST serializes the DER certificates certs as a certificate store,
// one certificate element each, without properties.
func EncodeSST(certs [][]byte) []byte {
	n := 8 + sstElementHeader
	for _, c := range certs {
		n += sstElementHeader + len(c)
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, sstFileType)
	for _, c := range certs {
		b = binary.LittleEndian.AppendUint32(b, sstElementCert)
		b = binary.LittleEndian.AppendUint32(b, sstX509Encoding)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
	}
	b = binary.LittleEndian.AppendUint32(b, sstElementEnd)
	b = binary.LittleEndian.AppendUint32(b, 0)
	return binary.LittleEndian.AppendUint32(b, 0)
}

// DecodeSST returns the DER certificates of a serialized certificate
// store, in order. Property elements are skipped; CRL and CTL elements are
// counted in other. A store without the end element is accepted when it
// ends between elements.
func DecodeSST(b []byte) (certs [][]byte, other int, err error) {
	if len(b) < 8 {
		return nil, 0, formatErr("SST: %d bytes, shorter than its header", len(b))
	}
	if v := binary.LittleEndian.Uint32(b[0:4]); v != 0 {
		return nil, 0, formatErr("SST: version %d (want 0)", v)
	}
	if t := binary.LittleEndian.Uint32(b[4:8]); t != sstFileType {
		return nil, 0, formatErr("SST: file type 0x%08x is not \"CERT\"", t)
	}
	off := 8
	for off < len(b) {
		if len(b)-off < sstElementHeader {
			return nil, 0, formatErr("SST: truncated element header at offset %d", off)
		}
		id := binary.LittleEndian.Uint32(b[off:])
		n := binary.LittleEndian.Uint32(b[off+8:])
		off += sstElementHeader
		if uint64(n) > uint64(len(b)-off) {
			return nil, 0, formatErr("SST: element 0x%x of %d bytes at offset %d runs past the end", id, n, off)
		}
		v := b[off : off+int(n)]
		off += int(n)
		switch id {
		case sstElementEnd:
			if n != 0 {
				return nil, 0, formatErr("SST: end element with %d bytes", n)
			}
			return certs, other, nil
		case sstElementCert:
			certs = append(certs, append([]byte(nil), v...))
		case sstElementCRL, sstElementCTL:
			other++
		}
	}
	return certs, other, nil
}

// String forms of registry value types (winnt.h REG_*), for people.
var regTypeNames = map[uint32]string{
	0: "REG_NONE", 1: "REG_SZ", 2: "REG_EXPAND_SZ", 3: "REG_BINARY", 4: "REG_DWORD",
	5: "REG_DWORD_BIG_ENDIAN", 6: "REG_LINK", 7: "REG_MULTI_SZ", 11: "REG_QWORD",
}

// RegTypeName names a REG_* value type.
func RegTypeName(t uint32) string {
	if s, ok := regTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("REG_0x%x", t)
}
