package cluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Drain makes the node leave as a clean upgrade wants it to: from now on
// it refuses new claims (ErrDraining, so a camera that reconnects here is
// turned away and retries through the load balancer onto another node),
// and it releases the claims it holds one after another, spread evenly
// over window, so their cameras do not all reconnect to the other nodes
// at once. Its pull reservations are deleted first, so that another node
// pulls those cameras from its next listing on. Each release fences its publisher session, which closes the
// camera's connection, and tells the nodes feeding its viewers that the
// stream ended. Drain returns the number of claims released once the last
// is, or when ctx ends (the rest then lapse, or are released as their
// sessions end).
func (r *Registry) Drain(ctx context.Context, window time.Duration) int {
	r.mu.Lock()
	r.draining = true
	claims := make([]*Claim, 0, len(r.held))
	for _, c := range r.held {
		claims = append(claims, c)
	}
	reserved := r.reserved
	r.reserved = map[string]uint64{}
	r.mu.Unlock()
	r.unreserve(ctx, reserved)
	if len(claims) == 0 {
		return 0
	}
	gap := window / time.Duration(len(claims))
	released := 0
	for i, c := range claims {
		if i > 0 {
			select {
			case <-ctx.Done():
				return released
			case <-time.After(gap):
			}
		}
		rctx, cancel := context.WithTimeout(ctx, r.cfg.Renew)
		err := c.Release(rctx)
		cancel()
		if err != nil {
			r.log.Warn("camera claim not released while draining; it lapses", "camera", c.device, "stream", c.stream, "error", err)
			continue
		}
		released++
	}
	return released
}

// Draining reports whether Drain was called: the node refuses new claims.
func (r *Registry) Draining() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.draining
}

// unreserve deletes the pull reservations this node wrote (key →
// revision) unless another node holds them since.
func (r *Registry) unreserve(ctx context.Context, reserved map[string]uint64) {
	for key, rev := range reserved {
		dctx, cancel := context.WithTimeout(ctx, r.cfg.Renew)
		err := r.kv.Delete(dctx, key, jetstream.LastRevision(rev))
		cancel()
		if err != nil && !casLost(err) {
			r.log.Warn("pull reservation not released while draining; it lapses", "key", key, "error", err)
		}
	}
}
