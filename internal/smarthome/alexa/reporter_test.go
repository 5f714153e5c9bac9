package alexa

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/smarthome/smarthometest"
)

// newGateway is Alexa's event gateway on loopback: it records every event
// and answers from a script of statuses (then 202), refusals in the
// gateway's System.Exception shape.
func newGateway(t *testing.T) (*smarthometest.Recorder, string) {
	rc := &smarthometest.Recorder{OK: http.StatusAccepted, Refusal: func(status int) string {
		code := map[int]string{401: "INVALID_ACCESS_TOKEN_EXCEPTION", 403: "SKILL_DISABLED_EXCEPTION",
			429: "THROTTLING_EXCEPTION", 500: "INTERNAL_SERVICE_EXCEPTION"}[status]
		return `{"header":{"namespace":"System","name":"Exception"},"payload":{"code":"` + code + `","description":"test"}}`
	}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

// names are the names of the events the gateway accepted.
func names(rc *smarthometest.Recorder) []string {
	var out []string
	for _, c := range rc.Delivered() {
		out = append(out, c.Body["event"].(map[string]any)["header"].(map[string]any)["name"].(string))
	}
	return out
}

// tokens are the bearers of every post, refused ones included.
func tokens(rc *smarthometest.Recorder) string {
	var out []string
	for _, c := range rc.Calls() {
		out = append(out, c.Token)
	}
	return strings.Join(out, ",")
}

type reporterRig struct {
	r     *Reporter
	gw    *smarthometest.Recorder
	lwa   *fakeLWA
	st    *memGrants
	view  *fakeViewing
	ended []string
}

func newReporter(t *testing.T) *reporterRig {
	links, view := twoHouseholds()
	grants, lwa, st := newGrants(t)
	gw, url := newGateway(t)
	rig := &reporterRig{gw: gw, lwa: lwa, st: st, view: view}
	st.m["l-olga"] = EventGrant{Access: "Atza|first", Refresh: "Atzr|first", Expires: time.Now().Add(time.Hour)}
	rig.r = &Reporter{Gateways: map[string]string{RegionNA: url}, Grants: grants, Endpoints: newDirectives(links, view, nil), Logger: slog.New(slog.DiscardHandler),
		Links: func(context.Context) ([]Link, error) { return []Link{links.links["l-olga"], links.links["l-bob"]}, nil },
		End:   func(_ context.Context, l Link) error { rig.ended = append(rig.ended, l.ID); return nil }}
	rig.r.poll(t.Context()) // the baseline: nothing is sent
	if n := len(names(rig.gw)); n != 0 {
		t.Fatalf("%d events for the baseline", n)
	}
	return rig
}

// TestReporterSendsChanges: connectivity changes become ChangeReports, a
// camera leaving the link's view a DeleteReport, one joining an
// AddOrUpdateReport, each with the link's event token in its scope; bob's
// link, which has no event grant, gets nothing.
func TestReporterSendsChanges(t *testing.T) {
	rig := newReporter(t)
	rig.view.SetOnline("cam-porch", false)
	rig.r.poll(t.Context())
	rig.view.SetCameras("u-olga", Camera{ID: "cam-yard", Name: "Yard"}, Camera{ID: "cam-shed", Name: "Shed"}) // the porch's share ended
	rig.r.poll(t.Context())
	rig.view.SetCameras("u-olga", Camera{ID: "cam-yard", Name: "Yard"}, Camera{ID: "cam-shed", Name: "Shed"}, Camera{ID: "cam-porch", Name: "Porch"})
	rig.r.poll(t.Context())
	if got := strings.Join(names(rig.gw), ","); got != "ChangeReport,DeleteReport,AddOrUpdateReport" {
		t.Fatalf("events %s", got)
	}
	var ev []map[string]any
	for _, c := range rig.gw.Delivered() {
		ev = append(ev, c.Body)
	}
	change := ev[0]["event"].(map[string]any)
	ep := change["endpoint"].(map[string]any)
	prop := change["payload"].(map[string]any)["change"].(map[string]any)["properties"].([]any)[0].(map[string]any)
	if ep["endpointId"] != "cam-porch" || ep["scope"].(map[string]any)["token"] != "Atza|first" ||
		prop["value"].(map[string]any)["value"] != "UNREACHABLE" {
		t.Fatalf("ChangeReport %v", change)
	}
	del := ev[1]["event"].(map[string]any)["payload"].(map[string]any)
	if del["endpoints"].([]any)[0].(map[string]any)["endpointId"] != "cam-porch" || del["scope"].(map[string]any)["token"] != "Atza|first" {
		t.Fatalf("DeleteReport %v", del)
	}
	add := ev[2]["event"].(map[string]any)["payload"].(map[string]any)
	if b, _ := json.Marshal(add); !strings.Contains(string(b), `"endpointId":"cam-porch"`) || !strings.Contains(string(b), "Alexa.CameraStreamController") {
		t.Fatalf("AddOrUpdateReport %s", b)
	}
	for _, e := range ev {
		if s, _ := json.Marshal(e); strings.Contains(string(s), "cam-garage") {
			t.Fatalf("bob's camera reported on olga's link: %s", s)
		}
	}
}

// TestReporterRetries: 429 and 5xx are retried with backoff; a 401 gets
// one refresh at LWA and a retry with the new token; a 401 after that
// marks the link for relinking; a SKILL_DISABLED_EXCEPTION or a refresh
// answered invalid_grant ends the link.
func TestReporterRetries(t *testing.T) {
	cases := []struct {
		name    string
		script  []int
		refresh string // the stored refresh token
		ended   bool
		relink  bool
		tokens  string // the bearer of every post
	}{
		{"throttled then accepted", []int{429, 500}, "Atzr|first", false, false, "Atza|first,Atza|first,Atza|first"},
		{"refused, refreshed, accepted", []int{401}, "Atzr|first", false, false, "Atza|first,Atza|access-101"},
		{"refused twice", []int{401, 401}, "Atzr|first", false, true, "Atza|first,Atza|access-101"},
		{"skill disabled", []int{403}, "Atzr|first", true, false, "Atza|first"},
		{"refresh answered invalid_grant", []int{401}, "revoked", true, false, "Atza|first"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rig := newReporter(t)
			rig.st.m["l-olga"] = EventGrant{Access: "Atza|first", Refresh: c.refresh, Expires: time.Now().Add(time.Hour)}
			rig.gw.Fail(c.script...)
			rig.view.SetOnline("cam-porch", false)
			start := time.Now()
			rig.r.poll(t.Context())
			if got := tokens(rig.gw); got != c.tokens {
				t.Fatalf("posted with %s, want %s", got, c.tokens)
			}
			if ended := len(rig.ended) == 1 && rig.ended[0] == "l-olga"; ended != c.ended {
				t.Fatalf("ended %v", rig.ended)
			}
			if delivered := len(names(rig.gw)) == 1; delivered == (c.ended || c.relink) {
				t.Fatalf("delivered %v", names(rig.gw))
			}
			if g, err := rig.st.EventGrant(t.Context(), "l-olga"); !c.ended && (err != nil || g.Relink.IsZero() == c.relink) {
				t.Fatalf("marked for relinking at %v (%v), want marked %v", g.Relink, err, c.relink)
			}
			if c.script[0] == 429 && time.Since(start) < 750*time.Millisecond {
				t.Fatalf("retried in %v: no backoff", time.Since(start))
			}
		})
	}
}

// TestRegions: AcceptGrant keeps the region the skill's Lambda names, and
// the link's events go to that region's gateway.
func TestRegions(t *testing.T) {
	rig := newReporter(t)
	eu, euURL := newGateway(t)
	rig.r.Gateways[RegionEU] = euURL
	x := rig.r.Endpoints
	x.Grants = rig.r.Grants
	for header, want := range map[string]string{"EU": "EU", "": "NA", "XX": "NA"} {
		req := httptest.NewRequest("POST", "/alexa/directive", strings.NewReader(fixture(t, "accept_grant.json",
			map[string]string{"token": "tok-l-olga", "code": "good-1"})))
		req.Header.Set(RegionHeader, header)
		x.ServeHTTP(httptest.NewRecorder(), req)
		if g, _ := rig.st.EventGrant(t.Context(), "l-olga"); g.Region != want {
			t.Fatalf("region header %q: stored %q, want %s", header, g.Region, want)
		}
	}
	req := httptest.NewRequest("POST", "/alexa/directive", strings.NewReader(fixture(t, "accept_grant.json",
		map[string]string{"token": "tok-l-olga", "code": "good-2"})))
	req.Header.Set(RegionHeader, RegionEU)
	x.ServeHTTP(httptest.NewRecorder(), req)
	rig.view.SetOnline("cam-porch", false)
	rig.r.poll(t.Context())
	if len(names(eu)) != 1 || len(names(rig.gw)) != 0 {
		t.Fatalf("EU gateway %v, NA gateway %v", names(eu), names(rig.gw))
	}
}

// TestRelink: a link whose event token is refused even fresh is not ended
// but waits to be relinked — nothing is sent for it, however its cameras
// change — until a new AcceptGrant (of which Relinked is told), after
// which its reports resume.
func TestRelink(t *testing.T) {
	rig := newReporter(t)
	rig.gw.Fail(401, 401)
	rig.view.SetOnline("cam-porch", false)
	rig.r.poll(t.Context())
	if g, _ := rig.st.EventGrant(t.Context(), "l-olga"); g.Relink.IsZero() || len(rig.ended) != 0 {
		t.Fatalf("after two refusals: relink %v, ended %v", g.Relink, rig.ended)
	}
	calls := len(rig.gw.Calls())
	rig.view.SetOnline("cam-porch", true)
	rig.view.SetOnline("cam-yard", true)
	rig.r.poll(t.Context())
	rig.r.poll(t.Context())
	if n := len(rig.gw.Calls()); n != calls {
		t.Fatalf("%d posts for a link waiting to be relinked", n-calls)
	}

	x := rig.r.Endpoints
	x.Grants = rig.r.Grants
	var relinked []string
	x.Relinked = func(_ context.Context, l Link) error { relinked = append(relinked, l.ID); return nil }
	out := send(t, x, fixture(t, "accept_grant.json", map[string]string{"token": "tok-l-olga", "code": "good-1"}))
	if eventName(out) != "Alexa.Authorization/AcceptGrant.Response" || len(relinked) != 1 || relinked[0] != "l-olga" {
		t.Fatalf("relinking's AcceptGrant: %v, relinked %v", out, relinked)
	}
	rig.view.SetOnline("cam-porch", false)
	rig.r.poll(t.Context())
	if got := names(rig.gw); len(got) == 0 || got[len(got)-1] != "ChangeReport" {
		t.Fatalf("after AcceptGrant, events %v", got)
	}
}

// fakeActivity is Activity in memory.
type fakeActivity struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (f *fakeActivity) SeeLink(_ context.Context, link string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if at.After(f.seen[link]) {
		f.seen[link] = at
	}
	return nil
}

func (f *fakeActivity) LinkSeen(_ context.Context, link string) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[link], nil
}

