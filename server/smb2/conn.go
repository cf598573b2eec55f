package smb2

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/wkssvcd/wkssvcd/server/budget"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// errDisconnect ends a connection without a response (MS-SMB2 3.3.7.1).
var errDisconnect = errors.New("smb2: disconnect")

// Negotiate state values of Connection.NegotiateDialect (MS-SMB2 3.3.1.7).
const (
	dialectNone     uint16 = 0xFFFF
	dialectWildcard uint16 = 0x02FF
)

// Security modes and capabilities (MS-SMB2 2.2.3, 2.2.4).
const (
	secModeSigningEnabled  uint16 = 0x0001
	secModeSigningRequired uint16 = 0x0002
	capLargeMTU            uint32 = 0x00000004
	capEncryption          uint32 = 0x00000040
)

// conn is one client connection (MS-SMB2 3.3.1.7).
type conn struct {
	srv       *Server
	cfg       *Config
	nc        net.Conn
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once

	wmu sync.Mutex // serializes writes to nc
	wdl time.Time  // the write deadline set on nc (guarded by wmu)
	// out holds responses the reader goroutine produced while another
	// complete request was already buffered, to be written together
	// (see writeFrameInline): outFrames frames in the first outLen bytes
	// of a pooled buffer, nil when empty. Guarded by wmu; whoever writes
	// next writes them first.
	out       *[]byte
	outLen    int
	outFrames int
	// outPending is set by the reader goroutine when it queues a
	// response and cleared when it flushes; others may flush the queue
	// meanwhile, so it means "maybe". Reader goroutine only.
	outPending bool

	br *bufio.Reader // reader goroutine only
	// rdl is the read deadline set on nc (zero: none) when rdlSet; when
	// not, nc's deadline is unknown or spent and must be set. Reader
	// goroutine only.
	rdl    time.Time
	rdlSet bool
	// rx is the pooled buffer of the message being handled; a handler
	// that keeps slices of the message sets rxKept so that it is not
	// reused. Reader goroutine only.
	rx     *[]byte
	rxKept bool

	// Reader goroutine only.
	lastActivity  time.Time // end of the last message (keep-alives do not count)
	handshakeDone time.Time // HandshakeTimeout deadline; zero when none applies
	authenticated bool      // a session of this connection was established

	// Negotiated state: written only by the reader goroutine before any
	// session exists, read afterwards.
	dialect        uint16
	clientGUID     [16]byte
	clientSecMode  uint16
	clientCaps     uint32
	clientDialects []uint16
	serverSecMode  uint16
	serverCaps     uint32
	cipher         uint16
	signingAlg     uint16 // 3.x signing algorithm
	preauth        []byte // Connection.PreauthIntegrityHashValue (3.1.1)

	credits *creditWindow // reader goroutine only

	// buffered counts what the connection's pipes hold for the client
	// (MaxConnBuffered, nested in the server's MaxBuffered); the pipes
	// get it as ipc.OpenInfo.Budget.
	buffered *budget.Budget

	mu          sync.Mutex // guards the maps below and logons
	sessions    map[uint64]*session
	logons      int              // sessions with a security exchange in progress
	opens       map[uint64]*open // by FileId.Volatile
	pending     map[uint64]*asyncOp
	nextAsyncID uint64
	nextFileID  uint64
	asyncWG     sync.WaitGroup
	readSlots   chan struct{} // bounded async operations
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	now := time.Now()
	var hs time.Time
	if s.cfg.HandshakeTimeout > 0 {
		hs = now.Add(s.cfg.HandshakeTimeout)
	}
	return &conn{
		buffered:      budget.New(int64(s.cfg.MaxConnBuffered), s.buffered),
		lastActivity:  now,
		handshakeDone: hs,
		srv:           s,
		cfg:           &s.cfg,
		nc:            nc,
		br:            bufio.NewReaderSize(nc, readBufSize),
		log:           s.cfg.Logger.With("remote", nc.RemoteAddr().String()),
		ctx:           ctx,
		cancel:        cancel,
		dialect:       dialectNone,
		credits:       newCreditWindow(s.cfg.MaxCredits),
		sessions:      make(map[uint64]*session),
		opens:         make(map[uint64]*open),
		pending:       make(map[uint64]*asyncOp),
		readSlots:     make(chan struct{}, s.cfg.MaxPendingReads),
	}
}

