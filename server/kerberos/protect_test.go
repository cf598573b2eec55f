package kerberos

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/oiweiwei/go-msrpc/ssp/krb5/crypto"
	krbcrypto "github.com/oiweiwei/gokrb5.fork/v9/crypto"
	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
	"github.com/oiweiwei/gokrb5.fork/v9/types"
)

// establishedContext is a context as a DCE-style exchange leaves it.
func establishedContext(t *testing.T, keyType int32, acceptorSub bool) *Context {
	t.Helper()
	et, err := krbcrypto.GetEtype(keyType)
	if err != nil {
		t.Fatal(err)
	}
	k := make([]byte, et.GetKeyByteSize())
	rand.Read(k)
	return &Context{state: stateDone, contextKey: types.EncryptionKey{KeyType: keyType, KeyValue: k},
		acceptorSub: acceptorSub, dceStyle: true, initiatorSeq: 7, acceptorSeq: 1000}
}

// initiator is go-msrpc's initiator side of the same context.
func initiator(t *testing.T, c *Context, local bool) crypto.Cipher {
	t.Helper()
	et, _ := krbcrypto.GetEtype(c.contextKey.KeyType)
	ci, err := crypto.NewCipher(context.Background(), crypto.CipherSetting{Type: et, Key: c.contextKey,
		IsSubKey: c.acceptorSub, IsLocal: local, DCEStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

// TestProtectionWithInitiator: the acceptor's per-message protection
// verifies and unseals what go-msrpc's initiator signs and seals, with and
// without header signing, for AES and RC4 keys; the initiator verifies
// and unseals the acceptor's tokens. A replayed or changed PDU is refused.
func TestProtectionWithInitiator(t *testing.T) {
	ctx := context.Background()
	for _, kt := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.RC4_HMAC} {
		for _, seal := range []bool{false, true} {
			for _, hs := range []bool{false, true} {
				t.Run(fmt.Sprintf("etype=%d/seal=%v/headersign=%v", kt, seal, hs), func(t *testing.T) {
					c := establishedContext(t, kt, kt != etypeID.RC4_HMAC)
					p, err := c.Protection()
					if err != nil {
						t.Fatal(err)
					}
					out, in := initiator(t, c, true), initiator(t, c, false)
					header, trailer := bytes.Repeat([]byte{0x05}, 24), []byte{16, 6, 0, 0, 1, 0, 0, 0}
					// Inbound: three PDUs from the initiator.
					var sigs [][]byte
					var bodies [][]byte
					for i := 0; i < 3; i++ {
						plain := bytes.Repeat([]byte{byte(i), 0xee}, 24+i*8)
						body := bytes.Clone(plain)
						var sig []byte
						if seal {
							sig, err = out.WrapEx(ctx, c.initiatorSeq+uint64(i), segments(header, body, trailer, hs), [][]byte{body})
						} else {
							sig, err = out.MakeSignature(ctx, c.initiatorSeq+uint64(i), segments(header, body, trailer, hs))
						}
						if err != nil {
							t.Fatal(err)
						}
						sigs, bodies = append(sigs, sig), append(bodies, bytes.Clone(body))
						if seal {
							err = p.Unseal(header, body, trailer, sig, hs)
						} else {
							err = p.Verify(header, body, trailer, sig, hs)
						}
						if err != nil || !bytes.Equal(body, plain) {
							t.Fatalf("PDU %d: %v (plaintext back %v)", i, err, bytes.Equal(body, plain))
						}
					}
					// The first PDU again (a replay) does not pass.
					body := bytes.Clone(bodies[0])
					if seal {
						err = p.Unseal(header, body, trailer, sigs[0], hs)
					} else {
						err = p.Verify(header, body, trailer, sigs[0], hs)
					}
					if err == nil {
						t.Fatal("a replayed PDU passed")
					}
					// A changed PDU at the right sequence number does not pass.
					c2 := establishedContext(t, kt, kt != etypeID.RC4_HMAC)
					p2, _ := c2.Protection()
					out2 := initiator(t, c2, true)
					plain := bytes.Repeat([]byte{0x42}, 40)
					body = bytes.Clone(plain)
					var sig []byte
					if seal {
						sig, _ = out2.WrapEx(ctx, c2.initiatorSeq, segments(header, body, trailer, hs), [][]byte{body})
					} else {
						sig, _ = out2.MakeSignature(ctx, c2.initiatorSeq, segments(header, body, trailer, hs))
					}
					body[3] ^= 1
					if seal {
						err = p2.Unseal(header, body, trailer, sig, hs)
					} else {
						err = p2.Verify(header, body, trailer, sig, hs)
					}
					if err == nil {
						t.Fatal("a changed PDU passed")
					}
					// Outbound: the initiator checks the acceptor's tokens.
					for i := 0; i < 2; i++ {
						plain := bytes.Repeat([]byte{0x33, byte(i)}, 32)
						body := bytes.Clone(plain)
						if seal {
							sig, err = p.Seal(header, body, trailer, hs)
						} else {
							sig, err = p.Sign(header, body, trailer, hs)
						}
						if err != nil || len(sig) != p.SignatureSize(seal) {
							t.Fatalf("outbound %d: %v, %d bytes, announced %d", i, err, len(sig), p.SignatureSize(seal))
						}
						seq := c.acceptorSeq + uint64(i)
						if seal {
							ok, err := in.UnwrapEx(ctx, seq, segments(header, body, trailer, hs), [][]byte{body}, bytes.Clone(sig))
							if err != nil || !ok || !bytes.Equal(body, plain) {
								t.Fatalf("initiator unwrap %d: %v %v", i, ok, err)
							}
						} else {
							want, _ := in.MakeSignature(ctx, seq, segments(header, body, trailer, hs))
							if !bytes.Equal(want, sig) {
								t.Fatalf("initiator MIC check %d failed", i)
							}
						}
					}
				})
			}
		}
	}
}

// TestProtectionHostileVerifiers: verifiers of any length and content are
// refused without a panic.
func TestProtectionHostileVerifiers(t *testing.T) {
	for _, kt := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.RC4_HMAC} {
		for n := 0; n < 200; n++ {
			c := establishedContext(t, kt, true)
			p, _ := c.Protection()
			v := make([]byte, n%120)
			rand.Read(v)
			if n%3 == 0 && len(v) > 8 {
				copy(v, []byte{0x05, 0x04, 0x06, 0xff, 0, 16, 0, 28})
			}
			if n%5 == 0 && len(v) > 20 {
				copy(v, []byte{0x60, byte(len(v)), 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x02, 0x01})
			}
			body := make([]byte, n%50)
			if p.Unseal(nil, body, nil, v, false) == nil || p.Verify(nil, body, nil, v, false) == nil {
				t.Fatalf("a random verifier of %d bytes passed", len(v))
			}
		}
	}
}

// BenchmarkProtection is the acceptor's cost per PDU of 4 KiB: verifying
// or unsealing a request, and signing or sealing a response.
func BenchmarkProtection(b *testing.B) {
	ctx := context.Background()
	header, trailer := bytes.Repeat([]byte{0x05}, 24), []byte{16, 6, 0, 0, 1, 0, 0, 0}
	for _, kt := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.RC4_HMAC} {
		for _, seal := range []bool{false, true} {
			b.Run(fmt.Sprintf("etype=%d/seal=%v", kt, seal), func(b *testing.B) {
				t := &testing.T{}
				c := establishedContext(t, kt, kt != etypeID.RC4_HMAC)
				p, _ := c.Protection()
				out := initiator(t, c, true)
				plain := bytes.Repeat([]byte{0xab}, 4096)
				body := make([]byte, len(plain))
				b.SetBytes(int64(2 * len(plain)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					copy(body, plain)
					seq := c.initiatorSeq + uint64(i)
					var sig []byte
					if seal {
						sig, _ = out.WrapEx(ctx, seq, segments(header, body, trailer, true), [][]byte{body})
					} else {
						sig, _ = out.MakeSignature(ctx, seq, segments(header, body, trailer, true))
					}
					b.StartTimer()
					var err error
					if seal {
						err = p.Unseal(header, body, trailer, sig, true)
						_, _ = p.Seal(header, body, trailer, true)
					} else {
						err = p.Verify(header, body, trailer, sig, true)
						_, _ = p.Sign(header, body, trailer, true)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
