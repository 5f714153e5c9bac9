package alexa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"vigil/internal/access"
	"vigil/internal/smarthome"
)

// Event gateway answers that change what is done next.
var (
	// errSkillDisabled: the person disabled the skill; the link ends.
	errSkillDisabled = errors.New("alexa event gateway: SKILL_DISABLED_EXCEPTION")
	// errTokenRefused: the gateway refused the token even after a refresh.
	errTokenRefused = errors.New("alexa event gateway: the event token is refused after a refresh")
)

// DefaultSilence is how long a link may go unused — no directive with its
// token, no event accepted for it — before it ends: Amazon says nothing
// when a person disables the skill, and an enabled skill on an Echo that
// is in use sends ReportState and Discover far more often than that (an
// Echo Show asks for its cameras' state whenever the Alexa app or the
// device's camera list is opened). Sixty days leaves room for a holiday
// home that nobody looks at for a season's half.
const DefaultSilence = 60 * 24 * time.Hour

// Activity remembers when each link was last used.
type Activity interface {
	// SeeLink notes that the link was used at.
	SeeLink(ctx context.Context, link string, at time.Time) error
	// LinkSeen is when the link was last noted used (zero: never).
	LinkSeen(ctx context.Context, link string) (time.Time, error)
}

// Reporter keeps Alexa up to date for every Alexa link with an event
// grant: ChangeReport when a camera goes on- or offline, AddOrUpdateReport
// and DeleteReport when the set of cameras the link shows changes (a
// share, a claim, a release, the link's exposure). It polls, as Google's
// reporter does, so it cannot miss a change made by another process.
//
// Amazon sends nothing when a person disables the skill: a
// SKILL_DISABLED_EXCEPTION, invalid_grant when refreshing, or Silence
// without any use ends the link (End). An event token refused even after
// a refresh marks the link for relinking (Grants.MarkRelink): its reports
// stop until a new AcceptGrant, and the page asks the person to relink.
type Reporter struct {
	// Gateways are the event gateway's URLs by region (RegionNA:
	// https://api.amazonalexa.com/v3/events, RegionEU:
	// https://api.eu.amazonalexa.com/v3/events, RegionFE:
	// https://api.fe.amazonalexa.com/v3/events); a link's events go to its
	// grant's region's. Tests point them at loopback.
	Gateways map[string]string
	Grants   *Grants
	// Links lists the live Alexa links.
	Links     func(ctx context.Context) ([]Link, error)
	Endpoints *Directives // builds the endpoints of AddOrUpdateReport as Discover does
	// End ends a link whose skill was disabled or that went silent.
	End func(ctx context.Context, link Link) error
	// Activity, when set, says when links were last used; links silent for
	// Silence end. Accepted events count as use.
	Activity Activity
	// Silence defaults to DefaultSilence.
	Silence time.Duration
	// Interval between polls. It defaults to 1 second (a ChangeReport
	// within 3 s of the change).
	Interval time.Duration
	// Client defaults to one with a 10-second timeout.
	Client *http.Client
	// Now defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger

	mu    sync.Mutex
	seen  map[string]smarthome.State // guarded by mu; by link id
	swept time.Time                  // guarded by mu; the last silence sweep
}

// sweepEvery is how often links are checked for silence (or a quarter of
// the silence, when that is shorter).
const sweepEvery = time.Hour

// Run polls until ctx ends.
func (r *Reporter) Run(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Second
	}
	smarthome.Poll(ctx, interval, r.poll)
	return nil
}

