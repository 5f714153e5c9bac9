package alexa

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGateway is Alexa's event gateway on loopback: it records every event
// and answers from a script of statuses (then 202).
type fakeGateway struct {
	mu     sync.Mutex
	script []int
	events []map[string]any
	tokens []string
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var ev map[string]any
	json.Unmarshal(b, &ev)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens = append(g.tokens, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	status := http.StatusAccepted
	if len(g.script) > 0 {
		status, g.script = g.script[0], g.script[1:]
	}
	if status != http.StatusAccepted {
		code := map[int]string{401: "INVALID_ACCESS_TOKEN_EXCEPTION", 403: "SKILL_DISABLED_EXCEPTION",
			429: "THROTTLING_EXCEPTION", 500: "INTERNAL_SERVICE_EXCEPTION"}[status]
		w.WriteHeader(status)
		w.Write([]byte(`{"header":{"namespace":"System","name":"Exception"},"payload":{"code":"` + code + `","description":"test"}}`))
		return
	}
	g.events = append(g.events, ev)
	w.WriteHeader(status)
}

func (g *fakeGateway) names() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, e := range g.events {
		h := e["event"].(map[string]any)["header"].(map[string]any)
		out = append(out, h["name"].(string))
	}
	return out
}

type reporterRig struct {
	r     *Reporter
	gw    *fakeGateway
	lwa   *fakeLWA
	st    *memGrants
	view  *fakeViewing
	ended []string
}

func newReporter(t *testing.T) *reporterRig {
	links, view := twoHouseholds()
	grants, lwa, st := newGrants(t)
	rig := &reporterRig{gw: &fakeGateway{}, lwa: lwa, st: st, view: view}
	srv := httptest.NewServer(rig.gw)
	t.Cleanup(srv.Close)
	st.m["l-olga"] = EventGrant{Access: "Atza|first", Refresh: "Atzr|first", Expires: time.Now().Add(time.Hour)}
	rig.r = &Reporter{Gateways: map[string]string{RegionNA: srv.URL}, Grants: grants, Endpoints: newDirectives(links, view, nil), Logger: slog.New(slog.DiscardHandler),
		Links: func(context.Context) ([]Link, error) { return []Link{links.links["l-olga"], links.links["l-bob"]}, nil },
		End:   func(_ context.Context, l Link) error { rig.ended = append(rig.ended, l.ID); return nil }}
	rig.r.poll(t.Context()) // the baseline: nothing is sent
	if n := len(rig.gw.names()); n != 0 {
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
	rig.view.mu.Lock()
	rig.view.online["cam-porch"] = false
	rig.view.mu.Unlock()
	rig.r.poll(t.Context())
	rig.view.mu.Lock()
	rig.view.cameras["u-olga"] = rig.view.cameras["u-olga"][1:] // the porch's share ended
	rig.view.mu.Unlock()
	rig.r.poll(t.Context())
	rig.view.mu.Lock()
	rig.view.cameras["u-olga"] = append(rig.view.cameras["u-olga"], Camera{"cam-porch", "Porch"})
	rig.view.mu.Unlock()
	rig.r.poll(t.Context())
	if got := strings.Join(rig.gw.names(), ","); got != "ChangeReport,DeleteReport,AddOrUpdateReport" {
		t.Fatalf("events %s", got)
	}
	ev := rig.gw.events
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
// one refresh at LWA and a retry with the new token; a 401 after that, a
// SKILL_DISABLED_EXCEPTION or a refresh answered invalid_grant ends the
// link.
func TestReporterRetries(t *testing.T) {
	cases := []struct {
		name    string
		script  []int
		refresh string // the stored refresh token
		ended   bool
		tokens  string // the bearer of every post
	}{
		{"throttled then accepted", []int{429, 500}, "Atzr|first", false, "Atza|first,Atza|first,Atza|first"},
		{"refused, refreshed, accepted", []int{401}, "Atzr|first", false, "Atza|first,Atza|access-101"},
		{"refused twice", []int{401, 401}, "Atzr|first", true, "Atza|first,Atza|access-101"},
		{"skill disabled", []int{403}, "Atzr|first", true, "Atza|first"},
		{"refresh answered invalid_grant", []int{401}, "revoked", true, "Atza|first"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rig := newReporter(t)
			rig.st.m["l-olga"] = EventGrant{Access: "Atza|first", Refresh: c.refresh, Expires: time.Now().Add(time.Hour)}
			rig.gw.script = c.script
			rig.view.mu.Lock()
			rig.view.online["cam-porch"] = false
			rig.view.mu.Unlock()
			start := time.Now()
			rig.r.poll(t.Context())
			if got := strings.Join(rig.gw.tokens, ","); got != c.tokens {
				t.Fatalf("posted with %s, want %s", got, c.tokens)
			}
			if ended := len(rig.ended) == 1 && rig.ended[0] == "l-olga"; ended != c.ended {
				t.Fatalf("ended %v", rig.ended)
			}
			if delivered := len(rig.gw.names()) == 1; delivered == c.ended {
				t.Fatalf("delivered %v", rig.gw.names())
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
	eu := &fakeGateway{}
	euSrv := httptest.NewServer(eu)
	defer euSrv.Close()
	rig.r.Gateways[RegionEU] = euSrv.URL
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
	rig.view.mu.Lock()
	rig.view.online["cam-porch"] = false
	rig.view.mu.Unlock()
	rig.r.poll(t.Context())
	if len(eu.names()) != 1 || len(rig.gw.names()) != 0 {
		t.Fatalf("EU gateway %v, NA gateway %v", eu.names(), rig.gw.names())
	}
}
