// Package unitcache keeps a value made from each of the access units most
// recently asked for (their RTP packets, say), so that an output serving
// many viewers of a camera makes it once per unit rather than once per
// viewer. The cache is bounded in units, in the units' payload bytes and
// in time, and drops the oldest first; a miss costs one more making, never
// correctness.
//
// It is keyed by the unit itself, never by an id (invariant 5): a caller
// can only get the value of a unit it holds, that is one its own hub
// reader handed it and its egress check passed.
package unitcache

import (
	"sync"
	"time"

	"vigil/internal/media"
)

// Cache maps units to values made from them.
type Cache[V any] struct {
	maxUnits, maxBytes int
	maxAge             time.Duration

	mu     sync.Mutex
	values map[*media.Unit]V // guarded by mu
	recent []entry           // guarded by mu; cached units, oldest first
	bytes  int               // guarded by mu; payload bytes of the cached units
	// asked is set by every Get; the idle timer empties the cache when a
	// whole maxAge passed without one. Both guarded by mu; idle is nil
	// while the cache is empty.
	asked bool
	idle  *time.Timer
}

// entry is a cached unit and when it was cached.
type entry struct {
	u  *media.Unit
	at time.Time
}

// New returns a cache of at most maxUnits units and maxBytes of their
// payload bytes (it always holds the latest unit, however large), each
// kept at most maxAge after it was cached. Viewers of one camera ask for a
// unit within a frame or two of each other: what is older only holds
// memory (the unit and its value), and a cache nobody asks empties itself.
func New[V any](maxUnits, maxBytes int, maxAge time.Duration) *Cache[V] {
	return &Cache[V]{maxUnits: maxUnits, maxBytes: maxBytes, maxAge: maxAge, values: map[*media.Unit]V{}}
}

// Get returns u's value, making it with make on a miss. make runs with the
// cache locked, so a unit's value is made once however many ask at once;
// an error is returned and nothing cached.
func (c *Cache[V]) Get(u *media.Unit, make func() (V, error)) (V, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = true
	if v, ok := c.values[u]; ok {
		return v, nil
	}
	v, err := make()
	if err != nil {
		return v, err
	}
	now := time.Now()
	for len(c.recent) > 0 && (len(c.recent) >= c.maxUnits || c.bytes+u.Size() > c.maxBytes ||
		now.Sub(c.recent[0].at) > c.maxAge) {
		c.dropOldest()
	}
	c.recent = append(c.recent, entry{u, now})
	c.bytes += u.Size()
	c.values[u] = v
	if c.idle == nil {
		c.idle = time.AfterFunc(c.maxAge, c.expire)
	}
	return v, nil
}

// dropOldest forgets the oldest unit. Caller holds c.mu.
func (c *Cache[V]) dropOldest() {
	old := c.recent[0].u
	c.recent[0] = entry{}
	c.recent = c.recent[1:]
	c.bytes -= old.Size()
	delete(c.values, old)
}

// expire runs maxAge after the first unit was cached, and again every
// maxAge while the cache is asked: it empties a cache that nobody asked
// for a whole maxAge, so that no unit outlives its viewers in it.
func (c *Cache[V]) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.asked {
		c.asked = false
		c.idle.Reset(c.maxAge)
		return
	}
	clear(c.values)
	c.recent, c.bytes, c.idle = nil, 0, nil
}

// Len returns the number of units cached and their payload bytes.
func (c *Cache[V]) Len() (units, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recent), c.bytes
}

// Has reports whether u's value is cached.
func (c *Cache[V]) Has(u *media.Unit) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.values[u]
	return ok
}
