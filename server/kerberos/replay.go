package kerberos

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultReplayCacheSize bounds the authenticators remembered at once.
// Entries are added only after an AP-REQ verified (it took a ticket the
// KDC issued for this host), and leave after twice the clock skew, so the
// bound is reached only by more than this many logons within that window.
const DefaultReplayCacheSize = 1 << 18

// replayCache remembers the authenticators seen within the clock skew
// window (RFC 4120 3.2.3, MS-KILE 3.4.3: "The replay cache MUST be
// initialized with no entries"). An authenticator is identified by the
// hash of its ciphertext, which differs between any two authenticators a
// client builds (fresh confounder) and is what a replaying attacker has
// to send unchanged.
type replayCache struct {
	mu      sync.Mutex
	max     int
	entries map[[32]byte]time.Time // expiry
	order   []replayEntry          // insertion order, for expiry
}

type replayEntry struct {
	key    [32]byte
	expiry time.Time
}

func newReplayCache(max int) *replayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	return &replayCache{max: max, entries: make(map[[32]byte]time.Time)}
}

// replayResult is the outcome of check.
type replayResult int

const (
	replayFresh replayResult = iota
	replaySeen
	replayFull
)

// check records the authenticator ciphertext c, seen at now, to be
// remembered until expiry. It reports replaySeen for one already recorded
// and unexpired, and replayFull when the cache cannot take more (the
// logon is then refused: failing closed is what keeps a replay out).
func (r *replayCache) check(c []byte, now, expiry time.Time) replayResult {
	key := sha256.Sum256(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	if exp, ok := r.entries[key]; ok && now.Before(exp) {
		return replaySeen
	}
	if len(r.entries) >= r.max {
		return replayFull
	}
	r.entries[key] = expiry
	r.order = append(r.order, replayEntry{key, expiry})
	return replayFresh
}

// expire drops entries whose time is over. Entries are expired in
// insertion order; every entry lives for the same window, so that is also
// expiry order up to clock adjustments, which only delay a removal.
func (r *replayCache) expire(now time.Time) {
	n := 0
	for n < len(r.order) && !now.Before(r.order[n].expiry) {
		if exp, ok := r.entries[r.order[n].key]; ok && !now.Before(exp) {
			delete(r.entries, r.order[n].key)
		}
		n++
	}
	// Slicing forward is O(1); append copies only the live entries when
	// it outgrows the backing array.
	r.order = r.order[n:]
}

// len is the number of remembered authenticators.
func (r *replayCache) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}
