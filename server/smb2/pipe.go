package smb2

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/logsafe"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// syncWait is how long a READ or TRANSCEIVE waits for a message before the
// server sends an interim response (MS-SMB2 3.3.4.2 suggests 0.5 ms).
const syncWait = time.Millisecond

// handleCreate is MS-SMB2 3.3.5.9 for the IPC$ share.
func (c *conn) handleCreate(req *request) (result, error) {
	r, err := decodeCreate(req.msg)
	if err != nil {
		return errResult(statusInvalidParameter), nil
	}
	if r.ImpersonationLevel > impersonationDelegate {
		return errResult(statusBadImpersonationLevel), nil
	}
	if r.ImpersonationLevel == impersonationDelegate {
		return errResult(statusBadImpersonationLevel), nil
	}
	name := canonicalPipe(r.Name)
	if name == "" {
		return errResult(statusObjectNameNotFound), nil
	}
	s := req.sess
	info := &ipc.OpenInfo{
		Pipe:     name,
		Identity: s.identity,
		Dialect:  c.dialect,
		Remote:   c.nc.RemoteAddr(),
		Local:    c.nc.LocalAddr(),
		Budget:   c.buffered,
	}
	// MS-SMB2 3.3.4.5: the key a higher layer gets.
	if !s.identity.Anonymous {
		if c.dialect >= smbcrypto.Dialect300 {
			info.SessionKey = append([]byte(nil), s.appKey...)
		} else {
			info.SessionKey = append([]byte(nil), s.sessionKey...)
		}
	}
	c.mu.Lock()
	n := len(c.opens)
	c.mu.Unlock()
	if n >= c.cfg.MaxOpens {
		return errResult(statusInsufficientResources), nil
	}
	// An open pipe costs memory whether or not it carries data: its fixed
	// cost is held in the connection's budget while it is open.
	if !c.buffered.TryReserve(openCharge) {
		return errResult(statusInsufficientResources), nil
	}
	octx, cancel := context.WithCancel(ipc.NewContext(c.ctx, info))
	p, err := c.cfg.Pipes.OpenPipe(octx, *info)
	if err != nil {
		c.buffered.Release(openCharge)
		cancel()
		switch {
		case errors.Is(err, ipc.ErrNoSuchPipe):
			return errResult(statusObjectNameNotFound), nil
		case errors.Is(err, ipc.ErrAccessDenied):
			return errResult(statusAccessDenied), nil
		}
		c.log.Warn("pipe open failed", logsafe.String("pipe", name), "err", err)
		return errResult(statusInsufficientResources), nil
	}
	var b [8]byte
	rand.Read(b[:])
	c.mu.Lock()
	c.nextFileID++
	o := &open{
		id:        fileID{Persistent: le.Uint64(b[:]) &^ (1 << 63), Volatile: c.nextFileID},
		sessionID: s.id,
		treeID:    req.tree.id,
		pipe:      p,
		ctx:       octx,
		cancel:    cancel,
		budget:    c.buffered,
	}
	c.opens[o.id.Volatile] = o
	c.mu.Unlock()
	return result{body: encodeCreateResponse(o.id), fileID: &o.id}, nil
}

// handleClose is MS-SMB2 3.3.5.10; pending reads on the pipe complete as
// the pipe closes.
func (c *conn) handleClose(req *request) (result, error) {
	id, err := decodeFileIDBody(req.msg)
	if err != nil {
		return errResult(statusInvalidParameter), nil
	}
	o, st := c.lookupOpen(req, id)
	if o == nil {
		return errResult(st), nil
	}
	c.mu.Lock()
	delete(c.opens, o.id.Volatile)
	c.mu.Unlock()
	o.shut()
	return result{body: encodeCloseResponse(), fileID: &o.id}, nil
}

// handleFlush is MS-SMB2 3.3.5.11: nothing is buffered.
func (c *conn) handleFlush(req *request) (result, error) {
	id, err := decodeFileIDBody(req.msg)
	if err != nil {
		return errResult(statusInvalidParameter), nil
	}
	o, st := c.lookupOpen(req, id)
	if o == nil {
		return errResult(st), nil
	}
	return result{body: encodeSimpleResponse(), fileID: &o.id}, nil
}

// pipeError maps pipe errors to NT status codes.
func pipeError(err error) uint32 {
	switch {
	case errors.Is(err, ipc.ErrPipeBusy):
		return statusInsufficientResources
	case errors.Is(err, ipc.ErrPipeClosed):
		return statusPipeBroken
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return statusCancelled
	}
	return statusPipeBroken
}

