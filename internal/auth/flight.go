package auth

import (
	"context"
	"errors"
	"sync"
)

// checkFlight joins concurrent password checks of the same key (see
// SignIn.Password). Unlike x/sync/singleflight's DoChan, the first caller
// runs the check in its own goroutine: a check reads the store through
// SQLite, whose transpiled C frames grow a fresh goroutine's stack several
// times over — with a goroutine per check that copying was 9% of Vigil's
// CPU serving cached stills with Basic credentials at 1,000/s. A request's
// goroutine has grown its stack already.
type checkFlight struct {
	mu    sync.Mutex
	calls map[string]*checkCall // guarded by mu
}

type checkCall struct {
	done   chan struct{} // closed when c and err are set
	c      Caller
	err    error
	joined int // callers that joined the first; guarded by checkFlight.mu
}

// errCheckPanicked is what joined callers get if the check panicked.
var errCheckPanicked = errors.New("auth: password check panicked")

// do returns check's result for key, running it at most once at a time
// per key. The first caller runs it and returns when it ends, whatever its
// context (the check runs apart from it, bounded by checkTimeout); callers
// that join it wait until it ends or their context does.
func (f *checkFlight) do(ctx context.Context, key string, check func() (Caller, error)) (Caller, error) {
	f.mu.Lock()
	if c, ok := f.calls[key]; ok {
		c.joined++
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.c, c.err
		case <-ctx.Done():
			return Caller{}, ctx.Err()
		}
	}
	if f.calls == nil {
		f.calls = map[string]*checkCall{}
	}
	c := &checkCall{done: make(chan struct{}), err: errCheckPanicked}
	f.calls[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.c, c.err = check()
	return c.c, c.err
}
