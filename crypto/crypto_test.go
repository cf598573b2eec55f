package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

// counterReader yields a deterministic, non-repeating byte stream.
type counterReader struct{ n byte }

func (r *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n = r.n*5 + 1
	}
	return len(p), nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testKey() []byte { return []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} }

func toUTF16(s string) []byte {
	b, err := utf16LE(s, 1<<20)
	if err != nil {
		panic(err)
	}
	return b
}

// MS-WKST 2.2.5.18.1 worked example.
func TestSeedEncodingSpecExample(t *testing.T) {
	want := unhex(t, "ab00bb10fa51a902fa51ad06e249b01bf45f0000")
	got := encodeSeeded(toUTF16("PASSWORD"), 0xAB)
	if !bytes.Equal(got, want) {
		t.Fatalf("encode = %x, want %x", got, want)
	}
	pw, err := decodePassword(want)
	if err != nil || pw != "PASSWORD" {
		t.Fatalf("decode = %q, %v", pw, err)
	}
}

func TestSeedEncodingRoundTrip(t *testing.T) {
	for _, pw := range []string{"", "a", "PASSWORD", vecPassword, strings.Repeat("x\u00e9", 100)} {
		for _, seed := range []byte{1, 0x43, 0xAB, 0xFF} {
			got, err := decodePassword(encodeSeeded(toUTF16(pw), seed))
			if err != nil || got != pw {
				t.Errorf("seed %#x %q: got %q, %v", seed, pw, got, err)
			}
		}
	}
}

func TestDecodePasswordForms(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
		ok   bool
	}{
		{"empty plain", nil, "", true},
		{"plain one char", []byte{'A', 0}, "A", true},
		{"plain", toUTF16("hello"), "hello", true},
		{"plain surrogate pair", toUTF16("\U0001F600"), "\U0001F600", true},
		{"seed empty", []byte{0x11, 0, 0, 0}, "", true},
		{"odd", []byte{'A', 0, 'B'}, "", false},
		{"lone high surrogate", []byte{0x3d, 0xd8}, "", false},
		{"lone low surrogate", []byte{0x00, 0xde, 'A', 0}, "", false},
		{"high then non-low", []byte{0x3d, 0xd8, 'A', 0}, "", false},
		{"embedded NUL", []byte{'A', 0, 0, 0, 'B', 0}, "", false},
		{"terminated, zero seed", []byte{0, 0, 'A', 0, 0, 0}, "", false},
		{"terminated, second byte set", []byte{0x11, 1, 'A', 0, 0, 0}, "", false},
	}
	for _, tc := range tests {
		got, err := decodePassword(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("%s: got %q, %v; want ErrInvalidPassword", tc.name, got, err)
		}
	}
}

// Samba's known vector (libcli/auth/tests/test_rc4_passwd_buffer.c): a
// samr_CryptPasswordEx built by Samba with key "SystemLibraryDTC". Its
// RC4 key is MD5(confounder ‖ session key) with the 16-byte confounder at
// the end, unlike the JOINPR layout, but the decrypted 516 bytes are the
// same Buffer[512] ‖ Length[4] that Samba's JOINPR client fills, holding
// the plain UTF-16LE password.
func TestSambaRC4PasswordBufferVector(t *testing.T) {
	blob := unhex(t, sambaRC4Vector)
	if len(blob) != 532 {
		t.Fatalf("vector is %d bytes", len(blob))
	}
	h := md5.New()
	h.Write(blob[516:])
	h.Write([]byte("SystemLibraryDTC"))
	c, err := rc4.NewCipher(h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 516)
	c.XORKeyStream(buf, blob[:516])
	got, err := decodeUserPassword(buf)
	const want = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	if err != nil || got != want {
		t.Fatalf("got %q, %v", got, err)
	}

	// The same buffer sealed as a JOINPR blob by the JOINPR RC4 rule.
	obf := []byte("8bytes!!")
	jblob := append(append([]byte{}, obf...), buf...)
	if err := rc4Crypt([]byte("SystemLibraryDTC"), obf, jblob[8:]); err != nil {
		t.Fatal(err)
	}
	got, err = DecryptRC4([]byte("SystemLibraryDTC"), jblob)
	if err != nil || got != want {
		t.Fatalf("JOINPR: got %q, %v", got, err)
	}
}