// close ends the connection; safe to call from any goroutine.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

func (c *conn) negotiated() bool {
	return c.dialect != dialectNone && c.dialect != dialectWildcard
}

func (c *conn) maxFrame() int {
	m := max(c.cfg.MaxTransactSize, c.cfg.MaxReadSize, c.cfg.MaxWriteSize)
	return int(m) + 256 + smbcrypto.TransformHeaderSize
}

// serve runs the read loop until the connection ends, then releases every
// open and waits for the asynchronous operations.
func (c *conn) serve() {
	defer func() {
		// Responses to the requests handled before the connection ended
		// still go out, as they would have without coalescing.
		c.flushOut()
		c.close()
		c.mu.Lock()
		opens := make([]*open, 0, len(c.opens))
		for _, o := range c.opens {
			opens = append(opens, o)
		}
		abandoned := c.logons
		held := 0
		for _, s := range c.sessions {
			held += sessionCharge + treeCharge*len(s.trees)
		}
		c.buffered.Release(held)
		c.opens = map[uint64]*open{}
		c.sessions = map[uint64]*session{}
		c.logons = 0
		c.mu.Unlock()
		// Logons left unfinished with the connection count as failures.
		for range abandoned {
			c.srv.throttle.abandoned(c.nc.RemoteAddr())
		}
		for _, o := range opens {
			o.shut()
		}
		c.asyncWG.Wait()
	}()
	for {
		frame, err := c.readFrame()
		if err != nil {
			var ne net.Error
			switch {
			case c.handshakeExpired(time.Now()) && errors.As(err, &ne) && ne.Timeout():
				c.logHandshakeTimeout()
			case !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed):
				c.log.Debug("connection read ended", "err", err)
			}
			return
		}
		if c.handshakeExpired(c.lastActivity) {
			c.logHandshakeTimeout()
			return
		}
		err = c.handleFrame(frame)
		c.recycleFrame()
		if err != nil {
			c.log.Debug("disconnecting", "err", err)
			return
		}
	}
}

// handshakeExpired reports whether the connection is past its
// HandshakeTimeout without an established session.
func (c *conn) handshakeExpired(now time.Time) bool {
	return !c.authenticated && !c.handshakeDone.IsZero() && !now.Before(c.handshakeDone)
}

// logHandshakeTimeout records a connection closed for not completing its
// handshake in time, rate-limited like connection refusals.
func (c *conn) logHandshakeTimeout() {
	remote := c.nc.RemoteAddr().String()
	c.srv.refusals.Do("handshake-timeout", func(suppressed int) {
		c.cfg.Logger.Info("connection closed: no session established within the handshake timeout",
			"remote", remote, "timeout", c.cfg.HandshakeTimeout, "closures_not_logged", suppressed)
	})
}

// readBufSize is the size of a connection's read buffer. A pipe WRITE or
// READ request fits, so such a message costs one read(2); the bodies of
// larger messages go from the socket straight into the frame.
const readBufSize = 4096

// frameHeader is the size of the Direct TCP transport header (MS-SMB2
// 2.1). Messages are built with this much room in front for writeFrame.
const frameHeader = 4

