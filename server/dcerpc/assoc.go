package dcerpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/ndr"

	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// maxContextsPerInterface bounds the presentation contexts of one
// association (MS-RPCE 3.3.3.5.5).
const maxContextsPerInterface = 4000

// oldCallWindow is how far below the current call_id a stray
// continuation fragment is silently dropped (MS-RPCE 3.3.3.5.6).
const oldCallWindow = 150

// statusUnknownAuthnService is RPC_S_UNKNOWN_AUTHN_SERVICE (MS-ERREF
// 2.2), the fault for an authenticated alter_context (MS-RPCE 3.3.3.5.3).
const statusUnknownAuthnService uint32 = 0x000006D3

var errContextLimit = errors.New("dcerpc: presentation context limit reached")

// entryCharge is what one entry of a pipe's work queue (a call waiting
// for dispatch, or output decided on input) or of its output queue costs
// beyond the bytes it carries: the call and item structures, the slot in
// the queue and allocation rounding, measured at about 200 bytes for a
// queued call. It is charged to the connection's budget as long as the
// entry waits, so that many small calls cannot hold much more memory than
// the budget says.
const entryCharge = 256

// call is one reassembled request waiting for, or in, dispatch.
type call struct {
	callID uint32
	ctxID  uint16
	opnum  uint16
	drep   [4]byte
	iface  *Interface
	ndr64  bool      // the stub is NDR64 (the context negotiated it)
	stub   []byte    // charged to the association's budget until the call ran
	sec    *security // the established security context it came on, or nil
	// borrowed: stub points into the caller's buffer of the Write that
	// completed the call; Write copies it before returning unless the
	// call ran inline.
	borrowed bool

	// Guarded by assoc.mu.
	cancelled bool
	orphaned  bool
	cancel    context.CancelFunc
}

// item is one unit of the per-pipe work queue: either pre-encoded output
// (bind_ack, bind_nak, a fault decided on input) or a call to dispatch.
// Keeping both in one queue keeps the output in input order.
type item struct {
	msgs [][]byte
	call *call
}

// assoc is one association: one pipe open (or one TCP connection) with
// its presentation contexts, reassembly state and dispatch goroutine.
// It implements ipc.Pipe.
type assoc struct {
	cfg     Config
	srv     *Server
	log     *slog.Logger
	ifaces  []Interface
	info    ipc.OpenInfo
	protseq string
	secAddr string
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	callCtx context.Context // ctx with the values every call sees
	done    chan struct{}   // closed when the worker returns

	// budget counts the bytes held for the client: in, the stubs of cur
	// and of the queued and running calls, entryCharge for every item,
	// and outq (outCharged of it: its bytes and entryCharge a message).
	budget ipc.Budget

	mu         sync.Mutex
	in         []byte // bytes of a partial PDU, charged to budget
	outCharged int    // bytes of outq charged to budget
	bound      bool
	frag       int // negotiated fragment size
	assocGroup uint32
	contexts   map[uint16]presentation
	sec        *security // RPC-level security context, nil without one
	sawCall    bool
	lastCallID uint32
	cur        *call // request being reassembled
	skipping   bool  // drop continuation fragments of skipCallID
	skipCallID uint32
	items      []item
	running    *call
	// busy is set while a call runs inline, on the goroutine of the Write
	// that completed it; no worker starts meanwhile, so output stays in
	// input order.
	busy       bool
	outq       [][]byte
	closed     bool // Close was called
	broken     bool // fatal protocol error: no more input accepted
	workerDone bool // finished: no worker runs and none will (closed, or broken and drained); done is closed
	// workerRunning is set while a worker goroutine drains items. There
	// is none while the pipe is idle: an open pipe costs no goroutine.
	workerRunning bool
	workers       int // worker goroutines started so far
	// Wake-ups, made by waitOn and closed by signal: nil while nobody waits.
	outReady chan struct{} // outq grows or the state ends
	space    chan struct{} // outq or items shrink
}

// unbounded is the budget of a pipe opened without one.
type unbounded struct{}

func (unbounded) TryReserve(int) bool { return true }
func (unbounded) Charge(int)          {}
func (unbounded) Release(int)         {}
func (unbounded) Over() bool          { return false }

var (
	_ ipc.Pipe             = (*assoc)(nil)
	_ ipc.MessageTryReader = (*assoc)(nil)
)

func newAssoc(s *Server, ifaces []Interface, info ipc.OpenInfo, protseq, secAddr string) *assoc {
	ctx, cancel := context.WithCancel(context.Background())
	a := &assoc{
		cfg:      s.cfg,
		srv:      s,
		log:      s.log.With("pipe", info.Pipe, "protseq", protseq),
		ifaces:   ifaces,
		info:     info,
		protseq:  protseq,
		secAddr:  secAddr,
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		contexts: make(map[uint16]presentation),
		budget:   info.Budget,
	}
	if a.budget == nil {
		a.budget = unbounded{}
	}
	a.callCtx = context.WithValue(ipc.NewContext(ctx, &a.info), protseqKey{}, protseq)
	return a
}

// waitOn returns the channel that the next signal(ch) closes. Caller
// holds a.mu.
func waitOn(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}

