package smbcrypto

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"encoding/json"
	"github.com/wkssvcd/wkssvcd/internal/testenv"
	"os/exec"
	"strings"
	"testing"
)

// Interoperability with impacket (the Debian python3-impacket 0.10 used by
// the project's peer tests). testdata/impacket_interop.py runs impacket's
// own SMB3 signing, encryption and key derivation code on fixed inputs; the
// live tests run it (skipping without impacket), and the same results are
// pinned below so the checks also run without python.

// impacketPython is the interpreter that can import impacket on the test
// Debian test machines (the python3 first on PATH may lack it).
const impacketPython = "/usr/bin/python3"

// impacketVectors is the output of `impacket_interop.py vectors`.
type impacketVectors struct {
	KDF30 struct {
		Signing, Application, ServerOut, ServerIn string
	} `json:"kdf30"`
	KDF311 struct {
		Signing, Application, S2C, C2S string
	} `json:"kdf311"`
	CMAC []struct {
		Len int    `json:"len"`
		MAC string `json:"mac"`
	} `json:"cmac"`
	Signed21    string `json:"signed21"`
	Signed30    string `json:"signed30"`
	Encrypted30 string `json:"encrypted30"`
}

// pinnedImpacketVectors were produced by `impacket_interop.py vectors`
// with impacket 0.10.0 and Cryptodome 3.11.0.
var pinnedImpacketVectors = func() impacketVectors {
	var v impacketVectors
	v.KDF30.Signing = "6234814cbb8ea9227440ebfeb5eacbe1"
	v.KDF30.Application = "2061e31cbe99e5c6493e3fbbd4faf495"
	v.KDF30.ServerOut = "95d8b55c852cd25349994b3842fa4105"
	v.KDF30.ServerIn = "8e21f3cae16d07d84c03d74467f57878"
	v.KDF311.Signing = "0c685a091332854e9f3e44fdffa433d5"
	v.KDF311.Application = "3f824ed04e4334e1e57c779c74ba7b58"
	v.KDF311.S2C = "05552e8071a10cbaef467e8c8a75c1de"
	v.KDF311.C2S = "aebc18a3f711cf14e7694de40f9ee4b5"
	for _, c := range []struct {
		n   int
		mac string
	}{
		{0, "d3a652080d2702c2f03cd314964e9b4e"},
		{1, "3e61dad3b6b4906aea650241258f1630"},
		{15, "724c6babee779b928905fe9ec9bbd038"},
		{16, "a7cf34b8d52124235ac37f288bdd292e"},
		{17, "c2f534b4c58897fe397a4be9c6c0d206"},
		{31, "66ab8abc4bac037d93baa254092bf987"},
		{32, "04f4c7f9fe93f04d4aa2fcfadec8dbc0"},
		{33, "a1459fb4cd1182948f25b9ab7ab1ce24"},
		{64, "9570e6c352a74601ef99c869a792f0ed"},
		{100, "40ff88db4512460e3a42aa7f3c952f6c"},
		{1000, "dcd8f27e6a1efb7d1e397d289f8d0d16"},
	} {
		v.CMAC = append(v.CMAC, struct {
			Len int    `json:"len"`
			MAC string `json:"mac"`
		}{c.n, c.mac})
	}
	v.Signed21 = "fe534d4240000100000000000d007f000800000000000000050000000000000000000000000000001100000000400000ed4610e9407efce6bf163b29686fe19104000000"
	v.Signed30 = "fe534d4240000100000000000d007f000800000000000000050000000000000000000000000000001100000000400000a52cf87e99d3883d83740ad1e34ac2fd04000000"
	v.Encrypted30 = "fd534d427b273a3dd7d5f24987d7315870f1cb7f4b47704f79514e63644f79000000000044000000000001001100000000400000c065112e026987c0506a468becf59cd04cdfc8d9795100b6acb6692af220ad07433a18601f8874df9f5788543d613f36dba6b50b2e90a7dda759ed078ec016cb910fa0e2"
	return v
}()

