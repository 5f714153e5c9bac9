package cluster

import (
	"context"
	"time"
)

// Drain makes the node leave as a clean upgrade wants it to: from now on
// it refuses new claims (ErrDraining, so a camera that reconnects here is
// turned away and retries through the load balancer onto another node),
// and it releases the claims it holds one after another, spread evenly
// over window, so their cameras do not all reconnect to the other nodes
// at once. Each release fences its publisher session, which closes the
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
	r.mu.Unlock()
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