// signal wakes every waiter on *ch; without waiters it costs nothing.
// Caller holds a.mu.
func signal(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// Write appends p to the input stream and processes every complete PDU.
// Binds are answered and requests reassembled here; calls run on the
// pipe's worker, so Write never waits for a call.
func (a *assoc) Write(ctx context.Context, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	err := a.writeLocked(p)
	// Calls that may run inline (Interface.Inline) and find nothing ahead
	// of them run here, before Write returns: their response is queued
	// when the transport asks for it, without a goroutine hand-off.
	for err == nil {
		c, release := a.takeInline()
		if c == nil {
			break
		}
		a.mu.Unlock()
		a.executeInline(c, release)
		a.mu.Lock()
		a.busy = false
	}
	// What did not run inline goes to the worker; a stub still pointing
	// into p is copied first.
	for i := range a.items {
		if c := a.items[i].call; c != nil && c.borrowed {
			c.stub = append([]byte(nil), c.stub...)
			c.borrowed = false
		}
	}
	a.settle()
	a.mu.Unlock()
	return err
}

// popFront drops the first element of q, shifting the rest down so that
// the queue keeps its storage (it holds at most MaxQueued elements plus
// one call's fragments) instead of allocating anew as it moves along.
func popFront[T any](q []T) []T {
	copy(q, q[1:])
	var zero T
	q[len(q)-1] = zero
	return q[:len(q)-1]
}

// takeInline takes the next item when it is a call that may run inline
// and nothing is ahead of it: no item is being processed, no output waits
// for the client, and a decode slot is free. Caller holds mu.
func (a *assoc) takeInline() (*call, func()) {
	if a.busy || a.workerRunning || a.closed || len(a.items) == 0 || len(a.outq) > 0 {
		return nil, nil
	}
	c := a.items[0].call
	if c == nil || c.cancelled || c.iface.Inline == nil ||
		!c.iface.Inline(Call{Opnum: c.opnum, Stub: c.stub, NDR20LittleEndian: !c.ndr64 && c.drep == ndr20LittleEndian}) {
		return nil, nil
	}
	release := a.srv.tryAcquireDecode()
	if release == nil {
		return nil, nil
	}
	a.items = popFront(a.items)
	a.budget.Release(entryCharge)
	a.busy = true
	a.running = c
	return c, release
}

// writeLocked is Write's work on the input under mu.
func (a *assoc) writeLocked(p []byte) error {
	if a.closed || a.broken {
		return ipc.ErrPipeClosed
	}
	// Whole PDUs are processed at once, and each can add an entry to the
	// work queue: a write whose PDUs would take the queue past MaxQueued
	// is refused whole, as is any write while the output queue is full or
	// the budget is over its limit (entryCharge is charged even past it).
	kept, n := partialAfter(a.in, p)
	if len(a.outq) >= a.cfg.MaxQueued || len(a.items)+max(n, 1) > a.cfg.MaxQueued || a.budget.Over() {
		return ipc.ErrPipeBusy
	}
	// What stays buffered is the partial PDU at the end, and only that is
	// held for the client: it must fit the budget (it is charged while it
	// waits), or the write is refused and nothing is taken.
	if kept > len(a.in) {
		if !a.budget.TryReserve(kept - len(a.in)) {
			return ipc.ErrPipeBusy
		}
	} else {
		a.budget.Release(len(a.in) - kept)
	}
	// Whole PDUs are read from p itself when nothing is buffered (the
	// usual case: one request per write); only a partial PDU is copied.
	buf, fromP := p, true
	if len(a.in) > 0 {
		a.in = append(a.in, p...)
		buf, fromP = a.in, false
	}
	off := 0
	for !a.broken {
		n, ok := peekFragLength(buf[off:])
		if !ok {
			break
		}
		if n < headerLen || buf[off] != rpcVersion || buf[off+1] > rpcVersionMinorMax {
			// Framing is lost or this is not DCE/RPC (C706 12.6.3.1):
			// fail now rather than wait for frag_length bytes.
			a.fail(buf[off:off+headerLen], fmt.Errorf("%w: header %x", errMalformed, buf[off:off+headerLen]))
			break
		}
		if len(buf)-off < n {
			break
		}
		a.handlePDU(buf[off:off+n], fromP)
		off += n
	}
	switch {
	case a.broken:
		a.budget.Release(kept)
		a.in = nil
	case off == len(buf):
		a.in = nil
	default:
		a.in = append([]byte(nil), buf[off:]...)
	}
	if a.broken {
		return ipc.ErrPipeClosed
	}
	return nil
}

// partialAfter is the length of the partial PDU that stays buffered after
// in (itself a partial PDU) and p are processed, and the number of whole
// PDUs processed: whole PDUs are cut by their frag_length. A header that
// breaks framing ends the walk (it counts as one PDU); its fragment is
// failed by Write and nothing stays.
func partialAfter(in, p []byte) (kept, pdus int) {
	total := len(in) + len(p)
	at := func(i int) byte {
		if i < len(in) {
			return in[i]
		}
		return p[i-len(in)]
	}
	off := 0
	for total-off >= headerLen {
		var n int
		if at(off+4)&drepIntegerLittleEndianBit != 0 {
			n = int(at(off+8)) | int(at(off+9))<<8
		} else {
			n = int(at(off+8))<<8 | int(at(off+9))
		}
		if n < headerLen || at(off) != rpcVersion || at(off+1) > rpcVersionMinorMax {
			return 0, pdus + 1
		}
		if total-off < n {
			break
		}
		off += n
		pdus++
	}
	return total - off, pdus
}

// pduPrefix is how many bytes of p complete at most max whole PDUs after
// in (a partial PDU): all of p when it holds no more.
func pduPrefix(in, p []byte, max int) int {
	total := len(in) + len(p)
	at := func(i int) byte {
		if i < len(in) {
			return in[i]
		}
		return p[i-len(in)]
	}
	off, pdus := 0, 0
	for total-off >= headerLen {
		var n int
		if at(off+4)&drepIntegerLittleEndianBit != 0 {
			n = int(at(off+8)) | int(at(off+9))<<8
		} else {
			n = int(at(off+8))<<8 | int(at(off+9))
		}
		if n < headerLen || total-off < n {
			break
		}
		off += n
		if pdus++; pdus == max {
			return off - len(in)
		}
	}
	return len(p)
}

// writeWait is Write that waits while the pipe is busy (stream
// transports). Input is written at most MaxQueued PDUs at a time, so that
// every part can be taken once the queue drains.
func (a *assoc) writeWait(ctx context.Context, p []byte) error {
	for len(p) > 0 {
		a.mu.Lock()
		k := pduPrefix(a.in, p, a.cfg.MaxQueued)
		a.mu.Unlock()
		if err := a.writeWaitPart(ctx, p[:k]); err != nil {
			return err
		}
		p = p[k:]
	}
	return nil
}

// writeWaitPart is Write that waits while the pipe is busy.
func (a *assoc) writeWaitPart(ctx context.Context, p []byte) error {
	for {
		a.mu.Lock()
		ch := waitOn(&a.space)
		a.mu.Unlock()
		err := a.Write(ctx, p)
		if !errors.Is(err, ipc.ErrPipeBusy) {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-a.ctx.Done():
			return ipc.ErrPipeClosed
		}
	}
}

// ReadMessage returns the next output PDU.
func (a *assoc) ReadMessage(ctx context.Context) ([]byte, error) {
	a.mu.Lock()
	for {
		m, ok, err := a.pop()
		if ok || err != nil {
			a.mu.Unlock()
			return m, err
		}
		ch := waitOn(&a.outReady)
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		a.mu.Lock()
	}
}

// TryReadMessage returns the next output PDU if one is queued.
func (a *assoc) TryReadMessage() ([]byte, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pop()
}

// pop takes the next output PDU; without one it reports whether more can
// come. Caller holds mu.
func (a *assoc) pop() ([]byte, bool, error) {
	if len(a.outq) > 0 {
		m := a.outq[0]
		a.outq = popFront(a.outq)
		if !a.closed {
			a.outCharged -= len(m) + entryCharge
			a.budget.Release(len(m) + entryCharge)
		}
		signal(&a.space)
		return m, true, nil
	}
	if a.closed || (a.broken && a.workerDone) {
		return nil, false, ipc.ErrPipeClosed
	}
	return nil, false, nil
}

// Close ends the association: queued calls are dropped, the call in
// flight sees its context cancelled, and readers get ErrPipeClosed once
// the output already queued is consumed.
func (a *assoc) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	a.cancel()
	// Everything held for the client leaves the budget; output already
	// queued may still be read, uncharged. The running call releases its
	// stub when it returns.
	for _, it := range a.items {
		if it.call != nil {
			a.budget.Release(len(it.call.stub))
		}
		a.budget.Release(entryCharge)
	}
	if a.cur != nil {
		a.budget.Release(len(a.cur.stub))
	}
	a.budget.Release(len(a.in) + a.outCharged)
	a.outCharged = 0
	a.items = nil
	a.cur = nil
	a.in = nil
	signal(&a.outReady)
	signal(&a.space)
	a.settle()
	return nil
}