func TestDecryptRC4Vectors(t *testing.T) {
	got, err := DecryptRC4(testKey(), unhex(t, vecRC4))
	if err != nil || got != vecPassword {
		t.Fatalf("plain form: got %q, %v", got, err)
	}
	got, err = DecryptRC4(testKey(), unhex(t, vecRC4Seed))
	if err != nil || got != "PASSWORD" {
		t.Fatalf("seed form: got %q, %v", got, err)
	}
}

// EncryptRC4 with the same random stream as the Python generator must
// reproduce its bytes exactly.
func TestEncryptRC4Vector(t *testing.T) {
	rnd := make([]byte, 8+512)
	for i := 0; i < 8; i++ {
		rnd[i] = 0xa0 + byte(i)
	}
	for i := 0; i < 512; i++ {
		rnd[8+i] = byte(i*7 + 3)
	}
	blob, err := EncryptRC4(testKey(), vecPassword, bytes.NewReader(rnd))
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, vecRC4); !bytes.Equal(blob, want) {
		t.Fatalf("blob differs:\n got %x\nwant %x", blob, want)
	}
}

func TestRC4RoundTrip(t *testing.T) {
	rnd := &counterReader{}
	for _, pw := range []string{"", "p", "Secret123!", vecPassword, strings.Repeat("\u00e9", 256)} {
		blob, err := EncryptRC4(testKey(), pw, rnd)
		if err != nil {
			t.Fatalf("%q: %v", pw, err)
		}
		got, err := DecryptRC4(testKey(), blob)
		if err != nil || got != pw {
			t.Fatalf("%q: got %q, %v", pw, got, err)
		}
	}
	// Seed-encoded passwords of every length that fits.
	for n := 0; n <= 254; n += 23 {
		pw := strings.Repeat("k", n)
		blob, err := sealRC4(testKey(), encodeSeeded(toUTF16(pw), 0x5A), rnd)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecryptRC4(testKey(), blob); err != nil || got != pw {
			t.Fatalf("seed %d: got %q, %v", n, got, err)
		}
	}
}

// rc4BlobWith seals an arbitrary decrypted 516-byte buffer.
func rc4BlobWith(t *testing.T, buf []byte) []byte {
	t.Helper()
	blob := append(make([]byte, 8), buf...)
	copy(blob, "obfuscat")
	if err := rc4Crypt(testKey(), blob[:8], blob[8:]); err != nil {
		t.Fatal(err)
	}
	return blob
}

func TestDecryptRC4Errors(t *testing.T) {
	good, err := EncryptRC4(testKey(), "Secret123!", &counterReader{})
	if err != nil {
		t.Fatal(err)
	}
	withLen := func(n uint32) []byte {
		buf := make([]byte, 516)
		for i := range 512 {
			buf[i] = 'a' - byte(i%2)*'a' // "a\0a\0..." valid UTF-16
		}
		binary.LittleEndian.PutUint32(buf[512:], n)
		return rc4BlobWith(t, buf)
	}
	if got, err := DecryptRC4(testKey(), withLen(512)); err != nil || got != strings.Repeat("a", 256) {
		t.Fatalf("length 512: %q, %v", got, err)
	}
	badUTF := make([]byte, 516)
	copy(badUTF[508:], []byte{0x3d, 0xd8, 'A', 0})
	binary.LittleEndian.PutUint32(badUTF[512:], 4)

	tests := []struct {
		name string
		key  []byte
		blob []byte
	}{
		{"wrong key", []byte("0123456789abcdef"), good},
		{"short key", testKey()[:15], good},
		{"long key", append(testKey(), 0), good},
		{"nil key", nil, good},
		{"short blob", testKey(), good[:523]},
		{"long blob", testKey(), append(append([]byte{}, good...), 0)},
		{"empty blob", testKey(), nil},
		{"length 513", testKey(), withLen(513)},
		{"length max", testKey(), withLen(0xFFFFFFFF)},
		{"odd length", testKey(), withLen(7)},
		{"bad UTF-16", testKey(), rc4BlobWith(t, badUTF)},
	}
	for _, tc := range tests {
		if got, err := DecryptRC4(tc.key, tc.blob); !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("%s: got %q, %v; want ErrInvalidPassword", tc.name, got, err)
		}
	}
}

