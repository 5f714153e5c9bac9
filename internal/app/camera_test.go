package app

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/household"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// camerasOf is the camera listing as user sees it.
func (a *testApp) camerasOf(t *testing.T, user, pw string) map[string]household.Camera {
	t.Helper()
	status, body := a.call(t, "GET", "/api/cameras", user, pw, nil)
	var cams []household.Camera
	if err := json.Unmarshal(body, &cams); status != 200 || err != nil {
		t.Fatalf("cameras of %s: %d %s", user, status, body)
	}
	out := map[string]household.Camera{}
	for _, c := range cams {
		out[string(c.ID)] = c
	}
	return out
}

// TestRenameCamera: the owner renames her camera and every listing shows
// the new name; a viewer of it and a stranger cannot (404, as for any
// camera they may not manage); a bad name is refused and changes nothing.
func TestRenameCamera(t *testing.T) {
	a := startApp(t, "", nil)
	porch := a.addCamera(t, "Porch")
	olga, vera, sam := a.addUser(t, "olga"), a.addUser(t, "vera"), a.addUser(t, "sam")
	claimFor(t, a, porch, "olga")
	if status, body := a.call(t, "PUT", "/api/cameras/"+porch.ID+"/shares/vera", "olga", olga, nil); status != 204 {
		t.Fatalf("share: %d %s", status, body)
	}
	path := "/api/cameras/" + porch.ID
	if status, body := a.call(t, "PATCH", path, "olga", olga, map[string]string{"name": "  Front door "}); status != 200 {
		t.Fatalf("rename: %d %s", status, body)
	}
	for user, pw := range map[string]string{"olga": olga, "vera": vera} {
		if got := a.camerasOf(t, user, pw)[porch.ID].Name; got != "Front door" {
			t.Errorf("%s's listing names the camera %q, want Front door", user, got)
		}
	}
	for user, pw := range map[string]string{"vera": vera, "sam": sam} {
		if status, _ := a.call(t, "PATCH", path, user, pw, map[string]string{"name": "Mine"}); status != 404 {
			t.Errorf("%s renamed olga's camera: %d, want 404", user, status)
		}
	}
	for _, bad := range []string{"", "   ", "a\nb", string(make([]byte, 65))} {
		if status, _ := a.call(t, "PATCH", path, "olga", olga, map[string]string{"name": bad}); status != 400 {
			t.Errorf("name %q: %d, want 400", bad, status)
		}
	}
	if got := a.camerasOf(t, "olga", olga)[porch.ID].Name; got != "Front door" {
		t.Errorf("after refused renames the camera is %q", got)
	}
}

// TestCameraListingSaysWhenLastSeen: a live camera is listed online with
// a recent last_seen; stopped, it is listed offline and keeps last_seen,
// which the page's offline card shows.
func TestCameraListingSaysWhenLastSeen(t *testing.T) {
	a := startApp(t, "", nil)
	porch, shed := a.addCamera(t, "Porch"), a.addCamera(t, "Shed")
	olga := a.addUser(t, "olga")
	claimFor(t, a, porch, "olga")
	claimFor(t, a, shed, "olga")
	if c := a.camerasOf(t, "olga", olga)[shed.ID]; c.Online || !c.LastSeen.IsZero() {
		t.Fatalf("a camera that never connected: %+v, want offline and no last_seen", c)
	}
	stop := a.runFor(t, porch)
	if c := a.camerasOf(t, "olga", olga)[porch.ID]; !c.Online || time.Since(c.LastSeen) > 5*time.Second {
		t.Fatalf("a live camera: %+v, want online and seen just now", c)
	}
	stop()
	a.waitOffline(t, porch)
	c := a.camerasOf(t, "olga", olga)[porch.ID]
	if c.Online || c.LastSeen.IsZero() || time.Since(c.LastSeen) > 30*time.Second {
		t.Fatalf("a camera that stopped: %+v, want offline with the time it was last seen", c)
	}
}

// runFor publishes cams until the returned stop is called (or the test
// ends) and waits until they are live.
func (a *testApp) runFor(t *testing.T, cams ...*sim.Camera) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.RunMany(ctx, cams); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	for _, c := range cams {
		a.waitOnline(t, deviceID(c))
	}
	return stop
}

// waitOffline waits until the hub no longer has cam's main stream.
func (a *testApp) waitOffline(t *testing.T, cam *sim.Camera) {
	t.Helper()
	testkit.WaitFor(t, 15*time.Second, "camera "+cam.ID+" offline", func() error {
		if a.hub.Online(deviceID(cam), access.StreamMain) {
			return errors.New("still online")
		}
		return nil
	})
}
