package ldapdir

import (
	"bytes"
	"encoding/binary"
	"testing"

	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/keyusage"
)

// wrapUnsealed builds an acceptor's RFC 4121 wrap token without
// confidentiality, rotated by rrc.
func wrapUnsealed(t *testing.T, data, key []byte, rrc int) []byte {
	t.Helper()
	e, err := krbcrypto.GetEtype(etypeID.AES256_CTS_HMAC_SHA1_96)
	if err != nil {
		t.Fatal(err)
	}
	hdr := []byte{0x05, 0x04, cfxSentByAcceptor | 0x04, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}
	sum, err := e.GetChecksumHash(key, append(append([]byte(nil), data...), hdr...), keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(hdr[4:6], uint16(len(sum)))
	binary.BigEndian.PutUint16(hdr[6:8], uint16(rrc))
	body := rotateLeft(append(append([]byte(nil), data...), sum...), -rrc)
	return append(hdr, body...)
}

func TestUnwrapUnsealed(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, 32)
	offer := []byte{layerNone | layerIntegrity | layerConf, 0x00, 0xff, 0xff}
	for _, rrc := range []int{0, 5, 28} {
		got, err := unwrapUnsealed(wrapUnsealed(t, offer, key, rrc), key)
		if err != nil || !bytes.Equal(got, offer) {
			t.Errorf("RRC %d: %x, %v", rrc, got, err)
		}
	}
	tok := wrapUnsealed(t, offer, key, 0)
	for name, bad := range map[string][]byte{
		"other key":      nil,
		"changed data":   append(append([]byte(nil), tok[:16]...), append([]byte{0x01}, tok[17:]...)...),
		"sealed flag":    append([]byte{0x05, 0x04, tok[2] | cfxSealed}, tok[3:]...),
		"initiator flag": append([]byte{0x05, 0x04, tok[2] &^ cfxSentByAcceptor}, tok[3:]...),
		"truncated":      tok[:20],
		"not a token":    []byte("hello, this is not a wrap token at all"),
	} {
		k := key
		if name == "other key" {
			bad, k = tok, bytes.Repeat([]byte{0x43}, 32)
		}
		if _, err := unwrapUnsealed(bad, k); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := unwrapUnsealed(tok, []byte{1, 2, 3}); err == nil {
		t.Error("a key that is no AES key accepted")
	}
}

func TestRotateLeft(t *testing.T) {
	b := []byte("abcdef")
	for _, c := range []struct {
		n    int
		want string
	}{{0, "abcdef"}, {2, "cdefab"}, {-2, "efabcd"}, {8, "cdefab"}, {6, "abcdef"}} {
		if got := string(rotateLeft(b, c.n)); got != c.want {
			t.Errorf("rotateLeft(%d) = %s, want %s", c.n, got, c.want)
		}
	}
	if rotateLeft(nil, 3) != nil {
		t.Error("rotateLeft(nil)")
	}
}
