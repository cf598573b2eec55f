package smb2

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

func FuzzHeader(f *testing.F) {
	f.Add(msgWith(cmdEcho, []byte{4, 0, 0, 0}))
	async := msgWith(cmdRead, nil)
	async[16] |= byte(flagAsyncCommand)
	f.Add(async)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			return
		}
		out := make([]byte, headerSize)
		h.put(out)
		g, err := parseHeader(out)
		if err != nil || g != h {
			t.Fatalf("round trip %+v %+v", h, g)
		}
	})
}

func FuzzSplitCompound(f *testing.F) {
	a := msgWith(cmdEcho, []byte{4, 0, 0, 0, 0, 0, 0, 0})
	le.PutUint32(a[20:], uint32(len(a)))
	f.Add(append(append([]byte(nil), a...), msgWith(cmdEcho, []byte{4, 0, 0, 0})...))
	f.Add(msgWith(cmdEcho, []byte{4, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := splitCompound(b, DefaultMaxCompound)
		if err != nil {
			return
		}
		n := 0
		for i, m := range msgs {
			if len(m) < headerSize || (i < len(msgs)-1 && len(m)%8 != 0) {
				t.Fatal("bad element")
			}
			n += len(m)
		}
		if n != len(b) {
			t.Fatal("elements do not cover the message")
		}
	})
}

func FuzzNegotiateRequest(f *testing.F) {
	f.Add(msgWith(cmdNegotiate, negotiateBody([]uint16{0x0202, 0x0311}, 0x44, 1, []negotiateContext{preauthCtx(1), idListCtx(ctxEncryption, 1, 2), idListCtx(ctxSigning, 1)})))
	f.Add(msgWith(cmdNegotiate, negotiateBody([]uint16{0x0210}, 0, 0, nil)))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeNegotiate(b)
		if err != nil {
			return
		}
		ctxs, err := decodeNegotiateContexts(b, r.ContextOffset, r.ContextCount)
		if err != nil {
			return
		}
		for _, c := range ctxs {
			decodePreauthContext(c.Data)
			decodeIDList(c.Data)
		}
	})
}

func FuzzNegotiateContexts(f *testing.F) {
	m := msgWith(cmdNegotiate, negotiateBody([]uint16{0x0311}, 0, 1, []negotiateContext{preauthCtx(1), idListCtx(ctxEncryption, 2)}))
	off := le.Uint32(m[headerSize+28:])
	f.Add(m, off, uint16(2))
	f.Add(m, uint32(0), uint16(0xFFFF))
	f.Fuzz(func(t *testing.T, b []byte, off uint32, count uint16) {
		decodeNegotiateContexts(b, off, count)
	})
}

// fuzzDecoder registers seeds and a decoder that must not panic.
func fuzzDecoder(f *testing.F, seeds [][]byte, decode func([]byte)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) { decode(b) })
}

func FuzzSessionSetupRequest(f *testing.F) {
	fuzzDecoder(f, [][]byte{msgWith(cmdSessionSetup, sessionSetupBody([]byte("tok")))}, func(b []byte) { decodeSessionSetup(b) })
}

func FuzzTreeConnectRequest(f *testing.F) {
	fuzzDecoder(f, [][]byte{msgWith(cmdTreeConnect, treeConnectBody(`\\h\IPC$`))}, func(b []byte) {
		if p, err := decodeTreeConnect(b); err == nil {
			shareName(p)
		}
	})
}

func FuzzCreateRequest(f *testing.F) {
	fuzzDecoder(f, [][]byte{msgWith(cmdCreate, createBody(`\PIPE\wkssvc`))}, func(b []byte) {
		if r, err := decodeCreate(b); err == nil {
			canonicalPipe(r.Name)
		}
	})
}

func FuzzReadRequest(f *testing.F) {
	fuzzDecoder(f, [][]byte{msgWith(cmdRead, readBody(fileID{1, 2}, 10))}, func(b []byte) { decodeRead(b) })
}

func FuzzWriteRequest(f *testing.F) {
	fuzzDecoder(f, [][]byte{msgWith(cmdWrite, writeBody(fileID{1, 2}, []byte("abc")))}, func(b []byte) { decodeWrite(b) })
}