// waitWorker waits until the worker has returned or ctx ends.
func (a *assoc) waitWorker(ctx context.Context) {
	select {
	case <-a.done:
	case <-ctx.Done():
	}
}

// enqueue adds pre-encoded output to the work queue, or straight to the
// output when nothing is queued or being processed ahead of it. Caller
// holds mu; Write starts a worker for queued items when it returns.
func (a *assoc) enqueue(msgs ...[]byte) {
	if !a.busy && !a.workerRunning && len(a.items) == 0 && len(a.outq)+len(msgs) <= a.cfg.MaxQueued && !a.closed {
		for _, m := range msgs {
			a.queueOutput(m, false)
		}
		return
	}
	a.addItem(item{msgs: msgs})
}

// addItem appends to the work queue and charges the entry to the budget
// (even past its limit: Write bounds how many entries one write adds).
// Caller holds mu.
func (a *assoc) addItem(it item) {
	a.budget.Charge(entryCharge)
	a.items = append(a.items, it)
}

// enqueueFault queues a fault for a call that is not executed. Caller
// holds mu.
func (a *assoc) enqueueFault(callID uint32, ctxID uint16, status uint32) {
	a.log.Debug("dcerpc: fault", "call_id", callID, "status", fmt.Sprintf("0x%08x", status))
	a.enqueue(encodeFault(callID, pfcDidNotExecute, ctxID, status))
}

