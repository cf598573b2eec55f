package smbcrypto

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// ErrNonceExhausted is returned by NonceSource.Next once every counter
// value has been used; the session's key must not encrypt any more.
var ErrNonceExhausted = errors.New("smbcrypto: encryption nonces exhausted for this key")

// nonce layout: an 8-byte random prefix, then a big-endian counter filling
// the rest (3 bytes for CCM's 11-byte nonce, 4 for GCM's 12).
const noncePrefixSize = 8

// NonceSource hands out never-repeating nonces for one session's encryption key: a random 64-bit
// prefix chosen at creation plus a counter (safe for concurrent use; returns an error, never wraps,
// when exhausted).
//
// MS-SMB2 2.2.41 only requires that a nonce is never reused within a session. The counter
// guarantees that for one NonceSource; the random prefix keeps two sources that were wrongly
// given the same key apart with overwhelming probability. With an 11-byte nonce a source yields
// 2^24 nonces, with a 12-byte one 2^32.
type NonceSource struct {
	mu     sync.Mutex
	prefix [noncePrefixSize]byte
	size   int    // total nonce size
	next   uint64 // next counter value
	last   uint64 // largest counter value the counter field holds
	done   bool   // last has been handed out
}

// NewNonceSource returns a source of size-byte nonces. size must be 9 to 16 (11 for AES-CCM,
// 12 for AES-GCM: use aead.NonceSize()).
func NewNonceSource(size int) (*NonceSource, error) {
	if size <= noncePrefixSize || size > 16 {
		return nil, fmt.Errorf("smbcrypto: nonce size %d not in 9..16", size)
	}
	n := &NonceSource{size: size}
	if _, err := rand.Read(n.prefix[:]); err != nil {
		return nil, fmt.Errorf("smbcrypto: nonce prefix: %w", err)
	}
	bits := 8 * uint(size-noncePrefixSize)
	if bits >= 64 {
		n.last = ^uint64(0)
	} else {
		n.last = 1<<bits - 1
	}
	return n, nil
}

// Next returns a fresh nonce, or ErrNonceExhausted when the counter is spent.
func (n *NonceSource) Next() ([]byte, error) {
	out := make([]byte, n.size)
	if err := n.NextInto(out); err != nil {
		return nil, err
	}
	return out, nil
}

// NextInto writes a fresh nonce to dst, which must be the source's nonce
// size, or returns ErrNonceExhausted when the counter is spent.
func (n *NonceSource) NextInto(dst []byte) error {
	if len(dst) != n.size {
		return fmt.Errorf("smbcrypto: nonce buffer of %d bytes for %d-byte nonces", len(dst), n.size)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done {
		return ErrNonceExhausted
	}
	ctr := n.next
	if ctr == n.last {
		n.done = true
	} else {
		n.next++
	}
	copy(dst, n.prefix[:])
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], ctr)
	copy(dst[noncePrefixSize:], be[8-(n.size-noncePrefixSize):])
	return nil
}
