package main

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/smb2"
)

// limits are the resource bounds of the daemon, each an option whose
// default is the package default. Values that have no meaning (a negative
// count or timeout) are rejected while the flags or the configuration file
// are read; docs/limits.md lists every limit.
type limits struct {
	// MaxConnections is smb2.Config.MaxConnections.
	MaxConnections int
	// MaxConnsPerAddr is smb2.Config.MaxConnsPerAddr.
	MaxConnsPerAddr int
	// HandshakeTimeout is smb2.Config.HandshakeTimeout; negative
	// disables it.
	HandshakeTimeout time.Duration
	// MaxPendingReads is smb2.Config.MaxPendingReads (per connection).
	MaxPendingReads int
	// MaxCredits is smb2.Config.MaxCredits (per connection), at most
	// smb2.MaxCreditsLimit.
	MaxCredits int
	// MaxSessions is smb2.Config.MaxSessions (per connection).
	MaxSessions int
	// MaxOpens is smb2.Config.MaxOpens (per connection).
	MaxOpens int
	// MaxPendingLogons is smb2.Config.MaxPendingLogons (per connection).
	MaxPendingLogons int
	// MaxLogonToken is smb2.Config.MaxTokenSize, in bytes.
	MaxLogonToken int
	// MaxConnBuffered is smb2.Config.MaxConnBuffered, in bytes.
	MaxConnBuffered int
	// MaxBuffered is smb2.Config.MaxBuffered, in bytes.
	MaxBuffered int
	// MaxCompound is smb2.Config.MaxCompound.
	MaxCompound int
	// MaxRPCRequest is dcerpc.Config.MaxReassembly, in bytes.
	MaxRPCRequest int
	// MaxRPCDecodes is dcerpc.Config.MaxDecodes.
	MaxRPCDecodes int
	// MaxRPCQueue is dcerpc.Config.MaxQueued (per pipe).
	MaxRPCQueue int
	// IdleTimeout is smb2.Config.IdleTimeout; negative disables it.
	IdleTimeout time.Duration
	// ReadTimeout is smb2.Config.ReadTimeout.
	ReadTimeout time.Duration
	// AuthFailLimit is smb2.Config.AuthFailLimit; negative disables the
	// throttling.
	AuthFailLimit int
	// AuthFailWindow is smb2.Config.AuthFailWindow.
	AuthFailWindow time.Duration
	// AuthFailAddrs is smb2.Config.AuthFailAddrs.
	AuthFailAddrs int

	// RequireEncryption is smb2.Config.RequireEncryption. It is no
	// resource bound but lives here, with the other settings that harden
	// the server against its network, as an option of group "server".
	RequireEncryption bool
}

