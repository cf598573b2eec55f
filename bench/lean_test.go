package bench

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The lean generator establishes a session through the raw client and
// then makes pre-encoded calls that the product's server answers, signed
// and sealed, over WRITE+READ and over TRANSCEIVE.
func TestLeanCallsInProcess(t *testing.T) {
	tgt := startInProcess(t)
	for _, seal := range []bool{false, true} {
		for _, io := range []PipeIO{WriteRead, Transceive} {
			for _, blocking := range []bool{false, true} {
				t.Run(fmt.Sprintf("seal=%v/%v/blocking=%v", seal, io, blocking), func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					c, err := DialLean(ctx, tgt, LeanOptions{Seal: seal, IO: io, Blocking: blocking})
					if err != nil {
						t.Fatal(err)
					}
					for i := range 200 {
						if err := c.GetInfo(ctx); err != nil {
							t.Fatalf("call %d: %v", i, err)
						}
					}
					if err := c.Close(ctx); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

// A wrong password is a failed establishment, not a hang.
func TestLeanWrongPassword(t *testing.T) {
	tgt := startInProcess(t)
	tgt.Password = "wrong"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c, err := DialLean(ctx, tgt, LeanOptions{}); err == nil {
		c.Close(ctx)
		t.Fatal("logged on with a wrong password")
	}
}

// BenchmarkLeanGetInfo is NetrWkstaGetInfo(100) from the lean generator
// against the in-process server, one connection, one call at a time.
func BenchmarkLeanGetInfo(b *testing.B) {
	tgt := startInProcess(b)
	for _, seal := range []bool{false, true} {
		for _, io := range []PipeIO{WriteRead, Transceive} {
			name := "signed"
			if seal {
				name = "sealed"
			}
			b.Run(name+"/"+io.String(), func(b *testing.B) {
				ctx := context.Background()
				c, err := DialLean(ctx, tgt, LeanOptions{Seal: seal, IO: io, Blocking: true})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close(ctx)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := c.GetInfo(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