// fail handles a PDU that breaks the protocol beyond recovery: it answers
// with bind_nak (for a bind) or a protocol-error fault, and stops taking
// input (MS-RPCE 3.3.3.5.7). Caller holds mu.
func (a *assoc) fail(raw []byte, err error) {
	a.log.Warn("dcerpc: protocol error, closing the association", "err", err)
	var callID uint32
	var ptype uint8 = 0xFF
	if len(raw) >= headerLen {
		ptype = raw[2]
		if raw[4]&drepIntegerLittleEndianBit != 0 {
			callID = binary.LittleEndian.Uint32(raw[12:])
		} else {
			callID = binary.BigEndian.Uint32(raw[12:])
		}
	}
	if ptype == ptBind {
		a.enqueue(encodeBindNak(callID, nakProtocolVersionNS))
	} else {
		a.enqueue(encodeFault(callID, pfcDidNotExecute, 0, StatusProtocolError))
	}
	a.dropCur()
	a.broken = true
}

// dropCur abandons the request being reassembled. Caller holds mu.
func (a *assoc) dropCur() {
	if a.cur != nil {
		a.budget.Release(len(a.cur.stub))
		a.cur = nil
	}
}

// skip makes continuation fragments of callID be dropped. Caller holds mu.
func (a *assoc) skip(callID uint32) {
	a.skipping = true
	a.skipCallID = callID
}

// handlePDU processes one whole fragment; borrowed says raw lies in the
// caller's buffer of the current Write. Caller holds mu.
func (a *assoc) handlePDU(raw []byte, borrowed bool) {
	var pd pdu
	if err := pd.parse(raw); err != nil {
		a.fail(raw, err)
		return
	}
	p := &pd
	if borrowed && p.hasAuth && p.Type != ptRequest {
		// An authentication token may be kept by the security context
		// after Write returns: never from the caller's buffer.
		raw = append([]byte(nil), raw...)
		if err := pd.parse(raw); err != nil {
			a.fail(raw, err)
			return
		}
	}
	switch p.Type {
	case ptBind:
		a.onBind(p, raw)
	case ptAlterContext:
		a.onAlterContext(p, raw)
	case ptRequest:
		a.onRequest(p, raw, borrowed)
	case ptCoCancel:
		a.onCancel(p.CallID, false)
	case ptOrphaned:
		a.onCancel(p.CallID, true)
	case ptAuth3:
		a.onAuth3(p)
	default:
		a.fail(raw, fmt.Errorf("%w: unexpected PDU type %d", errMalformed, p.Type))
	}
}

// onBind answers a bind (C706 12.6.4.3, MS-RPCE 3.3.1.5.3, 3.3.1.5.6).
func (a *assoc) onBind(p *pdu, raw []byte) {
	if a.bound {
		a.fail(raw, fmt.Errorf("%w: second bind on an association", errMalformed))
		return
	}
	b, err := parseBind(p)
	if err != nil {
		a.fail(raw, err)
		return
	}
	frag := min(int(b.MaxXmitFrag), int(b.MaxRecvFrag), a.cfg.MaxFragment) &^ 7
	if frag < mustRecvFragLen {
		a.log.Info("dcerpc: bind with fragment size below the minimum refused",
			"max_xmit_frag", b.MaxXmitFrag, "max_recv_frag", b.MaxRecvFrag)
		a.enqueue(encodeBindNak(p.CallID, nakProtocolVersionNS))
		return
	}
	var token []byte
	if p.hasAuth {
		// MS-RPCE 3.3.1.5.2.1: the first leg of a security context.
		if token, err = a.authLeg(p); err != nil {
			a.sec = nil
			reason := uint16(nakReasonNotSpecified)
			if errors.Is(err, errAuthType) || errors.Is(err, errAuthLevel) {
				reason = nakAuthTypeNotRecognized
			}
			a.enqueue(encodeBindNak(p.CallID, reason))
			return
		}
	}
	results, err := a.negotiate(b.Contexts)
	if err != nil {
		a.sec = nil
		a.enqueue(encodeBindNak(p.CallID, nakLocalLimitExceeded))
		return
	}
	a.bound = true
	a.frag = frag
	a.assocGroup = b.AssocGroupID
	if a.assocGroup == 0 {
		a.assocGroup = a.srv.newAssocGroup()
	}
	ack := encodeBindAck(ptBindAck, p.CallID, uint16(frag), a.assocGroup, a.secAddr, results)
	if p.hasAuth {
		ack = withAuth(ack, a.sec, token)
	}
	a.enqueue(ack)
}

// onAlterContext adds presentation contexts (C706 12.6.4.1).
func (a *assoc) onAlterContext(p *pdu, raw []byte) {
	if !a.bound {
		a.fail(raw, fmt.Errorf("%w: alter_context before bind", errMalformed))
		return
	}
	b, err := parseBind(p)
	if err != nil {
		a.fail(raw, err)
		return
	}
	var token []byte
	if p.hasAuth {
		// A leg of the security context, or its start on an association
		// bound without one (MS-RPCE 3.3.1.5.2.1).
		if token, err = a.authLeg(p); err != nil {
			status := statusAccessDenied
			if errors.Is(err, errAuthType) || errors.Is(err, errAuthLevel) {
				status = statusUnknownAuthnService
			}
			a.enqueueFault(p.CallID, 0, status)
			return
		}
	}
	results, err := a.negotiate(b.Contexts)
	if err != nil {
		a.enqueueFault(p.CallID, 0, StatusProtocolError)
		return
	}
	resp := encodeBindAck(ptAlterContextResp, p.CallID, uint16(a.frag), a.assocGroup, "", results)
	switch {
	case p.hasAuth:
		resp = withAuth(resp, a.sec, token)
	case a.sec != nil && a.sec.done && a.sec.headerSign && p.Flags&pfcSupportHeaderSign != 0:
		// A new presentation context on the established security
		// context: header signing stays agreed (MS-RPCE 3.3.1.5.2.2).
		resp[3] |= pfcSupportHeaderSign
	}
	a.enqueue(resp)
}