// limitOptions are the limits as options (group "limits"). Each default
// is the package default it stands for.
func limitOptions() []*option {
	var opts []*option
	count := func(name string, field func(*limits) *int, def, max int, usage string, args ...any) {
		opts = append(opts, &option{name: name, arg: "N", group: groupLimits, def: strconv.Itoa(def),
			usage: fmt.Sprintf(usage, args...),
			bind:  func(c *config) value { return &intValue{p: field(&c.Limits), min: 0, max: max} }})
	}
	anyInt := func(name string, field func(*limits) *int, def int, usage string, args ...any) {
		opts = append(opts, &option{name: name, arg: "N", group: groupLimits, def: strconv.Itoa(def),
			usage: fmt.Sprintf(usage, args...),
			bind:  func(c *config) value { return &intValue{p: field(&c.Limits), min: math.MinInt, max: math.MaxInt} }})
	}
	dur := func(name string, field func(*limits) *time.Duration, def time.Duration, allowNegative bool, usage string, args ...any) {
		opts = append(opts, &option{name: name, arg: "DURATION", group: groupLimits, def: def.String(),
			usage: fmt.Sprintf(usage, args...),
			bind:  func(c *config) value { return &durationValue{p: field(&c.Limits), allowNegative: allowNegative} }})
	}
	count("max-connections", func(l *limits) *int { return &l.MaxConnections }, smb2.DefaultMaxConnections, math.MaxInt,
		"at most N simultaneous SMB connections; more are closed at once")
	count("max-conns-per-addr", func(l *limits) *int { return &l.MaxConnsPerAddr }, smb2.DefaultMaxConnsPerAddr, math.MaxInt,
		"at most N simultaneous SMB connections from one remote address (IPv6: one /64); more are closed at once")
	dur("handshake-timeout", func(l *limits) *time.Duration { return &l.HandshakeTimeout }, smb2.DefaultHandshakeTimeout, true,
		"close a connection that has not established a session this long after connecting, and drop unfinished logons this long after they began; negative disables")
	count("max-pending-reads", func(l *limits) *int { return &l.MaxPendingReads }, smb2.DefaultMaxPendingReads, math.MaxInt,
		"at most N pipe READs and TRANSCEIVEs waiting for data per connection; more fail with STATUS_INSUFFICIENT_RESOURCES")
	count("max-credits", func(l *limits) *int { return &l.MaxCredits }, smb2.DefaultMaxCredits, smb2.MaxCreditsLimit,
		"at most N SMB2 credits held per connection, N <= %d", smb2.MaxCreditsLimit)
	count("max-sessions", func(l *limits) *int { return &l.MaxSessions }, smb2.DefaultMaxSessions, math.MaxInt,
		"at most N SMB sessions per connection; more fail with STATUS_INSUFFICIENT_RESOURCES")
	count("max-opens", func(l *limits) *int { return &l.MaxOpens }, smb2.DefaultMaxOpens, math.MaxInt,
		"at most N open pipes per connection; more fail with STATUS_INSUFFICIENT_RESOURCES")
	count("max-pending-logons", func(l *limits) *int { return &l.MaxPendingLogons }, smb2.DefaultMaxPendingLogons, math.MaxInt,
		"at most N unfinished SESSION_SETUP exchanges per connection; more fail with STATUS_INSUFFICIENT_RESOURCES")
	count("max-logon-token", func(l *limits) *int { return &l.MaxLogonToken }, smb2.DefaultMaxTokenSize, math.MaxInt,
		"largest SESSION_SETUP security token in bytes; a larger one fails with STATUS_INVALID_PARAMETER")
	count("max-conn-buffered", func(l *limits) *int { return &l.MaxConnBuffered }, smb2.DefaultMaxConnBuffered, math.MaxInt,
		"bytes one connection can make the server hold for it (RPC input, reassembled requests, unread results); beyond it requests are refused")
	count("max-buffered", func(l *limits) *int { return &l.MaxBuffered }, smb2.DefaultMaxBuffered, math.MaxInt,
		"bytes all connections together can make the server hold, as --max-conn-buffered")
	count("max-compound", func(l *limits) *int { return &l.MaxCompound }, smb2.DefaultMaxCompound, math.MaxInt,
		"at most N requests in one compounded SMB2 message; a longer chain disconnects")
	count("max-rpc-request", func(l *limits) *int { return &l.MaxRPCRequest }, dcerpc.DefaultMaxReassembly, math.MaxInt,
		"largest RPC request stub in bytes; a larger request gets a fault before it is buffered")
	count("max-rpc-decodes", func(l *limits) *int { return &l.MaxRPCDecodes }, dcerpc.DefaultMaxDecodes, math.MaxInt,
		"at most N RPC calls decode their request at the same time; more wait for a turn")
	count("max-rpc-queue", func(l *limits) *int { return &l.MaxRPCQueue }, dcerpc.DefaultMaxQueued, math.MaxInt,
		"at most N queued RPC output messages or calls per pipe; more, or a write of more PDUs than fit, make the pipe busy")
	dur("idle-timeout", func(l *limits) *time.Duration { return &l.IdleTimeout }, smb2.DefaultIdleTimeout, true,
		"close a connection that sends nothing for this long; negative never closes")
	dur("read-timeout", func(l *limits) *time.Duration { return &l.ReadTimeout }, smb2.DefaultReadTimeout, false,
		"slow-client limit: time to send the rest of a started message, and to take a response")
	anyInt("auth-fail-limit", func(l *limits) *int { return &l.AuthFailLimit }, smb2.DefaultAuthFailLimit,
		"N failed logons from one address within --auth-fail-window after which its session setups are refused for that window; negative disables")
	dur("auth-fail-window", func(l *limits) *time.Duration { return &l.AuthFailWindow }, smb2.DefaultAuthFailWindow, false,
		"length of the counting window and the refusal period of --auth-fail-limit")
	count("auth-fail-addrs", func(l *limits) *int { return &l.AuthFailAddrs }, smb2.DefaultAuthFailAddrs, math.MaxInt,
		"remember the logon failures of at most N remote addresses; the oldest are forgotten first")
	opts = append(opts, &option{name: "require-encryption", group: groupServer, def: "false",
		usage: "refuse clients that cannot encrypt (SMB 2.x, or 3.x without a common cipher) and every unencrypted request of a session (MS-SMB2 EncryptData with RejectUnencryptedAccess); null sessions become unusable",
		bind:  func(c *config) value { return (*boolFlag)(&c.Limits.RequireEncryption) }})
	return opts
}

// apply copies the limits into the server configurations.
func (l *limits) apply(s *smb2.Config, r *dcerpc.Config) {
	s.RequireEncryption = l.RequireEncryption
	s.MaxConnections = l.MaxConnections
	s.MaxConnsPerAddr = l.MaxConnsPerAddr
	s.HandshakeTimeout = l.HandshakeTimeout
	s.MaxPendingReads = l.MaxPendingReads
	s.MaxCredits = l.MaxCredits
	s.MaxSessions = l.MaxSessions
	s.MaxOpens = l.MaxOpens
	s.MaxCompound = l.MaxCompound
	s.MaxPendingLogons = l.MaxPendingLogons
	s.MaxTokenSize = l.MaxLogonToken
	s.MaxConnBuffered = l.MaxConnBuffered
	s.MaxBuffered = l.MaxBuffered
	s.IdleTimeout = l.IdleTimeout
	s.ReadTimeout = l.ReadTimeout
	s.AuthFailLimit = l.AuthFailLimit
	s.AuthFailWindow = l.AuthFailWindow
	s.AuthFailAddrs = l.AuthFailAddrs
	r.MaxReassembly = l.MaxRPCRequest
	r.MaxQueued = l.MaxRPCQueue
	r.MaxDecodes = l.MaxRPCDecodes
}