// readFrame reads one Direct TCP transport message (MS-SMB2 2.1): a zero
// byte, a 24-bit big-endian length and the message. NetBIOS session
// keep-alives (0x85) are skipped; they neither count as activity for
// IdleTimeout nor extend HandshakeTimeout.
//
// A deadline is set only before a read that may block: the wait deadline
// (IdleTimeout after the last message, or the handshake deadline if that
// comes first) while the first byte of a frame is awaited, and
// ReadTimeout, once per frame, when the rest of the frame is not buffered
// yet.
func (c *conn) readFrame() ([]byte, error) {
	for {
		if c.br.Buffered() == 0 {
			// About to wait for the client: the responses queued so far
			// go out first.
			if err := c.flushOut(); err != nil {
				return nil, err
			}
			wanted, logonExpiry := c.setWaitDeadline()
			if _, err := c.br.Peek(1); err != nil {
				var ne net.Error
				timeout := errors.As(err, &ne) && ne.Timeout()
				now := time.Now()
				if timeout && !logonExpiry.IsZero() && !now.Before(logonExpiry) {
					// The deadline was that of an unfinished logon:
					// drop it and keep waiting.
					c.sweepLogons(now)
					c.rdlSet = false
					continue
				}
				if timeout && (wanted.IsZero() || now.Before(wanted)) {
					// A deadline armed before, earlier than the one
					// wanted now, passed: arm the wanted one.
					c.rdlSet = false
					continue
				}
				return nil, err
			}
		}
		armed := false
		if c.br.Buffered() < frameHeader {
			if err := c.flushOut(); err != nil {
				return nil, err
			}
			c.setRestDeadline()
			armed = true
		}
		hdr, err := c.br.Peek(frameHeader)
		if err != nil {
			return nil, err
		}
		n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		switch hdr[0] {
		case 0x85:
			if n != 0 {
				return nil, errMalformed
			}
			c.br.Discard(frameHeader)
			continue
		case 0x00:
		default:
			return nil, errMalformed
		}
		if n < 4 || n > c.maxFrame() {
			return nil, errMalformed
		}
		c.br.Discard(frameHeader)
		if c.br.Buffered() < n {
			if err := c.flushOut(); err != nil {
				return nil, err
			}
			if !armed {
				c.setRestDeadline()
			}
		}
		var buf []byte
		if n+smbcrypto.TransformHeaderSize <= pooledFrame {
			// Room after the message lets a transform be decrypted in
			// place (smbcrypto.OpenInPlace needs 16 bytes).
			c.rx = framePool.Get().(*[]byte)
			buf = (*c.rx)[:n]
		} else {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(c.br, buf); err != nil {
			c.recycleFrame()
			return nil, err
		}
		c.lastActivity = time.Now()
		return buf, nil
	}
}

// recycleFrame gives the buffer of the message just handled back to the
// pool, unless a handler kept slices of it (rxKept). Reader goroutine
// only.
func (c *conn) recycleFrame() {
	if c.rx != nil && !c.rxKept {
		framePool.Put(c.rx)
	}
	c.rx, c.rxKept = nil, false
}

// setWaitDeadline bounds the wait for the next frame by IdleTimeout after
// the last message, until a session is established by the handshake
// deadline, and by the deadline of the earliest unfinished logon. It
// returns the deadline wanted (zero for none) and that logon deadline when
// it is the one wanted, else zero.
//
// The deadline on the socket is changed only when it would fire later
// than wanted (or must be cleared): one armed earlier is left alone, and
// readFrame arms the wanted one when that earlier one passes. Steady
// traffic thus sets the read deadline once per IdleTimeout rather than
// once per message.
func (c *conn) setWaitDeadline() (wanted, logonExpiry time.Time) {
	var d time.Time
	if c.cfg.IdleTimeout > 0 {
		d = c.lastActivity.Add(c.cfg.IdleTimeout)
	}
	if !c.authenticated && !c.handshakeDone.IsZero() && (d.IsZero() || c.handshakeDone.Before(d)) {
		d = c.handshakeDone
	}
	if e := c.nextLogonExpiry(); !e.IsZero() && (d.IsZero() || e.Before(d)) {
		d, logonExpiry = e, e
	}
	if !c.rdlSet || (d.IsZero() && !c.rdl.IsZero()) || (!d.IsZero() && (c.rdl.IsZero() || c.rdl.After(d))) {
		c.nc.SetReadDeadline(d)
		c.rdl, c.rdlSet = d, true
	}
	return d, logonExpiry
}

// setRestDeadline bounds the wait for the rest of a started frame by
// ReadTimeout, and by the handshake deadline until a session is
// established.
func (c *conn) setRestDeadline() {
	d := time.Now().Add(c.cfg.ReadTimeout)
	if !c.authenticated && !c.handshakeDone.IsZero() && c.handshakeDone.Before(d) {
		d = c.handshakeDone
	}
	c.nc.SetReadDeadline(d)
	c.rdl, c.rdlSet = d, true
}

// Frame buffers. Messages up to pooledFrame bytes are received into, and
// responses built in, buffers from framePool, given back once the message
// is handled or written; larger ones are allocated. An idle connection
// holds none.
const pooledFrame = 8 << 10

var framePool = sync.Pool{New: func() any {
	b := make([]byte, pooledFrame)
	return &b
}}

// txHeadroom is the room in front of a response message: the transport
// header and, for an encrypted one, the TRANSFORM_HEADER; txTailroom after
// it is where encryption puts the tag.
const (
	txHeadroom = frameHeader + smbcrypto.TransformHeaderSize
	txTailroom = 16
)

// txFrame is a response being built: msg is where the n-byte message goes,
// with room in front for the transport and transform headers and after it
// for the tag, so that it is sent without a copy, encrypted or not.
type txFrame struct {
	buf    []byte
	pooled *[]byte
	msg    []byte
}

// newTxFrame returns the buffer for an n-byte response message.
func newTxFrame(n int) txFrame {
	need := txHeadroom + n + txTailroom
	var f txFrame
	if need <= pooledFrame {
		f.pooled = framePool.Get().(*[]byte)
		f.buf = (*f.pooled)[:need]
	} else {
		f.buf = make([]byte, need)
	}
	f.msg = f.buf[txHeadroom : txHeadroom+n]
	return f
}

// release gives a pooled buffer back; f must not be used afterwards.
func (f *txFrame) release() {
	if f.pooled != nil {
		framePool.Put(f.pooled)
		f.pooled = nil
	}
	f.buf, f.msg = nil, nil
}

// send writes f.msg, encrypted for enc when it is not nil, and releases
// f. An encryption failure (the session's nonces are spent) closes the
// connection. inline says the caller is the reader goroutine answering the
// request it is handling: the response may then be queued and written
// with the next ones (see writeFrameInline).
func (c *conn) send(f txFrame, enc *session, inline bool) error {
	defer f.release()
	write := c.writeFrame
	if inline {
		write = c.writeFrameInline
	}
	n := len(f.msg)
	if enc == nil {
		return write(f.buf[txHeadroom-frameHeader : txHeadroom+n])
	}
	var nonce [16]byte
	ns := enc.enc.NonceSize()
	if err := enc.nonces.NextInto(nonce[:ns]); err != nil {
		c.close()
		return errDisconnect
	}
	m := smbcrypto.SealInPlace(enc.enc, nonce[:ns], enc.id, f.buf[frameHeader:], n)
	if &m[0] != &f.buf[frameHeader] {
		// SealInPlace had to copy (it never does with this layout).
		fb := make([]byte, frameHeader+len(m))
		copy(fb[frameHeader:], m)
		return write(fb)
	}
	return write(f.buf[:frameHeader+len(m)])
}

// writeFrame sends one transport message: frame holds the message after
// frameHeader bytes of room, where the transport header is filled in, so
// the message is written without a copy. Responses still queued by the
// reader goroutine go first, in the same write. The write deadline is
// moved only when less than ReadTimeout of it is left (see
// armWriteDeadline).
func (c *conn) writeFrame(frame []byte) error {
	putFrameHeader(frame)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(frame)
}

func putFrameHeader(frame []byte) {
	n := len(frame) - frameHeader
	frame[0], frame[1], frame[2], frame[3] = 0, byte(n>>16), byte(n>>8), byte(n)
}

// Coalescing of responses. A client may send several requests without
// waiting for the responses (as its credits allow, MS-SMB2 3.2.4.1.6),
// e.g. a pipe WRITE and its READ in one send; the reader goroutine then
// finds the next request already buffered after handling one. The
// responses it produces meanwhile are queued and written together, in
// one write(2), once no further complete request is buffered, before any
// step that may wait (a READ waiting for pipe data, authentication,
// opening a pipe), or when the queue is full: coalesceFrames frames, or
// the pooledFrame bytes of its buffer. A lone request is answered at once.
// The queue holds at most one pooled buffer per connection, and only
// while the connection's goroutine is busy with input already received,
// like the buffers of the request being handled and of its response.
// Each response stays its own transport message, signed or encrypted on
// its own.
const coalesceFrames = 16

// writeFrameInline is writeFrame for the reader goroutine answering the
// request it handles: while another complete request is buffered, frame
// is copied to the queue instead of written, unless the queue is full.
func (c *conn) writeFrameInline(frame []byte) error {
	putFrameHeader(frame)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.outFrames+1 < coalesceFrames && c.outLen+len(frame) <= pooledFrame && c.nextFrameBuffered() {
		if c.out == nil {
			c.out = framePool.Get().(*[]byte)
		}
		c.outLen += copy((*c.out)[c.outLen:], frame)
		c.outFrames++
		c.outPending = true
		return nil
	}
	c.outPending = false
	return c.writeLocked(frame)
}

// nextFrameBuffered reports whether a whole transport message (a
// keep-alive counts) is already in the read buffer, so that the reader
// goroutine goes on without waiting for the client. Reader goroutine only.
func (c *conn) nextFrameBuffered() bool {
	b := c.br.Buffered()
	if b < frameHeader {
		return false
	}
	hdr, err := c.br.Peek(frameHeader)
	if err != nil {
		return false
	}
	n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	return b >= frameHeader+n
}

// flushOut writes the queued responses, if any. Reader goroutine only.
func (c *conn) flushOut() error {
	if !c.outPending {
		return nil
	}
	c.outPending = false
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(nil)
}

// writeLocked writes the queued responses and then frame (nil for none),
// together, and empties the queue. A failed write closes the connection.
// Caller holds wmu.
func (c *conn) writeLocked(frame []byte) error {
	var err error
	switch {
	case c.out == nil:
		if frame == nil {
			return nil
		}
		c.armWriteDeadline()
		_, err = c.nc.Write(frame)
	default:
		q := (*c.out)[:c.outLen]
		c.armWriteDeadline()
		if len(frame) <= len(*c.out)-c.outLen {
			// Small enough: one contiguous write.
			q = append(q, frame...)
			_, err = c.nc.Write(q)
		} else {
			bufs := net.Buffers{q, frame}
			_, err = bufs.WriteTo(c.nc)
		}
		framePool.Put(c.out)
		c.out, c.outLen, c.outFrames = nil, 0, 0
	}
	if err != nil {
		c.close()
	}
	return err
}

// armWriteDeadline keeps every write of the connection bounded by
// ReadTimeout to 1.5×ReadTimeout (a client that does not read): the
// deadline is set 1.5×ReadTimeout ahead whenever less than ReadTimeout of
// it is left, instead of on every write. Caller holds wmu.
func (c *conn) armWriteDeadline() {
	now := time.Now()
	if !c.wdl.IsZero() && c.wdl.Sub(now) >= c.cfg.ReadTimeout {
		return
	}
	c.wdl = now.Add(c.cfg.ReadTimeout + c.cfg.ReadTimeout/2)
	c.nc.SetWriteDeadline(c.wdl)
}

func (c *conn) handleFrame(frame []byte) error {
	switch [4]byte(frame[0:4]) {
	case protoSMB1:
		c.rxKept = true
		return c.handleSMB1Negotiate(frame)
	case protoTransform:
		if !c.negotiated() || c.dialect < smbcrypto.Dialect300 {
			return errDisconnect
		}
		return c.handleTransform(frame)
	case protoSMB2:
		return c.handleChain(frame, nil)
	}
	return errDisconnect
}

// handleTransform decrypts an SMB2 TRANSFORM_HEADER message (MS-SMB2
// 3.3.5.2.1.1); any failure disconnects.
func (c *conn) handleTransform(frame []byte) error {
	sid, err := smbcrypto.ParseTransformHeader(frame)
	if err != nil {
		return errDisconnect
	}
	c.mu.Lock()
	s := c.sessions[sid]
	c.mu.Unlock()
	if s == nil || s.state != sessionValid || s.dec == nil {
		return errDisconnect
	}
	plain, err := smbcrypto.OpenInPlace(s.dec, frame)
	if err != nil {
		return errDisconnect
	}
	return c.handleChain(plain, s)
}

// request is one element of a received chain while it is processed.
type request struct {
	hdr       header // SessionID/TreeID already resolved for related operations
	msg       []byte
	encrypted bool
	signed    bool
	related   bool
	prevFile  *fileID // FileId of the previous related operation
	sess      *session
	tree      *tree
}

// result is what a command handler produces.
type result struct {
	status   uint32
	body     []byte
	forceSig bool         // sign even when not otherwise required
	signWith *session     // session whose key signs the response
	fileID   *fileID      // FileId used or generated, for related operations
	async    *asyncOp     // the operation went async: body is the interim
	after    func([]byte) // sees the final unsigned response bytes
}

func errResult(status uint32) result {
	return result{status: status, body: errorBody()}
}

// response is one element of a response chain.
type response struct {
	hdr   header
	body  []byte
	sign  *session
	after func([]byte)
}

// handleChain processes a (possibly compounded) SMB2 message. enc is the
// session whose key decrypted it, or nil.
func (c *conn) handleChain(buf []byte, enc *session) error {
	msgs, err := splitCompound(buf, c.cfg.MaxCompound)
	if err != nil {
		return errDisconnect
	}
	var (
		resps   []response
		ops     []*asyncOp
		prevSID uint64
		prevTID uint32
		prevFID *fileID
		prevSt  uint32
		related bool
	)
	defer func() {
		for _, op := range ops {
			close(op.interimSent)
		}
	}()
	for i, m := range msgs {
		h, err := parseHeader(m)
		if err != nil || h.Command > cmdMax {
			return errDisconnect
		}
		if h.Flags&flagServerToRedir != 0 {
			return errDisconnect
		}
		if !c.negotiated() && h.Command != cmdNegotiate {
			return errDisconnect
		}
		if h.Command == cmdNegotiate && (i > 0 || len(msgs) > 1) {
			return errDisconnect
		}
		if h.Command == cmdNegotiate || h.Command == cmdSessionSetup {
			// Negotiation and authentication state may keep slices of
			// the message (security tokens, contexts): its buffer is not
			// reused.
			c.rxKept = true
		}
		isRelated := i > 0 && h.Flags&flagRelated != 0
		if i == 1 {
			related = isRelated
		}
		if enc != nil && !isRelated && h.SessionID != enc.id {
			return errDisconnect
		}
		if h.Command == cmdCancel {
			if c.cancelVerified(h, m, enc != nil, isRelated, prevSID) {
				c.handleCancel(h, isRelated, prevSID)
			}
			continue
		}
		// MS-SMB2 3.3.5.2.3: the MessageId window.
		charge := uint64(h.CreditCharge)
		if c.dialect == smbcrypto.Dialect202 || !c.negotiated() {
			charge = 1
		}
		if !c.credits.consume(h.MessageID, charge) {
			return errDisconnect
		}
		req := &request{hdr: h, msg: m, encrypted: enc != nil, related: isRelated}
		if isRelated {
			req.hdr.SessionID = prevSID
			req.hdr.TreeID = prevTID
			req.prevFile = prevFID
		}
		var res result
		if isRelated && prevSt != statusSuccess && prevSt != statusBufferOverflow && prevSt != statusPending {
			res = errResult(prevSt)
		} else {
			res, err = c.dispatch(req)
			if err != nil {
				return err
			}
		}
		if res.async != nil {
			ops = append(ops, res.async)
		}
		// Response header: a copy of the request's (MS-SMB2 3.3.4.1).
		rh := header{
			CreditCharge: h.CreditCharge,
			Status:       res.status,
			Command:      h.Command,
			Flags:        flagServerToRedir | (h.Flags & flagPriorityMask),
			MessageID:    h.MessageID,
			TreeID:       req.hdr.TreeID,
			SessionID:    req.hdr.SessionID,
		}
		if res.async != nil {
			rh.Flags |= flagAsyncCommand
			rh.AsyncID = res.async.asyncID
		}
		if related && i > 0 {
			rh.Flags |= flagRelated
		}
		rh.Credit = c.credits.grant(h.Credit)
		var signer *session
		if enc == nil && res.async == nil {
			s := res.signWith
			if s == nil {
				s = req.sess
			}
			if s != nil && s.signer != nil && (res.forceSig || req.signed || s.signingRequired) {
				signer = s
			}
		}
		resps = append(resps, response{hdr: rh, body: res.body, sign: signer, after: res.after})
		prevSID, prevTID, prevSt = rh.SessionID, rh.TreeID, res.status
		if res.fileID != nil {
			prevFID = res.fileID
		}
	}
	if len(resps) == 0 {
		return nil
	}
	return c.sendChain(resps, enc)
}

// sendChain assembles, signs or encrypts, and writes a response chain
// (MS-SMB2 3.3.4.1.3).
func (c *conn) sendChain(resps []response, enc *session) error {
	// Each response but the last is padded to 8 bytes (MS-SMB2 3.3.4.1.3).
	total := 0
	for i := range resps {
		n := headerSize + len(resps[i].body)
		if i < len(resps)-1 {
			n += (8 - n%8) % 8
		}
		total += n
	}
	f := newTxFrame(total)
	off := 0
	for i := range resps {
		r := &resps[i]
		n := headerSize + len(r.body)
		pad := 0
		if i < len(resps)-1 {
			pad = (8 - n%8) % 8
			r.hdr.NextCommand = uint32(n + pad)
		}
		m := f.msg[off : off+n+pad : off+n+pad]
		off += n + pad
		if r.sign != nil {
			r.hdr.Flags |= flagSigned
		}
		r.hdr.put(m)
		copy(m[headerSize:], r.body)
		if r.after != nil {
			r.after(m)
		}
		if r.sign != nil {
			r.sign.signer.Sign(m)
		}
	}
	return c.send(f, enc, true)
}

// cancelVerified applies to a CANCEL the checks of MS-SMB2 3.3.5.2.4
// (signature) and, for a signed one, 3.3.5.2.9 (session), as 3.3.5.16
// requires; only then may it cancel anything. A CANCEL has no response, so
// one that fails them is dropped.
func (c *conn) cancelVerified(h header, msg []byte, encrypted, related bool, prevSID uint64) bool {
	if encrypted {
		return true // decrypted with the session's key (3.3.5.2.1.1)
	}
	sid := h.SessionID
	if related {
		sid = prevSID
	}
	c.mu.Lock()
	s := c.sessions[sid]
	c.mu.Unlock()
	if s == nil || s.state != sessionValid {
		// No established session: nothing a CANCEL could reach.
		return s == nil && h.Flags&flagSigned == 0
	}
	if s.encryptData {
		return false
	}
	if h.Flags&flagSigned != 0 && s.signer != nil {
		return s.signer.Verify(msg)
	}
	return !s.signingRequired
}

// dispatch runs the common request checks of MS-SMB2 3.3.5.2 and the
// command handler.
func (c *conn) dispatch(req *request) (result, error) {
	h := &req.hdr
	if h.Command == cmdNegotiate {
		return c.handleNegotiate(req)
	}
	c.mu.Lock()
	s := c.sessions[h.SessionID]
	c.mu.Unlock()
	// MS-SMB2 3.3.5.2.4: signatures.
	if !req.encrypted {
		if h.Flags&flagSigned != 0 {
			if s != nil && s.state == sessionValid && s.signer != nil {
				if !s.signer.Verify(req.msg) {
					return errResult(statusAccessDenied), nil
				}
				req.signed = true
			} else if s != nil && s.state == sessionValid && !s.identity.Anonymous {
				return errResult(statusNotSupported), nil
			}
			// A null session has no key to sign with, yet impacket signs
			// its requests whenever the server requires signing. The spec
			// answers STATUS_NOT_SUPPORTED; Windows and Samba accept such
			// requests as unsigned, and so does this server.
		} else if s != nil && s.state == sessionValid {
			// MS-SMB2 3.3.5.7: at 3.1.1 an unsigned, unencrypted
			// TREE_CONNECT of an authenticated session disconnects.
			if h.Command == cmdTreeConnect && c.dialect == smbcrypto.Dialect311 && !s.identity.Anonymous {
				return result{}, errDisconnect
			}
			if s.signingRequired {
				return errResult(statusAccessDenied), nil
			}
		}
	}
	// MS-SMB2 3.3.5.2.9 (and 3.3.5.17 for ECHO): a session with
	// EncryptData takes only encrypted requests. SESSION_SETUP is not
	// covered there; its re-authentication must then be signed (above).
	if s != nil && s.state == sessionValid && s.encryptData && !req.encrypted && h.Command != cmdSessionSetup {
		return errResult(statusAccessDenied), nil
	}
	switch h.Command {
	case cmdSessionSetup, cmdCreate:
		// Authentication and opening a pipe call into other packages
		// that may take their time: the responses queued so far go out
		// first.
		if err := c.flushOut(); err != nil {
			return result{}, err
		}
	}
	switch h.Command {
	case cmdSessionSetup:
		return c.handleSessionSetup(req, s)
	case cmdEcho:
		req.sess = s
		if err := decodeSimple(req.msg); err != nil {
			return errResult(statusInvalidParameter), nil
		}
		return result{body: encodeSimpleResponse()}, nil
	}
	// MS-SMB2 3.3.5.2.9: the session.
	if s == nil {
		return errResult(statusUserSessionDeleted), nil
	}
	if s.state != sessionValid && h.Command != cmdLogoff && h.Command != cmdClose {
		return errResult(statusUserSessionDeleted), nil
	}
	req.sess = s
	switch h.Command {
	case cmdLogoff:
		return c.handleLogoff(req)
	case cmdTreeConnect:
		return c.handleTreeConnect(req)
	}
	// MS-SMB2 3.3.5.2.11: the tree connect.
	c.mu.Lock()
	t := s.trees[h.TreeID]
	c.mu.Unlock()
	if t == nil {
		return errResult(statusNetworkNameDeleted), nil
	}
	req.tree = t
	switch h.Command {
	case cmdTreeDisconnect:
		return c.handleTreeDisconnect(req)
	case cmdCreate:
		return c.handleCreate(req)
	case cmdClose:
		return c.handleClose(req)
	case cmdFlush:
		return c.handleFlush(req)
	case cmdRead:
		return c.handleRead(req)
	case cmdWrite:
		return c.handleWrite(req)
	case cmdIoctl:
		return c.handleIoctl(req)
	case cmdQueryInfo:
		return c.handleQueryInfo(req)
	case cmdSetInfo:
		if _, err := decodeSetInfo(req.msg); err != nil {
			return errResult(statusInvalidParameter), nil
		}
		return errResult(statusNotSupported), nil
	}
	// LOCK, QUERY_DIRECTORY, CHANGE_NOTIFY, OPLOCK_BREAK on a pipe.
	return errResult(statusNotSupported), nil
}

// chargeCovers checks CreditCharge against the payload or response size
// of READ, WRITE and IOCTL (MS-SMB2 3.3.5.2.5, 3.1.5.2).
func (c *conn) chargeCovers(h *header, size uint32) bool {
	if c.dialect == smbcrypto.Dialect202 || size <= 65536 {
		return true
	}
	return h.CreditCharge != 0 && uint32(h.CreditCharge) >= 1+(size-1)/65536
}

// lookupOpen resolves a request FileId (all-ones in a related operation
// means the previous operation's FileId, MS-SMB2 3.3.5.2.7.2) to an open of
// the request's session and tree.
func (c *conn) lookupOpen(req *request, id fileID) (*open, uint32) {
	if req.related && id.isAllOnes() {
		if req.prevFile == nil {
			return nil, statusInvalidHandle
		}
		id = *req.prevFile
	}
	c.mu.Lock()
	o := c.opens[id.Volatile]
	c.mu.Unlock()
	if o == nil || o.id != id || o.sessionID != req.sess.id || o.treeID != req.tree.id {
		return nil, statusFileClosed
	}
	return o, statusSuccess
}

// removeSession deletes a session with its trees and opens.
func (c *conn) removeSession(s *session) {
	c.mu.Lock()
	c.endExchangeLocked(s)
	if c.sessions[s.id] == s {
		c.buffered.Release(sessionCharge + treeCharge*len(s.trees))
	}
	delete(c.sessions, s.id)
	var closing []*open
	for k, o := range c.opens {
		if o.sessionID == s.id {
			closing = append(closing, o)
			delete(c.opens, k)
		}
	}
	s.trees = map[uint32]*tree{}
	c.mu.Unlock()
	for _, o := range closing {
		o.shut()
	}
}