// TestSilentLinksEnd: with an injected clock, a link unused for longer
// than Silence ends; one used (a directive, an accepted event) within it
// stays; a link never used counts from when it was made.
func TestSilentLinksEnd(t *testing.T) {
	rig := newReporter(t)
	made := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := made
	act := &fakeActivity{seen: map[string]time.Time{}}
	links := []Link{{ID: "l-olga", User: "u-olga", Devices: []access.DeviceID{"cam-porch", "cam-yard"}, Linked: made},
		{ID: "l-bob", User: "u-bob", Devices: []access.DeviceID{"cam-garage"}, Linked: made}}
	rig.r.Links = func(context.Context) ([]Link, error) { return links, nil }
	rig.r.Activity, rig.r.Silence, rig.r.Now = act, 30*24*time.Hour, func() time.Time { return now }
	x := rig.r.Endpoints
	x.Activity = act

	now = made.Add(20 * 24 * time.Hour)
	rig.r.poll(t.Context())
	if len(rig.ended) != 0 {
		t.Fatalf("ended %v within the silence", rig.ended)
	}
	// Bob's Echo asks for his garage's state on day 25 (the directive is
	// noted at the real time: the fake clock only moves the sweep).
	act.SeeLink(t.Context(), "l-bob", made.Add(25*24*time.Hour))
	now = made.Add(31 * 24 * time.Hour)
	rig.r.poll(t.Context())
	if len(rig.ended) != 1 || rig.ended[0] != "l-olga" {
		t.Fatalf("on day 31 ended %v, want olga's link only", rig.ended)
	}
	// The directive path notes use too.
	before := time.Now()
	send(t, x, fixture(t, "discover.json", map[string]string{"token": "tok-l-bob"}))
	if at, _ := act.LinkSeen(t.Context(), "l-bob"); at.Before(before) {
		t.Fatalf("Discover did not note bob's link as used: %v", at)
	}
}

