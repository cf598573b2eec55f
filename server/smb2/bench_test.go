package smb2

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// Benchmarks of the codec on the messages of one pipe call, with
// allocation counts: a regression shows in a diff of their output.

var benchPDU = make([]byte, 160) // about a NetrWkstaGetInfo request or response PDU

func BenchmarkHeader(b *testing.B) {
	m := msgWith(cmdIoctl, ioctlBody(fsctlPipeTransceive, fileID{1, 2}, benchPDU, 4280))
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := parseHeader(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("put", func(b *testing.B) {
		h, _ := parseHeader(m)
		out := make([]byte, headerSize)
		b.ReportAllocs()
		for range b.N {
			h.put(out)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	write := msgWith(cmdWrite, writeBody(fileID{1, 2}, benchPDU))
	read := msgWith(cmdRead, readBody(fileID{1, 2}, 4280))
	ioctl := msgWith(cmdIoctl, ioctlBody(fsctlPipeTransceive, fileID{1, 2}, benchPDU, 4280))
	b.Run("WRITE", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := decodeWrite(write); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("READ", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := decodeRead(read); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("IOCTL", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := decodeIoctl(ioctl); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compound", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := splitCompound(ioctl, 4); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	b.Run("READ", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			encodeReadResponse(benchPDU)
		}
	})
	b.Run("WRITE", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			encodeWriteResponse(uint32(len(benchPDU)))
		}
	})
	b.Run("IOCTL", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			encodeIoctlResponse(fsctlPipeTransceive, fileID{1, 2}, benchPDU)
		}
	})
}

