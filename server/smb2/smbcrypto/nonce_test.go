package smbcrypto

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

func TestNonceSourceUnique(t *testing.T) {
	for _, size := range []int{11, 12} {
		ns, err := NewNonceSource(size)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		var prefix []byte
		for i := 0; i < 5000; i++ {
			n, err := ns.Next()
			if err != nil {
				t.Fatal(err)
			}
			if len(n) != size {
				t.Fatalf("size %d", len(n))
			}
			if prefix == nil {
				prefix = bytes.Clone(n[:8])
			} else if !bytes.Equal(n[:8], prefix) {
				t.Fatal("prefix changed")
			}
			if seen[string(n)] {
				t.Fatalf("nonce %x repeated", n)
			}
			seen[string(n)] = true
		}
	}
	a, _ := NewNonceSource(12)
	b, _ := NewNonceSource(12)
	na, _ := a.Next()
	nb, _ := b.Next()
	if bytes.Equal(na[:8], nb[:8]) {
		t.Error("two sources share a random prefix")
	}
}

func TestNonceSourceConcurrent(t *testing.T) {
	ns, _ := NewNonceSource(11)
	const workers, each = 8, 2000
	out := make(chan []byte, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n, err := ns.Next()
				if err != nil {
					t.Error(err)
					return
				}
				out <- n
			}
		}()
	}
	wg.Wait()
	close(out)
	seen := map[string]bool{}
	for n := range out {
		if seen[string(n)] {
			t.Fatalf("nonce %x repeated", n)
		}
		seen[string(n)] = true
	}
	if len(seen) != workers*each {
		t.Fatalf("%d nonces", len(seen))
	}
}

// The counter never wraps: the last value is handed out once, then every
// call fails.
func TestNonceSourceExhaustion(t *testing.T) {
	for _, size := range []int{9, 11, 12, 16} {
		ns, err := NewNonceSource(size)
		if err != nil {
			t.Fatal(err)
		}
		ns.next = ns.last - 1
		a, err1 := ns.Next()
		b, err2 := ns.Next()
		if err1 != nil || err2 != nil || bytes.Equal(a, b) {
			t.Fatalf("size %d: last two nonces %x %x %v %v", size, a, b, err1, err2)
		}
		if !bytes.Equal(b[8:], bytes.Repeat([]byte{0xff}, size-8)) {
			t.Fatalf("size %d: last nonce %x", size, b)
		}
		for i := 0; i < 3; i++ {
			if n, err := ns.Next(); !errors.Is(err, ErrNonceExhausted) || n != nil {
				t.Fatalf("size %d: after exhaustion got %x, %v", size, n, err)
			}
		}
	}
	// The full 2^8 space of a 9-byte nonce, counted out.
	ns, _ := NewNonceSource(9)
	seen := map[byte]bool{}
	for {
		n, err := ns.Next()
		if err != nil {
			break
		}
		seen[n[8]] = true
	}
	if len(seen) != 256 {
		t.Fatalf("9-byte source gave %d nonces", len(seen))
	}
}

func TestNewNonceSourceRejects(t *testing.T) {
	for _, size := range []int{-1, 0, 8, 17, 100} {
		if _, err := NewNonceSource(size); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
}
