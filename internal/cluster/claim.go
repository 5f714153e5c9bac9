package cluster

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"vigil/internal/access"
)

// claimTries bounds how often Claim rereads and rewrites a contended key.
const claimTries = 8

// Claim is this node's hold on a camera stream, for one publisher session.
type Claim struct {
	r      *Registry
	key    string
	device access.DeviceID
	stream access.StreamID
	value  []byte // this claim's home, encoded
	id     string

	ops sync.Mutex // serializes writes (renewal, release) to the key

	mu      sync.Mutex // guards rev, renewed, ended
	rev     uint64     // revision this claim last wrote
	renewed time.Time  // when it was last written
	ended   bool

	fenced chan struct{} // closed when the claim ends
}

// Claim makes this node the home of a camera stream for a new publisher
// session, taking it over from whichever node or session held it. The
// caller must have authenticated the camera. It ends the publisher
// session when Fenced closes.
func (r *Registry) Claim(ctx context.Context, device access.DeviceID, stream access.StreamID) (*Claim, error) {
	if r.Draining() {
		return nil, fmt.Errorf("cluster: claim %s/%s: %w", device, stream, ErrDraining)
	}
	id := rand.Text()
	value, err := json.Marshal(home{Node: r.cfg.Node, Claim: id})
	if err != nil {
		return nil, err
	}
	c := &Claim{r: r, key: claimKey(device, stream), device: device, stream: stream, value: value, id: id, fenced: make(chan struct{})}
	for range claimTries {
		rev, err := r.write(ctx, c.key, value)
		if err == nil {
			c.rev, c.renewed = rev, time.Now()
			r.install(ctx, c)
			return c, nil
		}
		if !casLost(err) {
			return nil, fmt.Errorf("cluster: claim %s/%s: %w", device, stream, err)
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(time.Duration(mrand.IntN(20)+1) * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("cluster: claim %s/%s: %w", device, stream, ErrContended)
}

// write takes key over: it creates it, or replaces the revision it reads.
func (r *Registry) write(ctx context.Context, key string, value []byte) (uint64, error) {
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return r.kv.Create(ctx, key, value)
	}
	if err != nil {
		return 0, err
	}
	return r.kv.Update(ctx, key, value, e.Revision())
}

// casLost reports whether err means another write got in first.
func casLost(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// install makes c the node's claim on its key, fencing the node's older
// session on it. A newer claim by another node may have been watched
// before c was installed, unseen; one read after installing catches it
// (and renewal would, within Renew). Reads may come from a replica that
// has not yet applied c's own write, so a missing key proves nothing.
func (r *Registry) install(ctx context.Context, c *Claim) {
	r.mu.Lock()
	old := r.held[c.key]
	r.held[c.key] = c
	r.mu.Unlock()
	if old != nil {
		r.fence(old, "new session on this node")
	}
	if e, err := r.kv.Get(ctx, c.key); err == nil && c.supersededBy(e) && fenceFromElsewhere() {
		r.moves.Add(1)
		r.fence(c, "claimed elsewhere while claiming")
	}
}

// Fenced is closed when the claim ends: another node or session claimed
// the stream, the claim lapsed, or it was released. The publisher session
// it was made for must end.
func (c *Claim) Fenced() <-chan struct{} { return c.fenced }

// Node is the name of the node holding the claim.
func (c *Claim) Node() string { return c.r.cfg.Node }

// Live reports whether the claim still holds.
func (c *Claim) Live() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.ended
}

// supersededBy reports whether e is a write to c's key after c's last
// write by anyone but c.
func (c *Claim) supersededBy(e jetstream.KeyValueEntry) bool {
	c.mu.Lock()
	rev := c.rev
	c.mu.Unlock()
	if e.Revision() <= rev {
		return false
	}
	if e.Operation() != jetstream.KeyValuePut {
		return true
	}
	var h home
	return json.Unmarshal(e.Value(), &h) != nil || h.Claim != c.id
}

// end marks the claim ended and closes Fenced; it reports whether this
// call ended it.
func (c *Claim) end() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	c.ended = true
	close(c.fenced)
	return true
}

// Release gives up the claim, deleting it from the bucket if no one took
// it over meanwhile, so another node may claim the stream at once.
func (c *Claim) Release(ctx context.Context) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	rev, ended := c.rev, c.ended
	c.mu.Unlock()
	c.r.fence(c, "released")
	if ended {
		return nil
	}
	err := c.r.kv.Delete(ctx, c.key, jetstream.LastRevision(rev))
	if err != nil && !casLost(err) {
		return fmt.Errorf("cluster: release %s/%s: %w", c.device, c.stream, err)
	}
	return nil
}

// renew rewrites the claim over its last revision. A lost race or a
// vanished key fences it; so does failing to renew for long enough that
// the claim may have lapsed (TTL less one renewal period, so the holder
// stops before anyone else could take the stream over by expiry).
func (c *Claim) renew(ctx context.Context) {
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	rev, renewed, ended := c.rev, c.renewed, c.ended
	c.mu.Unlock()
	if ended {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.r.cfg.Renew)
	defer cancel()
	next, err := c.r.kv.Update(ctx, c.key, c.value, rev)
	switch {
	case err == nil:
		c.mu.Lock()
		c.rev, c.renewed = next, time.Now()
		c.mu.Unlock()
	case (casLost(err) || errors.Is(err, jetstream.ErrKeyNotFound)) && !fenceFromElsewhere():
		// the canary's planted bug keeps the claim (see package mutant)
	case casLost(err) || errors.Is(err, jetstream.ErrKeyNotFound):
		c.r.moves.Add(1)
		c.r.fence(c, "renewal lost: claimed elsewhere or lapsed")
	case time.Since(renewed) > c.r.cfg.TTL-c.r.cfg.Renew:
		c.r.fence(c, "renewal failing: "+err.Error())
	default:
		c.r.log.Warn("camera claim renewal failed; will retry", "camera", c.device, "stream", c.stream, "error", err)
	}
}

// renewAll renews every claim of the node, one after another.
func (r *Registry) renewAll(ctx context.Context) {
	r.mu.Lock()
	claims := make([]*Claim, 0, len(r.held))
	for _, c := range r.held {
		claims = append(claims, c)
	}
	r.mu.Unlock()
	for _, c := range claims {
		if ctx.Err() != nil {
			return
		}
		c.renew(ctx)
	}
}
