package dcerpc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	msrpc "github.com/oiweiwei/go-msrpc/dcerpc"
	"github.com/oiweiwei/go-msrpc/midl/uuid"

	"github.com/wkssvcd/wkssvcd/internal/logsafe"
	"github.com/wkssvcd/wkssvcd/server/ipc"
)

// Interface is one RPC interface offered on a pipe.
type Interface struct {
	// Name is used in logs, e.g. "wkssvc".
	Name string
	// UUID is the interface UUID of the abstract syntax.
	UUID uuid.UUID
	// VersionMajor and VersionMinor are the interface version. A client
	// binds when it asks for the same major and a minor not above ours
	// (C706 12.6.4.3 compatibility rule).
	VersionMajor, VersionMinor uint16
	// Inline, when set, reports the calls that may run on the goroutine
	// that wrote their request (ipc.Pipe.Write) when nothing of the pipe
	// is queued or running ahead of them: calls that do no I/O, never
	// wait on anything slow and return in microseconds. Their response is
	// then queued when Write returns, and the transport can answer the
	// client without a goroutine hand-off. Every other call runs on the
	// pipe's worker, so that a slow one (a domain join) never holds up
	// the transport. Nil: no call runs inline.
	Inline func(Call) bool
	// Fast, when set, is offered each call of an NDR 2.0 little-endian
	// context first: it may decode the stub, run the call and encode the
	// response stub itself, for opnums where go-msrpc's codec costs more
	// than the call. It must answer exactly what Handle and the runtime's
	// marshalling would, and return ok false for anything it does not
	// fully handle, which then goes to Handle. It runs with the call's
	// context and decode slot, like Handle.
	Fast func(ctx context.Context, opnum uint16, stub []byte) (resp []byte, ok bool)
	// Handle decodes the request stub of one call, executes it and
	// returns the operation whose response is marshalled back. It is a
	// go-msrpc generated server handle (e.g. wkssvc.WkssvcServerHandle):
	// a nil operation with a nil error means an opnum it does not serve
	// (fault nca_op_rng_error, as does dcerpc.ErrNotImplemented); a nil
	// operation with an error means the stub did not decode (fault
	// RPC_X_BAD_STUB_DATA); any other error or a panic is a failed call
	// (fault nca_s_fault_unspec). The reader is NewStubReader's.
	Handle msrpc.ServerHandle
}

// Call is what Interface.Inline sees of a call.
type Call struct {
	Opnum uint16
	// Stub is the request stub; it must be neither kept nor changed.
	Stub []byte
	// NDR20LittleEndian says the stub is NDR 2.0 with little-endian
	// integers, ASCII characters and IEEE floats, the coding a predicate
	// can read cheaply; else it is big-endian or NDR64.
	NDR20LittleEndian bool
}

func (i *Interface) syntax() syntaxID {
	var d4 [8]byte
	d4[0], d4[1] = i.UUID.ClockSeqHiAndReserved, i.UUID.ClockSeqLow
	copy(d4[2:], i.UUID.Node[:])
	return syntaxID{UUID: guid(i.UUID.TimeLow, i.UUID.TimeMid, i.UUID.TimeHiAndVersion, d4),
		Major: i.VersionMajor, Minor: i.VersionMinor}
}

