package auth

import (
	"net/netip"
	"sync"
	"time"
)

// Throttle slows password guessing: after Free failures a key (an account
// as seen from one client address, a client address) must wait, twice as
// long after each further failure, up to maxLockout.
//
// Try counts an attempt as a failure before the password is checked, so a
// burst of concurrent guesses cannot all pass before the first one fails;
// Succeed clears a key, Refund takes one attempt back.
type Throttle struct {
	// Free is the failures allowed before waiting starts.
	Free int
	now  func() time.Time

	mu      sync.Mutex
	keys    map[string]*attempts // guarded by mu
	sweepAt int                  // guarded by mu; see forget
	swept   time.Time            // guarded by mu
}

type attempts struct {
	failures int
	last     time.Time // the last counted attempt
}

// until is when the key may try again.
func (a *attempts) until(free int) time.Time {
	if a.failures <= free {
		return time.Time{}
	}
	return a.last.Add(min(time.Second<<min(a.failures-free-1, 30), maxLockout))
}

// Free failures: an account from one address gets few; an address, which a
// whole household behind one NAT may share, gets more.
const (
	AccountFailures = 5
	AddressFailures = 50
	maxLockout      = 15 * time.Minute
	// forgetAfter drops a key that has been quiet this long.
	forgetAfter = time.Hour
	// keepKeys is how many keys are kept before quiet ones are dropped;
	// above maxKeys, keys that are not waiting are dropped too.
	keepKeys = 10000
	maxKeys  = 100000
)

// NewThrottle returns an empty throttle allowing free failures per key.
func NewThrottle(free int) *Throttle {
	return &Throttle{Free: free, now: time.Now, keys: map[string]*attempts{}}
}

// Wait returns how long the keys must still wait (zero: try now).
func (t *Throttle) Wait(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wait(t.now(), keys)
}

func (t *Throttle) wait(now time.Time, keys []string) time.Duration {
	wait := time.Duration(0)
	for _, k := range keys {
		if a := t.keys[k]; a != nil {
			wait = max(wait, a.until(t.Free).Sub(now))
		}
	}
	return wait
}

// Try returns how long the keys must still wait; when they need not, it
// counts the attempt as a failure of every key and returns zero. Call
// Succeed or Refund when the attempt did not fail.
func (t *Throttle) Try(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if wait := t.wait(now, keys); wait > 0 {
		return wait
	}
	t.fail(now, keys)
	return 0
}

// Fail counts a failure for every key.
func (t *Throttle) Fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fail(t.now(), keys)
}

func (t *Throttle) fail(now time.Time, keys []string) {
	t.forget(now)
	for _, k := range keys {
		a := t.keys[k]
		if a == nil {
			a = &attempts{}
			t.keys[k] = a
		}
		a.failures++
		a.last = now
	}
}

// Refund takes back one attempt of every key, counted by Try for an
// attempt that turned out not to be a failure (it succeeded, or the
// password could not be checked at all).
func (t *Throttle) Refund(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if a := t.keys[k]; a != nil {
			if a.failures--; a.failures <= 0 {
				delete(t.keys, k)
			}
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

// forget keeps the map bounded: once it holds sweepAt keys it drops the
// ones quiet for forgetAfter and, above maxKeys, also every key that is not
// waiting (a guesser loses only its free failures). The next sweep waits
// until the map has doubled or forgetAfter has passed, so a flood of new
// keys costs amortized O(1) per failure. Caller holds mu.
func (t *Throttle) forget(now time.Time) {
	if len(t.keys) < keepKeys || (len(t.keys) < t.sweepAt && now.Sub(t.swept) < forgetAfter) {
		return
	}
	for k, a := range t.keys {
		if now.Sub(a.last) > forgetAfter || (len(t.keys) > maxKeys && !a.until(t.Free).After(now)) {
			delete(t.keys, k)
		}
	}
	t.sweepAt, t.swept = 2*len(t.keys), now
}

// AddressKey is the throttle key of a client address (an address or
// address:port): the address, or for IPv6 its /64, which one subscriber
// usually holds whole (counting each IPv6 address apart would give one
// guesser 2^64 fresh keys). Anything else is its own key.
func AddressKey(remote string) string {
	a, err := netip.ParseAddr(remote)
	if err != nil {
		ap, err := netip.ParseAddrPort(remote)
		if err != nil {
			return remote
		}
		a = ap.Addr()
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
