package rtsp

import (
	"net/url"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
)

// TestContentBaseResolves: the SDP's relative track URLs, resolved against
// the Content-Base per RFC 3986 §5.2, keep the camera and stream, with or
// without a stream token in the DESCRIBE URL.
func TestContentBaseResolves(t *testing.T) {
	for _, tt := range []struct{ describe, want string }{
		{"rtsp://h:8554/cam-a?token=x.y", "rtsp://h:8554/cam-a/trackID=1"},
		{"rtsp://h:8554/cam-a/sub?token=x.y", "rtsp://h:8554/cam-a/sub/trackID=1"},
		{"rtsp://h:8554/cam-a/", "rtsp://h:8554/cam-a/trackID=1"},
		{"rtsp://h:8554/cam-a", "rtsp://h:8554/cam-a/trackID=1"},
	} {
		u, err := base.ParseURL(tt.describe)
		if err != nil {
			t.Fatal(err)
		}
		b, err := url.Parse(contentBase(u))
		if err != nil {
			t.Fatal(err)
		}
		if got := b.ResolveReference(&url.URL{Path: "trackID=1"}).String(); got != tt.want {
			t.Errorf("DESCRIBE %s: Content-Base %s resolves trackID=1 to %s, want %s", tt.describe, b, got, tt.want)
		}
		if _, err := parsePath(b.Path); err != nil {
			t.Errorf("Content-Base %s: %v", b, err)
		}
	}
}
