package smb2

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/logsafe"
	"github.com/wkssvcd/wkssvcd/server/budget"
	"github.com/wkssvcd/wkssvcd/server/ipc"
	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// Config configures a Server. The zero value of every optional field selects
// the documented default.
type Config struct {
	// Auth accepts SESSION_SETUP security exchanges. Required.
	Auth ipc.Authenticator
	// Pipes serves the named pipes of IPC$. Required.
	Pipes ipc.Handler
	// ServerGUID is sent in NEGOTIATE responses. Default: random per Server.
	ServerGUID [16]byte
	// MinDialect and MaxDialect bound the dialects offered. Defaults 0x0202
	// and 0x0311.
	MinDialect, MaxDialect uint16
	// Ciphers lists the supported encryption algorithms (MS-SMB2 2.2.3.1.2)
	// in order of preference. Default {AES128GCM, AES128CCM, AES256GCM,
	// AES256CCM}. The 3.0/3.0.2 dialects always use AES-128-CCM when it is
	// listed.
	Ciphers []uint16
	// SigningOptional, when true, does not require signing from clients.
	// Default false: SMB2_NEGOTIATE_SIGNING_REQUIRED is set and every
	// authenticated (non-anonymous) session must sign.
	SigningOptional bool
	// RequireEncryption is the server's EncryptData with
	// RejectUnencryptedAccess (MS-SMB2 3.3.3): a client that cannot
	// encrypt (dialect 2.x, or 3.x without a common cipher) is refused at
	// SESSION_SETUP with STATUS_ACCESS_DENIED, every session is
	// established with SMB2_SESSION_FLAG_ENCRYPT_DATA, and its unencrypted
	// requests fail with STATUS_ACCESS_DENIED (MS-SMB2 3.3.5.2.9). Default
	// false: clients choose.
	RequireEncryption bool
	// MaxConnections bounds the concurrent connections; further connections
	// are closed at once, before any byte is read. Default 1024.
	MaxConnections int
	// MaxConnsPerAddr bounds the concurrent connections from one remote
	// address (IPv6: one /64, as for AuthFailLimit), so that one party
	// cannot take every slot of MaxConnections; further connections from
	// it are closed at once, before any byte is read. Default 32.
	MaxConnsPerAddr int
	// HandshakeTimeout bounds the time from accepting a connection until
	// one of its sessions is established (NEGOTIATE and SESSION_SETUP
	// completed); a connection that has not got there is closed.
	// NetBIOS keep-alives do not extend it. Incomplete SESSION_SETUP
	// exchanges of any connection are dropped this long after their first
	// leg. Default 10 s; negative disables both.
	HandshakeTimeout time.Duration
	// MaxTransactSize, MaxReadSize and MaxWriteSize are announced in
	// NEGOTIATE responses and enforced. Default 65536 each.
	MaxTransactSize, MaxReadSize, MaxWriteSize uint32
	// MaxCredits bounds the credits a client may hold on one connection
	// (MS-SMB2 3.3.1.2); the MessageId window never spans more than four
	// times this, and a request outside it disconnects (MS-SMB2
	// 3.3.5.2.3). Default 512, at most 65535.
	MaxCredits int
	// IdleTimeout closes a connection that sends nothing for this long.
	// Default 15 minutes; negative disables it.
	IdleTimeout time.Duration
	// ReadTimeout bounds the time to receive the rest of a message once its
	// first byte arrived, and the time to write a response (a write is
	// given between ReadTimeout and 1.5 × ReadTimeout: the deadline is not
	// moved on every write). Default 30 s.
	ReadTimeout time.Duration
	// MaxPendingReads bounds the asynchronous READ and TRANSCEIVE
	// operations per connection; beyond it requests fail with
	// STATUS_INSUFFICIENT_RESOURCES. Default 64.
	MaxPendingReads int
	// MaxSessions bounds the sessions of one connection, established or
	// in progress; a further SESSION_SETUP fails with
	// STATUS_INSUFFICIENT_RESOURCES. Default 64.
	MaxSessions int
	// MaxOpens bounds the pipe opens of one connection; a further CREATE
	// fails with STATUS_INSUFFICIENT_RESOURCES. Default 1024.
	MaxOpens int
	// MaxPendingLogons bounds the SESSION_SETUP exchanges in progress on
	// one connection (new sessions and re-authentications that have not
	// finished); a further one fails with STATUS_INSUFFICIENT_RESOURCES.
	// Each is dropped HandshakeTimeout after its first leg, and one
	// dropped unfinished (by the deadline, LOGOFF or the end of the
	// connection) counts as a failed logon for AuthFailLimit. Default 4.
	MaxPendingLogons int
	// MaxTokenSize bounds the security buffer of a SESSION_SETUP request;
	// a larger one fails with STATUS_INVALID_PARAMETER before any
	// authentication mechanism sees it. Default 48000 bytes, the default
	// MaxTokenSize of Windows (room for a Kerberos AP-REQ carrying a
	// large PAC).
	MaxTokenSize int
	// MaxConnBuffered bounds the bytes one connection makes the server
	// hold for it across all its pipes: RPC input not yet processed,
	// reassembled requests waiting for or in dispatch, results not yet
	// read, and the rest of a message a short READ left behind. Input
	// beyond it is refused (a WRITE or TRANSCEIVE fails with
	// STATUS_INSUFFICIENT_RESOURCES, a request that does not fit gets
	// the fault nca_s_fault_remote_no_memory); the connection stays
	// usable. Default 1 MiB.
	MaxConnBuffered int
	// MaxBuffered bounds the same bytes for all connections together.
	// Default 64 MiB.
	MaxBuffered int
	// MaxCompound bounds the requests in one compounded message (MS-SMB2
	// 3.3.5.2.7); a longer chain disconnects. Default 64.
	MaxCompound int
	// AuthFailLimit is how many failed logons from one remote address
	// (IPv6: one /64) within AuthFailWindow make the server refuse every
	// SESSION_SETUP from it with STATUS_LOGON_FAILURE, without consulting
	// the Authenticator, until AuthFailWindow has passed. Default 10;
	// negative disables the throttling.
	AuthFailLimit int
	// AuthFailWindow is the counting window and the refusal period of
	// AuthFailLimit. Default 5 minutes.
	AuthFailWindow time.Duration
	// AuthFailAddrs bounds the remote addresses whose failures are
	// tracked; when full, expired and then the oldest records are
	// evicted. Default 4096.
	AuthFailAddrs int
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("smb2: server closed")

// Defaults of Config.
const (
	DefaultMaxConnections   = 1024
	DefaultMaxConnsPerAddr  = 32
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxCredits       = 512
	DefaultIdleTimeout      = 15 * time.Minute
	DefaultReadTimeout      = 30 * time.Second
	DefaultMaxPendingReads  = 64
	DefaultMaxSessions      = 64
	DefaultMaxOpens         = 1024
	DefaultMaxCompound      = 64
	DefaultMaxPendingLogons = 4
	DefaultMaxTokenSize     = 48000
	DefaultMaxConnBuffered  = 1 << 20
	DefaultMaxBuffered      = 64 << 20
	DefaultAuthFailLimit    = 10
	DefaultAuthFailWindow   = 5 * time.Minute
	DefaultAuthFailAddrs    = 4096

	// MaxCreditsLimit is the largest accepted Config.MaxCredits.
	MaxCreditsLimit = 65535

	defaultMaxSize = 65536
)

// Server is an SMB2/3 server for the IPC$ share.
type Server struct {
	cfg Config

	throttle *authThrottle    // nil when disabled
	buffered *budget.Budget   // MaxBuffered; each connection's budget is nested in it
	refusals *logsafe.Limiter // refused connections and handshake timeouts: one line a minute per reason
	// unknownUsers rate-limits the lines of logons naming no known
	// account: one a minute per address.
	unknownUsers *logsafe.Limiter

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perAddr   map[netip.Addr]int // open connections by throttleKey
	closed    bool
	wg        sync.WaitGroup
	ctx       context.Context
	cancel    context.CancelFunc
}

// NewServer validates cfg, fills in defaults and returns a Server.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Auth == nil || cfg.Pipes == nil {
		return nil, errors.New("smb2: Config.Auth and Config.Pipes are required")
	}
	if cfg.ServerGUID == ([16]byte{}) {
		if _, err := rand.Read(cfg.ServerGUID[:]); err != nil {
			return nil, err
		}
	}
	if cfg.MinDialect == 0 {
		cfg.MinDialect = smbcrypto.Dialect202
	}
	if cfg.MaxDialect == 0 {
		cfg.MaxDialect = smbcrypto.Dialect311
	}
	if !knownDialect(cfg.MinDialect) || !knownDialect(cfg.MaxDialect) || cfg.MinDialect > cfg.MaxDialect {
		return nil, errors.New("smb2: invalid dialect range")
	}
	if cfg.Ciphers == nil {
		cfg.Ciphers = []uint16{smbcrypto.AES128GCM, smbcrypto.AES128CCM, smbcrypto.AES256GCM, smbcrypto.AES256CCM}
	}
	for _, c := range cfg.Ciphers {
		if c < smbcrypto.AES128CCM || c > smbcrypto.AES256GCM {
			return nil, errors.New("smb2: unknown cipher")
		}
	}
	if err := cfg.validateLimits(); err != nil {
		return nil, err
	}
	cfg.fillLimitDefaults()
	if cfg.MaxTransactSize == 0 {
		cfg.MaxTransactSize = defaultMaxSize
	}
	if cfg.MaxReadSize == 0 {
		cfg.MaxReadSize = defaultMaxSize
	}
	if cfg.MaxWriteSize == 0 {
		cfg.MaxWriteSize = defaultMaxSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:          cfg,
		listeners:    make(map[net.Listener]struct{}),
		conns:        make(map[*conn]struct{}),
		perAddr:      make(map[netip.Addr]int),
		refusals:     logsafe.NewLimiter(refusalLogInterval, 8, nil),
		unknownUsers: logsafe.NewLimiter(refusalLogInterval, cfg.AuthFailAddrs, nil),
		buffered:     budget.New(int64(cfg.MaxBuffered), nil),
		ctx:          ctx,
		cancel:       cancel,
	}
	if cfg.AuthFailLimit > 0 {
		s.throttle = newAuthThrottle(cfg.AuthFailLimit, cfg.AuthFailWindow, cfg.AuthFailAddrs, cfg.Logger)
	}
	return s, nil
}

