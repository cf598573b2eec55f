package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// The lean generator establishes a session through the raw client and
// then makes pre-encoded calls that the product's server answers, signed
// and sealed, over WRITE+READ and over TRANSCEIVE.
func TestLeanCallsInProcess(t *testing.T) {
	tgt := startInProcess(t)
	for _, seal := range []bool{false, true} {
		for _, io := range []PipeIO{WriteRead, Transceive, Pipelined} {
			for _, blocking := range []bool{false, true} {
				t.Run(fmt.Sprintf("seal=%v/%v/blocking=%v", seal, io, blocking), func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					c, err := DialLean(ctx, tgt, LeanOptions{Seal: seal, IO: io, Blocking: blocking})
					if err != nil {
						t.Fatal(err)
					}
					for i := range 200 {
						if err := c.GetInfo(ctx); err != nil {
							t.Fatalf("call %d: %v", i, err)
						}
					}
					if io == Pipelined && c.Unpipelined > 1 {
						// The first call may wait for credits; the server
						// grants enough for every later one.
						t.Errorf("%d of 200 calls not pipelined", c.Unpipelined)
					}
					if err := c.Close(ctx); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

// A wrong password is a failed establishment, not a hang.
func TestLeanWrongPassword(t *testing.T) {
	tgt := startInProcess(t)
	tgt.Password = "wrong"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c, err := DialLean(ctx, tgt, LeanOptions{}); err == nil {
		c.Close(ctx)
		t.Fatal("logged on with a wrong password")
	}
}

// BenchmarkLeanGetInfo is NetrWkstaGetInfo(100) from the lean generator
// against the in-process server, one connection, one call at a time.
func BenchmarkLeanGetInfo(b *testing.B) {
	tgt := startInProcess(b)
	for _, seal := range []bool{false, true} {
		for _, io := range []PipeIO{WriteRead, Transceive, Pipelined} {
			name := "signed"
			if seal {
				name = "sealed"
			}
			b.Run(name+"/"+io.String(), func(b *testing.B) {
				ctx := context.Background()
				c, err := DialLean(ctx, tgt, LeanOptions{Seal: seal, IO: io, Blocking: true})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close(ctx)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := c.GetInfo(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// A pipelined call sends its WRITE and READ in one send(2): the server
// sees both requests in one segment. A recording proxy between the client
// and the in-process server shows the client's writes.
func TestLeanPipelinedOneSend(t *testing.T) {
	tgt := startInProcess(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	writes := make(chan int, 1024)
	go func() {
		cc, err := ln.Accept()
		if err != nil {
			return
		}
		defer cc.Close()
		sc, err := net.Dial("tcp", tgt.Addr())
		if err != nil {
			return
		}
		defer sc.Close()
		go io.Copy(cc, sc)
		buf := make([]byte, 64<<10)
		for {
			n, err := cc.Read(buf)
			if n > 0 {
				select {
				case writes <- n:
				default:
				}
				if _, err := sc.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	px := tgt
	px.Port = ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := DialLean(ctx, px, LeanOptions{IO: Pipelined, Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for len(writes) > 0 {
		<-writes
	}
	for i := range 3 {
		if err := c.GetInfo(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	var got []int
	for len(writes) > 0 {
		got = append(got, <-writes)
	}
	// Calls 2 and 3: one read of WRITE and READ together (signed: 4+144
	// and 4+113 bytes).
	const pair = 4 + smbHeader + writeBodyLen + rpcHeader + 8 + 4 + smbHeader + readBodyLen
	if len(got) < 2 || got[len(got)-1] != pair || got[len(got)-2] != pair {
		t.Errorf("the proxy read %v; want the last two reads of %d bytes (WRITE and READ together)", got, pair)
	}
}

// The floor answers the lean generator's calls with frames of the
// lengths the product's server answers with, in both modes, for every
// case; a request of a length it was not told closes the connection.
func TestFloorAnswersLikeTheServer(t *testing.T) {
	tgt := startInProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, mode := range []FloorMode{FloorGoroutine, FloorThread} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- ServeFloor(fctx, ln, mode) }()
		ft := Target{Name: "floor", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}
		for _, seal := range []bool{false, true} {
			for _, pio := range []PipeIO{WriteRead, Transceive, Pipelined} {
				for _, blocking := range []bool{false, true} {
					t.Run(fmt.Sprintf("%v/seal=%v/%v/blocking=%v", mode, seal, pio, blocking), func(t *testing.T) {
						shape, err := ProbeShape(ctx, tgt, seal, pio)
						if err != nil {
							t.Fatal(err)
						}
						if shape.Resp == 0 || (pio != Transceive && shape.ReadResp == 0) {
							t.Fatalf("shape %+v", shape)
						}
						c, err := DialFloor(ctx, ft, shape, LeanOptions{Seal: seal, IO: pio, Blocking: blocking})
						if err != nil {
							t.Fatal(err)
						}
						for i := range 200 {
							if err := c.GetInfo(ctx); err != nil {
								t.Fatalf("call %d: %v", i, err)
							}
						}
						if c.Unpipelined != 0 {
							t.Errorf("%d calls not pipelined", c.Unpipelined)
						}
						if err := c.Close(ctx); err != nil {
							t.Fatal(err)
						}
						// An answer of another length than the one
						// expected fails the call.
						c, err = DialFloor(ctx, ft, shape, LeanOptions{Seal: seal, IO: pio, Blocking: blocking})
						if err != nil {
							t.Fatal(err)
						}
						defer c.Close(ctx)
						c.floor.Resp++
						if err := c.GetInfo(ctx); err == nil || !strings.Contains(err.Error(), "expected") {
							t.Errorf("a wrong length passed: %v", err)
						}
					})
				}
			}
		}
		// A connection that sends no table is closed.
		nc, err := net.Dial("tcp", ft.Addr())
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte{0, 0, 0, 4, 'n', 'o', 'p', 'e'})
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := nc.Read(make([]byte, 16)); err == nil {
			t.Errorf("%v: a connection without a table got %d bytes", mode, n)
		}
		nc.Close()
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%v: ServeFloor: %v", mode, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: ServeFloor did not return after its context ended", mode)
		}
	}
}

// A case whose connections cannot all be opened is tried once more
// before it fails: a server that refuses its first connection is
// measured.
func TestMeasureCaseRetriesTheConnections(t *testing.T) {
	tgt := startInProcess(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for i := 0; ; i++ {
			cc, err := ln.Accept()
			if err != nil {
				return
			}
			if i == 0 {
				cc.Close() // the first connection fails in NEGOTIATE
				continue
			}
			go func() {
				defer cc.Close()
				sc, err := net.Dial("tcp", tgt.Addr())
				if err != nil {
					return
				}
				defer sc.Close()
				go io.Copy(sc, cc)
				io.Copy(cc, sc)
			}()
		}
	}()
	px := tgt
	px.Port = ln.Addr().(*net.TCPAddr).Port
	none := func() (time.Duration, TaskSwitches) { return 0, nil }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := MeasureCase(ctx, px, CallCase{Generator: GenLean, IO: Transceive, Conns: 1}, 50*time.Millisecond, 200*time.Millisecond, none, none)
	if err != nil || s.Count == 0 || s.Errors != 0 {
		t.Fatalf("MeasureCase: %+v, %v", s, err)
	}
}