// Config tunes the runtime. The zero value is usable.
type Config struct {
	// MaxReassembly is the largest stub, in bytes, of one (possibly
	// fragmented) request; a larger request gets a fault with status 5
	// (MS-RPCE 3.3.3.5.4) before its stub is buffered. Default 16 KiB:
	// the largest wkssvc or srvsvc request a client sends is a domain
	// join, whose stub stays under 7 KiB even with every string at a
	// generous maximum (see DefaultMaxReassembly).
	MaxReassembly int
	// MaxFragment is the largest fragment this server sends or expects
	// to receive; the negotiated size is never above the client's
	// values (MS-RPCE 3.3.1.5.6). Default 4280; values are clamped to
	// 1432..65535 (C706 12.6.3.1 MustRecvFragSize, frag_length range).
	// Larger incoming fragments are still accepted.
	MaxFragment int
	// MaxQueued is how many output messages, or how many calls waiting
	// for dispatch, a pipe holds before Write returns ipc.ErrPipeBusy.
	// Default 64.
	MaxQueued int
	// DisableNDR64 refuses the NDR64 transfer syntax (MS-RPCE 2.2.5).
	// Default false: NDR64 is accepted and preferred, as 64-bit Windows
	// servers do (MS-RPCE 3.3.1.5.6): a client proposing NDR and NDR64
	// gets NDR64.
	DisableNDR64 bool
	// MaxDecodes bounds the calls that decode their request stub at the
	// same time, across all pipes: a call waits for a slot before its
	// Handle runs and gives it back when Handle returns, or earlier when
	// the handler calls DecodeDone (as handlers that wait on the network
	// do). Decoding is CPU and memory work proportional to the stub; the
	// bound keeps many clients from doing it all at once. Default 8.
	MaxDecodes int
	// Auth accepts RPC-level authentication (MS-RPCE 3.3.1.5.2): binds
	// and alter_contexts with an auth verifier build a security context
	// whose identity the calls on the association run as, with the
	// request and response PDUs signed or sealed per its level. Nil
	// refuses them (bind_nak authentication_type_not_recognized).
	Auth ipc.RPCAuthenticator
	// Logger receives diagnostics; it never sees stub data. Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	// DefaultMaxReassembly is twice the largest legitimate request: a
	// NetrJoinDomain2/3 stub with a 255-character DNS domain, a
	// 2048-character OU distinguished name, a 512-character account
	// name, a 255-character server name and the 524-byte password blob
	// is about 6.7 KiB of NDR (wkssvc TestLargestJoinRequestFitsDefaultLimit).
	// The other wkssvc and srvsvc requests are a few hundred bytes. The
	// MS-RPCE 3.3.3.5.4 ceiling is 4 MiB.
	DefaultMaxReassembly = 16 << 10
	DefaultMaxFragment   = 4280
	DefaultMaxQueued     = 64
	DefaultMaxDecodes    = 8
)

// Protocol sequences reported by ProtocolSequence.
const (
	ProtseqNamedPipe = "ncacn_np"
	ProtseqTCP       = "ncacn_ip_tcp"
)

// Server is an RPC runtime serving registered interfaces on named pipes.
// It implements ipc.Handler.
type Server struct {
	cfg        Config
	log        *slog.Logger
	refusals   *logsafe.Limiter // over-budget refusals, one line a minute
	decodes    chan struct{}    // MaxDecodes slots
	release    func()           // gives a decode slot back (one func value for every call)
	mu         sync.RWMutex
	pipes      map[string][]Interface
	assocGroup atomic.Uint32
}

var _ ipc.Handler = (*Server)(nil)

// NewServer returns a Server with cfg's defaults applied.
func NewServer(cfg Config) *Server {
	if cfg.MaxReassembly <= 0 {
		cfg.MaxReassembly = DefaultMaxReassembly
	}
	if cfg.MaxFragment <= 0 {
		cfg.MaxFragment = DefaultMaxFragment
	}
	if cfg.MaxFragment < mustRecvFragLen {
		cfg.MaxFragment = mustRecvFragLen
	}
	if cfg.MaxFragment > 0xFFFF {
		cfg.MaxFragment = 0xFFFF
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.MaxDecodes <= 0 {
		cfg.MaxDecodes = DefaultMaxDecodes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, pipes: make(map[string][]Interface),
		refusals: logsafe.NewLimiter(time.Minute, 1, nil), decodes: make(chan struct{}, cfg.MaxDecodes)}
	s.release = func() { <-s.decodes }
	return s
}

type decodeKey struct{}

// acquireDecode waits for a decode slot (Config.MaxDecodes) and returns
// its release function, to be called once; nil when ctx ended first.
func (s *Server) acquireDecode(ctx context.Context) func() {
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		return nil
	}
	return s.release
}

// tryAcquireDecode takes a decode slot if one is free and returns its
// release function, or nil.
func (s *Server) tryAcquireDecode() func() {
	select {
	case s.decodes <- struct{}{}:
		return s.release
	default:
		return nil
	}
}

// DecodeDone tells the runtime that the call carried by ctx has decoded
// its request, so that the call's decode slot (Config.MaxDecodes) goes to
// the next call while this one waits on the network. Handlers that may
// block (a domain join talks to domain controllers for seconds) call it
// first; for any other call it is a no-op, and the slot is given back
// when Handle returns anyway.
func DecodeDone(ctx context.Context) {
	if f, ok := ctx.Value(decodeKey{}).(func()); ok {
		f()
	}
}

// noteOverBudget logs a call refused because a byte budget was full: one
// warning a minute, with the number of refusals not logged since the last.
func (s *Server) noteOverBudget(remote net.Addr) {
	addr := ""
	if remote != nil {
		addr = remote.String()
	}
	s.refusals.Do("budget", func(suppressed int) {
		s.log.Warn("dcerpc: call refused: the byte budget of its connection or of the server is full",
			"remote", addr, "refusals_not_logged", suppressed)
	})
}

