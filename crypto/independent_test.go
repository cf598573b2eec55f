package crypto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wkssvcd/wkssvcd/internal/testenv"
)

// refAES runs testdata/joinpr_aes.py, a second implementation of the AES
// JOINPR blob written from MS-WKST 2.2.5.19 with Python's cryptography
// package, on one request per line and returns its answers.
func refAES(t *testing.T, reqs []map[string]string) []map[string]string {
	t.Helper()
	py := testenv.PythonModules(t, "python3-cryptography", "cryptography.hazmat.primitives.ciphers")
	var in bytes.Buffer
	for _, r := range reqs {
		b, _ := json.Marshal(r)
		in.Write(append(b, '\n'))
	}
	cmd := exec.Command(py, "testdata/joinpr_aes.py")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("joinpr_aes.py: %v\n%s", err, stderr.String())
	}
	var res []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("joinpr_aes.py output %q: %v", sc.Text(), err)
		}
		res = append(res, m)
	}
	if len(res) != len(reqs) {
		t.Fatalf("joinpr_aes.py answered %d of %d requests", len(res), len(reqs))
	}
	return res
}

func unhexT(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var independentPasswords = []string{
	"", "p", "Secret123!", vecPassword, "tab\tand\"quote\\", strings.Repeat("z", 253),
	"\u00e9\u00e8\u00ea\u4e2d\u6587\U0001F511", strings.Repeat("\U0001F600", 126),
}

// TestAESBlobAgainstPythonCryptography: blobs built by EncryptAES are
// byte for byte those of the independent implementation for the same key
// and salt; the independent implementation opens blobs EncryptAES built
// with random salts; DecryptAES opens the independent implementation's
// blobs in both MAC orders and with zero padding, and refuses each with a
// flipped bit in AuthData, Salt or Cipher.
func TestAESBlobAgainstPythonCryptography(t *testing.T) {
	var seal, open []map[string]string
	var goBlobs []AESBlob
	for i, pw := range independentPasswords {
		key := bytes.Repeat([]byte{byte(0x31 + i)}, 16)
		key[0] = byte(i)
		salt := bytes.Repeat([]byte{byte(0xC0 + i)}, 16)
		for _, order := range []string{"wkst", "aead"} {
			for _, pad := range []string{"pkcs7", "zero"} {
				seal = append(seal, map[string]string{"op": "seal", "key": hex.EncodeToString(key), "salt": hex.EncodeToString(salt),
					"password": pw, "order": order, "pad": pad})
			}
		}
		b, err := EncryptAES(key, pw, urandom(t))
		if err != nil {
			t.Fatal(err)
		}
		goBlobs = append(goBlobs, b)
		open = append(open, map[string]string{"op": "open", "key": hex.EncodeToString(key),
			"auth": hex.EncodeToString(b.AuthData[:]), "salt": hex.EncodeToString(b.Salt[:]), "cipher": hex.EncodeToString(b.Cipher)})
	}
	sealed := refAES(t, seal)
	for i, r := range sealed {
		req := seal[i]
		key := unhexT(t, req["key"])
		var b AESBlob
		copy(b.AuthData[:], unhexT(t, r["auth"]))
		copy(b.Salt[:], unhexT(t, r["salt"]))
		b.Cipher = unhexT(t, r["cipher"])
		got, err := DecryptAES(key, b)
		if err != nil || got != req["password"] {
			t.Errorf("DecryptAES of the reference blob (%s order, %s pad, %q): %q, %v", req["order"], req["pad"], req["password"], got, err)
		}
		if req["order"] == "wkst" && req["pad"] == "pkcs7" {
			mine, err := EncryptAES(key, req["password"], bytes.NewReader(b.Salt[:]))
			if err != nil || !bytes.Equal(mine.Cipher, b.Cipher) || mine.AuthData != b.AuthData {
				t.Errorf("EncryptAES(%q) differs from the reference:\n got %x %x\nwant %x %x (%v)", req["password"], mine.Cipher, mine.AuthData, b.Cipher, b.AuthData, err)
			}
		}
		for _, flip := range []func(*AESBlob){
			func(x *AESBlob) { x.AuthData[63] ^= 1 },
			func(x *AESBlob) { x.Salt[0] ^= 1 },
			func(x *AESBlob) { x.Cipher[len(x.Cipher)-1] ^= 1 },
		} {
			x := b
			x.Cipher = bytes.Clone(b.Cipher)
			flip(&x)
			if _, err := DecryptAES(key, x); err == nil {
				t.Errorf("DecryptAES accepted a reference blob with a flipped bit (%s order, %q)", req["order"], req["password"])
			}
		}
	}
	for i, r := range refAES(t, open) {
		if r["error"] != "" || r["password"] != independentPasswords[i] || r["order"] != "wkst" {
			t.Errorf("reference opening EncryptAES(%q): %v", independentPasswords[i], r)
		}
	}
}

// urandom is a random source for salts that shares nothing with the code under test.
func urandom(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestAESBlobAgainstOpenSSL computes the blob a third way, with OpenSSL's
// command line (HMAC-SHA-512 with `openssl mac`, AES-256-CBC with `openssl
// enc`, which pads with PKCS#7), following the byte layout of MS-WKST
// 2.2.5.19.3 and 2.2.5.19.4, and compares it with EncryptAES.
func TestAESBlobAgainstOpenSSL(t *testing.T) {
	openssl := testenv.Tool(t, "openssl", "openssl")
	dir := t.TempDir()
	run := func(in []byte, args ...string) []byte {
		t.Helper()
		p := filepath.Join(dir, "in")
		if err := os.WriteFile(p, in, 0o600); err != nil {
			t.Fatal(err)
		}
		// The input file goes right after the subcommand: `openssl mac`
		// wants its algorithm name last.
		out, err := exec.Command(openssl, append([]string{args[0], "-in", p}, args[1:]...)...).Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return out
	}
	hmac512 := func(key, data []byte) []byte {
		t.Helper()
		out := strings.TrimSpace(string(run(data, "mac", "-digest", "SHA512", "-macopt", "hexkey:"+hex.EncodeToString(key), "HMAC")))
		return unhexT(t, out)
	}
	key := unhexT(t, "f00dfacecafebeef0123456789abcdef")
	salt := unhexT(t, "a5a5a5a55a5a5a5a0f0f0f0ff0f0f0f0")
	const pw = "Adm1n.Pa55word-Test \u00fc\U0001F510"
	encKey := hmac512(key, []byte("Microsoft WKST encryption key AEAD-AES-256-CBC-HMAC-SHA512 16\x00"))
	macKey := hmac512(key, []byte("Microsoft WKST MAC key AEAD-AES-256-CBC-HMAC-SHA512 16\x00"))
	u := utf16LEOrDie(t, pw)
	plain := append([]byte{byte(len(u)), byte(len(u) >> 8), 0, 0}, u...)
	ct := run(plain, "enc", "-aes-256-cbc", "-nosalt", "-K", hex.EncodeToString(encKey[:32]), "-iv", hex.EncodeToString(salt))
	auth := hmac512(macKey, append(append(bytes.Clone(ct), salt...), 0x01, 0x01))

	b, err := EncryptAES(key, pw, bytes.NewReader(salt))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Cipher, ct) || !bytes.Equal(b.AuthData[:], auth) {
		t.Fatalf("EncryptAES differs from OpenSSL:\n got %x\n     %x\nwant %x\n     %x", b.Cipher, b.AuthData, ct, auth)
	}
	var ref AESBlob
	copy(ref.AuthData[:], auth)
	copy(ref.Salt[:], salt)
	ref.Cipher = ct
	if got, err := DecryptAES(key, ref); err != nil || got != pw {
		t.Fatalf("DecryptAES of the OpenSSL blob: %q, %v", got, err)
	}
}

func utf16LEOrDie(t *testing.T, s string) []byte {
	t.Helper()
	b, err := utf16LE(s, MaxPasswordBytes)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
