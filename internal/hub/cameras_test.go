package hub

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
)

// TestCamerasCoverEveryProvisionedCamera: a camera that never connected
// has its series too (down, last frame at +Inf), a live one is up with
// its last frame's age, and one whose publisher left is down with the age
// of its last frame, not forgotten. A failing list fails the scrape.
func TestCamerasCoverEveryProvisionedCamera(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	h := New(Config{Now: func() time.Time { return at }})
	p, err := h.Publish("cam-a", access.StreamMain, tracks())
	if err != nil {
		t.Fatal(err)
	}
	frame(t, p, 0, 10)
	c := &Cameras{Hub: h, Now: func() time.Time { return at.Add(3 * time.Second) },
		List: func(context.Context) ([]access.DeviceID, error) { return []access.DeviceID{"cam-a", "cam-never"}, nil }}
	want := func(up string) string {
		return `# HELP vigil_camera_last_frame_age_seconds Seconds since the camera's main stream last sent a unit (+Inf: not since this process started).
# TYPE vigil_camera_last_frame_age_seconds gauge
vigil_camera_last_frame_age_seconds{camera="cam-a"} 3
vigil_camera_last_frame_age_seconds{camera="cam-never"} +Inf
# HELP vigil_camera_up 1 while the camera's main stream has a live publisher, else 0; one series per provisioned camera.
# TYPE vigil_camera_up gauge
vigil_camera_up{camera="cam-a"} ` + up + `
vigil_camera_up{camera="cam-never"} 0
`
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want("1"))); err != nil {
		t.Errorf("live camera: %v", err)
	}
	p.Close()
	if err := testutil.CollectAndCompare(c, strings.NewReader(want("0"))); err != nil {
		t.Errorf("camera gone: %v", err)
	}

	c.List = func(context.Context) ([]access.DeviceID, error) { return nil, errors.New("store down") }
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "store down") {
		t.Errorf("a failing camera list: scrape error %v, want it reported", err)
	}
}
