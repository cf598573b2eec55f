package smb2

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// authThrottle counts failed logons per remote address and refuses the
// session setups of an address that failed too often.
//
// MS-SMB2 has no throttling rule; the design follows the two mechanisms
// Windows offers. Account lockout refuses even the right password once an
// account reached its threshold, until the lockout duration passed; the
// SMB server authentication rate limiter of recent Windows releases
// delays each failed logon. This server keys the count on the remote
// address rather than on the account, so a remote party cannot lock the
// administrator out from elsewhere, and it refuses at once instead of
// delaying: a delay would hold the connection's reader and its connection
// slot, which helps an attacker exhaust MaxConnections, while an
// immediate refusal costs nothing and never consults the account database,
// so the blocked address learns nothing about passwords.
//
// Semantics: the first failure of an address opens a window of length
// window; the limit-th failure inside it blocks the address until window
// has passed since that failure. Refused attempts are not counted, so a
// blocked address regains limit attempts per window and no more. Steps
// of security exchanges running in parallel count against the limit too
// (begin/end) once the address has a failure on record, so many
// connections from it cannot then have more than limit logons evaluated
// at once; an address without failures is never held back. A successful
// logon resets nothing: an attacker who knows one password must not be
// able to clear the counter of its guesses at another.
// IPv6 addresses are counted per /64 prefix, the smallest block a single
// host is commonly given. At most maxAddrs addresses are tracked; when the
// table is full, expired entries go first, then the entry whose window
// started earliest, preferring unblocked entries; an address whose logon
// succeeded with no failure on record is not kept at all.
type authThrottle struct {
	limit    int
	window   time.Duration
	maxAddrs int
	log      *slog.Logger
	now      func() time.Time

	mu    sync.Mutex
	addrs map[netip.Addr]*failures
}

// failures is the record of one address (or IPv6 /64).
type failures struct {
	start        time.Time // first failure of the current window; valid when count > 0
	count        int       // failures in the current window
	inflight     int       // security exchange steps running now
	blockedUntil time.Time // zero when not blocked
}

func newAuthThrottle(limit int, window time.Duration, maxAddrs int, log *slog.Logger) *authThrottle {
	return &authThrottle{
		limit:    limit,
		window:   window,
		maxAddrs: maxAddrs,
		log:      log,
		now:      time.Now,
		addrs:    make(map[netip.Addr]*failures),
	}
}

// throttleKey returns the tracking key of a remote address: the IPv4
// address, or the /64 prefix of an IPv6 address. ok is false for
// addresses without an IP (such connections are not throttled).
func throttleKey(a net.Addr) (netip.Addr, bool) {
	var ip netip.Addr
	switch v := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(v.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(v.IP)
	default:
		if a == nil {
			return netip.Addr{}, false
		}
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}, false
		}
		ip = ap.Addr()
	}
	if !ip.IsValid() {
		return netip.Addr{}, false
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, err := ip.Prefix(64)
		if err != nil {
			return netip.Addr{}, false
		}
		ip = p.Addr()
	}
	return ip, true
}

// blocked reports whether session setups from a are refused now because
// of the failures of its address.
func (t *authThrottle) blocked(a net.Addr) bool {
	if t == nil {
		return false
	}
	key, ok := throttleKey(a)
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[key]
	return f != nil && t.blockedLocked(f, t.now())
}

func (t *authThrottle) blockedLocked(f *failures, now time.Time) bool {
	return !f.blockedUntil.IsZero() && now.Before(f.blockedUntil)
}

