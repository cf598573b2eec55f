package dcerpc

import (
	"context"
	"testing"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Benchmarks of the runtime on one call, with allocation counts: a
// regression shows in a diff of their output.

func BenchmarkPDU(b *testing.B) {
	req := buildRequest(2, pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub(make([]byte, 120)))
	b.Run("parse request", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			p, err := parsePDU(req)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := parseRequest(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	stub := make([]byte, 120)
	b.Run("encode response", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			encodeResponse(2, pfcFirstFrag|pfcLastFrag, uint32(len(stub)), 0, stub)
		}
	})
}

// BenchmarkCall is one call through a bound pipe: Write of the request,
// then the response taken as the SMB front takes it (TryReadMessage,
// else ReadMessage). "inline" runs on the writer's goroutine, "worker" on
// the pipe's worker; "fast" is answered by a Fast handler.
func BenchmarkCall(b *testing.B) {
	fast := func(_ context.Context, opnum uint16, stub []byte) ([]byte, bool) {
		return stub[4:], opnum == opEcho
	}
	for _, tc := range []struct {
		name   string
		inline bool
		fast   bool
	}{{"worker", false, false}, {"inline", true, false}, {"inline fast", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			s := NewServer(Config{Logger: quiet()})
			iface := testInterface(nil)
			if tc.inline {
				iface.Inline = func(c Call) bool { return c.Opnum == opEcho }
			}
			if tc.fast {
				iface.Fast = fast
			}
			s.Register("test", iface)
			p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test"})
			if err != nil {
				b.Fatal(err)
			}
			a := p.(*assoc)
			defer func() { a.Close(); <-a.done }()
			write(b, a, ndrBind(1))
			read(b, a)
			ctx := context.Background()
			reqs := make([][]byte, 256)
			for i := range reqs {
				reqs[i] = buildRequest(uint32(2+i), pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub(make([]byte, 120)))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%len(reqs) == 0 && i > 0 {
					// call_ids must increase: start a new run of them.
					b.StopTimer()
					for j := range reqs {
						reqs[j] = buildRequest(uint32(2+i+j), pfcFirstFrag|pfcLastFrag, 0, opEcho, echoStub(make([]byte, 120)))
					}
					b.StartTimer()
				}
				if err := a.Write(ctx, reqs[i%len(reqs)]); err != nil {
					b.Fatal(err)
				}
				if _, ok, err := a.TryReadMessage(); err != nil {
					b.Fatal(err)
				} else if !ok {
					if _, err := a.ReadMessage(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
