package ntlm

import (
	"bytes"
	"crypto/rand"
	"crypto/rc4"
	"testing"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// clientProtection is the initiator's side of the same keys: outbound
// with the client-to-server keys, inbound with the server-to-client ones.
func clientProtection(k sessionKeys) *protection {
	out, _ := rc4.NewCipher(k.clientSeal)
	in, _ := rc4.NewCipher(k.serverSeal)
	ck := k
	ck.serverSign, ck.clientSign = k.clientSign, k.serverSign
	return &protection{keys: ck, in: in, out: out}
}

func established(t testing.TB) (*Context, sessionKeys) {
	key := make([]byte, 16)
	rand.Read(key)
	flags := uint32(flagExtendedSessionSecurity | flagKeyExch | flag128 | flagSign | flagSeal)
	c := &Context{state: stateDone, sessionKey: key, negFlags: flags, identity: ipc.Identity{User: "alice"}}
	return c, deriveKeys(flags, key)
}

// TestProtectionRoundTrip: what the client signs or seals the acceptor
// verifies or unseals, and back; a replay or a changed byte is refused.
func TestProtectionRoundTrip(t *testing.T) {
	hdr, tr := bytes.Repeat([]byte{5}, 24), []byte{10, 6, 0, 0, 1, 0, 0, 0}
	for _, seal := range []bool{false, true} {
		c, k := established(t)
		p, err := c.Protection()
		if err != nil {
			t.Fatal(err)
		}
		srv, cl := p.(*protection), clientProtection(k)
		var sigs [][]byte
		var bodies [][]byte
		for i := 0; i < 3; i++ {
			plain := bytes.Repeat([]byte{byte(i)}, 40)
			body := bytes.Clone(plain)
			var sig []byte
			if seal {
				sig, _ = cl.Seal(hdr, body, tr, true)
			} else {
				sig, _ = cl.Sign(hdr, body, tr, true)
			}
			sigs, bodies = append(sigs, sig), append(bodies, bytes.Clone(body))
			if seal {
				err = srv.Unseal(hdr, body, tr, sig, true)
			} else {
				err = srv.Verify(hdr, body, tr, sig, true)
			}
			if err != nil || !bytes.Equal(body, plain) {
				t.Fatalf("seal=%v PDU %d: %v", seal, i, err)
			}
			// And back.
			resp := bytes.Clone(plain)
			if seal {
				sig, _ = srv.Seal(hdr, resp, tr, true)
				err = cl.Unseal(hdr, resp, tr, sig, true)
			} else {
				sig, _ = srv.Sign(hdr, resp, tr, true)
				err = cl.Verify(hdr, resp, tr, sig, true)
			}
			if err != nil || !bytes.Equal(resp, plain) {
				t.Fatalf("seal=%v response %d: %v", seal, i, err)
			}
		}
		if !seal {
			// A replay of the first PDU.
			if srv.Verify(hdr, bodies[0], tr, sigs[0], true) == nil {
				t.Fatal("a replayed PDU verified")
			}
		}
		// A changed byte.
		c2, k2 := established(t)
		p2, _ := c2.Protection()
		body := bytes.Repeat([]byte{9}, 40)
		var sig []byte
		if seal {
			sig, _ = clientProtection(k2).Seal(hdr, body, tr, true)
		} else {
			sig, _ = clientProtection(k2).Sign(hdr, body, tr, true)
		}
		body[7] ^= 1
		if seal {
			err = p2.Unseal(hdr, body, tr, sig, true)
		} else {
			err = p2.Verify(hdr, body, tr, sig, true)
		}
		if err == nil {
			t.Fatalf("seal=%v: a changed PDU passed", seal)
		}
	}
}

// BenchmarkProtection is the acceptor's cost per 4 KiB request and
// response: verify or unseal one, sign or seal the other.
func BenchmarkProtection(b *testing.B) {
	hdr, tr := bytes.Repeat([]byte{5}, 24), []byte{10, 6, 0, 0, 1, 0, 0, 0}
	for _, seal := range []bool{false, true} {
		name := "sign"
		if seal {
			name = "seal"
		}
		b.Run(name, func(b *testing.B) {
			c, k := established(b)
			p, _ := c.Protection()
			cl := clientProtection(k)
			plain := bytes.Repeat([]byte{0xab}, 4096)
			body := make([]byte, len(plain))
			b.SetBytes(int64(2 * len(plain)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				copy(body, plain)
				var sig []byte
				if seal {
					sig, _ = cl.Seal(hdr, body, tr, true)
				} else {
					sig, _ = cl.Sign(hdr, body, tr, true)
				}
				b.StartTimer()
				var err error
				if seal {
					err = p.Unseal(hdr, body, tr, sig, true)
					_, _ = p.Seal(hdr, body, tr, true)
				} else {
					err = p.Verify(hdr, body, tr, sig, true)
					_, _ = p.Sign(hdr, body, tr, true)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
