package dcerpc

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// tryRead polls TryReadMessage until a message is queued; the deadline is a
// hang guard, not a timing assertion.
func tryRead(t *testing.T, a *assoc) *pdu {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); runtime.Gosched() {
		m, ok, err := a.TryReadMessage()
		if err != nil {
			t.Fatalf("TryReadMessage: %v", err)
		}
		if ok {
			p, err := parsePDU(m)
			if err != nil {
				t.Fatalf("server sent a malformed PDU: %v", err)
			}
			return p
		}
	}
	t.Fatal("no message queued")
	return nil
}

func TestTryReadMessage(t *testing.T) {
	a := newTestPipe(t, Config{}, nil)
	if m, ok, err := a.TryReadMessage(); m != nil || ok || err != nil {
		t.Fatalf("empty pipe: %x %v %v", m, ok, err)
	}
	write(t, a, ndrBind(1))
	if p := tryRead(t, a); p.Type != ptBindAck {
		t.Fatalf("bind answered with type %d", p.Type)
	}
	// Calls answered in order, whichever way they are read.
	write(t, a, buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, 0, echoStub([]byte("one"))))
	write(t, a, buildRequest(3, pfcFirstFrag|pfcLastFrag, 0, 0, echoStub([]byte("two"))))
	if p := tryRead(t, a); p.Type != ptResponse || p.CallID != 2 {
		t.Fatalf("first response: type %d call %d", p.Type, p.CallID)
	}
	if p := read(t, a); p.Type != ptResponse || p.CallID != 3 {
		t.Fatalf("second response: type %d call %d", p.Type, p.CallID)
	}
	// A closed pipe with nothing queued reports ErrPipeClosed.
	a.Close()
	if _, ok, err := a.TryReadMessage(); ok || !errors.Is(err, ipc.ErrPipeClosed) {
		t.Fatalf("after Close: %v %v", ok, err)
	}
}
