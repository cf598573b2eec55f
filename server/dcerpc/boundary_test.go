package dcerpc

import (
	"bytes"
	"testing"
)

// TestReassemblyCapBoundary: with MaxReassembly = 100, a request whose stub
// is exactly 100 bytes is served, whether it comes in one fragment or in
// two; one byte more is refused with a fault (MS-RPCE 3.3.3.5.4), in one
// fragment or in two, and the association keeps serving.
func TestReassemblyCapBoundary(t *testing.T) {
	a := bound(t, Config{MaxReassembly: 100}, nil)
	payload := bytes.Repeat([]byte{0x5A}, 96)
	stub := echoStub(payload) // 4 + 96 = 100 bytes: at the cap
	if len(stub) != 100 {
		t.Fatalf("stub %d bytes", len(stub))
	}
	echoed := func(callID uint32) {
		t.Helper()
		out, _ := readResponse(t, a, callID)
		if !bytes.Equal(out, payload) {
			t.Fatalf("call %d at the cap: got %d bytes, want the 96-byte payload", callID, len(out))
		}
	}
	refused := func(callID uint32) {
		t.Helper()
		p := read(t, a)
		if p.CallID != callID || faultStatus(t, p) != StatusInputTooLarge {
			t.Fatalf("call %d over the cap: type %d call %d", callID, p.Type, p.CallID)
		}
	}
	// One fragment of 100 bytes, then of 101.
	write(t, a, buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, opEcho, stub))
	echoed(2)
	write(t, a, buildRequest(3, pfcFirstFrag|pfcLastFrag, 0, opEcho, append(append([]byte(nil), stub...), 0)))
	refused(3)
	// Two fragments adding up to 100, then to 101.
	write(t, a, buildRequest(4, pfcFirstFrag, 0, opEcho, stub[:60]))
	write(t, a, buildRequest(4, pfcLastFrag, 0, opEcho, stub[60:]))
	echoed(4)
	write(t, a, buildRequest(5, pfcFirstFrag, 0, opEcho, stub[:60]))
	write(t, a, buildRequest(5, 0, 0, opEcho, append(append([]byte(nil), stub[60:]...), 0)))
	refused(5)
	write(t, a, buildRequest(5, pfcLastFrag, 0, opEcho, []byte{0}))
	// The association still serves at the cap.
	write(t, a, buildRequest(6, pfcFirstFrag|pfcLastFrag, 0, opEcho, stub))
	echoed(6)
}
