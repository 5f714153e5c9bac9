package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"vigil/internal/audit"
	"vigil/internal/store"
)

// TestOverloadIsRetryable: a store write that waited too long for its turn
// (a password change, a release, a share under load) and a viewing
// session that could not be recorded change nothing, so they are answered
// 503 with Retry-After — a client that heeds it succeeds on a later try —
// never 500 "internal error", which tells a client to give up.
func TestOverloadIsRetryable(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("set password of u-1: sqlite: %w", store.ErrBusy),
		fmt.Errorf("%w: record access: context deadline exceeded", audit.ErrUnrecorded),
	} {
		t.Run(err.Error(), func(t *testing.T) {
			h := serve(slog.New(slog.DiscardHandler), func(http.ResponseWriter, *http.Request) error { return err })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/password", nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
				t.Fatalf("%d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
			}
			if strings.Contains(string(body), "sqlite") || strings.Contains(string(body), "deadline") {
				t.Errorf("the error's own text reached the client: %q", body)
			}
		})
	}
}
