package logsafe

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxText is how many characters of a client-supplied string a log line
// shows. Names a protocol allows (user and domain names, pipe names, DNS
// names) fit; anything longer is cut.
const MaxText = 256

// Text returns s fit for a log line: at most MaxText characters, control
// characters replaced by U+FFFD, and, when cut, a suffix giving the
// original length ("…(+NNN bytes, NNN in all)").
func Text(s string) string {
	clean := func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}
	if utf8.RuneCountInString(s) <= MaxText {
		if strings.IndexFunc(s, func(r rune) bool { return clean(r) != r }) < 0 {
			return s
		}
		return strings.Map(clean, s)
	}
	i, n := 0, 0
	for i < len(s) && n < MaxText {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
		n++
	}
	return strings.Map(clean, s[:i]) + "…(" + strconv.Itoa(len(s)) + " bytes in all)"
}

// String is a slog attribute holding Text(v).
func String(key, v string) slog.Attr { return slog.String(key, Text(v)) }

// Limiter lets one event per key through per interval and counts the ones
// it holds back. It tracks at most maxKeys keys: when full, keys whose
// last line is older than the interval are forgotten, and events of new
// keys beyond that are held back under one shared overflow key, so its
// memory stays bounded whoever chooses the keys.
type Limiter struct {
	interval time.Duration
	maxKeys  int
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*state
}

type state struct {
	last       time.Time
	suppressed int
}

// overflowKey collects the events of keys that did not fit.
const overflowKey = "\x00overflow"

// NewLimiter returns a Limiter; now is the clock (nil: time.Now).
func NewLimiter(interval time.Duration, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &Limiter{interval: interval, maxKeys: maxKeys, now: now, keys: make(map[string]*state)}
}

// Do calls emit with the number of events of key held back since its last
// line, unless key had a line less than the interval ago; then it only
// counts the event. emit runs outside the Limiter's lock.
func (l *Limiter) Do(key string, emit func(suppressed int)) {
	now := l.now()
	l.mu.Lock()
	st := l.keys[key]
	if st == nil {
		if len(l.keys) >= l.maxKeys {
			for k, s := range l.keys {
				if k != overflowKey && now.Sub(s.last) >= l.interval && s.suppressed == 0 {
					delete(l.keys, k)
				}
			}
		}
		if len(l.keys) >= l.maxKeys {
			key = overflowKey
			st = l.keys[key]
		}
		if st == nil {
			st = &state{}
			l.keys[key] = st
		}
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

// Quote is Text in double quotes, for messages built with fmt.
func Quote(s string) string { return fmt.Sprintf("%q", Text(s)) }
