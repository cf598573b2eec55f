package dcerpc

import (
	"context"
	"encoding/binary"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"
	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/internal/smbprobe"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// A size label may count as many one-byte elements as bytes are left
// after it, not one more.
func TestStubReaderBoundsByBytesLeft(t *testing.T) {
	for _, tc := range []struct {
		count uint32
		data  int
		ok    bool
	}{
		{10, 10, true},  // exactly the bytes left
		{11, 10, false}, // one past
		{0, 0, true},    // empty
		{10, 100, true}, // fewer than left
		{101, 100, false},
	} {
		stub := binary.LittleEndian.AppendUint32(nil, tc.count)
		stub = append(stub, make([]byte, tc.data)...)
		var n uint64
		err := NewStubReader(stub, nil).ReadSize(&n)
		if (err == nil) != tc.ok {
			t.Errorf("count %d with %d bytes left: %v", tc.count, tc.data, err)
		}
	}
	// Bytes already consumed do not count as left.
	stub := binary.LittleEndian.AppendUint32(make([]byte, 100), 10)
	r := NewStubReader(append(stub, make([]byte, 9)...), nil)
	for i := 0; i < 25; i++ {
		var skip uint32
		if err := r.ReadData(&skip); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := r.ReadSize(&n); err == nil {
		t.Fatal("a count of 10 with 9 bytes left after 100 consumed was accepted")
	}
}

// userEnum decodes a NetrWkstaUserEnum request stub as the runtime does,
// with go-msrpc's generated decoder, and returns what the decode
// allocated.
func userEnumAlloc(t *testing.T, stub []byte) (uint64, error) {
	t.Helper()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	_, err := wkst.WkssvcServerHandle(context.Background(), wkst.UnimplementedWkssvcServer{}, 2, NewStubReader(stub, nil))
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc, err
}

// The amplification shapes: a count of a million in a small stub is
// refused before the array is allocated; a stub of the largest default
// size filled with non-null element pointers makes the decoder allocate
// in proportion to the bytes it reads, not to the count it claims.
func TestDecodeAmplificationBounded(t *testing.T) {
	alloc, err := userEnumAlloc(t, smbprobe.UserEnumAmplification(1000000, 0))
	if err == nil || alloc > 64<<10 {
		t.Fatalf("a million claimed entries: %v, %d bytes allocated", err, alloc)
	}
	max := (DefaultMaxReassembly - 28) / 4
	for _, count := range []uint32{uint32(max), 1000000} {
		stub := smbprobe.UserEnumAmplification(count, uint32(max))
		alloc, err := userEnumAlloc(t, stub)
		t.Logf("%d-byte stub claiming %d entries: %d bytes allocated (%.0f per stub byte)", len(stub), count, alloc, float64(alloc)/float64(len(stub)))
		if err == nil {
			t.Fatal("a truncated stub decoded")
		}
		// About 90 bytes per stub byte (go-msrpc keeps a closure and a
		// map entry per referent): at most 2 MiB for the largest stub.
		if alloc > 2<<20 {
			t.Fatalf("%d bytes allocated decoding %d bytes", alloc, len(stub))
		}
	}
}

// At most MaxDecodes calls run their Handle at once; a handler that calls
// DecodeDone frees its slot for the next call while it goes on.
func TestMaxDecodes(t *testing.T) {
	entered := make(chan int, 4)
	release := make(chan struct{})
	handle := func(ctx context.Context, opnum int, r ndr.Reader) (msrpc.Operation, error) {
		entered <- opnum
		if opnum == 1 {
			DecodeDone(ctx)
		}
		<-release
		return &testOp{}, nil
	}
	s := NewServer(Config{MaxDecodes: 1, Logger: quiet()})
	s.Register("test", Interface{Name: "test", UUID: testUUID, VersionMajor: 1, VersionMinor: 2, Handle: handle})
	var pipes []*assoc
	for i := 0; i < 3; i++ {
		p, err := s.OpenPipe(context.Background(), ipc.OpenInfo{Pipe: "test"})
		if err != nil {
			t.Fatal(err)
		}
		a := p.(*assoc)
		t.Cleanup(func() { a.Close(); <-a.done })
		write(t, a, ndrBind(1))
		read(t, a)
		pipes = append(pipes, a)
	}
	wait := func(want int) {
		t.Helper()
		select {
		case got := <-entered:
			if got != want {
				t.Fatalf("opnum %d entered, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("opnum %d never entered", want)
		}
	}
	quiet := func() {
		t.Helper()
		select {
		case got := <-entered:
			t.Fatalf("opnum %d entered while the slot was taken", got)
		case <-time.After(200 * time.Millisecond):
		}
	}
	write(t, pipes[0], buildRequest(2, 3, 0, 0, nil)) // holds the slot
	wait(0)
	write(t, pipes[1], buildRequest(2, 3, 0, 2, nil))
	quiet()
	release <- struct{}{} // opnum 0 returns: opnum 2 gets the slot
	wait(2)
	release <- struct{}{}
	write(t, pipes[2], buildRequest(2, 3, 0, 1, nil)) // calls DecodeDone
	wait(1)
	write(t, pipes[0], buildRequest(3, 3, 0, 0, nil))
	wait(0) // entered although opnum 1 still runs
	close(release)
}

// FuzzDecodeAmplification decodes NetrWkstaUserEnum stubs of the
// amplification shape (claimed count, entries present) through the
// runtime's bounded reader and go-msrpc's generated decoder: no panic,
// and allocation in proportion to the stub.
func FuzzDecodeAmplification(f *testing.F) {
	for _, s := range [][2]uint32{{1000000, 0}, {1000000, 16}, {4090, 4090}, {0xFFFFFFFF, 4}, {3, 3}} {
		f.Add(smbprobe.UserEnumAmplification(s[0], s[1]))
	}
	f.Fuzz(func(t *testing.T, stub []byte) {
		if len(stub) > DefaultMaxReassembly {
			return
		}
		// The heap allocation counter is read without stopping the
		// world; other goroutines of the test binary may add to it.
		sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		metrics.Read(sample)
		before := sample[0].Value.Uint64()
		wkst.WkssvcServerHandle(context.Background(), wkst.UnimplementedWkssvcServer{}, 2, NewStubReader(stub, nil))
		metrics.Read(sample)
		if a := sample[0].Value.Uint64() - before; a > 4<<20 {
			t.Fatalf("%d-byte stub allocated %d bytes", len(stub), a)
		}
	})
}
