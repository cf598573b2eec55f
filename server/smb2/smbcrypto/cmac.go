package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"sync"
)

// cmac is AES-CMAC (RFC 4493, NIST SP 800-38B) over a stream of writes.
// It keeps the last (possibly complete) block buffered until sum, because
// the final block is treated differently (RFC 4493 2.4, steps 3-4).
type cmac struct {
	block  cipher.Block
	k1, k2 [aes.BlockSize]byte
	x      [aes.BlockSize]byte // running CBC-MAC state
	buf    [aes.BlockSize]byte // pending, not yet processed bytes
	n      int                 // bytes used in buf
	t      [aes.BlockSize]byte // the tag, computed by sum
}

// cmacPool holds cmac states for Signer: the block cipher is an interface,
// so the state's buffers would otherwise escape to the heap per message.
var cmacPool = sync.Pool{New: func() any { return new(cmac) }}

// newCMAC returns a CMAC over block, which must have a 16-byte block size.
func newCMAC(block cipher.Block) *cmac {
	c := &cmac{block: block}
	cmacSubkeys(block, &c.k1, &c.k2)
	return c
}

// cmacSubkeys derives the CMAC subkeys of block (RFC 4493 2.3): L =
// AES-K(0^128); K1 = L<<1 ^ (Rb if msb(L)); K2 likewise from K1.
func cmacSubkeys(block cipher.Block, k1, k2 *[aes.BlockSize]byte) {
	var l [aes.BlockSize]byte
	block.Encrypt(l[:], l[:])
	shiftXorRb(k1, &l)
	shiftXorRb(k2, k1)
}

// shiftXorRb sets dst = src << 1, xored with Rb = 0x87 when the msb of src
// is set, without branching on key-dependent data.
func shiftXorRb(dst, src *[aes.BlockSize]byte) {
	msb := src[0] >> 7
	for i := 0; i < aes.BlockSize-1; i++ {
		dst[i] = src[i]<<1 | src[i+1]>>7
	}
	dst[aes.BlockSize-1] = src[aes.BlockSize-1]<<1 ^ (0x87 & -msb)
}

// Write absorbs p. It never fails.
func (c *cmac) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		if c.n == aes.BlockSize {
			// More data follows, so the buffered block is not the last one.
			subtle.XORBytes(c.x[:], c.x[:], c.buf[:])
			c.block.Encrypt(c.x[:], c.x[:])
			c.n = 0
		}
		k := copy(c.buf[c.n:], p)
		c.n += k
		p = p[k:]
	}
	return written, nil
}

// sum returns the 16-byte tag of everything written (RFC 4493 2.4). The
// state is not reset; sum is called once per MAC.
func (c *cmac) sum() [aes.BlockSize]byte {
	last := c.buf
	if c.n == aes.BlockSize {
		subtle.XORBytes(last[:], last[:], c.k1[:])
	} else {
		// padding(x) = x ‖ 10^i
		last[c.n] = 0x80
		clear(last[c.n+1:])
		subtle.XORBytes(last[:], last[:], c.k2[:])
	}
	subtle.XORBytes(c.t[:], c.x[:], last[:])
	c.block.Encrypt(c.t[:], c.t[:])
	return c.t
}
