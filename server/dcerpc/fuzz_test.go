package dcerpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/ndr"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"

	"github.com/wkssvcd/wkssvcd/server/budget"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

func pduSeeds() [][]byte {
	ts := testSyntax()
	return [][]byte{
		ndrBind(1),
		buildBind(ptBind, 1, 4096, 4096, []contextElem{{0, ts, []syntaxID{ndr20Syntax}}, {1, ts, []syntaxID{ndr64Syntax}}, {2, ts, []syntaxID{featureSyntax}}}),
		buildBind(ptAlterContext, 2, 4280, 4280, []contextElem{{1, ts, []syntaxID{ndr20Syntax}}}),
		buildRequest(2, 3, 0, opEcho, echoStub([]byte("hello"))),
		buildRequest(3, pfcFirstFrag, 0, opEcho, []byte{5, 0, 0, 0, 'a'}),
		buildRequest(3, pfcLastFrag, 0, opEcho, []byte("bcde")),
		buildRequest(4, 3, 0, opFillOutput, []byte{0x10, 0x27, 0, 0}),
		buildRequest(5, 3, 7, opEcho, nil),
		buildSimple(ptCoCancel, 2),
		buildSimple(ptOrphaned, 3),
		buildSimple(ptAuth3, 4),
		encodeFault(1, 0, 0, StatusProtocolError),
		{5, 0, 0, 3, 0x10, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0},
		// NDR64 (MS-RPCE 2.2.5): a context negotiated with it, calls on
		// it whole and fragmented, and one with a big-endian drep.
		buildBind(ptAlterContext, 6, 4280, 4280, []contextElem{{1, ts, []syntaxID{ndr64Syntax}}}),
		buildRequest(7, 3, 1, opEcho, echoStub([]byte("ndr64"))),
		buildRequest(8, pfcFirstFrag, 1, opEcho, []byte{8, 0, 0, 0, 'n', 'd'}),
		buildRequest(8, pfcLastFrag, 1, opEcho, []byte("r64!!!")),
		buildRequest(9, 3, 1, opFillOutput, []byte{0x10, 0x27, 0, 0}),
		bigEndian(buildRequest(10, 3, 1, opEcho, echoStub([]byte("x")))),
	}
}

func FuzzParsePDU(f *testing.F) {
	for _, s := range pduSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := peekFragLength(b)
		if ok && n <= len(b) && n >= 0 {
			b = b[:n]
		}
		p, err := parsePDU(b)
		if err != nil {
			return
		}
		if len(p.body) > len(b) {
			t.Fatalf("body %d longer than the PDU %d", len(p.body), len(b))
		}
		switch p.Type {
		case ptBind, ptAlterContext:
			if bb, err := parseBind(p); err == nil && len(bb.Contexts) > 255 {
				t.Fatalf("%d contexts", len(bb.Contexts))
			}
		case ptRequest:
			if q, err := parseRequest(p); err == nil && len(q.Stub) > len(p.body) {
				t.Fatal("stub longer than the body")
			}
		}
	})
}

// bigEndian turns a little-endian request PDU into a big-endian one:
// drep[0] = 0 and the header and request fields byte-swapped (C706 12.6.3.1).
func bigEndian(b []byte) []byte {
	b = append([]byte(nil), b...)
	b[4] = 0
	for _, f := range [][2]int{{8, 2}, {10, 2}, {12, 4}, {16, 4}, {20, 2}, {22, 2}} {
		slices.Reverse(b[f[0] : f[0]+f[1]])
	}
	return b
}

// fuzzHandle is the test interface without the blocking opnum.
func fuzzHandle() msrpc.ServerHandle {
	h := testHandle(nil)
	return func(ctx context.Context, opnum int, r ndr.Reader) (msrpc.Operation, error) {
		if opnum == opBlock {
			return nil, nil
		}
		return h(ctx, opnum, r)
	}
}

// waitIdle waits until every queued item has been processed; false
// means the association made no progress for a long time (a hang).
func waitIdle(a *assoc) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		idle := (len(a.items) == 0 && a.running == nil) || a.closed || a.workerDone
		a.mu.Unlock()
		if idle {
			return true
		}
		time.Sleep(50 * time.Microsecond)
	}
	return false
}

// FuzzAssociation feeds arbitrary bytes to a bound association and checks
// that it answers only well-formed PDUs, shuts down cleanly and gives
// back every byte it charged to its budget (a small one, so that the
// refusals are reached too).
func FuzzAssociation(f *testing.F) {
	seeds := pduSeeds()
	for i := 2; i < len(seeds); i++ {
		f.Add(seeds[i], uint16(7))
	}
	f.Add(append(append([]byte{}, seeds[4]...), seeds[5]...), uint16(3))
	// NDR64: the alter_context and then its calls, in one stream.
	ndr64 := seeds[len(seeds)-6:]
	f.Add(bytes.Join(ndr64, nil), uint16(len(ndr64[0])))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		s := NewServer(Config{Logger: quiet(), MaxReassembly: 1 << 16})
		s.Register("test", Interface{Name: "test", UUID: testUUID, VersionMajor: 1, VersionMinor: 2, Handle: fuzzHandle()})
		b := budget.New(16<<10, nil)
		p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test", Budget: b})
		if err != nil {
			t.Fatal(err)
		}
		a := p.(*assoc)
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			for {
				m, err := a.ReadMessage(context.Background())
				if err != nil {
					if !errors.Is(err, ipc.ErrPipeClosed) {
						t.Errorf("ReadMessage: %v", err)
					}
					return
				}
				if _, err := parsePDU(m); err != nil {
					t.Errorf("server sent a malformed PDU: %v", err)
				}
				if n := binary.LittleEndian.Uint16(m[8:]); int(n) > 4280 {
					t.Errorf("fragment of %d bytes", n)
				}
			}
		}()
		if err := a.Write(context.Background(), ndrBind(1)); err != nil {
			t.Fatal(err)
		}
		cut := int(split) % (len(data) + 1)
		for _, part := range [][]byte{data[:cut], data[cut:]} {
			if err := a.Write(context.Background(), part); err != nil &&
				!errors.Is(err, ipc.ErrPipeClosed) && !errors.Is(err, ipc.ErrPipeBusy) {
				t.Fatalf("Write: %v", err)
			}
		}
		if !waitIdle(a) {
			t.Fatal("association did not finish its queued work")
		}
		a.Close()
		<-a.done
		<-readerDone
		if b.Used() != 0 {
			t.Fatalf("%d bytes left in the budget after Close", b.Used())
		}
	})
}
