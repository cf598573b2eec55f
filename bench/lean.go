package bench

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/smbraw"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// PipeIO is how a call reaches the pipe.
type PipeIO int

const (
	// WriteRead sends the request in an SMB2 WRITE and fetches the
	// response with an SMB2 READ once the WRITE completed (two round
	// trips per call, as go-msrpc and Samba's client library do).
	WriteRead PipeIO = iota
	// Transceive sends the request and receives the response in one
	// FSCTL_PIPE_TRANSCEIVE (one round trip, as Windows does).
	Transceive
	// Pipelined sends the WRITE and its READ back to back in one send(2)
	// (two requests, not a compound: MS-SMB2 3.2.4.1.5 lets a client
	// send requests while it holds credits for them) and awaits both
	// responses: one round trip per call. When the client holds fewer
	// than two credits, the call falls back to WRITE, then READ.
	// go-msrpc, impacket and Samba's client library do not do this.
	Pipelined
)

func (p PipeIO) String() string {
	switch p {
	case Transceive:
		return "TRANSCEIVE"
	case Pipelined:
		return "WRITE+READ pipelined"
	}
	return "WRITE+READ"
}

// LeanOptions configure the lean load generator.
type LeanOptions struct {
	// Seal encrypts every message with AES-128-GCM (SMB 3.1.1) instead of
	// signing it.
	Seal bool
	// IO chooses WRITE then READ, WRITE and READ pipelined, or
	// FSCTL_PIPE_TRANSCEIVE.
	IO PipeIO
	// Blocking makes a call's I/O plain blocking read(2) and write(2) on
	// the calling goroutine's thread, which sleeps in the kernel until the
	// response arrives: the cheapest wait for one or two connections.
	// Otherwise Go's network poller waits for the responses, which costs
	// more per wake-up but collects the responses of many connections in
	// one: the cheapest wait for many connections.
	Blocking bool
}

// leanMaxOut is the largest response a lean call accepts: one RPC
// fragment of the size both servers negotiate.
const leanMaxOut = 4280

// Offsets in the messages the lean client builds and reads.
const (
	smbHeader    = smbraw.HeaderSize
	offMessageID = 24
	offSignature = 48
	writeBodyLen = 48
	ioctlBodyLen = 56
	readBodyLen  = 49
	rpcCallIDOff = 12 // in a DCE/RPC PDU
	rpcHeader    = 24 // request and response PDU headers (C706 12.6.4.9, 12.6.4.10)
	transformLen = smbcrypto.TransformHeaderSize
	tagLen       = 16
	frameHdr     = 4
)

// getInfoStub is the NDR stub of NetrWkstaGetInfo (MS-WKST 3.2.4.1) with a
// NULL ServerName and Level 100.
var getInfoStub = []byte{0, 0, 0, 0, 100, 0, 0, 0}

// LeanClient is one connection of the lean load generator: the session,
// tree, pipe and RPC bind are established once through the raw client of
// internal/smbraw, then every call sends a request encoded in advance,
// changing only its MessageId, call_id and signature (or encryption),
// and checks the response: status, signature (or authenticated
// decryption), RPC response PDU of the same call_id and a zero return
// code. It makes no allocation per call. It is used by one goroutine at a
// time.
type LeanClient struct {
	raw    *smbraw.Client
	conn   net.Conn
	opts   LeanOptions
	signer *smbcrypto.Signer
	enc    cipher.AEAD // client to server
	dec    cipher.AEAD // server to client
	nonce  [12]byte    // 8 random bytes, then a counter
	ctr    uint32

	callID uint32
	// req is the plaintext request message (WRITE or IOCTL); read the
	// READ that follows a WRITE.
	req, read []byte
	// out is a frame being sent; in holds received bytes (in[inOff:inEnd]
	// not consumed yet); plain receives decrypted responses.
	out, in, plain []byte
	inOff, inEnd   int

	fd       int       // the socket, in blocking mode (opts.Blocking) while calls are made
	deadline time.Time // without opts.Blocking: when the connection's deadline must move
	// credits is a lower bound of the credits the server granted that no
	// request has used yet (MS-SMB2 3.2.4.1.5).
	credits int
	// lastFrame is the length of the last frame received, without its
	// Direct TCP header.
	lastFrame int
	// shape holds the frame lengths of the last call; floor, when set,
	// the response lengths a floor server answers with.
	shape FloorShape
	floor *FloorShape
	pend  [2]expect // against a floor: the answers awaited, in order
	npend int
	// Interims counts STATUS_PENDING interim responses seen (calls the
	// server answered asynchronously).
	Interims int
	// Unpipelined counts pipelined calls made as WRITE, then READ, for
	// want of credits.
	Unpipelined int
}