// validateLimits rejects resource limits that have no meaning.
func (cfg *Config) validateLimits() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxConnections", int64(cfg.MaxConnections)},
		{"MaxConnsPerAddr", int64(cfg.MaxConnsPerAddr)},
		{"MaxCredits", int64(cfg.MaxCredits)},
		{"MaxPendingReads", int64(cfg.MaxPendingReads)},
		{"MaxSessions", int64(cfg.MaxSessions)},
		{"MaxOpens", int64(cfg.MaxOpens)},
		{"MaxCompound", int64(cfg.MaxCompound)},
		{"MaxPendingLogons", int64(cfg.MaxPendingLogons)},
		{"MaxTokenSize", int64(cfg.MaxTokenSize)},
		{"MaxConnBuffered", int64(cfg.MaxConnBuffered)},
		{"MaxBuffered", int64(cfg.MaxBuffered)},
		{"AuthFailAddrs", int64(cfg.AuthFailAddrs)},
		{"ReadTimeout", int64(cfg.ReadTimeout)},
		{"AuthFailWindow", int64(cfg.AuthFailWindow)},
	} {
		if f.v < 0 {
			return fmt.Errorf("smb2: Config.%s must not be negative", f.name)
		}
	}
	if cfg.MaxCredits > MaxCreditsLimit {
		return fmt.Errorf("smb2: Config.MaxCredits must be at most %d", MaxCreditsLimit)
	}
	return nil
}