// The inputs of testdata/impacket_interop.py.
var (
	interopSessionKey = seq(0, 16)
	interopSessionID  = uint64(0x0000400000000011)
)

// checkImpacketVectors checks impacket's output against this package.
func checkImpacketVectors(t *testing.T, v impacketVectors) {
	t.Helper()
	k30 := DeriveSessionKeys(Dialect300, interopSessionKey, nil, nil, 0)
	check(t, "3.0 Signing", k30.Signing, v.KDF30.Signing)
	check(t, "3.0 Application", k30.Application, v.KDF30.Application)
	check(t, "3.0 Encryption", k30.Encryption, v.KDF30.ServerOut)
	check(t, "3.0 Decryption", k30.Decryption, v.KDF30.ServerIn)
	preauth := PreauthHash(nil, []byte("preauth-test")) // SHA-512 of the string
	k311 := DeriveSessionKeys(Dialect311, interopSessionKey, interopSessionKey, preauth, AES128GCM)
	check(t, "3.1.1 Signing", k311.Signing, v.KDF311.Signing)
	check(t, "3.1.1 Application", k311.Application, v.KDF311.Application)
	check(t, "3.1.1 Encryption", k311.Encryption, v.KDF311.S2C)
	check(t, "3.1.1 Decryption", k311.Decryption, v.KDF311.C2S)

	if len(v.CMAC) == 0 {
		t.Error("no CMAC vectors")
	}
	block, _ := aes.NewCipher(seq(0x40, 16))
	for _, c := range v.CMAC {
		msg := make([]byte, c.Len)
		for i := range msg {
			msg[i] = byte(i*7 + 3)
		}
		m := newCMAC(block)
		m.Write(msg)
		got := m.sum()
		check(t, "AES_CMAC", got[:], c.MAC)
	}

	// impacket's signed requests (SMB3.sendSMB -> signSMB).
	signed21 := unhex(t, v.Signed21)
	if !Verify(SigningHMACSHA256, interopSessionKey, signed21) {
		t.Error("impacket's 2.1 HMAC-SHA256 signed request does not verify")
	}
	signed30 := unhex(t, v.Signed30)
	if !Verify(SigningAESCMAC, k30.Signing, signed30) {
		t.Error("impacket's 3.0 AES-CMAC signed request does not verify")
	}
	if Verify(SigningAESCMAC, k30.Application, signed30) {
		t.Error("verified with the wrong key")
	}

	// impacket's encrypted request: signed first, then encrypted with its
	// EncryptionKey (SMB2AESCCM/"ServerIn "), our Decryption key.
	enc := unhex(t, v.Encrypted30)
	sid, err := ParseTransformHeader(enc)
	if err != nil || sid != interopSessionID {
		t.Fatalf("ParseTransformHeader(impacket) = %#x, %v", sid, err)
	}
	aead, _ := NewAEAD(AES128CCM, k30.Decryption)
	plain, err := Decrypt(aead, enc)
	if err != nil {
		t.Fatalf("Decrypt(impacket transform): %v", err)
	}
	if !bytes.HasPrefix(plain, []byte("\xfeSMB")) || !Verify(SigningAESCMAC, k30.Signing, plain) {
		t.Errorf("impacket's inner message %x is not a signed SMB2 message", plain)
	}
}

func TestImpacketPinned(t *testing.T) {
	checkImpacketVectors(t, pinnedImpacketVectors)
}

