package smb2

import (
	"sync"
	"time"
)

// refusalLogInterval is the shortest time between two log lines of one
// kind of refusal (refused connections, handshakes that timed out,
// unknown user names): a flood of refusals costs one line per interval,
// which says how many refusals it stands for.
const refusalLogInterval = time.Minute

// logLimiter lets one log line per key through per interval and counts the
// ones it holds back. Keys are a fixed small set chosen by the caller
// (reasons, not addresses), so its memory is bounded.
type logLimiter struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*limitState
}

type limitState struct {
	last       time.Time
	suppressed int
}

func newLogLimiter(interval time.Duration, now func() time.Time) *logLimiter {
	return &logLimiter{interval: interval, now: now, keys: make(map[string]*limitState)}
}

// do calls emit with the number of events held back since the last line
// of key, unless a line of key was emitted less than interval ago (then
// the event is only counted). emit runs outside the limiter's lock.
func (l *logLimiter) do(key string, emit func(suppressed int)) {
	now := l.now()
	l.mu.Lock()
	st := l.keys[key]
	if st == nil {
		st = &limitState{}
		l.keys[key] = st
	}
	if !st.last.IsZero() && now.Sub(st.last) < l.interval {
		st.suppressed++
		l.mu.Unlock()
		return
	}
	n := st.suppressed
	st.last, st.suppressed = now, 0
	l.mu.Unlock()
	emit(n)
}
