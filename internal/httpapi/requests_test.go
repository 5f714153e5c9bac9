package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/auth"
)

// TestRequestMetrics: every answered request is counted by the route
// pattern it matched and its status, a handler that writes nothing counts
// as the 200 net/http sends, and every route has its duration series.
func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	u := users{"admin": {ID: "u-admin", Admin: true, Credential: auth.HashCredential("admin", "right")}}
	h := Handler(Config{Registry: reg, Health: func(*http.Request) error { return nil }, Users: u})
	h.Handle("GET /silent", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	do := func(path, user, pass string) {
		req := httptest.NewRequest("GET", path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	do("/healthz", "", "")
	do("/healthz", "", "")
	do("/metrics", "", "")
	do("/metrics", "admin", "wrong")
	do("/metrics", "admin", "right")
	do("/silent", "", "")
	for _, c := range []struct {
		route, code string
		want        float64
	}{
		{"GET /healthz", "200", 2},
		{"GET /metrics", "401", 2},
		{"GET /metrics", "200", 1},
		{"GET /silent", "200", 1},
	} {
		if n := testutil.ToFloat64(h.requests.total.WithLabelValues(c.route, c.code)); n != c.want {
			t.Errorf("vigil_http_requests_total{route=%q,code=%q} = %v, want %v", c.route, c.code, n, c.want)
		}
	}
	if n := testutil.CollectAndCount(h.requests.duration); n != len(h.Patterns()) {
		t.Errorf("%d duration series, want one per route (%d)", n, len(h.Patterns()))
	}
}
