// Package unitcache keeps a value made from each of the access units most
// recently asked for (their RTP packets, say), so that an output serving
// many viewers of a camera makes it once per unit rather than once per
// viewer. The cache is bounded in units and in the units' payload bytes
// and drops the oldest first; a miss costs one more making, never
// correctness.
//
// It is keyed by the unit itself, never by an id (invariant 5): a caller
// can only get the value of a unit it holds, that is one its own hub
// reader handed it and its egress check passed.
package unitcache

import (
	"sync"

	"vigil/internal/media"
)

// Cache maps units to values made from them.
type Cache[V any] struct {
	maxUnits, maxBytes int

	mu     sync.Mutex
	values map[*media.Unit]V // guarded by mu
	recent []*media.Unit     // guarded by mu; cached units, oldest first
	bytes  int               // guarded by mu; payload bytes of the cached units
}

// New returns a cache of at most maxUnits units and maxBytes of their
// payload bytes (it always holds the latest unit, however large).
func New[V any](maxUnits, maxBytes int) *Cache[V] {
	return &Cache[V]{maxUnits: maxUnits, maxBytes: maxBytes, values: map[*media.Unit]V{}}
}

// Get returns u's value, making it with make on a miss. make runs with the
// cache locked, so a unit's value is made once however many ask at once;
// an error is returned and nothing cached.
func (c *Cache[V]) Get(u *media.Unit, make func() (V, error)) (V, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.values[u]; ok {
		return v, nil
	}
	v, err := make()
	if err != nil {
		return v, err
	}
	for len(c.recent) > 0 && (len(c.recent) >= c.maxUnits || c.bytes+u.Size() > c.maxBytes) {
		old := c.recent[0]
		c.recent[0] = nil
		c.recent = c.recent[1:]
		c.bytes -= old.Size()
		delete(c.values, old)
	}
	c.recent = append(c.recent, u)
	c.bytes += u.Size()
	c.values[u] = v
	return v, nil
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