// canonicalPipe lower-cases a pipe name and strips "\", "PIPE\" and
// "\PIPE\" prefixes.
func canonicalPipe(name string) string {
	n := strings.ToLower(name)
	n = strings.TrimPrefix(n, `\`)
	n = strings.TrimPrefix(n, `pipe\`)
	return n
}

// Register offers ifaces on the named pipe (canonical name, e.g.
// "wkssvc"), in addition to those already registered there.
func (s *Server) Register(pipe string, ifaces ...Interface) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := canonicalPipe(pipe)
	s.pipes[p] = append(s.pipes[p], ifaces...)
}

// HasPipe reports whether any interface is registered on the pipe.
func (s *Server) HasPipe(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.pipes[canonicalPipe(name)]
	return ok
}

func (s *Server) interfaces(pipe string) ([]Interface, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ifs, ok := s.pipes[canonicalPipe(pipe)]
	return append([]Interface(nil), ifs...), ok
}

// OpenPipe creates a new association for one open of a named pipe. ctx
// is only used for the open itself; calls on the pipe are cancelled by
// Close.
func (s *Server) OpenPipe(ctx context.Context, info ipc.OpenInfo) (ipc.Pipe, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ifs, ok := s.interfaces(info.Pipe)
	if !ok {
		return nil, ipc.ErrNoSuchPipe
	}
	info.Pipe = canonicalPipe(info.Pipe)
	// MS-RPCE 3.3.1.5.5 / notes: the secondary address of a named pipe
	// endpoint is its full pipe name.
	return newAssoc(s, ifs, info, ProtseqNamedPipe, `\PIPE\`+info.Pipe), nil
}

// ServeConn serves one ncacn_ip_tcp-style connection: c carries the same
// PDUs as a pipe, framed by frag_length. info selects the interfaces
// (info.Pipe) and gives the caller identity seen by the calls. It returns
// when the peer closes the connection (nil), on a fatal protocol error,
// or when ctx ends; c is closed on return.
func (s *Server) ServeConn(ctx context.Context, c net.Conn, info ipc.OpenInfo) error {
	defer c.Close()
	ifs, ok := s.interfaces(info.Pipe)
	if !ok {
		return ipc.ErrNoSuchPipe
	}
	info.Pipe = canonicalPipe(info.Pipe)
	if info.Remote == nil {
		info.Remote = c.RemoteAddr()
	}
	if info.Local == nil {
		info.Local = c.LocalAddr()
	}
	secAddr := ""
	if ta, ok := c.LocalAddr().(*net.TCPAddr); ok {
		secAddr = strconv.Itoa(ta.Port)
	}
	a := newAssoc(s, ifs, info, ProtseqTCP, secAddr)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	outDone := make(chan struct{})
	go func() { // output: one PDU per message
		defer close(outDone)
		for {
			m, err := a.ReadMessage(ctx)
			if err != nil {
				return
			}
			if _, err := c.Write(m); err != nil {
				cancel()
				return
			}
		}
	}()
	closerDone := make(chan struct{})
	go func() { // unblock the read below when ctx ends
		defer close(closerDone)
		<-ctx.Done()
		_ = c.Close()
	}()

	var result error
	fatal := false
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if werr := a.writeWait(ctx, buf[:n]); werr != nil {
				fatal = errors.Is(werr, ipc.ErrPipeClosed)
				if !fatal && ctx.Err() == nil {
					result = werr
				}
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				result = err
			}
			break
		}
	}
	if fatal {
		// A fatal protocol error: let the calls before it and the final
		// bind_nak or fault go out before the connection closes.
		a.waitWorker(ctx)
	}
	_ = a.Close()
	<-outDone
	parentErr := ctx.Err()
	cancel()
	<-closerDone
	if result == nil && parentErr != nil && !errors.Is(parentErr, context.Canceled) {
		result = parentErr
	}
	return result
}

// newAssocGroup returns a fresh non-zero association group id.
func (s *Server) newAssocGroup() uint32 {
	for {
		if v := s.assocGroup.Add(1); v != 0 {
			return v
		}
	}
}

// addrString is a remote address for the log, "" when unknown.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

type protseqKey struct{}

// ProtocolSequence returns the RPC protocol sequence of the call carried
// by ctx (ProtseqNamedPipe or ProtseqTCP), or "" outside a call.
func ProtocolSequence(ctx context.Context) string {
	s, _ := ctx.Value(protseqKey{}).(string)
	return s
}

// ContextWithProtocolSequence returns ctx marked as a call over protseq,
// as the runtime marks the calls it dispatches.
func ContextWithProtocolSequence(ctx context.Context, protseq string) context.Context {
	return context.WithValue(ctx, protseqKey{}, protseq)
}
