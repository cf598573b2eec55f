package smb2

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

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
	// MaxConnections bounds the concurrent connections; further connections
	// are closed at once. Default 1024.
	MaxConnections int
	// MaxTransactSize, MaxReadSize and MaxWriteSize are announced in
	// NEGOTIATE responses and enforced. Default 65536 each.
	MaxTransactSize, MaxReadSize, MaxWriteSize uint32
	// MaxCredits bounds the credits a client may hold (MS-SMB2 3.3.1.2).
	// Default 512.
	MaxCredits int
	// IdleTimeout closes a connection that sends nothing for this long.
	// Default 15 minutes; negative disables it.
	IdleTimeout time.Duration
	// ReadTimeout bounds the time to receive the rest of a message once its
	// first byte arrived, and the time to write a response. Default 30 s.
	ReadTimeout time.Duration
	// MaxPendingReads bounds the asynchronous READ and TRANSCEIVE
	// operations per connection; beyond it requests fail with
	// STATUS_INSUFFICIENT_RESOURCES. Default 64.
	MaxPendingReads int
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("smb2: server closed")

const (
	defaultMaxSize     = 65536
	defaultIdleTimeout = 15 * time.Minute
	defaultReadTimeout = 30 * time.Second
)

// Server is an SMB2/3 server for the IPC$ share.
type Server struct {
	cfg Config

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
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
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 1024
	}
	if cfg.MaxTransactSize == 0 {
		cfg.MaxTransactSize = defaultMaxSize
	}
	if cfg.MaxReadSize == 0 {
		cfg.MaxReadSize = defaultMaxSize
	}
	if cfg.MaxWriteSize == 0 {
		cfg.MaxWriteSize = defaultMaxSize
	}
	if cfg.MaxCredits <= 0 {
		cfg.MaxCredits = 512
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = defaultReadTimeout
	}
	if cfg.MaxPendingReads <= 0 {
		cfg.MaxPendingReads = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:       cfg,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		ctx:       ctx,
		cancel:    cancel,
	}, nil
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
		s.mu.Lock()
		if s.closed || len(s.conns) >= s.cfg.MaxConnections {
			s.mu.Unlock()
			s.cfg.Logger.Warn("connection refused", "remote", nc.RemoteAddr().String(), "reason", "limit")
			nc.Close()
			continue
		}
		c := newConn(s, nc)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
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
