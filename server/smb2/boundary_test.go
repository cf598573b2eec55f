package smb2

import (
	"bytes"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// buildCharged is build with a CreditCharge (MS-SMB2 3.3.5.2.5), which
// payloads above 64 KiB need; it uses that many MessageIds.
func (r *rawClient) buildCharged(cmd uint16, body []byte, charge uint16) []byte {
	h := header{Command: cmd, CreditCharge: charge, Credit: 64, MessageID: r.MsgID, SessionID: r.SessionID, TreeID: r.TreeID}
	r.MsgID += uint64(charge)
	m := make([]byte, headerSize+len(body))
	if r.Sign && r.SignKey != nil {
		h.Flags |= flagSigned
	}
	h.put(m)
	copy(m[headerSize:], body)
	if r.Sign && r.SignKey != nil {
		smbcrypto.Sign(r.SignAlg, r.SignKey, m)
	}
	return m
}

func (r *rawClient) callCharged(cmd uint16, body []byte, charge uint16) (header, []byte) {
	r.t.Helper()
	r.writeFrame(r.buildCharged(cmd, body, charge))
	return r.recv()
}

// TestTransferSizeBoundary: MaxWriteSize, MaxReadSize and MaxTransactSize
// (65536 by default, announced in NEGOTIATE): a WRITE of 65536 bytes, a
// READ and an IOCTL asking for 65536 are served; 65537 fails with
// STATUS_INVALID_PARAMETER (with the CreditCharge such a size needs, so
// only the size decides), and the connection goes on.
func TestTransferSizeBoundary(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect311, "echo")
	if h, _ := r.callCharged(cmdWrite, writeBody(id, bytes.Repeat([]byte{'w'}, 65537)), 2); h.Status != statusInvalidParameter {
		t.Fatalf("WRITE of 65537 bytes: %08x", h.Status)
	}
	if h, _ := r.call(cmdWrite, writeBody(id, bytes.Repeat([]byte{'w'}, 65536))); h.Status != statusSuccess {
		t.Fatalf("WRITE of 65536 bytes: %08x", h.Status)
	}
	// The pipe now holds "echo:" and the 65536 bytes.
	if h, _ := r.callCharged(cmdRead, readBody(id, 65537), 2); h.Status != statusInvalidParameter {
		t.Fatalf("READ of 65537 bytes: %08x", h.Status)
	}
	h, resp := r.call(cmdRead, readBody(id, 65536))
	if (h.Status != statusSuccess && h.Status != statusBufferOverflow) || len(readData(resp)) != 65536 {
		t.Fatalf("READ of 65536 bytes: %08x, %d bytes", h.Status, len(readData(resp)))
	}
	if h, _ := r.call(cmdRead, readBody(id, 100)); h.Status != statusSuccess {
		t.Fatalf("READ of the rest: %08x", h.Status)
	}
	if h, _ := r.callCharged(cmdIoctl, ioctlBody(fsctlPipeTransceive, id, []byte("x"), 65537), 2); h.Status != statusInvalidParameter {
		t.Fatalf("IOCTL with MaxOutputResponse 65537: %08x", h.Status)
	}
	h, resp = r.call(cmdIoctl, ioctlBody(fsctlPipeTransceive, id, []byte("x"), 65536))
	if h.Status != statusSuccess || string(ioctlOutput(resp)) != "echo:x" {
		t.Fatalf("IOCTL with MaxOutputResponse 65536: %08x %q", h.Status, ioctlOutput(resp))
	}
}