// fillLimitDefaults replaces the zero limits by their defaults.
func (cfg *Config) fillLimitDefaults() {
	setInt := func(p *int, def int) {
		if *p == 0 {
			*p = def
		}
	}
	setDur := func(p *time.Duration, def time.Duration) {
		if *p == 0 {
			*p = def
		}
	}
	setInt(&cfg.MaxConnections, DefaultMaxConnections)
	setInt(&cfg.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
	setInt(&cfg.MaxCredits, DefaultMaxCredits)
	setInt(&cfg.MaxPendingReads, DefaultMaxPendingReads)
	setInt(&cfg.MaxSessions, DefaultMaxSessions)
	setInt(&cfg.MaxOpens, DefaultMaxOpens)
	setInt(&cfg.MaxCompound, DefaultMaxCompound)
	setInt(&cfg.MaxPendingLogons, DefaultMaxPendingLogons)
	setInt(&cfg.MaxTokenSize, DefaultMaxTokenSize)
	setInt(&cfg.MaxConnBuffered, DefaultMaxConnBuffered)
	setInt(&cfg.MaxBuffered, DefaultMaxBuffered)
	setInt(&cfg.AuthFailLimit, DefaultAuthFailLimit)
	setInt(&cfg.AuthFailAddrs, DefaultAuthFailAddrs)
	setDur(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDur(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	setDur(&cfg.ReadTimeout, DefaultReadTimeout)
	setDur(&cfg.AuthFailWindow, DefaultAuthFailWindow)
}

func knownDialect(d uint16) bool {
	switch d {
	case smbcrypto.Dialect202, smbcrypto.Dialect210, smbcrypto.Dialect300, smbcrypto.Dialect302, smbcrypto.Dialect311:
		return true
	}
	return false
}

// Serve accepts connections on ln until Shutdown, serving each in its own
// goroutine. It always closes ln and returns ErrServerClosed after
// Shutdown, or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
				case <-s.ctx.Done():
				}
				continue
			}
			return err
		}
		delay = 0
		if !s.admit(nc) {
			continue
		}
	}
}