func TestEncryptRC4Errors(t *testing.T) {
	for name, pw := range map[string]string{
		"too long":     strings.Repeat("x", 257),
		"surrogates":   strings.Repeat("\U0001F600", 129),
		"invalid UTF8": "a\xffb",
		"NUL":          "a\x00b",
	} {
		if _, err := EncryptRC4(testKey(), pw, &counterReader{}); !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := EncryptRC4(testKey()[:8], "x", &counterReader{}); !errors.Is(err, ErrInvalidPassword) {
		t.Errorf("short key: %v", err)
	}
	if _, err := EncryptRC4(testKey(), "x", errReader{}); err == nil || errors.Is(err, ErrInvalidPassword) {
		t.Errorf("failing rand: %v", err)
	}
}

func vecAESBlob(t *testing.T, cipherHex, authHex string) AESBlob {
	var b AESBlob
	copy(b.AuthData[:], unhex(t, authHex))
	for i := range b.Salt {
		b.Salt[i] = 0x10 + byte(i)
	}
	b.Cipher = unhex(t, cipherHex)
	return b
}

func TestDecryptAESVectors(t *testing.T) {
	tests := []struct {
		name, ct, auth, want string
	}{
		{"MS-WKST MAC order", vecAESCipher, vecAESAuth, vecPassword},
		{"AEAD MAC order", vecAESCipher, vecAESAuthAEAD, vecPassword},
		{"seed form, zero pad", vecAESSeedCipher, vecAESSeedAuth, "PASSWORD"},
	}
	for _, tc := range tests {
		got, err := DecryptAES(testKey(), vecAESBlob(t, tc.ct, tc.auth))
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v", tc.name, got, err)
		}
	}
}

func TestEncryptAESVector(t *testing.T) {
	salt := make([]byte, 16)
	for i := range salt {
		salt[i] = 0x10 + byte(i)
	}
	b, err := EncryptAES(testKey(), vecPassword, bytes.NewReader(salt))
	if err != nil {
		t.Fatal(err)
	}
	want := vecAESBlob(t, vecAESCipher, vecAESAuth)
	if !bytes.Equal(b.Cipher, want.Cipher) || b.AuthData != want.AuthData || b.Salt != want.Salt {
		t.Fatalf("blob differs:\n got %x %x\nwant %x %x", b.Cipher, b.AuthData, want.Cipher, want.AuthData)
	}
}

func TestAESRoundTrip(t *testing.T) {
	rnd := &counterReader{}
	for _, pw := range []string{"", "p", "Secret123!", vecPassword, strings.Repeat("z", 253)} {
		b, err := EncryptAES(testKey(), pw, rnd)
		if err != nil {
			t.Fatalf("%q: %v", pw, err)
		}
		if len(b.Cipher) > MaxAESCipherBytes || len(b.Cipher)%16 != 0 {
			t.Fatalf("%q: cbCipher %d", pw, len(b.Cipher))
		}
		got, err := DecryptAES(testKey(), b)
		if err != nil || got != pw {
			t.Fatalf("%q: got %q, %v", pw, got, err)
		}
	}
	for n := 0; n <= 250; n += 25 {
		pw := strings.Repeat("q", n)
		b, err := sealAES(testKey(), encodeSeeded(toUTF16(pw), 0x99), rnd)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecryptAES(testKey(), b); err != nil || got != pw {
			t.Fatalf("seed %d: got %q, %v", n, got, err)
		}
	}
}

// aesBlobWith encrypts an arbitrary plaintext (a multiple of 16 bytes) with
// a valid MAC.
func aesBlobWith(t *testing.T, plain []byte) AESBlob {
	t.Helper()
	var b AESBlob
	enc, mac := aesKeys(testKey())
	block, err := aes.NewCipher(enc[:32])
	if err != nil {
		t.Fatal(err)
	}
	b.Cipher = make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, b.Salt[:]).CryptBlocks(b.Cipher, plain)
	copy(b.AuthData[:], aesMACWKST(mac, b.Salt[:], b.Cipher))
	return b
}

