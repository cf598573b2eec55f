package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/wkssvcd/wkssvcd/server/dcerpc"
	"github.com/wkssvcd/wkssvcd/server/smb2"
)

// limits are the resource bounds of the daemon, each a flag. A zero value
// means the package default, which the flag help states. Values that
// have no meaning (a negative count or timeout) are rejected while the
// flags are parsed; docs/limits.md lists every limit.
type limits struct {
	// MaxConnections is smb2.Config.MaxConnections.
	MaxConnections int
	// MaxPendingReads is smb2.Config.MaxPendingReads (per connection).
	MaxPendingReads int
	// MaxCredits is smb2.Config.MaxCredits (per connection), at most
	// smb2.MaxCreditsLimit.
	MaxCredits int
	// MaxSessions is smb2.Config.MaxSessions (per connection).
	MaxSessions int
	// MaxOpens is smb2.Config.MaxOpens (per connection).
	MaxOpens int
	// MaxCompound is smb2.Config.MaxCompound.
	MaxCompound int
	// MaxRPCRequest is dcerpc.Config.MaxReassembly, in bytes.
	MaxRPCRequest int
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
}

func (l *limits) register(fs *flag.FlagSet) {
	count := func(p *int, name string, max int, usage string, args ...any) {
		fs.Var(&intFlag{p: p, min: 0, max: max}, name, fmt.Sprintf(usage, args...))
	}
	anyInt := func(p *int, name string, usage string, args ...any) {
		fs.Var(&intFlag{p: p, min: math.MinInt, max: math.MaxInt}, name, fmt.Sprintf(usage, args...))
	}
	dur := func(p *time.Duration, name string, allowNegative bool, usage string, args ...any) {
		fs.Var(&durationFlag{p: p, allowNegative: allowNegative}, name, fmt.Sprintf(usage, args...))
	}
	count(&l.MaxConnections, "max-connections", math.MaxInt,
		"at most `N` simultaneous SMB connections; more are closed at once (default %d)", smb2.DefaultMaxConnections)
	count(&l.MaxPendingReads, "max-pending-reads", math.MaxInt,
		"at most `N` pipe READs and TRANSCEIVEs waiting for data per connection; more fail with STATUS_INSUFFICIENT_RESOURCES (default %d)", smb2.DefaultMaxPendingReads)
	count(&l.MaxCredits, "max-credits", smb2.MaxCreditsLimit,
		"at most `N` SMB2 credits held per connection, N <= %d (default %d)", smb2.MaxCreditsLimit, smb2.DefaultMaxCredits)
	count(&l.MaxSessions, "max-sessions", math.MaxInt,
		"at most `N` SMB sessions per connection; more fail with STATUS_INSUFFICIENT_RESOURCES (default %d)", smb2.DefaultMaxSessions)
	count(&l.MaxOpens, "max-opens", math.MaxInt,
		"at most `N` open pipes per connection; more fail with STATUS_INSUFFICIENT_RESOURCES (default %d)", smb2.DefaultMaxOpens)
	count(&l.MaxCompound, "max-compound", math.MaxInt,
		"at most `N` requests in one compounded SMB2 message; a longer chain disconnects (default %d)", smb2.DefaultMaxCompound)
	count(&l.MaxRPCRequest, "max-rpc-request", math.MaxInt,
		"largest reassembled RPC request stub in `BYTES`; a larger request gets a fault (default %d)", dcerpc.DefaultMaxReassembly)
	count(&l.MaxRPCQueue, "max-rpc-queue", math.MaxInt,
		"at most `N` queued RPC output messages or calls per pipe; more make the pipe busy (default %d)", dcerpc.DefaultMaxQueued)
	dur(&l.IdleTimeout, "idle-timeout", true,
		"close a connection that sends nothing for this `DURATION`; negative never closes (default %v)", smb2.DefaultIdleTimeout)
	dur(&l.ReadTimeout, "read-timeout", false,
		"slow-client limit: `DURATION` to send the rest of a started message, and to take a response (default %v)", smb2.DefaultReadTimeout)
	anyInt(&l.AuthFailLimit, "auth-fail-limit",
		"`N` failed logons from one address within --auth-fail-window after which its session setups are refused for that window; negative disables (default %d)", smb2.DefaultAuthFailLimit)
	dur(&l.AuthFailWindow, "auth-fail-window", false,
		"`DURATION` of the counting window and the refusal period of --auth-fail-limit (default %v)", smb2.DefaultAuthFailWindow)
	count(&l.AuthFailAddrs, "auth-fail-addrs", math.MaxInt,
		"remember the logon failures of at most `N` remote addresses; the oldest are forgotten first (default %d)", smb2.DefaultAuthFailAddrs)
}

// apply copies the limits into the server configurations.
func (l *limits) apply(s *smb2.Config, r *dcerpc.Config) {
	s.MaxConnections = l.MaxConnections
	s.MaxPendingReads = l.MaxPendingReads
	s.MaxCredits = l.MaxCredits
	s.MaxSessions = l.MaxSessions
	s.MaxOpens = l.MaxOpens
	s.MaxCompound = l.MaxCompound
	s.IdleTimeout = l.IdleTimeout
	s.ReadTimeout = l.ReadTimeout
	s.AuthFailLimit = l.AuthFailLimit
	s.AuthFailWindow = l.AuthFailWindow
	s.AuthFailAddrs = l.AuthFailAddrs
	r.MaxReassembly = l.MaxRPCRequest
	r.MaxQueued = l.MaxRPCQueue
}

// intFlag is an integer flag restricted to [min, max].
type intFlag struct {
	p        *int
	min, max int
}

func (f *intFlag) String() string {
	if f == nil || f.p == nil {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f *intFlag) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return errors.New("not an integer")
	}
	if int(v) < f.min {
		if f.min == 0 {
			return errors.New("must not be negative")
		}
		return fmt.Errorf("must be at least %d", f.min)
	}
	if int(v) > f.max {
		return fmt.Errorf("must be at most %d", f.max)
	}
	*f.p = int(v)
	return nil
}

// durationFlag is a time.Duration flag that may refuse negative values.
type durationFlag struct {
	p             *time.Duration
	allowNegative bool
}

func (f *durationFlag) String() string {
	if f == nil || f.p == nil {
		return "0s"
	}
	return f.p.String()
}

func (f *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (e.g. 30s, 5m)")
	}
	if v < 0 && !f.allowNegative {
		return errors.New("must not be negative")
	}
	*f.p = v
	return nil
}