// onAuth3 takes the last leg of a security context (MS-RPCE 3.3.1.5.2.1):
// no response is defined; a failure shows on the next request, which is
// refused. A stray rpc_auth_3 is ignored.
func (a *assoc) onAuth3(p *pdu) {
	if !a.bound || !p.hasAuth || a.sec == nil || a.sec.done || a.sec.failed {
		a.log.Debug("dcerpc: rpc_auth_3 with no security context to complete, ignored")
		return
	}
	_, _ = a.authLeg(p) // logged; a.sec is failed on error
}

// lookup finds the interface for an abstract syntax: same UUID and major
// version, and a minor version not above ours.
func (a *assoc) lookup(s syntaxID) *Interface {
	for i := range a.ifaces {
		is := a.ifaces[i].syntax()
		if is.UUID == s.UUID && is.Major == s.Major && s.Minor <= is.Minor {
			return &a.ifaces[i]
		}
	}
	return nil
}

// presentation is one negotiated presentation context: the interface and
// the transfer syntax its calls are coded in.
type presentation struct {
	iface *Interface
	ndr64 bool
}

// transferFor picks the transfer syntax for an abstract syntax from the
// transfer syntaxes a bind or alter_context proposed for it, across all
// its elements (MS-RPCE 3.3.1.5.6): the server's preferred one, NDR64,
// when proposed and enabled, else NDR. ok is false when neither was.
func (a *assoc) transferFor(proposed []syntaxID) (t syntaxID, ok bool) {
	if !a.cfg.DisableNDR64 && slices.Contains(proposed, ndr64Syntax) {
		return ndr64Syntax, true
	}
	if slices.Contains(proposed, ndr20Syntax) {
		return ndr20Syntax, true
	}
	return syntaxID{}, false
}

// negotiate computes the result list for the proposed contexts and
// records the accepted ones (C706 12.6.4.3, MS-RPCE 3.3.1.5.6). The
// server accepts at most one transfer syntax per interface in one PDU:
// NDR64 when any element for the interface proposes it, else NDR. The
// elements proposing the accepted syntax are accepted; the others for the
// same interface get provider_rejection with
// proposed_transfer_syntaxes_not_supported, as a 64-bit Windows server
// answers a client that proposes NDR and NDR64 in separate elements.
// Caller holds mu.
func (a *assoc) negotiate(elems []contextElem) ([]contextResult, error) {
	results := make([]contextResult, len(elems))
	ifaces := make([]*Interface, len(elems))
	proposed := make(map[*Interface][]syntaxID)
	for i, e := range elems {
		if slices.ContainsFunc(e.Transfers, syntaxID.isBindFeature) {
			// MS-RPCE 3.3.1.5.3: we support neither security context
			// multiplexing nor keeping the connection after orphaned, so
			// the response bitmask is 0.
			results[i] = contextResult{Result: resultNegotiateAck, Reason: 0}
			continue
		}
		if ifaces[i] = a.lookup(e.Abstract); ifaces[i] == nil {
			results[i] = contextResult{Result: resultProviderRejection, Reason: reasonAbstractSyntaxNS}
			continue
		}
		proposed[ifaces[i]] = append(proposed[ifaces[i]], e.Transfers...)
	}
	accepted := make(map[uint16]presentation)
	for i, e := range elems {
		iface := ifaces[i]
		if iface == nil {
			continue
		}
		t, ok := a.transferFor(proposed[iface])
		if !ok || !slices.Contains(e.Transfers, t) {
			results[i] = contextResult{Result: resultProviderRejection, Reason: reasonTransferSyntaxesNS}
			continue
		}
		results[i] = contextResult{Result: resultAcceptance, Transfer: t}
		accepted[e.ID] = presentation{iface: iface, ndr64: t == ndr64Syntax}
	}
	n := len(a.contexts)
	for id := range accepted {
		if _, ok := a.contexts[id]; !ok {
			n++
		}
	}
	if n > maxContextsPerInterface*len(a.ifaces) {
		return nil, errContextLimit
	}
	for id, pc := range accepted {
		a.contexts[id] = pc
	}
	return results, nil
}

