package bench

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/ntlm"
	"github.com/wkssvcd/wkssvcd/server/smb2"
	"github.com/wkssvcd/wkssvcd/wkssvc"
)

// The benchmarks below run the product's server in-process, composed as
// cmd/wkssvcd composes it (SMB front, NTLM acceptor, DCE/RPC runtime,
// wkssvc adapter), on 127.0.0.1 at a free port, and drive it with the same
// go-msrpc client as wkload. go-msrpc's dcerpc.WithSMBPort lets the client
// use that port, so neither root nor port 445 is needed. They run only
// with -bench:
//
//	go test -run '^$' -bench . ./bench/
//	go test -run '^$' -bench GetInfoSMB311$ -cpuprofile cpu.out ./bench/ && go tool pprof -top bench.test cpu.out

const (
	benchUser = "admin"
	benchPass = "Bench-Pw1"
)

// startInProcess serves wkssvc on a loopback port until the benchmark ends.
func startInProcess(b testing.TB) Target {
	b.Helper()
	auth := ntlm.NewAuthenticator(ntlm.Config{
		NetBIOSComputer: "BENCHHOST",
		NetBIOSDomain:   "BENCHHOST",
		DNSComputer:     "benchhost.example.test",
		Accounts:        ntlm.StaticAccounts{{Name: benchUser, NTHash: ntlm.NTHash(benchPass), Admin: true}},
	})
	rpc := dcerpc.NewServer(dcerpc.Config{})
	rpc.Register("wkssvc", wkssvc.Interfaces(wkssvc.New(wkssvc.Config{Names: ipc.StaticNames{NetBIOS: "BENCHHOST"}}))...)
	srv, err := smb2.NewServer(smb2.Config{Auth: auth, Pipes: rpc})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("no loopback listener: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			b.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil && !errors.Is(err, smb2.ErrServerClosed) {
			b.Errorf("serve: %v", err)
		}
	})
	return Target{Name: "in-process", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, User: benchUser, Password: benchPass}
}

func dialBench(b *testing.B, ctx context.Context, t Target) *Client {
	b.Helper()
	c, err := Dial(ctx, t)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// BenchmarkGetInfoSMB311 is NetrWkstaGetInfo level 100 over one signed
// SMB 3.1.1 connection, one call at a time.
func BenchmarkGetInfoSMB311(b *testing.B) {
	t := startInProcess(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := dialBench(b, ctx, t)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := c.GetInfo(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	s := Summarize(lat, 0, 0)
	b.ReportMetric(float64(s.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(s.P99.Microseconds()), "p99-µs")
}

// BenchmarkGetInfoSMB311Parallel is the same call with GOMAXPROCS
// goroutines (times -cpu), each on its own connection.
func BenchmarkGetInfoSMB311Parallel(b *testing.B) {
	t := startInProcess(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c, err := Dial(ctx, t)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close(context.Background())
		for pb.Next() {
			if err := c.GetInfo(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkConnectSMB311 is one connection establishment: negotiate,
// session setup (NTLM), tree connect, create of \PIPE\wkssvc and bind;
// the close is not timed.
func BenchmarkConnectSMB311(b *testing.B) {
	t := startInProcess(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c, err := Dial(ctx, t)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c.Close(ctx)
		b.StartTimer()
	}
}