// DialLean establishes a lean connection to t: NEGOTIATE (SMB 3.1.1,
// AES-128-GCM offered), SESSION_SETUP (NTLM in SPNEGO), TREE_CONNECT to
// IPC$, CREATE of \PIPE\wkssvc and an unauthenticated RPC bind to wkssvc
// over NDR. ctx bounds the establishment.
func DialLean(ctx context.Context, t Target, opts LeanOptions) (*LeanClient, error) {
	if t.Host == "" || t.User == "" {
		return nil, errors.New("bench: target needs Host and User")
	}
	d := net.Dialer{Timeout: CallTimeout}
	nc, err := d.DialContext(ctx, "tcp", t.Addr())
	if err != nil {
		return nil, fmt.Errorf("%s: dial: %w", t.Name, err)
	}
	c := &LeanClient{raw: smbraw.New(nc), conn: nc, opts: opts}
	if dl, ok := ctx.Deadline(); ok {
		c.raw.Timeout = max(time.Until(dl), time.Millisecond)
	}
	if err := c.establish(t); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	return c, nil
}

func (c *LeanClient) establish(t Target) error {
	r := c.raw
	st, err := r.Negotiate(t.dialect(), smbcrypto.AES128GCM)
	if err != nil || st != smbraw.StatusSuccess {
		return fmt.Errorf("negotiate: status %#x, %v", st, err)
	}
	if c.opts.Seal && (r.Dialect != smbcrypto.Dialect311 || r.CipherID != smbcrypto.AES128GCM) {
		return fmt.Errorf("negotiate: dialect %#x cipher %#x: no AES-128-GCM at 3.1.1", r.Dialect, r.CipherID)
	}
	if st, err = r.Login(t.User, t.Password, c.opts.Seal); err != nil || st != smbraw.StatusSuccess {
		return fmt.Errorf("session setup: status %#x, %v", st, err)
	}
	if c.opts.Seal && !r.Encrypt {
		return errors.New("session setup: no encryption keys")
	}
	if st, err = r.TreeConnectPath(`\\` + t.Host + `\IPC$`); err != nil || st != smbraw.StatusSuccess {
		return fmt.Errorf("tree connect: status %#x, %v", st, err)
	}
	st, id, err := r.Create("wkssvc")
	if err != nil || st != smbraw.StatusSuccess {
		return fmt.Errorf("create: status %#x, %v", st, err)
	}
	c.callID = 1
	if st, err = r.Write(id, smbraw.Bind(c.callID, smbraw.WkssvcSyntax)); err != nil || st != smbraw.StatusSuccess {
		return fmt.Errorf("bind write: status %#x, %v", st, err)
	}
	st, ack, err := r.Read(id, leanMaxOut)
	if err != nil || st != smbraw.StatusSuccess {
		return fmt.Errorf("bind read: status %#x, %v", st, err)
	}
	if err := checkBindAck(ack); err != nil {
		return err
	}

	if c.signer, err = smbcrypto.NewSigner(r.SignAlg, r.SignKey); err != nil {
		return err
	}
	if c.opts.Seal {
		enc, dec, _ := r.Ciphers()
		c.enc, c.dec = enc, dec
		rand.Read(c.nonce[:8])
	}
	c.templates(id)
	if c.opts.Blocking {
		if err := c.blockingFD(); err != nil {
			return err
		}
	}
	c.credits = 1 // the last response granted at least one
	c.buffers()
	return nil
}

