package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"vigil/internal/access"
)

// RegistryConfig configures a node's Registry.
type RegistryConfig struct {
	// Node is the name of the node claiming cameras. Required.
	Node string
	// Bucket is the JetStream key-value bucket of claims. It defaults to
	// "vigil_homes".
	Bucket string
	// Replicas is how many servers keep the bucket. It defaults to 3 (a
	// quorum survives one node's loss); a smaller cluster needs fewer.
	Replicas int
	// TTL is how long a claim lives without renewal. It defaults to 15 s.
	TTL time.Duration
	// Renew is how often a holder renews its claims. It defaults to 5 s.
	Renew time.Duration
}

func (c *RegistryConfig) defaults() {
	if c.Bucket == "" {
		c.Bucket = "vigil_homes"
	}
	if c.Replicas <= 0 {
		c.Replicas = 3
	}
	if c.TTL <= 0 {
		c.TTL = 15 * time.Second
	}
	if c.Renew <= 0 {
		c.Renew = 5 * time.Second
	}
}

// Registry records which node is home to each camera stream. The node a
// camera's publisher session connects to claims the stream; a later claim
// by any node (or a later session on the same node) takes it over, and the
// older holder is fenced: its Claim's Fenced channel closes and it must end
// that session — "a new session replaces the old atomically", across nodes.
//
// Claims are compare-and-swap writes on the key's revision, so two claims
// never both succeed over the same revision; a holder renews every Renew
// with the revision it last wrote, and a failed renewal (someone wrote
// since, or the claim lapsed after TTL) fences it too. A watch on the
// bucket fences a holder as soon as a newer claim is seen, well before
// its next renewal.
type Registry struct {
	cfg     RegistryConfig
	kv      jetstream.KeyValue
	watcher jetstream.KeyWatcher
	log     *slog.Logger
	moves   atomic.Uint64 // claims of this node fenced by a newer claim

	mu       sync.Mutex        // guards held, seen, draining, reserved
	held     map[string]*Claim // key → this node's live claim
	draining bool              // Drain was called: no new claims
	// reserved is each pull reservation this node last wrote (key →
	// revision), for Drain to hand over. Bounded by the pull cameras.
	reserved map[string]uint64
	// seen is each claim key's last write the watch delivered (or Home
	// read): Home answers from it without a round trip while it is
	// younger than TTL. Bounded by the camera streams claimed.
	seen map[string]seenHome
}

// seenHome is a claim key's last write: the node it names ("" for a
// deletion) and when it was written.
type seenHome struct {
	node string
	at   time.Time
}

// home is a claim's value in the bucket.
type home struct {
	Node  string `json:"node"`
	Claim string `json:"claim"` // random per claim: tells sessions of one node apart
}

// OpenRegistry creates (or opens) the claims bucket and starts watching
// it. A new JetStream cluster elects its leaders first, so it retries
// until ctx ends. Call Run to process the watch and renew claims.
func OpenRegistry(ctx context.Context, js jetstream.JetStream, cfg RegistryConfig, log *slog.Logger) (*Registry, error) {
	if cfg.Node == "" {
		return nil, fmt.Errorf("%w: RegistryConfig.Node is required", ErrConfig)
	}
	cfg.defaults()
	kvCfg := jetstream.KeyValueConfig{Bucket: cfg.Bucket, History: 1, TTL: cfg.TTL, Replicas: cfg.Replicas}
	var kv jetstream.KeyValue
	err := retry(ctx, func(ctx context.Context) (err error) {
		kv, err = js.CreateOrUpdateKeyValue(ctx, kvCfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: claims bucket %s (R%d): %w; are enough nodes routed to each other?", cfg.Bucket, cfg.Replicas, err)
	}
	// The watch lives until Run returns, not just while ctx does: it
	// must see every claim made after OpenRegistry returns.
	w, err := kv.WatchAll(context.WithoutCancel(ctx), jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("cluster: watch claims bucket %s: %w", cfg.Bucket, err)
	}
	return &Registry{cfg: cfg, kv: kv, watcher: w, log: log.With("node", cfg.Node), held: map[string]*Claim{},
		seen: map[string]seenHome{}, reserved: map[string]uint64{}}, nil
}

// retry calls f until it succeeds or ctx ends, pausing a little longer
// each time. Each call gets 2 s: a request sent before the cluster had a
// leader gets no answer, and waiting for one would use up ctx.
func retry(ctx context.Context, f func(context.Context) error) error {
	for pause := 50 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", context.Cause(ctx), err)
		case <-time.After(pause):
		}
	}
}