// BenchmarkPipeCall is one TRANSCEIVE through a connection of the SMB
// front to the echo pipe over loopback, signed, with the raw client:
// framing, signatures, dispatch and the pipe together.
func BenchmarkPipeCall(b *testing.B) {
	for _, sealed := range []bool{false, true} {
		name := "signed"
		if sealed {
			name = "sealed"
		}
		b.Run(name, func(b *testing.B) {
			ts := startServerB(b)
			r := newRawClient(nil, dialB(b, ts))
			if st, err := r.Negotiate(smbcrypto.Dialect311, smbcrypto.AES128GCM); err != nil || st != statusSuccess {
				b.Fatal(st, err)
			}
			if st, err := r.Login(testUser, testPassword, sealed); err != nil || st != statusSuccess {
				b.Fatal(st, err)
			}
			if st, err := r.TreeConnect("IPC$"); err != nil || st != statusSuccess {
				b.Fatal(st, err)
			}
			st, id, err := r.Create("echo")
			if err != nil || st != statusSuccess {
				b.Fatal(st, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if st, _, err := r.Transceive(id, benchPDU, 4280); err != nil || st != statusSuccess {
					b.Fatal(st, err)
				}
			}
		})
	}
}

func startServerB(b *testing.B) *testServer { return startServer(b, nil) }

func dialB(b *testing.B, ts *testServer) net.Conn {
	c, err := net.Dial("tcp", ts.addr.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// leanPipeline sends requests encoded once, restamping only their
// MessageId and signature, and checks the responses: a client that
// allocates nothing per call, so the allocations counted are the server's.
type leanPipeline struct {
	conn   net.Conn
	br     *bufio.Reader
	signer *smbcrypto.Signer
	mid    uint64
	msgs   [][]byte // each a message within out, after its transport header
	offs   []int    // where each message's transport header starts in out
	out    []byte
	resp   []byte
}

// newLeanPipeline prepares msgs (built by r, signed, not sent) for sending
// again and again on r's connection, from the MessageId of the first: the
// ids r gave them are used, not skipped, since the server's credit window
// does not move past an unused id.
func newLeanPipeline(tb testing.TB, r *rawClient, msgs ...[]byte) *leanPipeline {
	tb.Helper()
	s, err := smbcrypto.NewSigner(r.SignAlg, r.SignKey)
	if err != nil {
		tb.Fatal(err)
	}
	p := &leanPipeline{conn: r.Conn, br: bufio.NewReaderSize(r.Conn, 64<<10), signer: s, mid: le.Uint64(msgs[0][24:]), resp: make([]byte, 8<<10)}
	for _, m := range msgs {
		p.offs = append(p.offs, len(p.out))
		p.out = append(p.out, 0, byte(len(m)>>16), byte(len(m)>>8), byte(len(m)))
		p.out = append(p.out, m...)
	}
	p.offs = append(p.offs, len(p.out))
	for i := range msgs {
		p.msgs = append(p.msgs, p.out[p.offs[i]+4:p.offs[i+1]])
	}
	return p
}

// send writes msgs[from:to] with fresh MessageIds in one Write.
func (p *leanPipeline) send(from, to int) error {
	for _, m := range p.msgs[from:to] {
		le.PutUint64(m[24:], p.mid)
		p.mid++
		p.signer.Sign(m)
	}
	_, err := p.conn.Write(p.out[p.offs[from]:p.offs[to]])
	return err
}

// recv reads n responses and checks that each succeeded.
func (p *leanPipeline) recv(n int) error {
	for range n {
		var h [4]byte
		if _, err := io.ReadFull(p.br, h[:]); err != nil {
			return err
		}
		size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		if size > len(p.resp) || size < headerSize {
			return fmt.Errorf("response of %d bytes", size)
		}
		m := p.resp[:size]
		if _, err := io.ReadFull(p.br, m); err != nil {
			return err
		}
		if st := le.Uint32(m[8:]); st != statusSuccess {
			return fmt.Errorf("status %08x", st)
		}
	}
	return nil
}

// BenchmarkPipelined is one pipe call through a connection of the SMB
// front over loopback, signed, by a client that allocates nothing per
// call: a WRITE and its READ sent one after the other's response
// (sequential) or back to back in one send (pipelined, as SMB2 credits
// allow), and one TRANSCEIVE alone or two in one send. An op is one call;
// writes/call and reads/call count the server's Write and Read calls on
// the socket per call; cpu-ns/call is the CPU time (user and system) of
// the whole test process, client included, per call: less sensitive to
// other load on the machine than the time per call.
func BenchmarkPipelined(b *testing.B) {
	cases := []struct {
		name  string
		batch [][2]int // sends of each op: msgs[from:to], then wait for to-from responses
		calls int      // calls per op
	}{
		{"WRITE+READ/sequential", [][2]int{{0, 1}, {1, 2}}, 1},
		{"WRITE+READ/pipelined", [][2]int{{0, 2}}, 1},
		{"TRANSCEIVE/single", [][2]int{{2, 3}}, 1},
		{"TRANSCEIVE/pipelined-pair", [][2]int{{2, 4}}, 2},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			ts := startServerB(b)
			r := newRawClient(nil, dialB(b, ts))
			if st, err := r.Negotiate(smbcrypto.Dialect311, smbcrypto.AES128GCM); err != nil || st != statusSuccess {
				b.Fatal(st, err)
			}
			if st, err := r.Login(testUser, testPassword, false); err != nil || st != statusSuccess {
				b.Fatal(st, err)
			}
			if st, err := r.TreeConnect("IPC$"); err != nil || st != statusSuccess {
				b.Fatal(st, err)
			}
			st, id, err := r.Create("tryecho")
			if err != nil || st != statusSuccess {
				b.Fatal(st, err)
			}
			fid := getFileID(id[:])
			p := newLeanPipeline(b, &rawClient{Client: r.Client},
				r.Build(cmdWrite, writeBody(fid, benchPDU)),
				r.Build(cmdRead, readBody(fid, 4280)),
				r.Build(cmdIoctl, ioctlBody(fsctlPipeTransceive, fid, benchPDU, 4280)),
				r.Build(cmdIoctl, ioctlBody(fsctlPipeTransceive, fid, benchPDU, 4280)))
			w0, r0 := ts.tap.writes.Load(), ts.tap.reads.Load()
			cpu0 := processCPU()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for _, s := range tc.batch {
					if err := p.send(s[0], s[1]); err != nil {
						b.Fatal(err)
					}
					if err := p.recv(s[1] - s[0]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			cpu := processCPU() - cpu0
			calls := float64(b.N * tc.calls)
			b.ReportMetric(float64(cpu.Nanoseconds())/calls, "cpu-ns/call")
			b.ReportMetric(float64(ts.tap.writes.Load()-w0)/calls, "writes/call")
			b.ReportMetric(float64(ts.tap.reads.Load()-r0)/calls, "reads/call")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/calls, "ns/call")
		})
	}
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