// TestThrottledActivity: a link's uses within the period reach the store
// once; one after it does again; links are throttled apart.
func TestThrottledActivity(t *testing.T) {
	act := &fakeActivity{seen: map[string]time.Time{}}
	writes := 0
	counting := activityFunc(func(ctx context.Context, link string, at time.Time) error {
		writes++
		return act.SeeLink(ctx, link, at)
	})
	th := Throttled(counting, time.Minute)
	t0 := time.Now()
	for i := range 10 {
		th.SeeLink(t.Context(), "l-olga", t0.Add(time.Duration(i)*time.Second))
	}
	th.SeeLink(t.Context(), "l-bob", t0)
	th.SeeLink(t.Context(), "l-olga", t0.Add(time.Minute))
	if writes != 3 {
		t.Fatalf("%d writes, want 3 (olga's first, bob's, olga's a minute later)", writes)
	}
	if at, _ := act.LinkSeen(t.Context(), "l-olga"); !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("olga last seen %v", at)
	}
}

// activityFunc is an Activity whose SeeLink is f (LinkSeen reads nothing).
type activityFunc func(ctx context.Context, link string, at time.Time) error

func (f activityFunc) SeeLink(ctx context.Context, link string, at time.Time) error {
	return f(ctx, link, at)
}
func (f activityFunc) LinkSeen(context.Context, string) (time.Time, error) { return time.Time{}, nil }
