package dcerpc

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// readPDU reads one frag_length-framed PDU from a stream.
func readPDU(t *testing.T, c net.Conn) *pdu {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	h := make([]byte, headerLen)
	if _, err := io.ReadFull(c, h); err != nil {
		t.Fatalf("read header: %v", err)
	}
	n := int(binary.LittleEndian.Uint16(h[8:]))
	b := make([]byte, n)
	copy(b, h)
	if _, err := io.ReadFull(c, b[headerLen:]); err != nil {
		t.Fatalf("read body: %v", err)
	}
	p, err := parsePDU(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startServeConn(t *testing.T, ctx context.Context, info ipc.OpenInfo) (net.Conn, <-chan error) {
	t.Helper()
	s := NewServer(Config{Logger: quiet()})
	s.Register("test", testInterface(nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		done <- s.ServeConn(ctx, c, info)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, done
}

func TestServeConn(t *testing.T) {
	c, done := startServeConn(t, context.Background(), ipc.OpenInfo{Pipe: "test", Identity: ipc.Identity{User: "carol"}})
	if _, err := c.Write(ndrBind(1)); err != nil {
		t.Fatal(err)
	}
	p := readPDU(t, c)
	ack := parseBindAck(t, p)
	port := c.RemoteAddr().(*net.TCPAddr).Port
	if ack.secAddr != strconv.Itoa(port) {
		t.Errorf("sec_addr %q, want %d", ack.secAddr, port)
	}
	// Two requests in one write.
	var b []byte
	b = append(b, buildRequest(2, 3, 0, opIdentity, nil)...)
	b = append(b, buildRequest(3, 3, 0, opEcho, echoStub([]byte("tcp")))...)
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	if p := readPDU(t, c); p.Type != ptResponse || string(p.body[8:]) != "carol|ncacn_ip_tcp" {
		t.Fatalf("identity response %q", p.body)
	}
	if p := readPDU(t, c); p.Type != ptResponse || string(p.body[8:]) != "tcp" {
		t.Fatalf("echo response %q", p.body)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("ServeConn: %v", err)
	}
}

func TestServeConnGarbage(t *testing.T) {
	c, done := startServeConn(t, context.Background(), ipc.OpenInfo{Pipe: "test"})
	if _, err := c.Write([]byte("\x05\x00\x00\x03\x10\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00")); err != nil {
		t.Fatal(err)
	}
	if p := readPDU(t, c); faultStatus(t, p) != StatusProtocolError {
		t.Fatal("no protocol error fault")
	}
	// The server closes the connection after the fault.
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("after fault: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("ServeConn: %v", err)
	}
}

func TestServeConnContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, done := startServeConn(t, ctx, ipc.OpenInfo{Pipe: "test"})
	if _, err := c.Write(ndrBind(1)); err != nil {
		t.Fatal(err)
	}
	readPDU(t, c)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("ServeConn: %v", err)
	}
}

func TestServeConnUnknownPipe(t *testing.T) {
	s := NewServer(Config{Logger: quiet()})
	a, b := net.Pipe()
	defer b.Close()
	if err := s.ServeConn(context.Background(), a, ipc.OpenInfo{Pipe: "nope"}); !errors.Is(err, ipc.ErrNoSuchPipe) {
		t.Fatalf("ServeConn: %v", err)
	}
}

// A stream client may send more PDUs in one segment than the work queue
// takes: they are taken MaxQueued at a time and all answered in order.
func TestServeConnManyPDUsInOneWrite(t *testing.T) {
	c, _ := startServeConn(t, context.Background(), ipc.OpenInfo{Pipe: "test"})
	if _, err := c.Write(ndrBind(1)); err != nil {
		t.Fatal(err)
	}
	if p := readPDU(t, c); p.Type != ptBindAck {
		t.Fatalf("bind: type %d", p.Type)
	}
	const n = 3*DefaultMaxQueued + 5
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, buildRequest(uint32(2+i), 3, 0, opEcho, echoStub([]byte{byte(i)}))...)
	}
	go c.Write(b)
	for i := 0; i < n; i++ {
		if p := readPDU(t, c); p.Type != ptResponse || p.CallID != uint32(2+i) || p.body[len(p.body)-1] != byte(i) {
			t.Fatalf("response %d: type %d call %d", i, p.Type, p.CallID)
		}
	}
}
