package crypto

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxPasswordBytes is the largest password, in bytes of UTF-16LE, that a
// JOINPR_USER_PASSWORD buffer carries: JOIN_MAX_PASSWORD_LENGTH (256)
// wide characters (MS-WKST 2.2.1.1, 2.2.5.17).
const MaxPasswordBytes = 512

// SessionKeySize is the size of the key both blob formats are keyed with:
// the 16-byte SMB session key, or for SMB 3.x the 16-byte application key
// (MS-WKST 2.2.5.18.3, 2.2.5.19.2).
const SessionKeySize = 16

// ErrInvalidPassword reports a password blob that cannot be opened: wrong
// key, bad MAC, bad length, malformed UTF-16, or a key of the wrong size.
// Servers answer it with ERROR_INVALID_PASSWORD (MS-WKST 3.2.4.13.1). When
// building a blob it reports a password that cannot be carried (too long,
// not valid UTF-8, containing NUL).
var ErrInvalidPassword = errors.New("crypto: invalid password blob")

// Wipe overwrites b with zeros. Plaintext buffers are wiped with it inside
// this package once they are no longer needed; callers may use it on keys.
func Wipe(b []byte) {
	clear(b)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidPassword}, args...)...)
}

func checkKey(key []byte) error {
	if len(key) != SessionKeySize {
		return invalid("session key is %d bytes, want %d", len(key), SessionKeySize)
	}
	return nil
}

// utf16LE encodes password as UTF-16LE without a terminator. It refuses
// strings that are not valid UTF-8, that contain NUL (a NUL cannot be told
// apart from the terminator of the encoded form, MS-WKST 2.2.5.18.1), or
// whose encoding exceeds max bytes.
func utf16LE(password string, max int) ([]byte, error) {
	if !utf8.ValidString(password) {
		return nil, invalid("password is not valid UTF-8")
	}
	units := utf16.Encode([]rune(password))
	if 2*len(units) > max {
		return nil, invalid("password is %d bytes in UTF-16, at most %d fit", 2*len(units), max)
	}
	out := make([]byte, 2*len(units))
	for i, u := range units {
		if u == 0 {
			Wipe(out)
			clear(units)
			return nil, invalid("password contains NUL")
		}
		out[2*i] = byte(u)
		out[2*i+1] = byte(u >> 8)
	}
	clear(units)
	return out, nil
}

// fromUTF16LE decodes b (even length) strictly: unpaired surrogates and NUL
// characters are errors rather than being replaced.
func fromUTF16LE(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", invalid("odd UTF-16 length")
	}
	runes := make([]rune, 0, len(b)/2)
	defer func() { clear(runes[:cap(runes)]) }()
	for i := 0; i < len(b); i += 2 {
		u := rune(uint16(b[i]) | uint16(b[i+1])<<8)
		switch {
		case u == 0:
			return "", invalid("password contains NUL")
		case utf16.IsSurrogate(u):
			if u >= 0xDC00 || i+3 >= len(b) {
				return "", invalid("unpaired UTF-16 surrogate")
			}
			lo := rune(uint16(b[i+2]) | uint16(b[i+3])<<8)
			r := utf16.DecodeRune(u, lo)
			if r == utf8.RuneError {
				return "", invalid("unpaired UTF-16 surrogate")
			}
			runes = append(runes, r)
			i += 2
		default:
			runes = append(runes, u)
		}
	}
	return string(runes), nil
}

// decodePassword turns the Length bytes found in a JOINPR_USER_PASSWORD
// buffer (or after the length field of the AES plaintext) into the
// cleartext password.
//
// Two forms exist and both are accepted:
//
//   - the seed/run-encoded form of MS-WKST 2.2.5.18.1 and 2.2.5.18.4:
//     Seed (nonzero) ‖ 0x00 ‖ encoded UTF-16LE characters ‖ 0x0000;
//   - plain UTF-16LE with no terminator, which is what Samba's client
//     (encode_wkssvc_join_password_buffer) puts there.
//
// They are told apart structurally: the encoded form always ends with the
// zero wide character that the encoding leaves untouched, whereas a plain
// password never ends in NUL (NUL is not a valid password character). A
// buffer that ends in a zero wide character but does not start with a
// nonzero seed followed by 0x00 is rejected. The only ambiguous case, a
// plain one-character password followed by an explicit NUL, is read as the
// encoded empty password.
func decodePassword(enc []byte) (string, error) {
	n := len(enc)
	if n%2 != 0 {
		return "", invalid("odd password length %d", n)
	}
	if n < 4 || enc[n-2] != 0 || enc[n-1] != 0 {
		return fromUTF16LE(enc)
	}
	seed := enc[0]
	if seed == 0 || enc[1] != 0 {
		return "", invalid("terminated password without a valid seed")
	}
	// Inverse of 2.2.5.18.1: E[2] = P[2] ^ (Seed|0x43) and, for each later
	// byte but the final two, E[i] = P[i] ^ E[i-1] ^ Seed.
	plain := make([]byte, n-4)
	defer Wipe(plain)
	for i := 2; i < n-2; i++ {
		if i == 2 {
			plain[0] = enc[2] ^ (seed | 0x43)
		} else {
			plain[i-2] = enc[i] ^ enc[i-1] ^ seed
		}
	}
	return fromUTF16LE(plain)
}

// encodeSeeded produces the run-encoded form of MS-WKST 2.2.5.18.1 from the
// UTF-16LE password p with the given nonzero seed.
func encodeSeeded(p []byte, seed byte) []byte {
	enc := make([]byte, len(p)+4)
	copy(enc[2:], p)
	for i := 2; i < len(enc)-2; i++ {
		if i == 2 {
			enc[2] ^= seed | 0x43
		} else {
			enc[i] ^= enc[i-1] ^ seed
		}
	}
	enc[0] = seed
	enc[1] = 0
	return enc
}
