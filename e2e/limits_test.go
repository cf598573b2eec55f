package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/internal/smbprobe"
	"github.com/wkssvcd/wkssvcd/internal/testnet"
)

// The resource limits of docs/limits.md, given as flags to the real
// daemon and exercised over the network.

// getInfo calls NetrWkstaGetInfo level 100 and reports failures.
func getInfo(t *testing.T, c *msrpcClient, what string) {
	t.Helper()
	resp, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{Level: 100})
	if err != nil || resp.Return != 0 {
		t.Fatalf("%s: GetInfo: %v %+v", what, err, resp)
	}
}

// dialRetry dials as adminUser, retrying while the daemon still counts a
// connection that was just closed (the slot is freed when the server's
// reader sees the close).
func dialRetry(t *testing.T) *msrpcClient {
	t.Helper()
	var err error
	for i := 0; i < 50; i++ {
		var c *msrpcClient
		if c, err = dialMSRPC(t, daemonAddr, adminUser, adminPass, 0, false); err == nil {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("dial: %v", err)
	return nil
}

// --max-connections 5: a sixth connection is closed at once while the
// five keep working.
func TestLimitMaxConnections(t *testing.T) {
	d := startDaemon(t, "--max-connections", "5")
	var clients []*msrpcClient
	for i := 0; i < 5; i++ {
		c := dialRetry(t)
		getInfo(t, c, "connection "+string(rune('1'+i)))
		clients = append(clients, c)
	}
	sixth, err := net.DialTimeout("tcp", d.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sixth.Close()
	expectClosed(t, sixth, "sixth connection")
	if _, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, 0, false); err == nil {
		t.Error("an RPC client got a sixth connection")
	}
	for i, c := range clients {
		getInfo(t, c, "connection "+string(rune('1'+i))+" after the refusal")
	}
	if len(lines(d.Output(), `reason=limit`)) == 0 {
		t.Error("the refusal was not logged")
	}
	// Closing one connection frees its slot.
	clients[0].conn.Close(clients[0].ctx)
	getInfo(t, dialRetry(t), "connection after a slot was freed")
}

// --auth-fail-limit 3: two failures do not block the address (the right
// password still logs on, and resets nothing); the third does: the next
// logon from the address is refused even with the right password, for any
// user, until --auth-fail-window passed.
func TestLimitAuthFailThrottle(t *testing.T) {
	const window = 3 * time.Second
	d := startDaemon(t, "--auth-fail-limit", "3", "--auth-fail-window", window.String())
	for i := 0; i < 3; i++ {
		if i == 2 {
			c, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, 0, false)
			if err != nil {
				t.Fatalf("right password after two failures (limit 3): %v", err)
			}
			getInfo(t, c, "after two failures")
		}
		_, err := dialMSRPC(t, daemonAddr, adminUser, "wrong-password", 0, false)
		if err == nil || !strings.Contains(err.Error(), "The attempted logon is invalid") {
			t.Fatalf("wrong password %d: %v", i+1, err)
		}
	}
	blockedAt := time.Now()
	if _, err := dialMSRPC(t, daemonAddr, adminUser, adminPass, 0, false); err == nil || !strings.Contains(err.Error(), "The attempted logon is invalid") {
		t.Fatalf("fourth attempt with the right password: %v", err)
	}
	if _, err := dialMSRPC(t, daemonAddr, plainUser, plainPass, 0, false); err == nil {
		t.Fatal("another user from the blocked address logged on")
	}
	if n := len(lines(d.Output(), "session setups refused after repeated logon failures")); n != 1 {
		t.Errorf("%d throttling warnings, want 1", n)
	}
	for _, l := range lines(d.Output(), "level=WARN") {
		if strings.Contains(l, adminPass) || strings.Contains(l, "wrong-password") {
			t.Errorf("a warning shows a password: %s", l)
		}
	}
	// After the window the right password works again.
	time.Sleep(time.Until(blockedAt.Add(window)))
	var c *msrpcClient
	var err error
	for i := 0; i < 50; i++ {
		if c, err = dialMSRPC(t, daemonAddr, adminUser, adminPass, 0, false); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after the window: %v", err)
	}
	getInfo(t, c, "after the window")
}

// --idle-timeout 1s: idle connections are closed, with or without a
// session.
func TestLimitIdleTimeout(t *testing.T) {
	d := startDaemon(t, "--idle-timeout", "1s")
	raw, err := net.DialTimeout("tcp", d.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	expectClosed(t, raw, "idle connection without a message")

	c := dialRetry(t)
	getInfo(t, c, "fresh connection")
	time.Sleep(3 * time.Second)
	if resp, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{Level: 100}); err == nil {
		t.Fatalf("the idle session survived: %+v", resp)
	}
	getInfo(t, dialRetry(t), "new connection")
}

// --max-rpc-request 1024: a larger request gets a fault and the daemon
// keeps serving. (go-msrpc closes its own connection after any fault, so
// the connection that sent the request is not reused; the fault itself
// ends only that call, see dcerpc TestReassemblyCap.)
func TestLimitMaxRPCRequest(t *testing.T) {
	startDaemon(t, "--max-rpc-request", "1024")
	bystander := dialRetry(t)
	c := dialRetry(t)
	getInfo(t, c, "small request")
	// ServerName is ignored by the server (MS-WKST 3.2.4.1) but makes the
	// request stub about 8 KiB.
	_, err := c.cli.GetInfo(c.ctx, &wkssvc.GetInfoRequest{ServerName: strings.Repeat("A", 4000), Level: 100})
	if err == nil {
		t.Fatal("an 8 KiB request was served")
	}
	// The fault status is 0x00000005, MS-RPCE 3.3.3.5.4 (go-msrpc words
	// it as the Win32 error with that number).
	if !strings.Contains(err.Error(), "0x00000005") {
		t.Errorf("large request: %v, want fault 0x00000005", err)
	}
	getInfo(t, bystander, "other connection after the fault")
	getInfo(t, dialRetry(t), "new connection after the fault")
}

// dialFrom opens a TCP connection to the daemon from the probe address.
func dialFrom(t *testing.T, d *daemon, local string) net.Conn {
	t.Helper()
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := dl.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectOpen checks that the server has not closed c within wait.
func expectOpen(t *testing.T, c net.Conn, wait time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return
		}
		t.Fatalf("%s: closed: %v", what, err)
	}
	t.Fatalf("%s: unexpected data", what)
}

