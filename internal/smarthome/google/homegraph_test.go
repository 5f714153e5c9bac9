package google

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// recorder is a loopback HomeGraph: it keeps every call's path and body,
// and fails the first `fail` calls with 503.
type recorder struct {
	mu    sync.Mutex
	calls []recorded
	fail  atomic.Int32
}

type recorded struct {
	path, auth string
	body       map[string]any
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.fail.Add(-1) >= 0 {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	json.Unmarshal(b, &body)
	rc.mu.Lock()
	rc.calls = append(rc.calls, recorded{r.URL.Path, r.Header.Get("Authorization"), body})
	rc.mu.Unlock()
}

func (rc *recorder) take() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c := rc.calls
	rc.calls = nil
	return c
}

func TestReporterReportsStateAndRequestsSync(t *testing.T) {
	links, view := twoHouseholds()
	rc := &recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rep, err := NewReporter(ReporterConfig{BaseURL: srv.URL, Links: links.list, Viewing: view, Logger: slog.New(slog.DiscardHandler),
		Token: func(context.Context) (string, error) { return "hg-token", nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	rep.poll(ctx)
	first := rc.take()
	if len(first) != 2 {
		t.Fatalf("first poll: %d calls, want a state report per link", len(first))
	}
	for _, c := range first {
		if c.path != "/v1/devices:reportStateAndNotification" || c.auth != "Bearer hg-token" || c.body["requestId"] == "" {
			t.Fatalf("call %+v", c)
		}
		states := c.body["payload"].(map[string]any)["devices"].(map[string]any)["states"].(map[string]any)
		if c.body["agentUserId"] == "agent-olga" && (len(states) != 2 || states["cam-garage"] != nil) {
			t.Fatalf("olga's report: %v", states)
		}
	}
	rep.poll(ctx)
	if calls := rc.take(); len(calls) != 0 {
		t.Fatalf("nothing changed, yet %d calls", len(calls))
	}

	// The yard comes online (after two 503s, retried); olga loses the porch.
	rc.fail.Store(2)
	view.mu.Lock()
	view.online["cam-yard"] = true
	view.cameras["u-olga"] = view.cameras["u-olga"][1:]
	view.mu.Unlock()
	rep.poll(ctx)
	calls := rc.take()
	if len(calls) != 2 || calls[0].path != "/v1/devices:requestSync" || calls[0].body["agentUserId"] != "agent-olga" ||
		calls[0].body["async"] != true {
		t.Fatalf("calls after the change: %+v", calls)
	}
	states := calls[1].body["payload"].(map[string]any)["devices"].(map[string]any)["states"].(map[string]any)
	if len(states) != 1 || states["cam-yard"].(map[string]any)["online"] != true {
		t.Fatalf("state report: %v", states)
	}

	// After DISCONNECT nothing is sent for olga, even when things change.
	rep.Forget("agent-olga")
	view.mu.Lock()
	view.online["cam-yard"] = false
	view.online["cam-garage"] = false
	view.mu.Unlock()
	rep.poll(ctx)
	for _, c := range rc.take() {
		if c.body["agentUserId"] == "agent-olga" {
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
