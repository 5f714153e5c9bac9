package alexa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"vigil/internal/access"
)

// Event gateway answers that change what is done next.
var (
	// errSkillDisabled: the person disabled the skill; the link ends.
	errSkillDisabled = errors.New("alexa event gateway: SKILL_DISABLED_EXCEPTION")
	// errTokenRefused: the gateway refused the token even after a refresh.
	errTokenRefused = errors.New("alexa event gateway: the event token is refused after a refresh")
)

// Reporter keeps Alexa up to date for every Alexa link with an event
// grant: ChangeReport when a camera goes on- or offline, AddOrUpdateReport
// and DeleteReport when the set of cameras the link shows changes (a
// share, a claim, a release, the link's exposure). It polls, as Google's
// reporter does, so it cannot miss a change made by another process.
// Amazon sends nothing when a person disables the skill: a
// SKILL_DISABLED_EXCEPTION, or invalid_grant when refreshing, ends the
// link (End).
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
	// End ends a link whose skill was disabled.
	End func(ctx context.Context, link Link) error
	// Interval between polls. It defaults to 1 second (a ChangeReport
	// within 3 s of the change).
	Interval time.Duration
	// Client defaults to one with a 10-second timeout.
	Client *http.Client
	Logger *slog.Logger

	mu   sync.Mutex
	seen map[string]linkState // guarded by mu; by link id
}

// linkState is what Alexa was last told of a link's cameras.
type linkState struct {
	cameras []access.DeviceID
	online  map[access.DeviceID]bool
}

// Run polls until ctx ends.
func (r *Reporter) Run(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		r.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (r *Reporter) poll(ctx context.Context) {
	links, err := r.Links(ctx)
	if err != nil {
		r.Logger.Warn("alexa events: listing links failed", "error", err)
		return
	}
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

// update reports what changed for the link since the last poll; the first
// poll of a link only takes note (Discover has just told Alexa).
func (r *Reporter) update(ctx context.Context, l Link) error {
	if _, err := r.Grants.Store.EventGrant(ctx, l.ID); err != nil {
		return err // no events for this link until AcceptGrant succeeds
	}
	cams, err := r.Endpoints.visible(ctx, l)
	if err != nil {
		return err
	}
	now := linkState{online: map[access.DeviceID]bool{}}
	for _, c := range cams {
		now.cameras = append(now.cameras, c.ID)
		now.online[c.ID] = r.Endpoints.Viewing.Online(c.ID)
	}
	r.mu.Lock()
	before, known := r.seen[l.ID]
	r.mu.Unlock()
	if known {
		if err := r.report(ctx, l, cams, before, now); err != nil {
			return err // retried at the next poll: seen is not updated
		}
	}
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[string]linkState{}
	}
	r.seen[l.ID] = now
	r.mu.Unlock()
	return nil
}

// report sends the events for the change from before to now.
func (r *Reporter) report(ctx context.Context, l Link, cams []Camera, before, now linkState) error {
	var added []Camera
	for _, c := range cams {
		if !slices.Contains(before.cameras, c.ID) {
			added = append(added, c)
		}
	}
	var gone []access.DeviceID
	for _, id := range before.cameras {
		if !slices.Contains(now.cameras, id) {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		if err := r.send(ctx, l, deleteReport(gone)); err != nil {
			return err
		}
	}
	if len(added) > 0 {
		if err := r.send(ctx, l, r.addReport(ctx, l, added)); err != nil {
			return err
		}
	}
	for _, id := range now.cameras {
		if was, ok := before.online[id]; ok && was != now.online[id] {
			if err := r.send(ctx, l, changeReport(id, now.online[id])); err != nil {
				return err
			}
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
// (network, 429, 5xx) with exponential backoff; a refused token is
// refreshed once; SKILL_DISABLED_EXCEPTION ends the link, as does a
// refresh answered invalid_grant.
func (r *Reporter) send(ctx context.Context, l Link, o *outbound) error {
	wait, refreshed := 250*time.Millisecond, false
	for attempt := 1; ; attempt++ {
		tok, region, err := r.Grants.Token(ctx, l)
		if err == nil {
			err = r.post(ctx, r.gateway(region), tok, o.withToken(tok))
		}
		var st statusError
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errSkillDisabled), errors.Is(err, ErrGrantRevoked):
			r.Logger.Info("alexa skill disabled: ending the link", "link", l.ID, "error", err)
			return errors.Join(err, r.End(ctx, l))
		case errors.As(err, &st) && st.code == http.StatusUnauthorized && refreshed:
			// Refused even fresh: only relinking (AcceptGrant) can mend it.
			r.Logger.Warn("alexa event token refused after a refresh: ending the link for relinking", "link", l.ID)
			return errors.Join(errTokenRefused, err, r.End(ctx, l))
		case errors.As(err, &st) && st.code == http.StatusUnauthorized && !refreshed:
			refreshed = true
			if err := r.Grants.Expire(ctx, l); err != nil {
				return err
			}
			continue
		case errors.As(err, &st) && st.code != http.StatusTooManyRequests && st.code < 500, attempt == 5:
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
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
