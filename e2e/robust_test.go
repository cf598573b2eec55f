package e2e

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"
	"github.com/oiweiwei/go-msrpc/smb2"
)

// expectRefused waits until the server either closes c or answers with an
// SMB2 error status (MS-SMB2 3.3.5.2: a malformed request may be failed
// with STATUS_INVALID_PARAMETER while the connection stays up).
func expectRefused(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: no answer and the connection stayed open", what)
		}
		return
	}
	n := binary.BigEndian.Uint32(hdr[:]) & 0xffffff
	msg := make([]byte, n)
	if _, err := io.ReadFull(c, msg); err != nil {
		return
	}
	if n < 64 || string(msg[:4]) != "\xfeSMB" {
		t.Errorf("%s: answer is not an SMB2 message: %x", what, msg)
		return
	}
	if status := binary.LittleEndian.Uint32(msg[8:]); status == 0 {
		t.Errorf("%s: the server answered with success", what)
	}
}

// expectClosed waits until the server closes c.
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: the server kept the connection open", what)
		}
		return
	}
}

// Malformed input ends only the connection that sent it; the server keeps
// serving everyone else.
func TestMalformedFramesCloseOnlyThatConnection(t *testing.T) {
	d := startDaemon(t)
	good, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, smb2.SMB311, false)
	if err != nil {
		t.Fatal(err)
	}
	call := func() {
		t.Helper()
		resp, err := good.cli.GetInfo(good.ctx, &wkssvc.GetInfoRequest{Level: 100})
		if err != nil || resp.Return != 0 {
			t.Fatalf("GetInfo on the healthy connection: %v %+v", err, resp)
		}
	}
	call()

	smb2Negotiate := func() []byte {
		// An SMB2 NEGOTIATE header with a truncated body.
		h := make([]byte, 64)
		copy(h, "\xfeSMB")
		binary.LittleEndian.PutUint16(h[4:], 64)
		return h
	}
	frame := func(body []byte) []byte {
		b := make([]byte, 4+len(body))
		binary.BigEndian.PutUint32(b, uint32(len(body)))
		copy(b[4:], body)
		return b
	}
	cases := []struct {
		name string
		data []byte
		hold bool // leave the connection open half-way instead of expecting a close
		soft bool // an SMB2 error answer is as good as a close
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("\xff", 300)), false, false},
		{"oversized length", []byte{0, 0xff, 0xff, 0xff}, false, false},
		{"truncated negotiate", frame(smb2Negotiate()), false, true},
		{"smb1 without smb2 dialects", frame(append([]byte("\xffSMB\x72"), make([]byte, 40)...)), false, false},
		{"half a frame", []byte{0, 0, 1, 0, 0xfe, 'S', 'M'}, true, false},
	}
	var held []net.Conn
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", d.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			if tc.hold {
				held = append(held, c)
				return
			}
			defer c.Close()
			if tc.soft {
				expectRefused(t, c, tc.name)
				return
			}
			expectClosed(t, c, tc.name)
		})
		call()
	}
	// Many bad connections at once while the good one works.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", d.addr, 5*time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			c.Write(frame([]byte(strings.Repeat("x", i*7))))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c)
		}(i)
	}
	wg.Wait()
	call()
	for _, c := range held {
		c.Close()
	}
	call()
}

// Opening a pipe that is not served answers STATUS_OBJECT_NAME_NOT_FOUND.
func TestUnknownPipe(t *testing.T) {
	startDaemon(t)
	_, err := dialPipe(t, daemonAddr, "nosuchpipe", adminUser, adminPass, 0, false)
	// go-smb2 reports STATUS_OBJECT_NAME_NOT_FOUND as os.ErrNotExist.
	if err == nil || !strings.Contains(err.Error(), "file does not exist") {
		t.Fatalf("opening an unknown pipe: %v", err)
	}
}