// handleWrite is MS-SMB2 3.3.5.13: the data joins the pipe's input stream.
func (c *conn) handleWrite(req *request) (result, error) {
	r, err := decodeWrite(req.msg)
	if err != nil || uint32(len(r.Data)) > c.cfg.MaxWriteSize || !c.chargeCovers(&req.hdr, uint32(len(r.Data))) {
		return errResult(statusInvalidParameter), nil
	}
	o, st := c.lookupOpen(req, r.FileID)
	if o == nil {
		return errResult(st), nil
	}
	if err := o.pipe.Write(o.ctx, r.Data); err != nil {
		return result{status: pipeError(err), body: errorBody(), fileID: &o.id}, nil
	}
	return result{body: encodeWriteResponse(uint32(len(r.Data))), fileID: &o.id}, nil
}

// handleRead is MS-SMB2 3.3.5.12: one message per READ.
func (c *conn) handleRead(req *request) (result, error) {
	r, err := decodeRead(req.msg)
	if err != nil || r.Length > c.cfg.MaxReadSize || !c.chargeCovers(&req.hdr, r.Length) {
		return errResult(statusInvalidParameter), nil
	}
	if r.Flags&readFlagUnbuffered != 0 && c.dialect >= smbcrypto.Dialect302 {
		return errResult(statusInvalidParameter), nil
	}
	o, st := c.lookupOpen(req, r.FileID)
	if o == nil {
		return errResult(st), nil
	}
	return c.startRead(req, o, r.Length, func(data []byte) []byte { return encodeReadResponse(data) })
}

// takeMessage cuts msg to limit bytes, keeping the rest for the next read
// (STATUS_BUFFER_OVERFLOW, MS-SMB2 3.3.5.12 and 3.3.5.15.3). The rest is
// charged to the connection's budget (it replaces bytes the pipe just
// released) until it is read or the open closes. Caller holds o.mu.
func (o *open) takeMessage(msg []byte, limit uint32) ([]byte, uint32) {
	if uint32(len(msg)) <= limit {
		return msg, statusSuccess
	}
	o.remainder = append([]byte(nil), msg[limit:]...)
	o.budget.Charge(len(o.remainder))
	return msg[:limit], statusBufferOverflow
}

// takeRemainder returns the kept rest of a message, released from the
// budget, or nil. Caller holds o.mu.
func (o *open) takeRemainder() []byte {
	r := o.remainder
	o.remainder = nil
	o.budget.Release(len(r))
	return r
}

// shut ends the open: calls on the pipe are cancelled, the pipe closes,
// and its fixed cost and the kept remainder leave the budget.
func (o *open) shut() {
	o.cancel()
	o.pipe.Close()
	o.mu.Lock()
	o.takeRemainder()
	o.mu.Unlock()
	o.budget.Release(openCharge)
}

// openCharge is what an open pipe is counted for in the connection's
// budget (MaxConnBuffered): the measured memory of an idle bound pipe, the
// SMB open and the RPC association together, is about 2 KiB. With the
// default budgets a connection holds at most 510 idle pipes beside its
// session and the whole server about 32,700.
const openCharge = 2048

// pendingReadCharge is what a READ or TRANSCEIVE waiting for pipe data
// (MaxPendingReads of them per connection) is counted for in the
// connection's budget: its goroutine, context and state, measured at
// about 4.4 KiB. Counted, they are bounded for the whole server by
// MaxBuffered as well, not only per connection.
const pendingReadCharge = 4608

// asyncOp is a READ or TRANSCEIVE that waits for a pipe message after
// its interim response (MS-SMB2 3.3.4.2).
type asyncOp struct {
	c           *conn
	req         header
	sess        *session
	signed      bool
	encrypted   bool
	asyncID     uint64
	ctx         context.Context
	cancel      context.CancelFunc
	cancelled   bool          // set under c.mu by CANCEL
	interimSent chan struct{} // closed once the interim response is written
}

type readResult struct {
	status uint32
	body   []byte
}

// startRead answers a READ or TRANSCEIVE with a message kept from an
// earlier read or already queued, or waits briefly for the next one on the
// connection's goroutine and otherwise goes async.
func (c *conn) startRead(req *request, o *open, limit uint32, encode func([]byte) []byte) (result, error) {
	o.mu.Lock()
	if o.remainder != nil {
		msg := o.takeRemainder()
		data, st := o.takeMessage(msg, limit)
		o.mu.Unlock()
		return result{status: st, body: encode(data), fileID: &o.id}, nil
	}
	o.mu.Unlock()
	msg, ok, err := tryRead(o.pipe)
	if !ok && err == nil {
		// The wait below may last: the responses queued so far go out
		// first.
		if err := c.flushOut(); err != nil {
			return result{}, err
		}
		ctx, cancel := context.WithTimeout(o.ctx, syncWait)
		msg, err = o.pipe.ReadMessage(ctx)
		cancel()
		ok = err == nil
		if errors.Is(err, context.DeadlineExceeded) && o.ctx.Err() == nil {
			return c.goAsync(req, o, limit, encode)
		}
	}
	if !ok {
		return result{status: pipeError(err), body: errorBody(), fileID: &o.id}, nil
	}
	o.mu.Lock()
	data, st := o.takeMessage(msg, limit)
	o.mu.Unlock()
	return result{status: st, body: encode(data), fileID: &o.id}, nil
}

