package auth

import (
	"sync"
	"time"
)

// Throttle slows password guessing: after Free failures in a row a key (an
// account, a client address) must wait, twice as long after each further
// failure, up to maxLockout. A success clears the key.
type Throttle struct {
	// Free is the failures allowed before waiting starts.
	Free int
	now  func() time.Time

	mu   sync.Mutex
	keys map[string]*attempts // guarded by mu
}

type attempts struct {
	failures int
	until    time.Time
	last     time.Time
}

// Free failures: an account gets few; an address, which a whole household
// behind one NAT may share, gets more.
const (
	AccountFailures = 5
	AddressFailures = 50
	maxLockout      = 15 * time.Minute
	// forgetAfter drops a key that has been quiet this long.
	forgetAfter = time.Hour
)

// NewThrottle returns an empty throttle allowing free failures per key.
func NewThrottle(free int) *Throttle {
	return &Throttle{Free: free, now: time.Now, keys: map[string]*attempts{}}
}

// Wait returns how long the keys must still wait (zero: try now).
func (t *Throttle) Wait(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now, wait := t.now(), time.Duration(0)
	for _, k := range keys {
		if a := t.keys[k]; a != nil {
			wait = max(wait, a.until.Sub(now))
		}
	}
	return wait
}

// Fail counts a failure for every key.
func (t *Throttle) Fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.forget(now)
	for _, k := range keys {
		a := t.keys[k]
		if a == nil {
			a = &attempts{}
			t.keys[k] = a
		}
		a.failures++
		a.last = now
		if a.failures > t.Free {
			a.until = now.Add(min(time.Second<<min(a.failures-t.Free-1, 30), maxLockout))
		}
	}
}

// Succeed clears the keys.
func (t *Throttle) Succeed(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		delete(t.keys, k)
	}
}

// forget drops quiet keys so the map stays bounded. Caller holds mu.
func (t *Throttle) forget(now time.Time) {
	if len(t.keys) < 10000 {
		return
	}
	for k, a := range t.keys {
		if now.Sub(a.last) > forgetAfter {
			delete(t.keys, k)
		}
	}
}
