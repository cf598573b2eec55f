package smb2

import (
	"testing"

	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// A READ finding a message queued on a pipe that can be read without
// waiting is answered at once, without an interim response, and the rest
// of a long message stays for the next READ (MS-SMB2 3.3.5.12).
func TestReadInline(t *testing.T) {
	ts := startServer(t, nil)
	r, id := setup(t, ts, smbcrypto.Dialect311, "tryecho")
	p := ts.pipes.lastTry
	for i := 0; i < 3; i++ {
		if h, _ := r.call(cmdWrite, writeBody(id, []byte("hello"))); h.Status != statusSuccess {
			t.Fatalf("write %08x", h.Status)
		}
		r.writeFrame(r.build(cmdRead, readBody(id, 7)))
		b, err := r.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		h, _ := parseHeader(b)
		if h.Status != statusBufferOverflow || h.Flags&flagAsyncCommand != 0 || string(readData(b)) != "echo:he" {
			t.Fatalf("read %d: %08x flags %x %q", i, h.Status, h.Flags, readData(b))
		}
		if !smbcrypto.Verify(r.SignAlg, r.SignKey, b) {
			t.Fatal("inline response not signed")
		}
		h, resp := r.call(cmdRead, readBody(id, 100))
		if h.Status != statusSuccess || string(readData(resp)) != "llo" {
			t.Fatalf("rest %08x %q", h.Status, readData(resp))
		}
	}
	if n := p.taken.Load(); n != 3 {
		t.Fatalf("%d messages taken without waiting, want 3", n)
	}
	// Nothing queued: the READ waits and goes async as before.
	r.writeFrame(r.build(cmdRead, readBody(id, 100)))
	b, _ := r.readFrame()
	if h, _ := parseHeader(b); h.Status != statusPending {
		t.Fatalf("interim %08x", h.Status)
	}
	// The WRITE's response and the READ's completion may come in either
	// order.
	r.writeFrame(r.build(cmdWrite, writeBody(id, []byte("late"))))
	var wrote, read bool
	for i := 0; i < 2; i++ {
		h, resp := r.recv()
		switch {
		case h.Command == cmdWrite && h.Status == statusSuccess:
			wrote = true
		case h.Command == cmdRead && h.Status == statusSuccess && string(readData(resp)) == "echo:late":
			read = true
		default:
			t.Fatalf("unexpected %d %08x %q", h.Command, h.Status, readData(resp))
		}
	}
	if !wrote || !read {
		t.Fatalf("write answered %v, read completed %v", wrote, read)
	}
}

// Frames that arrive together, split, or behind keep-alives are read one
// by one (MS-SMB2 2.1).
func TestFrameBuffering(t *testing.T) {
	ts := startServer(t, nil)
	r, _ := setup(t, ts, smbcrypto.Dialect210, "echo")
	frame := func(m []byte) []byte {
		return append([]byte{0, byte(len(m) >> 16), byte(len(m) >> 8), byte(len(m))}, m...)
	}
	var burst []byte
	burst = append(burst, 0x85, 0, 0, 0)
	for i := 0; i < 3; i++ {
		burst = append(burst, frame(r.build(cmdEcho, []byte{4, 0, 0, 0}))...)
		burst = append(burst, 0x85, 0, 0, 0)
	}
	split := frame(r.build(cmdEcho, []byte{4, 0, 0, 0}))
	if _, err := r.Conn.Write(burst); err != nil {
		t.Fatal(err)
	}
	for _, b := range split {
		if _, err := r.Conn.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		b, err := r.readFrame()
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if h, _ := parseHeader(b); h.Command != cmdEcho || h.Status != statusSuccess {
			t.Fatalf("response %d: %+v", i, h)
		}
	}
}
