package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
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
// which the page's offline card shows, to its owner at the time only.
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
	// The camera changes hands: when it last sent video is the old
	// epoch's, not its new owner's to know.
	vera := a.addUser(t, "vera")
	claimFor(t, a, porch, "vera")
	if c := a.camerasOf(t, "vera", vera)[porch.ID]; c.Online || !c.LastSeen.IsZero() {
		t.Fatalf("the new owner's listing: %+v, want no last_seen from before her claim", c)
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
	for _, c := range cams { // by the hub: an owned camera is no admin's to view
		testkit.WaitFor(t, 15*time.Second, "camera "+c.ID+" live", func() error {
			_, sent := a.hub.LastFrame(deviceID(c), access.StreamMain)
			if !a.hub.Online(deviceID(c), access.StreamMain) || !sent {
				return errors.New("not yet")
			}
			return nil
		})
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

// TestAddCamera: olga adds a camera; it is hers at once, its password
// (shown once) lets a camera push to the push URL, and her listing shows
// it live; nobody else sees it. A pull source is for admins only, and
// must be an rtsp URL.
func TestAddCamera(t *testing.T) {
	a := startApp(t, "", nil)
	olga, vera := a.addUser(t, "olga"), a.addUser(t, "vera")
	status, body := a.call(t, "POST", "/api/cameras", "olga", olga, map[string]string{"name": "Garage"})
	var added struct{ ID, Name, User, Password, Push_URL string }
	if err := json.Unmarshal(body, &added); status != 201 || err != nil || added.Password == "" || added.User != added.ID {
		t.Fatalf("add: %d %s", status, body)
	}
	u, err := url.Parse(added.Push_URL)
	if err != nil || u.Scheme != "rtsp" || u.Path != "/"+added.ID {
		t.Fatalf("push URL %q", added.Push_URL)
	}
	u.User = url.UserPassword(added.User, added.Password)
	cam := &sim.Camera{URL: u.String(), ID: added.ID, Key: sim.CameraKey(stampSecret, added.ID), FPS: 15}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.RunMany(ctx, []*sim.Camera{cam}); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	testkit.WaitFor(t, 15*time.Second, "the added camera live in olga's listing", func() error {
		if c, ok := a.camerasOf(t, "olga", olga)[added.ID]; !ok || !c.Online || c.Role != "owner" || c.Name != "Garage" {
			return fmt.Errorf("olga's listing: %+v (listed %v)", c, ok)
		}
		return nil
	})
	if _, ok := a.camerasOf(t, "vera", vera)[added.ID]; ok {
		t.Error("vera sees olga's new camera")
	}
	pull := map[string]string{"name": "Gate", "source": "rtsp://u:p@192.0.2.10:554/stream1"}
	if status, _ := a.call(t, "POST", "/api/cameras", "olga", olga, pull); status != 403 {
		t.Errorf("olga adding a pull camera: %d, want 403", status)
	}
	for _, bad := range []map[string]string{{"name": "Gate", "source": "http://192.0.2.10/"}, {"name": ""}} {
		if status, _ := a.call(t, "POST", "/api/cameras", AdminName, adminPassword, bad); status != 400 {
			t.Errorf("adding %v: %d, want 400", bad, status)
		}
	}
	status, body = a.call(t, "POST", "/api/cameras", AdminName, adminPassword, pull)
	var gate struct{ ID, Password string }
	if err := json.Unmarshal(body, &gate); status != 201 || err != nil || gate.Password != "" {
		t.Fatalf("admin adds a pull camera: %d %s (no password for a camera Vigil pulls)", status, body)
	}
	d, err := a.store.Device(context.Background(), access.DeviceID(gate.ID))
	if err != nil || d.Source.Reveal() != pull["source"] || d.Owner == "" {
		t.Fatalf("the pull camera as stored: %+v, %v", d, err)
	}
}