// TestFrameSizeBoundary: a transport frame may be as long as the largest
// transfer size plus 256 bytes of header and the transform header; such a
// frame is read and answered, one byte more disconnects before it is
// read.
func TestFrameSizeBoundary(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect311, "echo")
	limit := 65536 + 256 + smbcrypto.TransformHeaderSize
	write := func(n int) []byte {
		body := writeBody(id, bytes.Repeat([]byte{'f'}, 1024))
		return r.build(cmdWrite, append(body, make([]byte, n-headerSize-len(body))...))
	}
	m := write(limit)
	if len(m) != limit {
		t.Fatalf("built %d bytes", len(m))
	}
	r.writeFrame(m)
	if _, err := r.readFrame(); err != nil {
		t.Fatalf("a frame of %d bytes was not answered: %v", limit, err)
	}
	r.writeFrame(write(limit + 1))
	r.expectClosed()
}

// TestTreeConnectsPerSessionBoundary: a session holds up to 64 tree
// connects; the 65th TREE_CONNECT fails with
// STATUS_INSUFFICIENT_RESOURCES and a TREE_DISCONNECT frees a slot.
func TestTreeConnectsPerSessionBoundary(t *testing.T) {
	ts := startServer(t, nil)
	r := dialRaw(t, ts)
	r.negotiate(smbcrypto.Dialect302)
	if st := r.login(testUser, testPassword); st != statusSuccess {
		t.Fatalf("login: %08x", st)
	}
	for i := 1; i <= maxTreesPerSession; i++ {
		if st := r.treeConnect("IPC$"); st != statusSuccess {
			t.Fatalf("tree connect %d: %08x", i, st)
		}
	}
	if st := r.treeConnect("IPC$"); st != statusInsufficientResources {
		t.Fatalf("tree connect %d: %08x, want STATUS_INSUFFICIENT_RESOURCES", maxTreesPerSession+1, st)
	}
	if h, _ := r.call(cmdTreeDisconnect, []byte{4, 0, 0, 0}); h.Status != statusSuccess {
		t.Fatalf("tree disconnect: %08x", h.Status)
	}
	if st := r.treeConnect("IPC$"); st != statusSuccess {
		t.Fatalf("tree connect after a disconnect: %08x", st)
	}
}

// TestIdleTimeoutBoundary: a connection that sends a message more often
// than --idle-timeout stays open well past it; once it falls silent for
// longer, it is closed.
func TestIdleTimeoutBoundary(t *testing.T) {
	const idle = time.Second
	ts := startServer(t, func(c *Config) { c.IdleTimeout = idle })
	r, _ := setup(t, ts, smbcrypto.Dialect311, "echo")
	start := time.Now()
	for time.Since(start) < 3*idle {
		time.Sleep(idle / 4)
		if h, _ := r.call(cmdEcho, []byte{4, 0, 0, 0}); h.Status != statusSuccess {
			t.Fatalf("ECHO %v after the start: %08x", time.Since(start), h.Status)
		}
	}
	silent := time.Now()
	r.expectClosed()
	if d := time.Since(silent); d < idle {
		t.Fatalf("closed after %v of silence, before the idle timeout of %v", d, idle)
	}
}

// TestReadTimeoutBoundary: once a message has started, the rest arriving
// within --read-timeout is read and answered; a message left unfinished
// for longer closes the connection (TestReadTimeoutDropsStalledFrame).
func TestReadTimeoutBoundary(t *testing.T) {
	const rt = time.Second
	ts := startServer(t, func(c *Config) { c.ReadTimeout = rt })
	r, _ := setup(t, ts, smbcrypto.Dialect311, "echo")
	m := r.build(cmdEcho, []byte{4, 0, 0, 0})
	frame := append([]byte{0, 0, 0, byte(len(m))}, m...)
	half := len(frame) / 2
	if _, err := r.Conn.Write(frame[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(rt / 4)
	if _, err := r.Conn.Write(frame[half:]); err != nil {
		t.Fatal(err)
	}
	if h, _ := r.recv(); h.Status != statusSuccess {
		t.Fatalf("ECHO finished within the read timeout: %08x", h.Status)
	}
	if _, err := r.Conn.Write(frame[:half]); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.expectClosed()
	if d := time.Since(start); d < rt/2 {
		t.Fatalf("closed after %v, well before the read timeout of %v", d, rt)
	}
}
