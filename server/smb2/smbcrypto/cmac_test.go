package smbcrypto

import (
	"bytes"
	"crypto/aes"
	"testing"
)

// RFC 4493 section 4 test vectors (AES-128, K = 2b7e1516...).
func TestCMACRFC4493(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	msg := unhex(t, `6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
		30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710`)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	c := newCMAC(block)
	if want := unhex(t, "fbeed618357133667c85e08f7236a8de"); !bytes.Equal(c.k1[:], want) {
		t.Errorf("K1 = %x, want %x", c.k1, want)
	}
	if want := unhex(t, "f7ddac306ae266ccf90bc11ee46d513b"); !bytes.Equal(c.k2[:], want) {
		t.Errorf("K2 = %x, want %x", c.k2, want)
	}
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		c := newCMAC(block)
		c.Write(msg[:tc.n])
		if got := c.sum(); !bytes.Equal(got[:], unhex(t, tc.want)) {
			t.Errorf("CMAC(len %d) = %x, want %s", tc.n, got, tc.want)
		}
	}
}

// Any split of the input into writes gives the same MAC as one write.
func TestCMACStreaming(t *testing.T) {
	block, _ := aes.NewCipher(seq(0x40, 16))
	msg := seq(3, 100)
	whole := newCMAC(block)
	whole.Write(msg)
	want := whole.sum()
	for n := 0; n <= len(msg); n++ {
		for _, step := range []int{1, 5, 16, 17} {
			c := newCMAC(block)
			m := msg[:n]
			for len(m) > 0 {
				k := min(step, len(m))
				c.Write(m[:k])
				m = m[k:]
			}
			ref := newCMAC(block)
			ref.Write(msg[:n])
			if got, w := c.sum(), ref.sum(); got != w {
				t.Fatalf("len %d step %d: %x != %x", n, step, got, w)
			}
		}
	}
	c := newCMAC(block)
	c.Write(msg[:50])
	c.Write(nil)
	c.Write(msg[50:])
	if c.sum() != want {
		t.Fatal("empty write changed the MAC")
	}
}
