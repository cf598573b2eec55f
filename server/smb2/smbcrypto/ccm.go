package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math"
)

// ccm is the CCM mode of RFC 3610 and NIST SP 800-38C over a 128-bit block
// cipher, as cipher.AEAD. SMB3 uses it with an 11-byte nonce (so the length
// field is L = 15 - 11 = 4 bytes) and a 16-byte tag (MS-SMB2 3.1.4.3, RFC 4309).
type ccm struct {
	block     cipher.Block
	tagSize   int // M: 4, 6, ..., 16
	nonceSize int // 15 - L: 7 ... 13
}

var errCCMOpen = errors.New("smbcrypto: CCM message authentication failed")

// newCCM returns CCM over block with the given tag and nonce sizes.
func newCCM(block cipher.Block, tagSize, nonceSize int) (cipher.AEAD, error) {
	if block.BlockSize() != aes.BlockSize {
		return nil, errors.New("smbcrypto: CCM needs a 128-bit block cipher")
	}
	if tagSize < 4 || tagSize > 16 || tagSize%2 != 0 {
		return nil, errors.New("smbcrypto: invalid CCM tag size")
	}
	if nonceSize < 7 || nonceSize > 13 {
		return nil, errors.New("smbcrypto: invalid CCM nonce size")
	}
	return &ccm{block: block, tagSize: tagSize, nonceSize: nonceSize}, nil
}

func (c *ccm) NonceSize() int { return c.nonceSize }
func (c *ccm) Overhead() int  { return c.tagSize }

// maxLen is the largest message the L-byte length field can express.
func (c *ccm) maxLen() uint64 {
	l := 15 - c.nonceSize
	if l >= 8 {
		return math.MaxUint64
	}
	return 1<<(8*uint(l)) - 1
}

// counterBlock returns A_i of RFC 3610 2.3 for i = ctr.
func (c *ccm) counterBlock(nonce []byte, ctr uint64) [aes.BlockSize]byte {
	var a [aes.BlockSize]byte
	a[0] = byte(14 - c.nonceSize) // Flags = L - 1
	copy(a[1:], nonce)
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], ctr)
	copy(a[1+c.nonceSize:], be[8-(15-c.nonceSize):])
	return a
}

// mac computes the CBC-MAC value T of RFC 3610 2.2 (all 16 bytes; the
// caller keeps the first tagSize).
func (c *ccm) mac(nonce, plaintext, aad []byte) [aes.BlockSize]byte {
	var x [aes.BlockSize]byte
	// B_0 = Flags ‖ Nonce ‖ l(m)
	flags := byte((c.tagSize-2)/2)<<3 | byte(14-c.nonceSize)
	if len(aad) > 0 {
		flags |= 0x40
	}
	x[0] = flags
	copy(x[1:], nonce)
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], uint64(len(plaintext)))
	copy(x[1+c.nonceSize:], be[8-(15-c.nonceSize):])
	c.block.Encrypt(x[:], x[:])

	var blk [aes.BlockSize]byte
	absorb := func(p []byte) { // CBC over p, zero-padded to a block multiple
		for len(p) > 0 {
			clear(blk[:])
			k := copy(blk[:], p)
			p = p[k:]
			subtle.XORBytes(x[:], x[:], blk[:])
			c.block.Encrypt(x[:], x[:])
		}
	}
	if len(aad) > 0 {
		// l(a) encoding, RFC 3610 2.2 / SP 800-38C A.2.2
		var hdr []byte
		switch la := uint64(len(aad)); {
		case la < 1<<16-1<<8:
			hdr = binary.BigEndian.AppendUint16(nil, uint16(la))
		case la <= math.MaxUint32:
			hdr = binary.BigEndian.AppendUint32([]byte{0xff, 0xfe}, uint32(la))
		default:
			hdr = binary.BigEndian.AppendUint64([]byte{0xff, 0xff}, la)
		}
		// The header and the start of aad share blocks: absorb them together.
		first := aes.BlockSize - len(hdr)
		if first > len(aad) {
			first = len(aad)
		}
		absorb(append(hdr, aad[:first]...))
		absorb(aad[first:])
	}
	absorb(plaintext)
	return x
}

// ctr xors src with the key stream S_1, S_2, ... into dst.
func (c *ccm) ctr(dst, src, nonce []byte) {
	a1 := c.counterBlock(nonce, 1)
	// The counter occupies the last L bytes; the length limit keeps it from
	// overflowing into the nonce, so a full-block big-endian CTR is exact.
	cipher.NewCTR(c.block, a1[:]).XORKeyStream(dst, src)
}

// tagMask returns S_0 = E(A_0), which encrypts the authentication tag.
func (c *ccm) tagMask(nonce []byte) [aes.BlockSize]byte {
	a0 := c.counterBlock(nonce, 0)
	c.block.Encrypt(a0[:], a0[:])
	return a0
}

// Seal encrypts and authenticates plaintext, appending the result to dst.
// Like every cipher.AEAD, it panics if nonce has the wrong length or the
// message is longer than the length field allows. As with crypto/cipher,
// dst may be plaintext[:0] (in place) but must not overlap it otherwise.
func (c *ccm) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	if len(nonce) != c.nonceSize {
		panic("smbcrypto: incorrect CCM nonce length")
	}
	if uint64(len(plaintext)) > c.maxLen() {
		panic("smbcrypto: CCM message too large")
	}
	t := c.mac(nonce, plaintext, additionalData)
	s0 := c.tagMask(nonce)
	ret, out := sliceForAppend(dst, len(plaintext)+c.tagSize)
	c.ctr(out[:len(plaintext)], plaintext, nonce)
	subtle.XORBytes(out[len(plaintext):], t[:c.tagSize], s0[:c.tagSize])
	return ret
}

// Open authenticates and decrypts ciphertext (which ends with the tag),
// appending the plaintext to dst. On failure it returns an error and
// leaves no plaintext behind in the output area. dst may be ciphertext[:0]
// but must not overlap it otherwise.
func (c *ccm) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(nonce) != c.nonceSize || len(ciphertext) < c.tagSize {
		return nil, errCCMOpen
	}
	n := len(ciphertext) - c.tagSize
	if uint64(n) > c.maxLen() {
		return nil, errCCMOpen
	}
	var tag [aes.BlockSize]byte
	copy(tag[:], ciphertext[n:])
	ret, out := sliceForAppend(dst, n)
	c.ctr(out, ciphertext[:n], nonce)
	t := c.mac(nonce, out, additionalData)
	s0 := c.tagMask(nonce)
	subtle.XORBytes(t[:c.tagSize], t[:c.tagSize], s0[:c.tagSize])
	if subtle.ConstantTimeCompare(t[:c.tagSize], tag[:c.tagSize]) != 1 {
		clear(out)
		return nil, errCCMOpen
	}
	return ret, nil
}

// sliceForAppend extends in by n bytes, returning the whole slice and the
// n new bytes.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}