// Run fences claims as newer ones are seen and renews the node's claims
// until ctx ends. It then stops watching; claims are left to lapse (a node
// that leaves cleanly releases them first).
func (r *Registry) Run(ctx context.Context) error {
	defer r.watcher.Stop()
	tick := time.NewTicker(r.cfg.Renew)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-r.watcher.Updates():
			if !ok {
				return fmt.Errorf("cluster: claims watch on %s ended", r.cfg.Bucket)
			}
			if e != nil {
				r.observe(e)
			}
		case <-tick.C:
			r.renewAll(ctx)
		}
	}
}

// Moves counts this node's claims fenced because another claim took over.
func (r *Registry) Moves() uint64 { return r.moves.Load() }

// Held is the number of live claims this node holds.
func (r *Registry) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

// Home returns the node that holds the claim on a camera stream, or ""
// if none does. It answers from the claims the watch delivered within TTL
// (a holder rewrites its claim every Renew), and reads the bucket for a
// stream not seen so recently.
func (r *Registry) Home(ctx context.Context, device access.DeviceID, stream access.StreamID) (string, error) {
	key := claimKey(device, stream)
	r.mu.Lock()
	s, ok := r.seen[key]
	r.mu.Unlock()
	if ok && time.Since(s.at) <= r.cfg.TTL {
		return s.node, nil
	}
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		r.note(key, seenHome{at: time.Now()})
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cluster: home of %s/%s: %w", device, stream, err)
	}
	r.noteEntry(e)
	var h home
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		return "", fmt.Errorf("cluster: home of %s/%s: bad claim value: %w", device, stream, err)
	}
	return h.Node, nil
}

// noteEntry keeps a claim key's write for Home.
func (r *Registry) noteEntry(e jetstream.KeyValueEntry) {
	if !strings.Contains(e.Key(), ".") || strings.HasPrefix(e.Key(), "pull.") {
		return
	}
	s := seenHome{at: e.Created()}
	if e.Operation() == jetstream.KeyValuePut {
		var h home
		if json.Unmarshal(e.Value(), &h) != nil {
			return
		}
		s.node = h.Node
	}
	r.note(e.Key(), s)
}

// note keeps s as key's write unless a later one is kept.
func (r *Registry) note(key string, s seenHome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.seen[key]; !ok || !s.at.Before(old.at) {
		r.seen[key] = s
	}
}

// claimKey is the bucket key of a camera stream. Device and stream ids
// hold only [a-z0-9-], all valid in keys, and the dot cannot occur in
// either, so keys do not collide.
func claimKey(device access.DeviceID, stream access.StreamID) string {
	return string(device) + "." + string(stream)
}

// observe fences the local claim on e's key if e is a newer write by
// someone else (a claim, a deletion).
func (r *Registry) observe(e jetstream.KeyValueEntry) {
	r.noteEntry(e)
	r.mu.Lock()
	c := r.held[e.Key()]
	r.mu.Unlock()
	if c == nil || !c.supersededBy(e) || !fenceFromElsewhere() {
		return
	}
	r.moves.Add(1)
	r.fence(c, "claimed elsewhere")
}

// fence ends c: it is no longer this node's claim.
func (r *Registry) fence(c *Claim, why string) {
	r.mu.Lock()
	if r.held[c.key] == c {
		delete(r.held, c.key)
	}
	r.mu.Unlock()
	if c.end() {
		r.log.Info("camera claim fenced", "camera", c.device, "stream", c.stream, "why", why)
	}
}

// Reserve reports whether this node is the one to pull a camera (a
// camera Vigil connects to, rather than one that connects to a node):
// the first node to reserve it keeps it while it renews the reservation
// (each call renews it) and within TTL after; another node gets it once
// it lapses. Unlike a claim, a reservation never takes over: nodes that
// all list the same pull cameras do not fence each other's pulls.
func (r *Registry) Reserve(ctx context.Context, device access.DeviceID) (bool, error) {
	if r.Draining() {
		return false, nil // a node leaving pulls nothing more
	}
	key := "pull." + string(device)
	e, err := r.kv.Get(ctx, key)
	var rev uint64
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err = r.kv.Create(ctx, key, []byte(r.cfg.Node))
	case err != nil:
	case string(e.Value()) != r.cfg.Node:
		return false, nil
	default:
		rev, err = r.kv.Update(ctx, key, []byte(r.cfg.Node), e.Revision())
	}
	if casLost(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cluster: reserve pull of %s: %w", device, err)
	}
	r.mu.Lock()
	r.reserved[key] = rev
	r.mu.Unlock()
	return true, nil
}
