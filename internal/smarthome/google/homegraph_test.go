package google

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"vigil/internal/smarthome/smarthometest"
)

func TestReporterReportsStateAndRequestsSync(t *testing.T) {
	links, view := twoHouseholds()
	rc := &smarthometest.Recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rep, err := NewReporter(ReporterConfig{BaseURL: srv.URL, Links: links.list, Viewing: view, Logger: slog.New(slog.DiscardHandler),
		Token: func(context.Context) (string, error) { return "hg-token", nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	rep.poll(ctx)
	first := rc.Take()
	if len(first) != 2 {
		t.Fatalf("first poll: %d calls, want a state report per link", len(first))
	}
	for _, c := range first {
		if c.Path != "/v1/devices:reportStateAndNotification" || c.Token != "hg-token" || c.Body["requestId"] == "" {
			t.Fatalf("call %+v", c)
		}
		states := c.Body["payload"].(map[string]any)["devices"].(map[string]any)["states"].(map[string]any)
		if c.Body["agentUserId"] == "agent-olga" && (len(states) != 2 || states["cam-garage"] != nil) {
			t.Fatalf("olga's report: %v", states)
		}
	}
	rep.poll(ctx)
	if calls := rc.Take(); len(calls) != 0 {
		t.Fatalf("nothing changed, yet %d calls", len(calls))
	}

	// The yard comes online (after two 503s, retried); olga loses the porch.
	rc.Fail(503, 503)
	view.SetOnline("cam-yard", true)
	view.SetCameras("u-olga", Camera{ID: "cam-yard", Name: "Yard"}, Camera{ID: "cam-shed", Name: "Shed"})
	rep.poll(ctx)
	calls := rc.Take()
	if len(calls) != 2 || calls[0].Path != "/v1/devices:requestSync" || calls[0].Body["agentUserId"] != "agent-olga" ||
		calls[0].Body["async"] != true {
		t.Fatalf("calls after the change: %+v", calls)
	}
	states := calls[1].Body["payload"].(map[string]any)["devices"].(map[string]any)["states"].(map[string]any)
	if len(states) != 1 || states["cam-yard"].(map[string]any)["online"] != true {
		t.Fatalf("state report: %v", states)
	}

	// After DISCONNECT nothing is sent for olga, even when things change.
	rep.Forget("agent-olga")
	view.SetOnline("cam-yard", false)
	view.SetOnline("cam-garage", false)
	rep.poll(ctx)
	for _, c := range rc.Take() {
		if c.Body["agentUserId"] == "agent-olga" {
			t.Fatalf("reported for a disconnected agent user: %+v", c)
		}
	}
	// Once the link has ended in the store, nothing of it is kept.
	links.mu.Lock()
	delete(links.links, "l-olga")
	links.mu.Unlock()
	rep.poll(ctx)
	rep.mu.Lock()
	kept, gone := len(rep.seen), len(rep.gone)
	rep.mu.Unlock()
	if kept != 1 || gone != 0 {
		t.Fatalf("after olga's link ended: %d links remembered, %d forgotten agents kept; want 1 and 0", kept, gone)
	}
}
