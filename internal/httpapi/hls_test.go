package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"vigil/internal/access"
	"vigil/internal/hls"
	"vigil/internal/hub"
)

// TestHLSErrorsThroughTheTable: hls returns errors and the one table
// answers them. A refusal (a grant that does not open the muxer, a file
// that is not there) is its status alone: no body, no content type, not a
// byte that could tell the client anything; the others say why in a word.
func TestHLSErrorsThroughTheTable(t *testing.T) {
	tests := []struct {
		err  error
		code int
		body string
	}{
		{fmt.Errorf("%w: %w", hls.ErrRefused, access.ErrNoGrant), http.StatusForbidden, ""},
		{fmt.Errorf("%w: %w", hls.ErrRefused, access.ErrGrantExpired), http.StatusForbidden, ""},
		{fmt.Errorf("%w: %w", hls.ErrRefused, access.ErrBadDeviceID), http.StatusForbidden, ""},
		{hls.ErrNoFile, http.StatusNotFound, ""},
		{fmt.Errorf("%w: %w", hls.ErrOffline, hub.ErrOffline), http.StatusServiceUnavailable, "camera offline\n"},
		{hls.ErrNotReady, http.StatusServiceUnavailable, "camera has sent no picture yet\n"},
		{hls.ErrUnsupported, http.StatusNotFound, "variant not available for this camera\n"},
		{hls.ErrBadRequest, http.StatusBadRequest, hls.ErrBadRequest.Error() + "\n"},
		{errors.New("hls: gohlslib answered 500"), http.StatusInternalServerError, "internal error\n"},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			h := serve(slog.New(slog.DiscardHandler), func(http.ResponseWriter, *http.Request) error { return tt.err })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/cameras/cam-a/hls/main/ll/index.m3u8", nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.code || string(body) != tt.body {
				t.Fatalf("%d %q, want %d %q", res.StatusCode, body, tt.code, tt.body)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", res.Header.Get("Cache-Control"))
			}
			if tt.body == "" && (res.Header.Get("Content-Type") != "" || res.Header.Get("Content-Length") != "0") {
				t.Errorf("a refusal with Content-Type %q, Content-Length %q", res.Header.Get("Content-Type"),
					res.Header.Get("Content-Length"))
			}
			if strings.Contains(string(body), "hls:") && tt.code != http.StatusBadRequest {
				t.Errorf("the error's own text reached the client: %q", body)
			}
		})
	}
}