// runImpacket runs the interop script; a missing impacket fails the test.
func runImpacket(t *testing.T, args ...string) []byte {
	t.Helper()
	testenv.Impacket(t, "impacket.smb3", "Cryptodome")
	cmd := exec.Command(impacketPython, append([]string{"testdata/impacket_interop.py"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("impacket_interop.py %s: %v\n%s", args[0], err, stderr.String())
	}
	return out
}

func TestImpacketLive(t *testing.T) {
	var v impacketVectors
	if err := json.Unmarshal(runImpacket(t, "vectors"), &v); err != nil {
		t.Fatal(err)
	}
	checkImpacketVectors(t, v)
	// Apart from the encrypted request (its nonce comes from python's
	// random module), the live output must match the pinned one.
	live, pinned := v, pinnedImpacketVectors
	live.Encrypted30, pinned.Encrypted30 = "", ""
	a, _ := json.Marshal(live)
	b, _ := json.Marshal(pinned)
	if !bytes.Equal(a, b) {
		t.Errorf("live impacket output differs from the pinned vectors:\n%s\n%s", a, b)
	}
}

// goToImpacket builds what this package sends to an impacket client at 3.0:
// a signed response and, encrypted with the server Encryption key, a
// transform message.
func goToImpacket(t *testing.T) (signed, transform []byte, keys SessionKeys) {
	keys = DeriveSessionKeys(Dialect300, interopSessionKey, nil, nil, 0)
	signed = testMessage(0x0008, 0x00000001, 7, []byte("wkssvc interop: a READ response body"))
	Sign(SigningAESCMAC, keys.Signing, signed)
	aead, err := NewAEAD(AES128CCM, keys.Encryption)
	if err != nil {
		t.Fatal(err)
	}
	transform = Encrypt(aead, seq(0xa0, 11), interopSessionID, signed)
	return signed, transform, keys
}

// impacketCheck is the output of `impacket_interop.py check ...`.
type impacketCheck struct {
	SignatureOK bool   `json:"signatureOK"`
	Signature   string `json:"signature"`
	Plaintext   string `json:"plaintext"`
	TagOK       bool   `json:"tagOK"`
	Transform   string `json:"transform"`
}

// Pinned output of `impacket_interop.py check` for goToImpacket's messages:
// impacket's signature of the response and impacket-style (Cryptodome
// AES-CCM) encryption of it under the same transform header.
const (
	pinnedImpacketSignature = "43901c1011d2488bb9c51e16d47d3deb"
	pinnedImpacketTransform = "fd534d42a539950afa72a1d25648905b2c112a69a0a1a2a3a4a5a6a7a8a9aa0000000000640000000000010011000000004000003ba463c6c5b6d1f093bace64ab427fd8426f7d236cd3bb31903d21037599b8febcea49d0a23c3be7a0fec81eeca2c0761b70f12640189bc4b84cec3d68427ac65a956881f1660a3b622d4ddbfe579f4eb47661b4bbde19d6011fe00dfca44f3ae39c37fd"
)

func TestGoToImpacketPinned(t *testing.T) {
	signed, transform, _ := goToImpacket(t)
	check(t, "signature (impacket signSMB)", signed[48:64], pinnedImpacketSignature)
	check(t, "transform (impacket-style AES-CCM)", transform, pinnedImpacketTransform)
}

func TestGoToImpacketLive(t *testing.T) {
	signed, transform, keys := goToImpacket(t)
	out := runImpacket(t, "check", "0x300", hex.EncodeToString(keys.Signing), hex.EncodeToString(keys.Encryption),
		hex.EncodeToString(signed), hex.EncodeToString(transform))
	var r impacketCheck
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !r.SignatureOK {
		t.Errorf("impacket computes signature %s, we sent %x", r.Signature, signed[48:64])
	}
	if !r.TagOK {
		t.Error("Cryptodome rejects our AES-CCM tag")
	}
	check(t, "impacket recvSMB plaintext", signed, r.Plaintext)
	check(t, "impacket-style transform", transform, r.Transform)
	check(t, "pinned signature", unhex(t, r.Signature), pinnedImpacketSignature)
	check(t, "pinned transform", unhex(t, r.Transform), pinnedImpacketTransform)
}
