package app

import (
	"strings"
	"testing"
)

// TestOperatorSignals: the admin's /metrics names the build, has a
// vigil_camera_up and a last-frame age for a provisioned camera that never
// connected (down, +Inf), counts a wrong password under its kind, and
// counts requests by route and status.
func TestOperatorSignals(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "never")
	if code, _, _ := a.get(t, "/api/cameras", AdminName, "wrong"); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	code, _, body := a.get(t, "/metrics", AdminName, adminPassword)
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`vigil_build_info{go_version="go`,
		`vigil_camera_up{camera="` + cam.ID + `"} 0`,
		`vigil_camera_last_frame_age_seconds{camera="` + cam.ID + `"} +Inf`,
		`vigil_auth_failures_total{kind="wrong_password"} 1`,
		`vigil_http_requests_total{code="401",route="GET /api/cameras"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}