func FuzzIoctlRequest(f *testing.F) {
	seeds := [][]byte{
		msgWith(cmdIoctl, ioctlBody(fsctlPipeTransceive, fileID{1, 2}, []byte("in"), 100)),
		msgWith(cmdIoctl, ioctlBody(fsctlValidateNegotiateInfo, fileID{^uint64(0), ^uint64(0)}, validateBody(1, "0123456789abcdef", 1, []uint16{0x0300}), 24)),
	}
	fuzzDecoder(f, seeds, func(b []byte) {
		if r, err := decodeIoctl(b); err == nil {
			decodeValidateNegotiateInfo(r.Input)
		}
	})
}

func FuzzOtherRequests(f *testing.F) {
	q := make([]byte, 40)
	le.PutUint16(q, 41)
	s := make([]byte, 32)
	le.PutUint16(s, 33)
	seeds := [][]byte{msgWith(cmdQueryInfo, q), msgWith(cmdSetInfo, s), msgWith(cmdClose, fileIDBody(fileID{1, 2})), msgWith(cmdEcho, []byte{4, 0, 0, 0})}
	fuzzDecoder(f, seeds, func(b []byte) {
		decodeQueryInfo(b)
		decodeSetInfo(b)
		decodeFileIDBody(b)
		decodeSimple(b)
	})
}

func FuzzSMB1Negotiate(f *testing.F) {
	fuzzDecoder(f, [][]byte{smb1NegotiateFrame("NT LM 0.12", "SMB 2.002", "SMB 2.???")}, func(b []byte) { smb1Negotiate(b) })
}

// FuzzConnection feeds fuzzed bytes to a connection after a valid
// NEGOTIATE: the connection must neither panic nor hang.
func FuzzConnection(f *testing.F) {
	frame := func(m []byte) []byte {
		return append([]byte{0, byte(len(m) >> 16), byte(len(m) >> 8), byte(len(m))}, m...)
	}
	mk := func(mid uint64, cmd uint16, body []byte) []byte {
		m := msgWith(cmd, body)
		le.PutUint64(m[24:], mid)
		le.PutUint64(m[40:], 0)
		return frame(m)
	}
	f.Add(mk(1, cmdEcho, []byte{4, 0, 0, 0}))
	f.Add(mk(1, cmdSessionSetup, sessionSetupBody([]byte("NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\xa2"))))
	f.Add(mk(1, cmdTreeConnect, treeConnectBody(`\\h\IPC$`)))
	f.Add(append(mk(1, cmdEcho, []byte{4, 0, 0, 0}), mk(2, cmdCreate, createBody("echo"))...))
	f.Add([]byte{0x85, 0, 0, 0, 0, 0, 0, 4, 0xFD, 'S', 'M', 'B'})
	f.Add(frame(smb1NegotiateFrame("SMB 2.???")))
	f.Fuzz(func(t *testing.T, data []byte) {
		srv, err := NewServer(Config{Auth: testAuth(), Pipes: &echoPipes{}, SigningOptional: true, ReadTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		client, server := net.Pipe()
		c := newConn(srv, server)
		done := make(chan struct{})
		go func() {
			c.serve()
			close(done)
		}()
		drained := make(chan struct{})
		go func() {
			io.Copy(io.Discard, client)
			close(drained)
		}()
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		neg := msgWith(cmdNegotiate, negotiateBody([]uint16{0x0210}, 0, 1, nil))
		le.PutUint64(neg[24:], 0)
		le.PutUint64(neg[40:], 0)
		client.Write(frame(neg))
		client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("connection did not end")
		}
		<-drained
		srv.Shutdown(context.Background())
	})
}

// acceptAll is an authenticator that establishes every session at once
// with a fixed key, so fuzzed input reaches the commands behind it.
type acceptAll struct{}

func (acceptAll) NegotiateToken() []byte        { return nil }
func (acceptAll) NewExchange() ipc.AuthExchange { return &acceptAllExchange{} }

type acceptAllExchange struct{}

func (*acceptAllExchange) Step(in []byte) ([]byte, bool, error) {
	if len(in) > 0 && in[0] == 'x' {
		return nil, false, ipc.ErrLogonFailure
	}
	return nil, true, nil
}
func (*acceptAllExchange) SessionKey() []byte { return bytes.Repeat([]byte{7}, 16) }
func (*acceptAllExchange) Identity() ipc.Identity {
	return ipc.Identity{User: "fuzz"}
}

// FuzzSession feeds fuzzed frames to a connection that negotiated 3.0.2
// with signing optional; the seeds establish a session, open a pipe and
// use it, so mutations explore every command handler.
func FuzzSession(f *testing.F) {
	for _, s := range sessionSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runSessionInput(t, data, nil)
	})
}