// onRequest reassembles request fragments (C706 12.6.4.9, MS-RPCE
// 3.3.3.5.2, 3.3.3.5.4, 3.3.3.5.6, 3.3.3.5.8). Caller holds mu.
//
// A request is refused before its stub is copied when it cannot fit:
// above MaxReassembly (a first fragment whose alloc_hint already says so
// included) with status 0x00000005 (MS-RPCE 3.3.3.5.4), and beyond the
// connection's byte budget with nca_s_fault_remote_no_memory. Either way
// only that call fails; its remaining fragments are dropped and the pipe
// keeps serving.
func (a *assoc) onRequest(p *pdu, raw []byte, borrowed bool) {
	sec := a.sec
	if sec != nil {
		if !sec.done {
			// MS-RPCE 3.3.1.5.2.1: a context that failed (or is not
			// complete) refuses the calls made on it.
			if a.cur != nil && a.cur.callID == p.CallID {
				a.dropCur()
			}
			a.skip(p.CallID)
			a.enqueueFault(p.CallID, 0, statusAccessDenied)
			return
		}
		if borrowed && p.hasAuth && sec.seals() {
			// Unsealing decrypts in place: never in the caller's buffer.
			raw = append([]byte(nil), raw...)
			if err := p.parse(raw); err != nil {
				a.fail(raw, err)
				return
			}
			borrowed = false
		}
		if err := a.unprotect(sec, p, raw); err != nil {
			a.failSecurity(p.CallID, err)
			return
		}
	}
	q, err := parseRequest(p)
	if err != nil || (p.hasAuth && sec == nil) {
		// A request that cannot be read, or that carries a verifier
		// although no security context exists, is a protocol error.
		if a.cur != nil && a.cur.callID == p.CallID {
			a.dropCur()
		}
		a.skip(p.CallID)
		a.enqueueFault(p.CallID, 0, StatusProtocolError)
		return
	}
	first := p.Flags&pfcFirstFrag != 0
	last := p.Flags&pfcLastFrag != 0
	if first {
		if a.cur != nil {
			// The previous call never got its last fragment.
			a.enqueueFault(a.cur.callID, a.cur.ctxID, StatusProtocolError)
			a.dropCur()
		}
		a.skipping = false
		if a.sawCall && p.CallID <= a.lastCallID {
			// MS-RPCE 3.3.3.5.2: call_id must increase.
			a.skip(p.CallID)
			a.enqueueFault(p.CallID, q.ContextID, StatusProtocolError)
			return
		}
		a.sawCall = true
		a.lastCallID = p.CallID
		pc, ok := a.contexts[q.ContextID]
		if !ok {
			a.skip(p.CallID)
			a.enqueueFault(p.CallID, q.ContextID, StatusUnknownIf)
			return
		}
		if pc.ndr64 && p.Drep[0]&drepIntegerLittleEndianBit == 0 {
			// MS-RPCE 2.2.5: NDR64 PDUs MUST be little-endian (drep 0x10).
			a.skip(p.CallID)
			a.enqueueFault(p.CallID, q.ContextID, StatusProtocolError)
			return
		}
		if len(q.Stub) > a.cfg.MaxReassembly || (!last && int64(q.AllocHint) > int64(a.cfg.MaxReassembly)) {
			a.skip(p.CallID)
			a.enqueueFault(p.CallID, q.ContextID, StatusInputTooLarge)
			return
		}
		if !a.budget.TryReserve(len(q.Stub)) {
			a.skip(p.CallID)
			a.overBudget(p.CallID, q.ContextID)
			return
		}
		c := &call{callID: p.CallID, ctxID: q.ContextID, opnum: q.Opnum, drep: p.Drep, iface: pc.iface, ndr64: pc.ndr64, sec: sec}
		if last && borrowed {
			// Write copies it unless the call runs before it returns.
			c.stub, c.borrowed = q.Stub, true
		} else {
			c.stub = append([]byte(nil), q.Stub...)
		}
		if last {
			a.addItem(item{call: c})
		} else {
			a.cur = c
		}
		return
	}
	switch {
	case a.cur != nil && a.cur.callID == p.CallID:
		if len(a.cur.stub)+len(q.Stub) > a.cfg.MaxReassembly {
			a.enqueueFault(a.cur.callID, a.cur.ctxID, StatusInputTooLarge)
			a.dropCur()
			a.skip(p.CallID)
			return
		}
		if !a.budget.TryReserve(len(q.Stub)) {
			a.overBudget(a.cur.callID, a.cur.ctxID)
			a.dropCur()
			a.skip(p.CallID)
			return
		}
		a.cur.stub = append(a.cur.stub, q.Stub...)
		if last {
			a.addItem(item{call: a.cur})
			a.cur = nil
		}
	case a.skipping && a.skipCallID == p.CallID:
		// Rest of a call already answered with a fault.
	case a.cur != nil:
		// A fragment of another call in the middle of a fragmented request.
		a.enqueueFault(a.cur.callID, a.cur.ctxID, StatusProtocolError)
		a.skip(a.cur.callID)
		a.dropCur()
	case a.sawCall && p.CallID < a.lastCallID && a.lastCallID-p.CallID < oldCallWindow:
		// MS-RPCE 3.3.3.5.6: a late fragment of an old call.
	default:
		a.skip(p.CallID)
		a.enqueueFault(p.CallID, q.ContextID, StatusProtocolError)
	}
}

// overBudget answers a call whose input does not fit the byte budget.
// Caller holds mu.
func (a *assoc) overBudget(callID uint32, ctxID uint16) {
	a.srv.noteOverBudget(a.info.Remote)
	a.enqueueFault(callID, ctxID, StatusRemoteNoMemory)
}

// onCancel handles co_cancel and orphaned (C706 12.6.4.1, 12.6.4.8). The
// call's context is cancelled; an orphaned call also loses its response.
func (a *assoc) onCancel(callID uint32, orphan bool) {
	if orphan && a.cur != nil && a.cur.callID == callID {
		a.dropCur()
		a.skip(callID)
		return
	}
	mark := func(c *call) {
		c.cancelled = true
		c.orphaned = c.orphaned || orphan
		if c.cancel != nil {
			c.cancel()
		}
	}
	if a.running != nil && a.running.callID == callID {
		mark(a.running)
		return
	}
	for _, it := range a.items {
		if it.call != nil && it.call.callID == callID {
			mark(it.call)
		}
	}
}

