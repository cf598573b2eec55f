package ntlm

import (
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// Account is a local account that may authenticate.
type Account struct {
	// Name is the account name as stored; it is what ipc.Identity.User
	// reports after a successful logon.
	Name string
	// NTHash is MD4(UTF-16LE(password)) (MS-NLMP 3.3.1 NTOWFv1).
	NTHash [16]byte
	// Admin marks the account as a local administrator.
	Admin bool
}

// AccountDB looks accounts up by name, case-insensitively.
type AccountDB interface {
	LookupAccount(name string) (Account, bool)
}

// StaticAccounts is a fixed list of accounts; lookups ignore case.
type StaticAccounts []Account

// LookupAccount implements AccountDB.
func (s StaticAccounts) LookupAccount(name string) (Account, bool) {
	for _, a := range s {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Account{}, false
}

// NTHash returns MD4(UTF-16LE(password)), the NT one-way function of
// MS-NLMP 3.3.1.
func NTHash(password string) [16]byte {
	h := md4.New()
	h.Write(utf16le(password))
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}

// utf16le encodes s as UTF-16 little-endian without a terminator.
func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c)
		b[2*i+1] = byte(c >> 8)
	}
	return b
}

// decodeUTF16LE decodes UTF-16 little-endian; ok is false for an odd
// length.
func decodeUTF16LE(b []byte) (string, bool) {
	if len(b)%2 != 0 {
		return "", false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u)), true
}
