package smb2

import (
	"net"
	"testing"

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