// --max-conns-per-addr 3: three connections from the probe address are
// kept, the fourth is closed at once, and a client from another address is
// served throughout.
func TestLimitMaxConnsPerAddr(t *testing.T) {
	d := startDaemon(t, "--max-conns-per-addr", "3")
	var held []net.Conn
	for i := 0; i < 3; i++ {
		held = append(held, dialFrom(t, d, testnet.Probe()))
	}
	for i, c := range held {
		expectOpen(t, c, 300*time.Millisecond, fmt.Sprintf("connection %d at the limit", i+1))
	}
	expectClosed(t, dialFrom(t, d, testnet.Probe()), "fourth connection from one address")
	getInfo(t, dialRetry(t), "client from another address")
	if len(lines(d.Output(), "reason=per-address-limit")) != 1 {
		t.Errorf("want one refusal line:\n%s", strings.Join(lines(d.Output(), "connection refused"), "\n"))
	}
}

// --handshake-timeout 1s: a connection that establishes no session within
// 1s is closed, keep-alives notwithstanding; an RPC client is unaffected.
func TestLimitHandshakeTimeout(t *testing.T) {
	d := startDaemon(t, "--handshake-timeout", "1s")
	start := time.Now()
	silent := dialFrom(t, d, testnet.Probe())
	chatty := dialFrom(t, d, testnet.Probe())
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := chatty.Write([]byte{0x85, 0, 0, 0}); err != nil {
					return
				}
			}
		}
	}()
	c := dialRetry(t)
	expectOpen(t, silent, 500*time.Millisecond, "silent connection before the timeout")
	expectClosed(t, silent, "silent connection")
	expectClosed(t, chatty, "connection sending keep-alives")
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("closed after %v", el)
	}
	time.Sleep(time.Second)
	getInfo(t, c, "established session past the handshake timeout")
}

// --max-conn-buffered 52352: a session with its tree connect (2,112
// bytes), five open pipes (2,048 bytes each) and unfinished fragmented
// requests of 10,000 bytes on four of them fill it exactly; the fifth request gets the fault nca_s_fault_remote_no_memory,
// the connection keeps working, and a client from another address is
// served throughout.
func TestLimitMaxConnBuffered(t *testing.T) {
	d := startDaemon(t, "--max-conn-buffered", "52352", "--max-rpc-request", "16384")
	c := probe(t, d)
	anonymousIPC(t, c)
	var pipes []smbprobe.FileID
	for i := 0; i < 5; i++ {
		pipes = append(pipes, boundPipe(t, c))
	}
	frag := smbprobe.Request(2, smbprobe.FlagFirstFrag, 0, 16000, make([]byte, 10000))
	for i, id := range pipes[:4] {
		if st, err := c.Write(id, frag); err != nil || st != smbprobe.StatusSuccess {
			t.Fatalf("fragment on pipe %d (at most the limit): %08x %v", i+1, st, err)
		}
	}
	if st, err := c.Write(pipes[4], frag); err != nil || st != smbprobe.StatusSuccess {
		t.Fatalf("fragment past the limit: %08x %v", st, err)
	}
	st, pdu, err := c.Read(pipes[4], 4280)
	if err != nil || st != smbprobe.StatusSuccess || smbprobe.FaultStatus(pdu) != 0x1C00001B {
		t.Fatalf("past the limit: %08x %v, fault %#x", st, err, smbprobe.FaultStatus(pdu))
	}
	// The pipes under the limit hold their calls; the connection works.
	if h, _, err := c.Call(smbprobe.CmdEcho, []byte{4, 0, 0, 0}); err != nil || h.Status != smbprobe.StatusSuccess {
		t.Fatalf("echo on the full connection: %08x %v", h.Status, err)
	}
	getInfo(t, dialRetry(t), "client from another address")
	if len(lines(d.Output(), "byte budget")) != 1 {
		t.Errorf("want one budget warning:\n%s", strings.Join(lines(d.Output(), "budget"), "\n"))
	}
}