// tryRead takes a queued message without waiting when the pipe can.
func tryRead(p ipc.Pipe) ([]byte, bool, error) {
	if tr, ok := p.(ipc.MessageTryReader); ok {
		return tr.TryReadMessage()
	}
	return nil, false, nil
}

// goAsync registers the operation and starts the goroutine that waits for
// the message; the caller sends the interim response.
func (c *conn) goAsync(req *request, o *open, limit uint32, encode func([]byte) []byte) (result, error) {
	select {
	case c.readSlots <- struct{}{}:
	default:
		return result{status: statusInsufficientResources, body: errorBody(), fileID: &o.id}, nil
	}
	if !c.buffered.TryReserve(pendingReadCharge) {
		<-c.readSlots
		return result{status: statusInsufficientResources, body: errorBody(), fileID: &o.id}, nil
	}
	ctx, cancel := context.WithCancel(o.ctx)
	op := &asyncOp{
		c:           c,
		req:         req.hdr,
		sess:        req.sess,
		signed:      req.signed,
		encrypted:   req.encrypted,
		ctx:         ctx,
		cancel:      cancel,
		interimSent: make(chan struct{}),
	}
	c.mu.Lock()
	c.nextAsyncID++
	op.asyncID = c.nextAsyncID
	c.pending[op.asyncID] = op
	c.mu.Unlock()
	c.asyncWG.Add(1)
	go op.run(o, limit, encode)
	return result{status: statusPending, body: errorBody(), async: op, fileID: &o.id}, nil
}

func (op *asyncOp) run(o *open, limit uint32, encode func([]byte) []byte) {
	c := op.c
	defer c.asyncWG.Done()
	defer func() { <-c.readSlots }()
	defer c.buffered.Release(pendingReadCharge)
	defer op.cancel()
	var rr readResult
	msg, err := o.pipe.ReadMessage(op.ctx)
	if err != nil {
		rr = readResult{status: pipeError(err), body: errorBody()}
	} else {
		o.mu.Lock()
		data, st := o.takeMessage(msg, limit)
		o.mu.Unlock()
		rr = readResult{status: st, body: encode(data)}
	}
	// The final response must follow the interim one.
	<-op.interimSent
	c.mu.Lock()
	delete(c.pending, op.asyncID)
	if op.cancelled && err != nil {
		rr = readResult{status: statusCancelled, body: errorBody()}
	}
	c.mu.Unlock()
	if c.ctx.Err() != nil {
		return
	}
	op.complete(rr)
}

// complete sends the final response of an async operation: same MessageId
// and AsyncId, CreditResponse 0 (MS-SMB2 3.3.4.2).
func (op *asyncOp) complete(rr readResult) {
	c := op.c
	h := header{
		CreditCharge: op.req.CreditCharge,
		Status:       rr.status,
		Command:      op.req.Command,
		Flags:        flagServerToRedir | flagAsyncCommand | (op.req.Flags & flagPriorityMask),
		MessageID:    op.req.MessageID,
		AsyncID:      op.asyncID,
		SessionID:    op.req.SessionID,
	}
	s := op.sess
	sign := !op.encrypted && s != nil && s.signer != nil && (op.signed || s.signingRequired)
	if sign {
		h.Flags |= flagSigned
	}
	f := newTxFrame(headerSize + len(rr.body))
	m := f.msg
	h.put(m)
	copy(m[headerSize:], rr.body)
	if sign {
		s.signer.Sign(m)
	}
	if op.encrypted {
		c.send(f, s, false)
		return
	}
	c.send(f, nil, false)
}

// handleCancel is MS-SMB2 3.3.5.16; CANCEL has no response.
func (c *conn) handleCancel(h header, related bool, prevSID uint64) {
	sid := h.SessionID
	if related {
		sid = prevSID
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range c.pending {
		match := false
		if h.Flags&flagAsyncCommand != 0 {
			match = op.asyncID == h.AsyncID
		} else {
			match = op.req.MessageID == h.MessageID
		}
		if match && op.req.SessionID == sid {
			op.cancelled = true
			op.cancel()
			return
		}
	}
}
