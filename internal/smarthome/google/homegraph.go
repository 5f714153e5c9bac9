package google

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"vigil/internal/access"
	"vigil/internal/smarthome"
)

// Reporter keeps Google's HomeGraph up to date for every live link: Report
// State when a camera goes online or offline, Request Sync when the set of
// cameras a link shows changes (a camera claimed, released, shared,
// unshared, or the exposure changed). It polls rather than hooking every
// change, so it cannot miss one made by another process.
type Reporter struct {
	cfg ReporterConfig

	mu   sync.Mutex
	seen map[string]smarthome.State // guarded by mu; by agentUserId
	gone map[string]bool            // guarded by mu; disconnected agentUserIds
}

// ReporterConfig is what a Reporter is built from.
type ReporterConfig struct {
	// BaseURL is HomeGraph's origin (https://homegraph.googleapis.com);
	// tests point it at a loopback recorder.
	BaseURL string
	// Token returns the bearer credential for HomeGraph calls. Required.
	Token func(ctx context.Context) (string, error)
	// Links lists the live Google links. Required.
	Links func(ctx context.Context) ([]Link, error)
	// Viewing lists a link's cameras and says which are online. Required.
	Viewing Viewing
	// Interval between polls. It defaults to 2 seconds.
	Interval time.Duration
	// Client defaults to an http.Client with a 10-second timeout.
	Client *http.Client
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// NewReporter returns a reporter of cfg, its defaults applied; Run starts
// the reports.
func NewReporter(cfg ReporterConfig) (*Reporter, error) {
	if cfg.Token == nil || cfg.Links == nil || cfg.Viewing == nil {
		return nil, errors.New("google: the HomeGraph reporter needs Token, Links and Viewing")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Reporter{cfg: cfg}, nil
}

// Forget stops every report for the agent user (DISCONNECT, unlink),
// including retries in flight.
func (r *Reporter) Forget(agentUserID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone == nil {
		r.gone = map[string]bool{}
	}
	r.gone[agentUserID] = true
	delete(r.seen, agentUserID)
}

func (r *Reporter) forgotten(agentUserID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gone[agentUserID]
}

// Run polls until ctx ends.
func (r *Reporter) Run(ctx context.Context) error {
	smarthome.Poll(ctx, r.cfg.Interval, r.poll)
	return nil
}

func (r *Reporter) poll(ctx context.Context) {
	links, err := r.cfg.Links(ctx)
	if err != nil {
		r.cfg.Logger.Warn("homegraph: listing links failed", "error", err)
		return
	}
	r.prune(links)
	for _, l := range links {
		if ctx.Err() != nil || r.forgotten(l.AgentUserID) {
			continue
		}
		cams, err := r.cfg.Viewing.Cameras(ctx, l.User)
		if err != nil {
			r.cfg.Logger.Warn("homegraph: listing cameras failed", "link", l.ID, "error", err)
			continue
		}
		r.update(ctx, l.AgentUserID, smarthome.StateOf(smarthome.Exposed(cams, l.Devices), r.cfg.Viewing.Online))
	}
}

// prune forgets the links that are no longer live, so that what is kept
// grows with the live links. Nothing is in flight for them: posts run in
// poll, one after another, and an ended link never comes back.
func (r *Reporter) prune(links []Link) {
	live := map[string]bool{}
	for _, l := range links {
		live[l.AgentUserID] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for agent := range r.seen {
		if !live[agent] {
			delete(r.seen, agent)
		}
	}
	for agent := range r.gone {
		if !live[agent] {
			delete(r.gone, agent)
		}
	}
}

// update sends what changed since the last poll of the link.
func (r *Reporter) update(ctx context.Context, agent string, now smarthome.State) {
	r.mu.Lock()
	before, known := r.seen[agent]
	r.mu.Unlock()
	change := now.Since(before)
	changed := change.Flipped
	for _, id := range change.Added {
		changed[id] = now.Online[id]
	}
	if known && len(change.Added)+len(change.Gone) > 0 {
		if err := r.post(ctx, agent, "/v1/devices:requestSync", map[string]any{"agentUserId": agent, "async": true}); err != nil {
			r.cfg.Logger.Warn("homegraph: request sync failed", "agent_user", agent, "error", err)
			return // retried at the next poll: seen is not updated
		}
	}
	if len(changed) > 0 {
		if err := r.post(ctx, agent, "/v1/devices:reportStateAndNotification", reportBody(agent, changed)); err != nil {
			r.cfg.Logger.Warn("homegraph: report state failed", "agent_user", agent, "error", err)
			return
		}
	}
	r.mu.Lock()
	if !r.gone[agent] {
		if r.seen == nil {
			r.seen = map[string]smarthome.State{}
		}
		r.seen[agent] = now
	}
	r.mu.Unlock()
}

func reportBody(agent string, online map[access.DeviceID]bool) map[string]any {
	states := map[string]any{}
	for _, id := range slices.Sorted(maps.Keys(online)) {
		states[string(id)] = map[string]bool{"online": online[id]}
	}
	return map[string]any{"requestId": newRequestID(), "agentUserId": agent,
		"payload": map[string]any{"devices": map[string]any{"states": states}}}
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// post sends one HomeGraph call, retrying transient failures (network,
// 429, 5xx) with exponential backoff, and gives up at once when the agent
// user is forgotten.
func (r *Reporter) post(ctx context.Context, agent, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return smarthome.Retry(ctx, 5, 250*time.Millisecond, func() (bool, error) {
		if r.forgotten(agent) {
			return false, fmt.Errorf("agent user disconnected")
		}
		return r.send(ctx, path, b)
	})
}

func (r *Reporter) send(ctx context.Context, path string, body []byte) (retry bool, err error) {
	tok, err := r.cfg.Token(ctx)
	if err != nil {
		return true, fmt.Errorf("homegraph credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(r.cfg.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := r.cfg.Client.Do(req)
	if err != nil {
		return true, err
	}
	res.Body.Close()
	if res.StatusCode/100 == 2 {
		return false, nil
	}
	return res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500,
		fmt.Errorf("homegraph %s: %s", path, res.Status)
}