func TestDecryptAESErrors(t *testing.T) {
	good, err := EncryptAES(testKey(), "Secret123!", &counterReader{})
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(*AESBlob)) AESBlob {
		b := good
		b.Cipher = append([]byte{}, good.Cipher...)
		f(&b)
		return b
	}
	plainLen := func(n uint32, size int) AESBlob {
		p := make([]byte, size)
		binary.LittleEndian.PutUint32(p, n)
		for i := 4; i < size; i += 2 {
			p[i] = 'a'
		}
		return aesBlobWith(t, p)
	}
	if got, err := DecryptAES(testKey(), plainLen(12, 16)); err != nil || got != "aaaaaa" {
		t.Fatalf("length 12: %q, %v", got, err)
	}
	badUTF := make([]byte, 16)
	copy(badUTF, []byte{4, 0, 0, 0, 0x00, 0xdc, 'a', 0})

	tests := []struct {
		name string
		key  []byte
		b    AESBlob
	}{
		{"wrong key", []byte("0123456789abcdef"), good},
		{"short key", testKey()[:15], good},
		{"long key", append(testKey(), 1), good},
		{"bad MAC", testKey(), mutate(func(b *AESBlob) { b.AuthData[63] ^= 1 })},
		{"tampered cipher", testKey(), mutate(func(b *AESBlob) { b.Cipher[0] ^= 1 })},
		{"tampered salt", testKey(), mutate(func(b *AESBlob) { b.Salt[0] ^= 1 })},
		{"cbCipher 0", testKey(), mutate(func(b *AESBlob) { b.Cipher = nil })},
		{"cbCipher 15", testKey(), mutate(func(b *AESBlob) { b.Cipher = b.Cipher[:15] })},
		{"cbCipher 17", testKey(), mutate(func(b *AESBlob) { b.Cipher = append(b.Cipher[:16], 0) })},
		{"cbCipher 528", testKey(), plainLen(8, 528)},
		{"length beyond plaintext", testKey(), plainLen(14, 16)},
		{"length 513", testKey(), plainLen(513, 512)},
		{"odd length", testKey(), plainLen(5, 16)},
		{"length max", testKey(), plainLen(0xFFFFFFFF, 32)},
		{"bad UTF-16", testKey(), aesBlobWith(t, badUTF)},
	}
	for _, tc := range tests {
		if got, err := DecryptAES(tc.key, tc.b); !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("%s: got %q, %v; want ErrInvalidPassword", tc.name, got, err)
		}
	}
}

func TestEncryptAESErrors(t *testing.T) {
	for name, pw := range map[string]string{
		"254 units":    strings.Repeat("x", 254),
		"invalid UTF8": "\xc3",
		"NUL":          "\x00",
	} {
		if _, err := EncryptAES(testKey(), pw, &counterReader{}); !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := EncryptAES(nil, "x", &counterReader{}); !errors.Is(err, ErrInvalidPassword) {
		t.Errorf("nil key: %v", err)
	}
	if _, err := EncryptAES(testKey(), "x", errReader{}); err == nil || errors.Is(err, ErrInvalidPassword) {
		t.Errorf("failing rand: %v", err)
	}
}

func TestGenerateMachinePassword(t *testing.T) {
	seen := map[byte]bool{}
	for range 50 {
		pw, err := GenerateMachinePassword(&counterReader{n: byte(len(seen))})
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != MachinePasswordLength {
			t.Fatalf("length %d", len(pw))
		}
		for i := range len(pw) {
			c := pw[i]
			if c < 32 || c > 122 {
				t.Fatalf("character %d out of range", c)
			}
			seen[c] = true
		}
	}
	if len(seen) != 91 {
		t.Errorf("%d distinct characters, want all 91", len(seen))
	}
	// Deterministic for a deterministic source; rejection of bytes >= 182.
	src := bytes.Repeat([]byte{0, 90, 91, 181, 182, 255}, 40)
	pw, err := GenerateMachinePassword(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat(" z z", 30); pw != want {
		t.Errorf("got %q, want %q", pw, want)
	}
}

func TestGenerateMachinePasswordBadSource(t *testing.T) {
	if _, err := GenerateMachinePassword(errReader{}); err == nil {
		t.Error("failing source accepted")
	}
	if _, err := GenerateMachinePassword(bytes.NewReader(make([]byte, 100))); err == nil {
		t.Error("short source accepted")
	}
	allRejected := readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = 0xff
		}
		return len(p), nil
	})
	if _, err := GenerateMachinePassword(allRejected); err == nil {
		t.Error("source of rejected bytes accepted")
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestWipe(t *testing.T) {
	b := []byte{1, 2, 3}
	Wipe(b)
	if !bytes.Equal(b, []byte{0, 0, 0}) {
		t.Fatal(b)
	}
	Wipe(nil)
}

func cbcForTest(key, iv, dst, src []byte) error {
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(dst, src)
	return nil
}
