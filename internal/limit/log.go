package limit

import (
	"sync"
	"time"
)

// Log lets a log line of one key through at most once per interval and
// counts the lines it held back meanwhile, so that a failure repeated many
// times a second (a store falling behind, a peer down) is one line with a
// count, not a flood. Make one with NewLog; it is safe for concurrent use.
type Log[K comparable] struct {
	every time.Duration
	mu    sync.Mutex
	last  map[K]logged // guarded by mu; bounded by maxLogKeys
}

type logged struct {
	at         time.Time
	suppressed int
}

// maxLogKeys bounds the keys a Log remembers; past it, keys older than its
// interval are forgotten.
const maxLogKeys = 64

// NewLog returns a Log that lets one line per key through per every.
func NewLog[K comparable](every time.Duration) *Log[K] {
	return &Log[K]{every: every, last: map[K]logged{}}
}

// Allow reports whether a line of key may be logged now, and how many of
// key's lines were held back since the last one logged.
func (l *Log[K]) Allow(key K) (bool, int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, seen := l.last[key]
	if seen && now.Sub(e.at) < l.every {
		e.suppressed++
		l.last[key] = e
		return false, 0
	}
	if !seen && len(l.last) >= maxLogKeys {
		for k, e := range l.last {
			if now.Sub(e.at) >= l.every {
				delete(l.last, k)
			}
		}
		if len(l.last) >= maxLogKeys {
			return true, 0 // too many at once to remember: let it through
		}
	}
	l.last[key] = logged{at: now}
	return true, e.suppressed
}