// admit registers a new connection and starts serving it, or closes it at
// once when the server is closing or a connection limit is reached. A
// refusal is logged at most once per refusalLogInterval and reason, with
// the number of refusals left unlogged since the previous line.
func (s *Server) admit(nc net.Conn) bool {
	key, keyed := throttleKey(nc.RemoteAddr())
	s.mu.Lock()
	reason := ""
	switch {
	case s.closed:
		reason = "closing"
	case len(s.conns) >= s.cfg.MaxConnections:
		reason = "limit"
	case keyed && s.perAddr[key] >= s.cfg.MaxConnsPerAddr:
		reason = "per-address-limit"
	}
	if reason != "" {
		s.mu.Unlock()
		if reason != "closing" {
			remote := nc.RemoteAddr().String()
			s.refusals.Do(reason, func(suppressed int) {
				s.cfg.Logger.Warn("connection refused", "remote", remote, "reason", reason, "refusals_not_logged", suppressed)
			})
		}
		nc.Close()
		return false
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	if keyed {
		s.perAddr[key]++
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		if keyed {
			if s.perAddr[key] <= 1 {
				delete(s.perAddr, key)
			} else {
				s.perAddr[key]--
			}
		}
		s.mu.Unlock()
	}()
	return true
}

// Shutdown stops accepting, closes every connection and waits until all
// goroutines of the server have ended or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
