package spnego

import (
	"bytes"
	"encoding/asn1"
	"testing"
)

func FuzzSPNEGO(f *testing.F) {
	f.Add(MarshalNegTokenInit([]asn1.ObjectIdentifier{OIDKerberos, OIDNTLMSSP}, []byte("tok"), []byte("mic")))
	f.Add(MarshalNegTokenInit2([]asn1.ObjectIdentifier{OIDNTLMSSP}, HintName))
	f.Add((&NegTokenResp{NegState: 1, SupportedMech: OIDNTLMSSP, ResponseToken: []byte("x"), MechListMIC: []byte("y")}).Marshal())
	f.Add((&NegTokenResp{NegState: StateReject}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		if init, err := ParseInitialContextToken(b); err == nil {
			if len(init.MechTypes) == 0 || !bytes.Contains(b, init.MechTypesDER) {
				t.Fatal("mechTypes not kept")
			}
		}
		r, err := ParseNegTokenResp(b)
		if err != nil {
			return
		}
		// DER is canonical: a parsed token re-encodes to the same bytes.
		if out := r.Marshal(); !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, out)
		}
	})
}