// buffers allocates the send and receive buffers once the templates are
// built.
func (c *LeanClient) buffers() {
	c.out = make([]byte, 2*(frameHdr+transformLen+len(c.req)+tagLen))
	c.in = make([]byte, 2*(frameHdr+transformLen+smbHeader+leanMaxOut+256))
	c.plain = make([]byte, 0, len(c.in))
}

// templates encodes the call's requests once, for the pipe id: a call
// sets their MessageId, call_id and signature.
func (c *LeanClient) templates(id smbraw.FileID) {
	pdu := smbraw.Request(0, smbraw.FlagFirstFrag|smbraw.FlagLastFrag, 0, uint32(len(getInfoStub)), getInfoStub)
	if c.opts.IO == Transceive {
		c.req = make([]byte, smbHeader+ioctlBodyLen+len(pdu))
		c.raw.PutHeader(c.req, smbraw.CmdIoctl, 0)
		copy(c.req[smbHeader:], smbraw.IoctlBody(smbraw.FsctlPipeTransceive, id, pdu, leanMaxOut))
	} else {
		c.req = make([]byte, smbHeader+writeBodyLen+len(pdu))
		c.raw.PutHeader(c.req, smbraw.CmdWrite, 0)
		copy(c.req[smbHeader:], smbraw.WriteBody(id, pdu))
		c.read = make([]byte, smbHeader+readBodyLen)
		c.raw.PutHeader(c.read, smbraw.CmdRead, 0)
		copy(c.read[smbHeader:], smbraw.ReadBody(id, leanMaxOut))
	}
	if !c.opts.Seal {
		for _, m := range [][]byte{c.req, c.read} {
			if m != nil {
				le.PutUint32(m[16:], smbraw.FlagSigned)
			}
		}
	}
}

var le = binary.LittleEndian

// checkBindAck accepts a bind_ack whose first result is acceptance.
func checkBindAck(ack []byte) error {
	if smbraw.PDUType(ack) != smbraw.PtypeBindAck || len(ack) < 28 {
		return fmt.Errorf("bind: PDU type %d", smbraw.PDUType(ack))
	}
	off := 24 + 2 + int(le.Uint16(ack[24:])) // secondary address
	off = (off + 3) &^ 3
	if off+8 > len(ack) || ack[off] == 0 {
		return errors.New("bind: no presentation context result")
	}
	if res := le.Uint16(ack[off+4:]); res != 0 {
		return fmt.Errorf("bind: presentation context refused (result %d)", res)
	}
	return nil
}

// blockingFD puts the socket in blocking mode, each read and write
// bounded by CallTimeout (SO_RCVTIMEO, SO_SNDTIMEO): a call's I/O is then
// plain read(2) and write(2) on the goroutine's thread, which sleeps in
// the kernel until the response arrives, instead of parking in Go's
// network poller, whose wake-ups cost the generator more CPU than the
// call itself.
func (c *LeanClient) blockingFD() error {
	tc, ok := c.conn.(*net.TCPConn)
	if !ok {
		return errors.New("not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		c.fd = int(fd)
		tv := syscall.NsecToTimeval(int64(CallTimeout))
		if serr = syscall.SetsockoptTimeval(c.fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); serr != nil {
			return
		}
		if serr = syscall.SetsockoptTimeval(c.fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv); serr != nil {
			return
		}
		serr = syscall.SetNonblock(c.fd, false)
	})
	if err == nil {
		err = serr
	}
	return err
}

// write sends b whole on the blocking socket.
func (c *LeanClient) writeAll(b []byte) error {
	if !c.opts.Blocking {
		if err := c.armDeadline(); err != nil {
			return err
		}
		_, err := c.conn.Write(b)
		return err
	}
	for len(b) > 0 {
		n, err := syscall.Write(c.fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return ioError(err)
		}
		b = b[n:]
	}
	return nil
}

