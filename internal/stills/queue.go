package stills

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"vigil/internal/access"
)

// queue hands the decode workers out fairly across requesters. Each user
// (a household's member asking for stills) waits in a FIFO of their own,
// bounded at perUser; a worker that comes free goes to the next user in
// round-robin order. A household asking for many widths or cameras at once
// waits behind itself, while another household's decode waits at most for
// the decodes already running and one turn of each other waiting user.
type queue struct {
	perUser int

	mu      sync.Mutex
	free    int                              // guarded by mu; idle workers (only when nobody waits)
	turns   []access.UserID                  // guarded by mu; users with waiters, next first
	waiting map[access.UserID][]*queueWaiter // guarded by mu
}

type queueWaiter struct {
	ready   chan struct{} // closed when granted
	granted bool          // guarded by queue.mu
}

func newQueue(workers, perUser int) *queue {
	return &queue{perUser: perUser, free: workers, waiting: map[access.UserID][]*queueWaiter{}}
}

// acquire takes a worker for user, waiting for its turn until ctx ends.
// It returns ErrBusy at once when user already has perUser waiting, and
// ErrDecode (wrapping ctx's cause) when ctx ends first.
func (q *queue) acquire(ctx context.Context, user access.UserID) error {
	q.mu.Lock()
	if q.free > 0 {
		q.free--
		q.mu.Unlock()
		return nil
	}
	if len(q.waiting[user]) >= q.perUser {
		q.mu.Unlock()
		return fmt.Errorf("%w (%d waiting)", ErrBusy, q.perUser)
	}
	w := &queueWaiter{ready: make(chan struct{})}
	if len(q.waiting[user]) == 0 {
		q.turns = append(q.turns, user)
	}
	q.waiting[user] = append(q.waiting[user], w)
	q.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	if w.granted { // granted as ctx ended: pass the worker on
		q.mu.Unlock()
		q.release()
	} else {
		q.remove(user, w)
		q.mu.Unlock()
	}
	return fmt.Errorf("%w: waiting for a decode worker: %v", ErrDecode, context.Cause(ctx))
}

// release gives a worker back: to the next user's first waiter, or idle.
func (q *queue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.turns) == 0 {
		q.free++
		return
	}
	user := q.turns[0]
	q.turns = q.turns[1:]
	ws := q.waiting[user]
	w := ws[0]
	if len(ws) == 1 {
		delete(q.waiting, user)
	} else {
		q.waiting[user] = ws[1:]
		q.turns = append(q.turns, user) // back of the line for its next one
	}
	w.granted = true
	close(w.ready)
}

// remove drops a waiter that gave up. Caller holds mu.
func (q *queue) remove(user access.UserID, w *queueWaiter) {
	ws := slices.DeleteFunc(q.waiting[user], func(x *queueWaiter) bool { return x == w })
	if len(ws) > 0 {
		q.waiting[user] = ws
		return
	}
	delete(q.waiting, user)
	q.turns = slices.DeleteFunc(q.turns, func(u access.UserID) bool { return u == user })
}