// begin is called before a security exchange step of a session setup
// from a. It returns false when the step must be refused: the address is
// blocked, or its failures plus the steps already running reach the
// limit, so that parallel connections cannot get more than limit
// evaluations per window. Every true return must be followed by end.
func (t *authThrottle) begin(a net.Addr) bool {
	if t == nil {
		return true
	}
	key, ok := throttleKey(a)
	if !ok {
		return true
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[key]
	if f == nil {
		if len(t.addrs) >= t.maxAddrs {
			t.evictLocked(now)
		}
		f = &failures{}
		t.addrs[key] = f
	}
	if t.blockedLocked(f, now) {
		return false
	}
	t.expireLocked(f, now)
	// Parallel steps count only once the address has failed: a busy
	// client (or many behind one NAT) with no failure on record may open
	// as many sessions at once as the connection limits allow.
	if f.count > 0 && f.count+f.inflight >= t.limit {
		return false
	}
	f.inflight++
	return true
}

// end records the outcome of a step begun with begin: failed is true for
// a logon failure. It logs one warning when the address becomes blocked,
// which happens at most once per window.
func (t *authThrottle) end(a net.Addr, failed bool) {
	if t == nil {
		return
	}
	key, ok := throttleKey(a)
	if !ok {
		return
	}
	t.mu.Lock()
	f := t.addrs[key]
	if f != nil && f.inflight > 0 {
		f.inflight--
	}
	if !failed {
		if f != nil && f.count == 0 && f.inflight == 0 {
			delete(t.addrs, key) // nothing to remember
		}
		t.mu.Unlock()
		return
	}
	t.failLocked(key)
}

// abandoned records a logon that was begun and never finished (its
// session setup exchange was dropped after its deadline, by LOGOFF or
// with its connection): it counts as a failure, so that an address cannot
// park unfinished logons for free.
func (t *authThrottle) abandoned(a net.Addr) {
	if t == nil {
		return
	}
	key, ok := throttleKey(a)
	if !ok {
		return
	}
	t.mu.Lock()
	t.failLocked(key)
}

// failLocked counts one failure of key; it is called with t.mu held and
// releases it.
func (t *authThrottle) failLocked(key netip.Addr) {
	now := t.now()
	f := t.addrs[key]
	if f == nil { // evicted meanwhile
		if len(t.addrs) >= t.maxAddrs {
			t.evictLocked(now)
		}
		f = &failures{}
		t.addrs[key] = f
	}
	t.expireLocked(f, now)
	if f.count == 0 {
		f.start = now
	}
	f.count++
	newlyBlocked := f.count >= t.limit && f.blockedUntil.IsZero()
	if newlyBlocked {
		f.blockedUntil = now.Add(t.window)
	}
	count, until := f.count, f.blockedUntil
	t.mu.Unlock()
	if newlyBlocked {
		t.log.Warn("session setups refused after repeated logon failures",
			"reason", "throttled", "address", key.String(), "failures", count, "until", until.UTC().Format(time.RFC3339))
	}
}

// expireLocked starts a fresh window when the block or the window of f is
// over.
func (t *authThrottle) expireLocked(f *failures, now time.Time) {
	if !f.blockedUntil.IsZero() && !now.Before(f.blockedUntil) {
		f.count, f.blockedUntil = 0, time.Time{}
	}
	if f.count > 0 && now.Sub(f.start) >= t.window {
		f.count = 0
	}
}

// evictLocked makes room for one entry: every expired entry goes; if none
// expired, the unblocked entry with the oldest window goes, else the
// blocked one with the oldest window.
func (t *authThrottle) evictLocked(now time.Time) {
	var oldest, oldestBlocked netip.Addr
	var oldestT, oldestBlockedT time.Time
	removed := false
	for k, f := range t.addrs {
		expired := f.inflight == 0 && (f.count == 0 || now.Sub(f.start) >= t.window) && !t.blockedLocked(f, now)
		if expired {
			delete(t.addrs, k)
			removed = true
			continue
		}
		if f.blockedUntil.IsZero() {
			if !oldest.IsValid() || f.start.Before(oldestT) {
				oldest, oldestT = k, f.start
			}
		} else if !oldestBlocked.IsValid() || f.start.Before(oldestBlockedT) {
			oldestBlocked, oldestBlockedT = k, f.start
		}
	}
	switch {
	case removed:
	case oldest.IsValid():
		delete(t.addrs, oldest)
	case oldestBlocked.IsValid():
		delete(t.addrs, oldestBlocked)
	}
}