// settle starts a worker when items wait and none runs, and finishes the
// association (workerDone, done) once it is closed, or broken with
// nothing left to run, and no worker runs; while a call runs inline it
// does neither (Write settles when that call is done). Caller holds mu.
func (a *assoc) settle() {
	if a.workerRunning || a.workerDone || a.busy {
		return
	}
	if len(a.items) > 0 && !a.closed {
		a.workerRunning = true
		a.workers++
		go a.worker()
		return
	}
	if a.closed || a.broken {
		a.workerDone = true
		signal(&a.outReady)
		close(a.done)
	}
}

// worker runs queued items in order and returns when none is left (a
// later item starts a new worker), when the pipe closes, or after a
// fatal protocol error once the queue is drained.
func (a *assoc) worker() {
	for {
		it, ok := a.next()
		if !ok {
			return
		}
		if it.call == nil {
			for _, m := range it.msgs {
				if !a.push(m) {
					a.workerExit()
					return
				}
			}
			continue
		}
		if !a.execute(it.call) {
			a.workerExit()
			return
		}
	}
}

// workerExit ends a worker that stopped early (the pipe closed).
func (a *assoc) workerExit() {
	a.mu.Lock()
	a.workerRunning = false
	a.settle()
	a.mu.Unlock()
}

// next pops the next item; with none left (or the pipe closed) the worker
// ends, in the same critical section, so that an item queued right after
// starts a new one.
func (a *assoc) next() (item, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || len(a.items) == 0 {
		a.workerRunning = false
		a.settle()
		return item{}, false
	}
	it := a.items[0]
	a.items = popFront(a.items)
	a.budget.Release(entryCharge)
	if it.call != nil {
		a.running = it.call
	}
	signal(&a.space)
	return it, true
}

// push queues one output message, waiting while the output queue is
// full. It returns false once the pipe is closed.
func (a *assoc) push(m []byte) bool {
	return a.pushCharged(m, false)
}

// pushCharged is push for a message whose bytes were reserved from the
// budget already (reserved) or are charged now. A message that cannot be
// queued because the pipe closed is released.
func (a *assoc) pushCharged(m []byte, reserved bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.outq) >= a.cfg.MaxQueued && !a.closed {
		ch := waitOn(&a.space)
		a.mu.Unlock()
		select {
		case <-ch:
		case <-a.ctx.Done():
		}
		a.mu.Lock()
	}
	if a.closed {
		if reserved {
			a.budget.Release(len(m))
		}
		return false
	}
	a.queueOutput(m, reserved)
	return true
}

// queueOutput appends m to the output, charging it to the budget unless
// it was reserved already. Caller holds mu.
func (a *assoc) queueOutput(m []byte, reserved bool) {
	if !reserved {
		a.budget.Charge(len(m))
	}
	a.budget.Charge(entryCharge)
	a.outCharged += len(m) + entryCharge
	a.outq = append(a.outq, m)
	signal(&a.outReady)
}

// pushNow queues output of an inline call: the writer that runs it is the
// one who would drain the output, so it never waits; a call's fragments
// may exceed MaxQueued (their bytes are in the budget). It returns false
// once the pipe is closed.
func (a *assoc) pushNow(m []byte, reserved bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		if reserved {
			a.budget.Release(len(m))
		}
		return false
	}
	a.queueOutput(m, reserved)
	return true
}

// callBase is the context a call runs under: the pipe's caller, or the
// RPC-level identity when the call came on a security context (MS-RPCE
// 3.3.1.5.2.1).
func (a *assoc) callBase(c *call) context.Context {
	if c.sec != nil {
		return c.sec.ctx
	}
	return a.callCtx
}

// execute dispatches one call on the worker and queues its response
// fragments or fault. It returns false once the pipe is closed.
func (a *assoc) execute(c *call) bool {
	base := a.callBase(c)
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	a.mu.Lock()
	c.cancel = cancel
	if c.cancelled {
		cancel()
	}
	frag := a.frag
	if c.orphaned {
		// Orphaned before it started: the client wants no answer.
		a.running = nil
		a.mu.Unlock()
		a.releaseStub(c)
		return true
	}
	a.mu.Unlock()

	status, stub := a.invoke(ctx, c, nil)
	return a.respond(c, frag, status, stub, false)
}

// executeInline runs a call taken by takeInline on the writer's
// goroutine, holding the decode slot release gives back. Nothing can
// cancel it but Close (its context is the pipe's), and its output never
// waits.
func (a *assoc) executeInline(c *call, release func()) {
	a.mu.Lock()
	frag := a.frag
	a.mu.Unlock()
	status, stub := a.invoke(a.callBase(c), c, release)
	a.respond(c, frag, status, stub, true)
}

