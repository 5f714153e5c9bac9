package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/auth"
)

type users map[string]auth.Principal

func (u users) Principal(_ context.Context, name string) (auth.Principal, error) {
	p, ok := u[name]
	if !ok {
		return p, auth.ErrUnknown
	}
	return p, nil
}

func TestHealthAndMetricsAccess(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_test_total", Help: "test"})
	reg.MustRegister(c)
	u := users{
		"admin": {ID: "u-admin", Admin: true, Credential: auth.HashCredential("admin", "right")},
		"bob":   {ID: "u-bob", Credential: auth.HashCredential("bob", "bobpw")},
	}
	healthy, draining := true, false
	h := Handler(Config{Registry: reg, Health: func(*http.Request) error {
		if draining {
			return ErrDraining
		}
		if !healthy {
			return errors.New("db down")
		}
		return nil
	}, Users: u})
	tests := []struct {
		name, path, user, pass string
		want                   int
		body                   string
	}{
		{"health is open", "/healthz", "", "", 200, `"ok"`},
		{"metrics need credentials", "/metrics", "", "", 401, ""},
		{"wrong password", "/metrics", "admin", "wrong", 401, ""},
		{"not an admin", "/metrics", "bob", "bobpw", 403, ""},
		{"unknown user", "/metrics", "eve", "x", 401, ""},
		{"admin reads metrics", "/metrics", "admin", "right", 200, "vigil_test_total"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.body) {
				t.Fatalf("%s: %d %q, want %d containing %q", tt.path, rec.Code, rec.Body.String(), tt.want, tt.body)
			}
			if tt.want >= 400 && strings.Contains(rec.Body.String(), "vigil_") {
				t.Fatal("metrics leaked to an unauthenticated request")
			}
		})
	}
	healthy = false
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 503 || strings.Contains(rec.Body.String(), "db down") {
		t.Fatalf("unhealthy: %d %q (internal errors must not reach the response)", rec.Code, rec.Body.String())
	}
	draining = true
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"draining"`) {
		t.Fatalf("draining: %d %q, want 503 draining", rec.Code, rec.Body.String())
	}
}