func (r *Reporter) poll(ctx context.Context) {
	links, err := r.Links(ctx)
	if err != nil {
		r.Logger.Warn("alexa events: listing links failed", "error", err)
		return
	}
	links = r.sweep(ctx, links)
	live := map[string]bool{}
	for _, l := range links {
		live[l.ID] = true
		if ctx.Err() != nil {
			return
		}
		if err := r.update(ctx, l); err != nil && !errors.Is(err, ErrNoGrant) {
			r.Logger.Warn("alexa events: report failed", "link", l.ID, "error", err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.seen {
		if !live[id] {
			delete(r.seen, id)
		}
	}
}

// sweep ends the links silent for longer than Silence (at most once every
// sweepEvery) and returns the others.
func (r *Reporter) sweep(ctx context.Context, links []Link) []Link {
	silence := r.Silence
	if silence <= 0 {
		silence = DefaultSilence
	}
	now := r.now()
	r.mu.Lock()
	due := r.Activity != nil && now.Sub(r.swept) >= min(sweepEvery, silence/4)
	if due {
		r.swept = now
	}
	r.mu.Unlock()
	if !due {
		return links
	}
	var kept []Link
	for _, l := range links {
		last, err := r.Activity.LinkSeen(ctx, l.ID)
		if err != nil {
			r.Logger.Warn("alexa links: reading when a link was last used failed", "link", l.ID, "error", err)
			kept = append(kept, l)
			continue
		}
		if last.Before(l.Linked) {
			last = l.Linked
		}
		if last.IsZero() || now.Sub(last) <= silence { // zero: nothing to count from
			kept = append(kept, l)
			continue
		}
		r.Logger.Info("alexa link silent: ending it", "link", l.ID, "last_used", last, "silence", silence)
		if err := r.End(ctx, l); err != nil {
			r.Logger.Warn("alexa links: ending a silent link failed", "link", l.ID, "error", err)
		}
	}
	return kept
}

func (r *Reporter) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// update reports what changed for the link since the last poll; the first
// poll of a link only takes note (Discover has just told Alexa). A link
// waiting to be relinked is told nothing.
func (r *Reporter) update(ctx context.Context, l Link) error {
	g, err := r.Grants.Store.EventGrant(ctx, l.ID)
	if err != nil {
		return err // no events for this link until AcceptGrant succeeds
	}
	if !g.Relink.IsZero() {
		return nil
	}
	cams, err := r.Endpoints.visible(ctx, l)
	if err != nil {
		return err
	}
	now := smarthome.StateOf(cams, r.Endpoints.Viewing.Online)
	r.mu.Lock()
	before, known := r.seen[l.ID]
	r.mu.Unlock()
	if known {
		if err := r.report(ctx, l, cams, now.Since(before)); err != nil {
			return err // retried at the next poll: seen is not updated
		}
	}
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[string]smarthome.State{}
	}
	r.seen[l.ID] = now
	r.mu.Unlock()
	return nil
}

// report sends the events for a change.
func (r *Reporter) report(ctx context.Context, l Link, cams []Camera, c smarthome.Change) error {
	if len(c.Gone) > 0 {
		if err := r.send(ctx, l, deleteReport(c.Gone)); err != nil {
			return err
		}
	}
	if len(c.Added) > 0 {
		added := slices.DeleteFunc(slices.Clone(cams), func(cam Camera) bool { return !slices.Contains(c.Added, cam.ID) })
		if err := r.send(ctx, l, r.addReport(ctx, l, added)); err != nil {
			return err
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.Flipped)) {
		if err := r.send(ctx, l, changeReport(id, c.Flipped[id])); err != nil {
			return err
		}
	}
	return nil
}

// outbound is an event to the gateway; scope takes the event token.
type outbound struct {
	Event   outboundEvent `json:"event"`
	Context *eventContext `json:"context,omitempty"`
}

type outboundEvent struct {
	Header   header         `json:"header"`
	Endpoint *endpoint      `json:"endpoint,omitempty"`
	Payload  map[string]any `json:"payload"`
}

func newOutbound(namespace, name string, payload map[string]any) *outbound {
	return &outbound{Event: outboundEvent{Header: header{Namespace: namespace, Name: name, PayloadVersion: "3",
		MessageID: newMessageID()}, Payload: payload}}
}

// withToken is o with the event token in its scope.
func (o *outbound) withToken(tok string) *outbound {
	c := *o
	sc := &scope{Type: "BearerToken", Token: tok}
	if c.Event.Endpoint != nil {
		ep := *c.Event.Endpoint
		ep.Scope = sc
		c.Event.Endpoint = &ep
		return &c
	}
	p := map[string]any{"scope": sc}
	for k, v := range o.Event.Payload {
		p[k] = v
	}
	c.Event.Payload = p
	return &c
}

func changeReport(id access.DeviceID, online bool) *outbound {
	o := newOutbound("Alexa", "ChangeReport", map[string]any{"change": map[string]any{
		"cause": map[string]string{"type": "PERIODIC_POLL"}, "properties": []property{connectivity(online, time.Now())}}})
	o.Event.Endpoint = &endpoint{EndpointID: string(id)}
	o.Context = &eventContext{Properties: []property{}}
	return o
}

func deleteReport(ids []access.DeviceID) *outbound {
	eps := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		eps = append(eps, map[string]string{"endpointId": string(id)})
	}
	return newOutbound("Alexa.Discovery", "DeleteReport", map[string]any{"endpoints": eps})
}

func (r *Reporter) addReport(ctx context.Context, l Link, cams []Camera) *outbound {
	return newOutbound("Alexa.Discovery", "AddOrUpdateReport", map[string]any{"endpoints": r.Endpoints.endpoints(ctx, l, cams)})
}

// send posts one event with the link's token, retrying transient failures
// (network, 429, 5xx) with exponential backoff. A refused token is
// refreshed once; refused again, the link is marked for relinking.
// SKILL_DISABLED_EXCEPTION ends the link, as does a refresh answered
// invalid_grant.
func (r *Reporter) send(ctx context.Context, l Link, o *outbound) error {
	refreshed := false
	err := smarthome.Retry(ctx, 5, 250*time.Millisecond, func() (bool, error) {
		tok, region, err := r.Grants.Token(ctx, l)
		if err != nil {
			return false, err
		}
		err = r.post(ctx, r.gateway(region), tok, o.withToken(tok))
		var st statusError
		switch {
		case err == nil:
			return false, nil
		case !errors.As(err, &st):
			return !errors.Is(err, errSkillDisabled), err // network failures are retried
		case st.code == http.StatusUnauthorized && !refreshed:
			refreshed = true
			if err := r.Grants.Expire(ctx, l); err != nil {
				return false, err
			}
			return true, err
		case st.code == http.StatusUnauthorized:
			return false, errors.Join(errTokenRefused, err)
		}
		return st.code == http.StatusTooManyRequests || st.code >= 500, err
	})
	return r.settle(ctx, l, err)
}

// settle acts on how sending an event for the link ended.
func (r *Reporter) settle(ctx context.Context, l Link, err error) error {
	switch {
	case errors.Is(err, errSkillDisabled), errors.Is(err, ErrGrantRevoked):
		r.Logger.Info("alexa skill disabled: ending the link", "link", l.ID, "error", err)
		return errors.Join(err, r.End(ctx, l))
	case errors.Is(err, errTokenRefused):
		// Refused even fresh: only relinking (a new AcceptGrant) mends it.
		r.Logger.Warn("alexa event token refused after a refresh: the link waits to be relinked", "link", l.ID)
		return errors.Join(err, r.Grants.MarkRelink(ctx, l))
	case err == nil && r.Activity != nil:
		if err := r.Activity.SeeLink(ctx, l.ID, r.now()); err != nil {
			r.Logger.Warn("alexa links: noting a link's use failed", "link", l.ID, "error", err)
		}
	}
	return err
}

// statusError is a gateway answer other than 202.
type statusError struct {
	code int
	what string // payload.code
}

func (e statusError) Error() string { return fmt.Sprintf("alexa event gateway: %d %s", e.code, e.what) }

// gateway is the event gateway of a region (North America's for none).
func (r *Reporter) gateway(region string) string {
	if u, ok := r.Gateways[region]; ok {
		return u
	}
	return r.Gateways[RegionNA]
}

func (r *Reporter) post(ctx context.Context, gateway, tok string, o *outbound) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gateway, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusOK {
		return nil
	}
	var ex struct {
		Payload struct {
			Code string `json:"code"`
		} `json:"payload"`
	}
	json.NewDecoder(http.MaxBytesReader(nil, res.Body, 64<<10)).Decode(&ex)
	if ex.Payload.Code == "SKILL_DISABLED_EXCEPTION" {
		return errSkillDisabled
	}
	return statusError{res.StatusCode, ex.Payload.Code}
}

// Throttled notes a link's use in a at most once every every: a link's
// silence is counted in days, and an Echo may send ReportState every few
// seconds, each of which would otherwise be a store write.
func Throttled(a Activity, every time.Duration) Activity {
	return &throttled{Activity: a, every: every, noted: map[string]time.Time{}}
}

type throttled struct {
	Activity
	every time.Duration

	mu    sync.Mutex
	noted map[string]time.Time // guarded by mu; by link id, when last passed on
}

// maxNoted bounds throttled's table; past it, entries older than every
// (which would pass on anyway) are dropped.
const maxNoted = 4096

func (t *throttled) SeeLink(ctx context.Context, link string, at time.Time) error {
	t.mu.Lock()
	if last, ok := t.noted[link]; ok && at.Sub(last) < t.every {
		t.mu.Unlock()
		return nil
	}
	if len(t.noted) >= maxNoted {
		for id, last := range t.noted {
			if at.Sub(last) >= t.every {
				delete(t.noted, id)
			}
		}
	}
	t.noted[link] = at
	t.mu.Unlock()
	return t.Activity.SeeLink(ctx, link, at)
}
