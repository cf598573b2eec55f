package kerberos

import (
	"testing"

	"github.com/oiweiwei/gokrb5.fork/v9/iana/etypeID"
)

// FuzzAccept feeds arbitrary first and second tokens to a context whose
// keys are fixed: nothing may panic, and nothing but a verified AP-REQ may
// finish the exchange.
func FuzzAccept(f *testing.F) {
	f.Add([]byte{0x60, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}, []byte{})
	f.Add(gssFrame(tokIDAPReq, []byte{0x6e, 0x03, 0x30, 0x01, 0x00}), []byte{0x6f, 0x00})
	f.Add([]byte{0x6e, 0x82, 0xff, 0xff}, []byte(nil))
	keys := StaticKeys{Realm: "EXAMPLE.TEST", Account: "WKHOST$", Keys: []Key{
		{KVNO: 1, EType: etypeID.AES256_CTS_HMAC_SHA1_96, Value: make([]byte, 32)},
		{KVNO: 1, EType: etypeID.RC4_HMAC, Value: make([]byte, 16)},
	}}
	m := NewMechanism(Config{Keys: keys})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		c := m.NewKerberosContext()
		_, done, err := c.Accept(first)
		if done || err == nil {
			t.Fatalf("an unverifiable token finished or continued the exchange: done=%v", done)
		}
		if _, _, err := c.Accept(second); err == nil {
			t.Fatal("accepted after a failure")
		}
		if c.SessionKey() != nil || c.Identity().User != "" {
			t.Fatal("state after failure")
		}
	})
}
