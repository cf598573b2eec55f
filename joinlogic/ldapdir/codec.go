package ldapdir

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// sidString renders a binary SID (MS-DTYP 2.4.2.2) as S-1-... (2.4.2.1).
func sidString(b []byte) (string, error) {
	if len(b) < 8 {
		return "", errors.New("ldapdir: SID shorter than 8 bytes")
	}
	n := int(b[1])
	if b[0] != 1 || n > 15 || len(b) != 8+4*n {
		return "", fmt.Errorf("ldapdir: malformed SID (revision %d, %d sub-authorities, %d bytes)", b[0], n, len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	sb.WriteString("S-1-")
	if auth >= 1<<32 {
		fmt.Fprintf(&sb, "0x%012X", auth)
	} else {
		sb.WriteString(strconv.FormatUint(auth, 10))
	}
	for i := 0; i < n; i++ {
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), nil
}

// guidString renders a 16-byte GUID (MS-DTYP 2.3.4.2) in its string form
// (2.3.4.3); anything but 16 bytes yields "".
func guidString(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

// wkGUIDComputers is GUID_COMPUTERS_CONTAINER_W (MS-ADTS 6.1.1.4) as it
// appears in wellKnownObjects values.
const wkGUIDComputers = "AA312825768811D1ADED00C04FD8D5CD"

// parseDNBinary splits an Object(DN-Binary) value "B:<n>:<hex>:<dn>"
// (MS-ADTS 3.1.1.2.2.2.8 / 6.1.1.4, wellKnownObjects) into its binary
// part and DN. n counts hexadecimal digits.
func parseDNBinary(v string) ([]byte, string, error) {
	rest, ok := strings.CutPrefix(v, "B:")
	if !ok {
		return nil, "", errors.New("ldapdir: DN-Binary value without B: prefix")
	}
	ns, rest, ok := strings.Cut(rest, ":")
	if !ok || ns == "" || len(ns) > 6 {
		return nil, "", errors.New("ldapdir: DN-Binary value without length")
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 0 || n%2 != 0 || n > len(rest) {
		return nil, "", errors.New("ldapdir: DN-Binary value with a bad length")
	}
	bin, err := hex.DecodeString(rest[:n])
	if err != nil {
		return nil, "", fmt.Errorf("ldapdir: DN-Binary value: %w", err)
	}
	dn, ok := strings.CutPrefix(rest[n:], ":")
	if !ok || dn == "" {
		return nil, "", errors.New("ldapdir: DN-Binary value without DN")
	}
	return bin, dn, nil
}

// unicodePwd encodes a password for the unicodePwd attribute: the
// UTF-16LE encoding of the password enclosed in double quotes (MS-ADTS
// 3.1.1.3.1.5.1).
func unicodePwd(password string) string {
	u := utf16.Encode([]rune(`"` + password + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return string(b)
}

// splitRDN splits dn at its first unescaped comma into the first RDN and
// the parent DN (RFC 4514 2). A DN of a single RDN has parent "".
func splitRDN(dn string) (rdn, parent string) {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++ // skip the escaped character (or the first hex digit)
		case ',':
			return dn[:i], strings.TrimLeft(dn[i+1:], " ")
		}
	}
	return dn, ""
}

// dnsNameFromDN turns DC=example,DC=test into example.test; ok is false
// if dn has components other than DC.
func dnsNameFromDN(dn string) (string, bool) {
	var labels []string
	for dn != "" {
		rdn, rest := splitRDN(dn)
		k, v, found := strings.Cut(rdn, "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "DC") {
			return "", false
		}
		labels = append(labels, strings.TrimSpace(v))
		dn = rest
	}
	return strings.Join(labels, "."), len(labels) > 0
}
