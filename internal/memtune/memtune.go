// Package memtune bounds the garbage collector's headroom: how far the Go
// heap may grow beyond what is live before a collection. It owns nothing
// else and knows nothing of media, users or HTTP.
//
// With the default GOGC=100 the heap may grow to twice what is live. Most
// of what a camera relay keeps live is the GOP caches' payload, which the
// collector does not scan (byte slices hold no pointers), so collecting
// more often costs little, while doubling it costs the whole cache again
// in resident memory: at 150 cameras ~45 MiB live became ~150 MiB RSS.
// The tuner sets a soft memory limit of live + headroom after each
// collection (runtime/debug.SetMemoryLimit), so the heap grows at most by
// the headroom; GOGC still applies below it, so a small heap grows as it
// did. The price is more collections when much is live: GC cycles per
// second = allocation rate ÷ headroom.
package memtune

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// DefaultHeadroom is the heap growth allowed beyond what is live.
const DefaultHeadroom = 32 << 20

// Tuner keeps the soft memory limit at live + Headroom.
type Tuner struct {
	// Headroom is the heap growth allowed between collections. It
	// defaults to DefaultHeadroom.
	Headroom int64

	samples []metrics.Sample
	limit   int64 // the last limit set
}

// the metrics Limit reads: the live heap (marked by the last cycle) and
// the memory the runtime counts against its limit besides the heap's
// objects and free space: stacks, metadata, buffers.
var names = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
}

// Limit computes the memory limit for the current heap: live + the
// runtime's other memory + headroom.
func (t *Tuner) Limit() int64 {
	if t.samples == nil {
		for _, n := range names {
			t.samples = append(t.samples, metrics.Sample{Name: n})
		}
	}
	metrics.Read(t.samples)
	v := make([]int64, len(t.samples))
	for i, s := range t.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = int64(min(s.Value.Uint64(), math.MaxInt64))
		}
	}
	live, total, released, free, objects, unused := v[0], v[1], v[2], v[3], v[4], v[5]
	other := total - released - free - objects - unused
	headroom := t.Headroom
	if headroom <= 0 {
		headroom = DefaultHeadroom
	}
	return live + max(other, 0) + headroom
}

// Run sets the limit after every collection until ctx ends, then restores
// no limit. It does nothing when GOMEMLIMIT is set (even to "off"): the
// operator chose.
func (t *Tuner) Run(ctx context.Context) error {
	if os.Getenv("GOMEMLIMIT") != "" {
		<-ctx.Done()
		return nil
	}
	defer debug.SetMemoryLimit(math.MaxInt64)
	cycles := gcNotify(ctx)
	t.set()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cycles:
			t.set()
		}
	}
}

func (t *Tuner) set() {
	if l := t.Limit(); l != t.limit {
		t.limit = l
		debug.SetMemoryLimit(l)
	}
}

// gcNotify signals after each collection (a finalizer runs once the
// collector found its object unreachable, and re-arms itself), dropping
// signals nobody took yet.
func gcNotify(ctx context.Context) <-chan struct{} {
	c := make(chan struct{}, 1)
	type sentinel struct{ _ [16]byte } // not tiny-allocated: its finalizer runs
	var arm func(*sentinel)
	arm = func(*sentinel) {
		if ctx.Err() != nil {
			return
		}
		select {
		case c <- struct{}{}:
		default:
		}
		runtime.SetFinalizer(&sentinel{}, arm)
	}
	runtime.SetFinalizer(&sentinel{}, arm)
	return c
}