func sessionSeeds() [][]byte {
	frame := func(m []byte) []byte {
		return append([]byte{0, byte(len(m) >> 16), byte(len(m) >> 8), byte(len(m))}, m...)
	}
	const sid = 0 // the session id is random; related operations reach it
	mk := func(mid uint64, cmd uint16, related bool, body []byte) []byte {
		m := msgWith(cmd, body)
		le.PutUint64(m[24:], mid)
		le.PutUint64(m[40:], sid)
		le.PutUint32(m[36:], 0)
		if related {
			m[16] |= byte(flagRelated)
			le.PutUint64(m[40:], ^uint64(0))
			le.PutUint32(m[36:], ^uint32(0))
		}
		return m
	}
	chain := func(ms ...[]byte) []byte {
		var out []byte
		for i, m := range ms {
			if i < len(ms)-1 {
				for len(m)%8 != 0 {
					m = append(m, 0)
				}
				le.PutUint32(m[20:], uint32(len(m)))
			}
			out = append(out, m...)
		}
		return frame(out)
	}
	ones := fileID{^uint64(0), ^uint64(0)}
	return [][]byte{chain(
		mk(1, cmdSessionSetup, false, sessionSetupBody([]byte("tok"))),
		mk(2, cmdTreeConnect, true, treeConnectBody(`\\h\IPC$`)),
		mk(3, cmdCreate, true, createBody("echo")),
		mk(4, cmdWrite, true, writeBody(ones, []byte("abc"))),
		mk(5, cmdRead, true, readBody(ones, 2)),
		mk(6, cmdRead, true, readBody(ones, 100)),
		mk(7, cmdIoctl, true, ioctlBody(fsctlPipeTransceive, ones, []byte("q"), 100)),
		mk(8, cmdClose, true, fileIDBody(ones)),
	), chain(
		mk(1, cmdSessionSetup, false, sessionSetupBody([]byte("tok"))),
		mk(2, cmdTreeConnect, true, treeConnectBody(`\\h\IPC$`)),
		mk(3, cmdCreate, true, createBody("silent")),
		mk(4, cmdRead, true, readBody(ones, 100)),
		mk(5, cmdIoctl, true, ioctlBody(fsctlValidateNegotiateInfo, ones, validateBody(0, "0123456789abcdef", 1, []uint16{0x0302}), 24)),
		mk(6, cmdLogoff, true, []byte{4, 0, 0, 0}),
	)}
}

// runSessionInput runs data on a fresh connection after a 3.0.2
// NEGOTIATE; out, if not nil, receives every frame the server sends.
func runSessionInput(t *testing.T, data []byte, out *[][]byte) {
	frame := func(m []byte) []byte {
		return append([]byte{0, byte(len(m) >> 16), byte(len(m) >> 8), byte(len(m))}, m...)
	}
	srv, err := NewServer(Config{Auth: acceptAll{}, Pipes: &echoPipes{}, SigningOptional: true, ReadTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	c := newConn(srv, server)
	done := make(chan struct{})
	go func() {
		c.serve()
		close(done)
	}()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		r := newRawClient(t, client)
		for {
			b, err := r.readFrame()
			if err != nil {
				return
			}
			if out != nil {
				*out = append(*out, b)
			}
		}
	}()
	client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	neg := msgWith(cmdNegotiate, negotiateBody([]uint16{0x0302}, capEncryption, 1, nil))
	le.PutUint64(neg[24:], 0)
	le.PutUint64(neg[40:], 0)
	client.Write(frame(neg))
	client.Write(data)
	if out != nil {
		time.Sleep(100 * time.Millisecond) // let the async READ pend
	}
	client.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("connection did not end")
	}
	<-drained
	srv.Shutdown(context.Background())
}