// readSome reads what is there (at least a byte).
func (c *LeanClient) readSome(b []byte) (int, error) {
	if !c.opts.Blocking {
		n, err := c.conn.Read(b)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	for {
		n, err := syscall.Read(c.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, ioError(err)
		case n == 0:
			return 0, io.ErrUnexpectedEOF
		}
		return n, nil
	}
}

// armDeadline moves the connection's deadline CallTimeout ahead when less
// than half of it is left, so that a stuck server fails the call without
// a deadline update per call.
func (c *LeanClient) armDeadline() error {
	now := time.Now()
	if now.Before(c.deadline) {
		return nil
	}
	c.deadline = now.Add(CallTimeout / 2)
	return c.conn.SetDeadline(now.Add(CallTimeout))
}

func ioError(err error) error {
	if err == syscall.EAGAIN {
		return fmt.Errorf("no response within %v", CallTimeout)
	}
	return err
}

// GetInfo makes one NetrWkstaGetInfo(100) call and checks its response.
// Against a floor server (DialFloor) it sends the same messages and
// checks only the framing and length of the answers.
func (c *LeanClient) GetInfo(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.callID++
	le.PutUint32(c.req[len(c.req)-len(getInfoStub)-rpcHeader+rpcCallIDOff:], c.callID)
	mid := c.raw.MsgID
	switch {
	case c.opts.IO == Pipelined && c.credits >= 2:
		n := len(c.stamp(c.out, c.req))
		n += len(c.stamp(c.out[n:], c.read))
		if err := c.writeAll(c.out[:n]); err != nil {
			return err
		}
		// The two responses, in either order (a server may answer the
		// READ with an interim response before the WRITE completes).
		var got [2]bool
		for !got[0] || !got[1] {
			resp, m, err := c.receive(mid, mid+1)
			if err != nil {
				return err
			}
			i := int(m - mid)
			if got[i] {
				return fmt.Errorf("two responses to MessageId %d", m)
			}
			got[i] = true
			if i == 0 {
				c.shape.Resp = c.lastFrame
				continue
			}
			c.shape.ReadResp = c.lastFrame
			if err := c.checkData(resp, false); err != nil {
				return err
			}
		}
		return nil
	case c.opts.IO == Pipelined || c.opts.IO == WriteRead:
		if c.opts.IO == Pipelined {
			c.Unpipelined++
		}
		if _, err := c.exchange(c.req); err != nil {
			return err
		}
		c.shape.Resp = c.lastFrame
		resp, err := c.exchange(c.read)
		if err != nil {
			return err
		}
		c.shape.ReadResp = c.lastFrame
		return c.checkData(resp, false)
	default:
		resp, err := c.exchange(c.req)
		if err != nil {
			return err
		}
		c.shape.Resp = c.lastFrame
		return c.checkData(resp, true)
	}
}

// checkData checks the RPC response in a READ or IOCTL response (nothing
// against a floor server, whose answers carry no message).
func (c *LeanClient) checkData(resp []byte, ioctl bool) error {
	if c.floor != nil {
		return nil
	}
	var data []byte
	var err error
	if ioctl {
		data, err = smbraw.IoctlOutput(resp)
	} else {
		data, err = smbraw.ReadData(resp)
	}
	if err != nil {
		return err
	}
	return c.checkResponse(data)
}

// checkResponse accepts a whole response PDU of the current call whose
// stub ends in a zero return code.
func (c *LeanClient) checkResponse(pdu []byte) error {
	switch {
	case len(pdu) < rpcHeader+4:
		return fmt.Errorf("NetrWkstaGetInfo: %d-byte response", len(pdu))
	case pdu[2] == smbraw.PtypeFault:
		return fmt.Errorf("NetrWkstaGetInfo: fault %#x", smbraw.FaultStatus(pdu))
	case pdu[2] != smbraw.PtypeResponse || pdu[3]&3 != 3:
		return fmt.Errorf("NetrWkstaGetInfo: PDU type %d flags %#x", pdu[2], pdu[3])
	case le.Uint32(pdu[rpcCallIDOff:]) != c.callID:
		return fmt.Errorf("NetrWkstaGetInfo: response to call %d, expected %d", le.Uint32(pdu[rpcCallIDOff:]), c.callID)
	case int(le.Uint16(pdu[8:])) != len(pdu):
		return fmt.Errorf("NetrWkstaGetInfo: frag_length %d of a %d-byte PDU", le.Uint16(pdu[8:]), len(pdu))
	}
	if rc := le.Uint32(pdu[len(pdu)-4:]); rc != 0 {
		return fmt.Errorf("NetrWkstaGetInfo: status %#x", rc)
	}
	return nil
}

// stamp gives the request template msg the next MessageId, signs it or
// seals it into dst (which must have room for the frame) and returns the
// frame, Direct TCP header included.
func (c *LeanClient) stamp(dst, msg []byte) []byte {
	mid := c.raw.MsgID
	c.raw.MsgID++
	c.credits--
	le.PutUint64(msg[offMessageID:], mid)
	if c.floor != nil {
		n := c.floor.Resp
		if len(c.read) > 0 && &msg[0] == &c.read[0] {
			n = c.floor.ReadResp
		}
		c.pend[c.npend] = expect{mid, n}
		c.npend++
	}
	var frame []byte
	if c.opts.Seal {
		frame = c.seal(dst, msg)
	} else {
		c.signer.Sign(msg)
		frame = dst[:frameHdr+len(msg)]
		copy(frame[frameHdr:], msg)
	}
	n := len(frame) - frameHdr
	frame[0], frame[1], frame[2], frame[3] = 0, byte(n>>16), byte(n>>8), byte(n)
	return frame[:len(frame):len(frame)]
}

// exchange sends the request msg (a template: its MessageId and
// signature are set here) and returns the final response, whose header
// and signature it has checked.
func (c *LeanClient) exchange(msg []byte) ([]byte, error) {
	mid := c.raw.MsgID
	if err := c.writeAll(c.stamp(c.out, msg)); err != nil {
		return nil, err
	}
	resp, _, err := c.receive(mid, mid)
	return resp, err
}

// receive returns the next final response to one of the MessageIds lo to
// hi, and which, having checked its header and signature; it skips
// interim responses. Against a floor server it checks that the frame has
// the length the floor answers a request with and returns the responses
// in the order of the requests.
func (c *LeanClient) receive(lo, hi uint64) ([]byte, uint64, error) {
	if c.floor != nil {
		m, err := c.readFrame()
		if err != nil {
			return nil, 0, err
		}
		if c.npend == 0 {
			return nil, 0, errors.New("floor: an answer to no request")
		}
		e := c.pend[0]
		c.pend[0] = c.pend[1]
		c.npend--
		if len(m) != e.n {
			return nil, 0, fmt.Errorf("floor: %d-byte answer, expected %d", len(m), e.n)
		}
		return m, e.mid, nil
	}
	for {
		resp, err := c.readMessage()
		if err != nil {
			return nil, 0, err
		}
		if len(resp) < smbHeader || string(resp[:4]) != "\xfeSMB" {
			return nil, 0, errors.New("response is not an SMB2 message")
		}
		flags, status := le.Uint32(resp[16:]), le.Uint32(resp[8:])
		mid := le.Uint64(resp[offMessageID:])
		if mid < lo || mid > hi || flags&smbraw.FlagServerToRedir == 0 {
			return nil, 0, fmt.Errorf("response to MessageId %d, expected %d to %d", mid, lo, hi)
		}
		c.credits += int(le.Uint16(resp[14:]))
		if status == smbraw.StatusPending && flags&smbraw.FlagAsync != 0 {
			c.Interims++
			continue
		}
		if !c.opts.Seal && (flags&smbraw.FlagSigned == 0 || !c.signer.Verify(resp)) {
			return nil, 0, errors.New("response not signed with the session's key")
		}
		if status != smbraw.StatusSuccess {
			return nil, 0, fmt.Errorf("command %#x: status %#x", le.Uint16(resp[12:]), status)
		}
		return resp, mid, nil
	}
}

// seal encrypts msg into dst (MS-SMB2 3.1.4.3) and returns the frame.
func (c *LeanClient) seal(dst, msg []byte) []byte {
	f := dst[:frameHdr+transformLen+len(msg)]
	th := f[frameHdr:]
	clear(th[:transformLen])
	copy(th, "\xfdSMB")
	c.ctr++
	le.PutUint32(c.nonce[8:], c.ctr)
	copy(th[20:], c.nonce[:])
	le.PutUint32(th[36:], uint32(len(msg)))
	le.PutUint16(th[42:], 1) // encrypted
	le.PutUint64(th[44:], c.raw.SessionID)
	sealed := c.enc.Seal(th[transformLen:transformLen], c.nonce[:], msg, th[20:transformLen])
	copy(th[4:20], sealed[len(msg):])
	return f
}

// readFrame returns the next frame's message, as received (still
// encrypted when it came in a TRANSFORM_HEADER), and sets lastFrame. The
// slice is valid until the next call.
func (c *LeanClient) readFrame() ([]byte, error) {
	for c.inEnd-c.inOff < frameHdr || c.inEnd-c.inOff < frameHdr+frameLen(c.in[c.inOff:]) {
		if c.inOff > 0 {
			c.inEnd = copy(c.in, c.in[c.inOff:c.inEnd])
			c.inOff = 0
		}
		if c.inEnd >= frameHdr && frameHdr+frameLen(c.in) > len(c.in) {
			return nil, fmt.Errorf("%d-byte response frame", frameLen(c.in))
		}
		n, err := c.readSome(c.in[c.inEnd:])
		if err != nil {
			return nil, err
		}
		c.inEnd += n
	}
	if c.in[c.inOff] != 0 {
		return nil, errors.New("response frame is not Direct TCP")
	}
	n := frameLen(c.in[c.inOff:])
	m := c.in[c.inOff+frameHdr : c.inOff+frameHdr+n]
	c.inOff += frameHdr + n
	if c.inOff == c.inEnd {
		c.inOff, c.inEnd = 0, 0
	}
	c.lastFrame = n
	return m, nil
}

// readMessage returns the next message from the connection, decrypted
// when it came in a TRANSFORM_HEADER. The slice is valid until the next
// call.
func (c *LeanClient) readMessage() ([]byte, error) {
	m, err := c.readFrame()
	if err != nil {
		return nil, err
	}
	if len(m) >= 4 && string(m[:4]) == "\xfdSMB" {
		return c.unseal(m)
	}
	if c.opts.Seal {
		return nil, errors.New("plaintext response on a sealed session")
	}
	return m, nil
}

func frameLen(b []byte) int { return int(b[1])<<16 | int(b[2])<<8 | int(b[3]) }

// unseal authenticates and decrypts a TRANSFORM_HEADER message into
// c.plain.
func (c *LeanClient) unseal(m []byte) ([]byte, error) {
	if c.dec == nil || len(m) <= transformLen || le.Uint16(m[42:]) != 1 ||
		int(le.Uint32(m[36:])) != len(m)-transformLen || le.Uint64(m[44:]) != c.raw.SessionID {
		return nil, errors.New("malformed or foreign TRANSFORM_HEADER")
	}
	body := m[transformLen:]
	ct := append(append(c.plain[:0], body...), m[4:20]...)
	pt, err := c.dec.Open(ct[:0], m[20:32], ct, m[20:transformLen])
	if err != nil {
		return nil, errors.New("response does not decrypt with the session's key")
	}
	return pt, nil
}

// Close logs off and closes the connection.
func (c *LeanClient) Close(ctx context.Context) error {
	if c.floor != nil {
		return c.conn.Close()
	}
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	} else {
		c.conn.SetDeadline(time.Now().Add(CallTimeout))
	}
	c.inOff, c.inEnd = 0, 0
	if c.opts.Blocking {
		// Back to the network poller, for the raw client's deadlines.
		if rc, err := c.conn.(*net.TCPConn).SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { syscall.SetNonblock(int(fd), true) })
		}
	}
	_, err := c.raw.Logoff()
	if cerr := c.conn.Close(); err == nil {
		err = cerr
	}
	return err
}
