package stills

import (
	"context"
	"sync"
	"time"
)

// flight coalesces concurrent requests for the same typed key into one call
// (invariant 5: keys are typed, never strings from a request).
//
// Unlike x/sync/singleflight, the call does not run under the first
// caller's context: it runs under its own timeout, and is cancelled only
// when every caller waiting for it has gone, so one viewer hanging up does
// not fail the others. A cancelled call is forgotten at once: later callers
// start afresh rather than join it. A call one of whose callers asked to
// keep it runs to its end even when every caller has gone, so that its
// result is cached for the next: a viewer shown an older still meanwhile
// does not waste the decode it started.
type flight[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*flightCall[V] // guarded by mu
}

type flightCall[V any] struct {
	done    chan struct{} // closed when val and err are set
	val     V
	err     error
	waiters int  // guarded by flight.mu
	nested  int  // guarded by flight.mu; the waiters that are other calls (see nestedCall)
	keep    bool // guarded by flight.mu; run to the end with no caller left
	cancel  context.CancelFunc
}

// do returns fn's result for key, running fn at most once at a time per key.
// fn gets a context that ends after timeout or, unless a caller asked to
// keep the call, when no caller waits anymore.
func (f *flight[K, V]) do(ctx context.Context, key K, timeout time.Duration, keep bool, fn func(context.Context) (V, error)) (V, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = make(map[K]*flightCall[V])
	}
	c := f.calls[key]
	if c == nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		c = &flightCall[V]{done: make(chan struct{}), cancel: cancel}
		f.calls[key] = c
		go func() {
			v, err := fn(cctx)
			cancel()
			f.mu.Lock()
			if f.calls[key] == c {
				delete(f.calls, key)
			}
			f.mu.Unlock()
			c.val, c.err = v, err
			close(c.done)
		}()
	}
	c.waiters++
	nested := ctx.Value(nestedCall{}) != nil
	if nested {
		c.nested++
	}
	c.keep = c.keep || keep
	f.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		f.mu.Lock()
		c.waiters--
		if nested {
			c.nested--
		}
		if c.waiters == 0 && !c.keep {
			c.cancel()
			if f.calls[key] == c {
				delete(f.calls, key)
			}
		}
		f.mu.Unlock()
		var zero V
		return zero, context.Cause(ctx)
	}
}

// nestedCall marks the context of a call waiting for another's result
// (a scaled still for its keyframe's decode): it is no request of its own.
type nestedCall struct{}

// waiting reports whether a request (not a nested call) waits for the call
// of any of keys.
func (f *flight[K, V]) waiting(keys ...K) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		if c := f.calls[k]; c != nil && c.waiters > c.nested {
			return true
		}
	}
	return false
}

// busy reports whether a call for key is running.
func (f *flight[K, V]) busy(key K) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key] != nil
}