// respond releases the call's stub and queues its response fragments,
// or its fault (status not 0), unless it was orphaned meanwhile. now
// queues without waiting (an inline call). It returns false once the
// pipe is closed.
func (a *assoc) respond(c *call, frag int, status uint32, stub []byte, now bool) bool {
	a.releaseStub(c)
	a.mu.Lock()
	a.running = nil
	orphaned := c.orphaned
	a.mu.Unlock()
	if orphaned {
		return true
	}
	push := func(m []byte, reserved bool) bool {
		if now {
			return a.pushNow(m, reserved)
		}
		return a.pushCharged(m, reserved)
	}
	if status != 0 {
		flags := uint8(0)
		if status == StatusOpRangeError || status == StatusBadStubData {
			flags = pfcDidNotExecute
		}
		return push(encodeFault(c.callID, flags, c.ctxID, status), false)
	}
	// C706 12.6.4.10 and MS-RPCE 2.2.2.6: split the stub by the
	// negotiated size; alloc_hint is what remains from this fragment on.
	if c.sec == nil || !c.sec.protects() {
		if maxStub := (frag - responseHdrLen) &^ 7; len(stub) <= maxStub {
			// One fragment, the usual case.
			m := encodeResponse(c.callID, pfcFirstFrag|pfcLastFrag, uint32(len(stub)), c.ctxID, stub)
			if !a.budget.TryReserve(len(m)) {
				a.srv.noteOverBudget(a.info.Remote)
				return push(encodeFault(c.callID, 0, c.ctxID, StatusRemoteNoMemory), false)
			}
			return push(m, true)
		}
	}
	var frags [][]byte
	total := 0
	if c.sec != nil && c.sec.protects() {
		var err error
		if frags, err = protectedFragments(c.sec, frag, c.callID, c.ctxID, stub); err != nil {
			a.log.Warn("dcerpc: response cannot be protected", "err", err, "call_id", c.callID)
			return push(encodeFault(c.callID, 0, c.ctxID, StatusFaultUnspec), false)
		}
		for _, m := range frags {
			total += len(m)
		}
	} else {
		maxStub := (frag - responseHdrLen) &^ 7
		for off, first := 0, true; first || off < len(stub); first = false {
			n := min(maxStub, len(stub)-off)
			var flags uint8
			if first {
				flags |= pfcFirstFrag
			}
			if off+n == len(stub) {
				flags |= pfcLastFrag
			}
			m := encodeResponse(c.callID, flags, uint32(len(stub)-off), c.ctxID, stub[off:off+n])
			frags = append(frags, m)
			total += len(m)
			off += n
		}
	}
	// The whole response waits for the client: it must fit the budget,
	// or the call ends with nca_s_fault_remote_no_memory instead.
	if !a.budget.TryReserve(total) {
		a.srv.noteOverBudget(a.info.Remote)
		return push(encodeFault(c.callID, 0, c.ctxID, StatusRemoteNoMemory), false)
	}
	for i, m := range frags {
		if !push(m, true) {
			for _, rest := range frags[i+1:] {
				a.budget.Release(len(rest))
			}
			return false
		}
	}
	return true
}

// releaseStub gives the stub of a call that ran (or never will) back to
// the budget.
func (a *assoc) releaseStub(c *call) {
	a.budget.Release(len(c.stub))
	c.stub = nil
}

// invoke decodes and runs the call through the interface's handle and
// marshals the response. A non-zero status is the fault to send. release,
// when not nil, gives back a decode slot the caller holds already.
func (a *assoc) invoke(ctx context.Context, c *call, release func()) (status uint32, stub []byte) {
	log := func() *slog.Logger { return a.log.With("iface", c.iface.Name, "opnum", c.opnum, "call_id", c.callID) }
	defer func() {
		if r := recover(); r != nil {
			// The panic value may hold request data: log its type only.
			log().Error("dcerpc: call panicked", "panic_type", fmt.Sprintf("%T", r))
			status, stub = StatusFaultUnspec, nil
		}
	}()
	if release == nil {
		if release = a.srv.acquireDecode(ctx); release == nil {
			return StatusFaultCancel, nil
		}
	}
	defer func() { release() }()
	if c.iface.Fast != nil && !c.ndr64 && c.drep == ndr20LittleEndian {
		if out, ok := c.iface.Fast(ctx, c.opnum, c.stub); ok {
			return 0, out
		}
	}
	// The handler may give the slot back early (DecodeDone).
	release = sync.OnceFunc(release)
	var r ndr.Reader
	if c.ndr64 {
		r = NewNDR64StubReader(c.stub)
	} else {
		r = NewStubReader(c.stub, c.drep[:])
	}
	op, err := c.iface.Handle(context.WithValue(ctx, decodeKey{}, release), int(c.opnum), r)
	switch {
	case errors.Is(err, msrpc.ErrNotImplemented), op == nil && err == nil:
		// Unknown opnums and opnums not used on the wire (C706 N.2).
		return StatusOpRangeError, nil
	case op == nil:
		// The generated handles return no operation only when the
		// request stub does not decode.
		log().Debug("dcerpc: request stub does not decode", "err", err)
		return StatusBadStubData, nil
	case err != nil:
		if ctx.Err() != nil {
			return StatusFaultCancel, nil
		}
		log().Warn("dcerpc: call failed", "err", err)
		return StatusFaultUnspec, nil
	}
	b, err := MarshalResponse(op, c.ndr64)
	if err != nil {
		log().Warn("dcerpc: response does not marshal", "err", err)
		return StatusFaultUnspec, nil
	}
	return 0, b
}

// ndr20LittleEndian is the data representation of the calls a Fast
// handler is offered: little-endian integers, ASCII characters, IEEE
// floating point (C706 14.2.5).
var ndr20LittleEndian = [4]byte{drepIntegerLittleEndianBit, 0, 0, 0}
