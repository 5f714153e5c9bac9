package stills

import (
	"container/list"
	"sync"
	"time"

	"vigil/internal/access"
)

// source says where a still came from.
type source uint8

const (
	fromKeyframe source = iota + 1
	fromUpload
)

// stillKey names one still variant, from typed IDs and numbers only
// (invariant 5): it keys both the cache and the coalescing of decodes.
type stillKey struct {
	device access.DeviceID
	stream access.StreamID
	source source
	// session is the hub's publisher session of a keyframe; 0 for uploads.
	session uint64
	// seq is the keyframe unit's Seq in its session, or the upload's
	// sequence number.
	seq uint64
	// width is the width asked for; 0 is the original size.
	width int
}

// frame is a still as cached: immutable once made, shared by every reader.
type frame struct {
	jpeg     []byte
	device   access.DeviceID // the camera that produced it (invariant 1)
	stream   access.StreamID
	captured time.Time
	source   string
	width    int // pixels
}

// entryOverhead approximates the bytes a cache entry costs beside its JPEG.
const entryOverhead = 256

// cache is an LRU of frames bounded in bytes. It never hands out a frame
// under another key than it was stored with; the egress check still runs on
// every frame it returns.
type cache struct {
	max int64

	mu    sync.Mutex
	size  int64                      // guarded by mu
	ll    *list.List                 // guarded by mu; *cacheEntry, most recently used first
	items map[stillKey]*list.Element // guarded by mu
}

type cacheEntry struct {
	key stillKey
	f   *frame
}

func newCache(max int64) *cache {
	return &cache{max: max, ll: list.New(), items: make(map[stillKey]*list.Element)}
}

func (c *cache) get(k stillKey) *frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.items[k]
	if e == nil {
		return nil
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheEntry).f
}

// put stores f under k, evicting the least recently used entries to stay
// within max. A frame larger than the whole cache is not stored.
func (c *cache) put(k stillKey, f *frame) {
	cost := int64(len(f.jpeg)) + entryOverhead
	if cost > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.items[k]; e != nil {
		c.size -= int64(len(e.Value.(*cacheEntry).f.jpeg)) + entryOverhead
		c.ll.Remove(e)
	}
	c.items[k] = c.ll.PushFront(&cacheEntry{key: k, f: f})
	c.size += cost
	for c.size > c.max {
		e := c.ll.Back()
		ce := e.Value.(*cacheEntry)
		c.ll.Remove(e)
		delete(c.items, ce.key)
		c.size -= int64(len(ce.f.jpeg)) + entryOverhead
	}
}

// bytes reports the cache's accounted size.
func (c *cache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// dropDevice removes every frame of device.
func (c *cache) dropDevice(device access.DeviceID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.items {
		if k.device == device {
			c.size -= int64(len(e.Value.(*cacheEntry).f.jpeg)) + entryOverhead
			c.ll.Remove(e)
			delete(c.items, k)
		}
	}
}
