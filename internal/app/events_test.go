package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"net/http"
	"net/url"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

type eventOut struct {
	ID    int64          `json:"id"`
	Kind  string         `json:"kind"`
	Start time.Time      `json:"start"`
	Score float64        `json:"score"`
	Thumb string         `json:"thumb"`
	Clip  string         `json:"clip"`
	Clips []timelineSpan `json:"clips"`
}

// cameraPassword is the push password in cam's URL.
func cameraPassword(cam *sim.Camera) string {
	u, _ := url.Parse(cam.URL)
	pw, _ := u.User.Password()
	return pw
}

// markEvent POSTs an event of cam as user (the camera itself when user is
// its id) and returns the status and the event.
func (a *testApp) markEvent(t *testing.T, cam, user, pass string, body map[string]any) (int, eventOut) {
	t.Helper()
	code, b := a.call(t, "POST", "/api/cameras/"+cam+"/events", user, pass, body)
	var e eventOut
	if code == 201 {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
	}
	return code, e
}

// eventsOf is cam's event list as user sees it.
func (a *testApp) eventsOf(t *testing.T, cam, user, pass string) []eventOut {
	t.Helper()
	var out struct{ Events []eventOut }
	a.listOf(t, "/api/cameras/"+cam+"/events", user, pass, &out)
	return out.Events
}

// TestEventsStayWithTheirEpoch: olga records her camera around events
// only; the camera marks an event with its thumbnail, she marks one
// without (it gets the camera's still). She lists both, with their
// thumbnails and clips that start with the pre-roll and hold only the
// camera's stamps. She releases the camera and sam claims it: sam lists
// none of them, and neither he nor olga fetches their thumbnails or clips.
func TestEventsStayWithTheirEpoch(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, time.Second })
	cam := a.addCamera(t, "porch")
	cam.GOP = cam.FPS / 2
	a.run(t, cam)
	olga, sam := a.addUser(t, "olga"), a.addUser(t, "sam")
	a.claimFresh(t, cam, "olga", olga)
	path := "/api/cameras/" + cam.ID + "/continuous"
	if s, b := a.call(t, "PUT", path, "olga", olga, map[string]bool{"main": false}); s != 200 {
		t.Fatalf("PUT continuous: %d %s", s, b)
	}
	if s, b := a.call(t, "GET", path, "olga", olga, nil); s != 200 || string(bytes.TrimSpace(b)) != `{"main":false,"sub":false}` {
		t.Fatalf("GET continuous: %d %s", s, b)
	}
	// The recorder ends its continuous recording at a keyframe within
	// two seconds and keeps a pre-roll (5 s) from then on: a clip that
	// starts within it, after the continuous recording, is the pre-roll's.
	time.Sleep(8 * time.Second)
	thumb := plainJPEG(t, color.RGBA{G: 200, A: 255})
	s, byCam := a.markEvent(t, cam.ID, cam.ID, cameraPassword(cam), map[string]any{"kind": "person", "score": 0.9, "thumbnail": thumb})
	if s != 201 || byCam.Thumb == "" {
		t.Fatalf("the camera marks an event: %d %+v", s, byCam)
	}
	s, byOlga := a.markEvent(t, cam.ID, "olga", olga, map[string]any{"kind": "ring"})
	if s != 201 || byOlga.Thumb == "" {
		t.Fatalf("olga marks an event: %d %+v", s, byOlga)
	}
	for _, bad := range []map[string]any{{"kind": "party"}, {"kind": "motion", "score": 2}, {"kind": "motion", "thumbnail": []byte("not a jpeg")}} {
		if s, _ := a.markEvent(t, cam.ID, cam.ID, cameraPassword(cam), bad); s != 400 {
			t.Errorf("event %v: %d, want 400", bad, s)
		}
	}
	var evs []eventOut
	testkit.WaitFor(t, 20*time.Second, "olga's events with their clips", func() error {
		evs = a.eventsOf(t, cam.ID, "olga", olga)
		if len(evs) != 2 || len(evs[0].Clips) == 0 || len(evs[1].Clips) == 0 {
			return fmt.Errorf("%+v", evs)
		}
		return nil
	})
	// Listed by start: olga's starts when its thumbnail, the camera's
	// still, was taken, which may be before the camera's own mark.
	if evs[0].ID == byOlga.ID {
		evs[0], evs[1] = evs[1], evs[0]
	}
	if evs[0].ID != byCam.ID || evs[0].Kind != "person" || evs[0].Score != 0.9 || evs[1].ID != byOlga.ID {
		t.Fatalf("olga's events: %+v", evs)
	}
	if s, _, b := a.get(t, byCam.Thumb, "olga", olga); s != 200 || !bytes.Equal(b, thumb) {
		t.Fatalf("the camera's thumbnail for olga: %d, %d bytes", s, len(b))
	}
	if s, _, b := a.get(t, byOlga.Thumb, "olga", olga); s != 200 || !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
		t.Fatalf("the still taken for olga's event: %d, %d bytes", s, len(b))
	}
	clip := evs[0].Clips[0]
	if before := evs[0].Start.Sub(clip.Start); before < 4*time.Second || before > 7500*time.Millisecond {
		t.Errorf("the event's first clip starts %v before it; want the pre-roll, 5 s (and a GOP, and the recorder's lag)", before)
	}
	s, _, body := a.get(t, clip.URL, "olga", olga)
	if s != 200 {
		t.Fatalf("the event's first recording: %d", s)
	}
	checkClip(t, body, cam.ID)
	s, _, body = a.get(t, evs[0].Clip, "olga", olga)
	if s != 200 {
		t.Fatalf("the event's clip: %d", s)
	}
	if times := checkClip(t, body, cam.ID); evs[0].Start.Sub(times[0]) < 4*time.Second {
		t.Errorf("the event's clip starts %v before it; want its pre-roll", evs[0].Start.Sub(times[0]))
	}

	a.claimAPI(t, cam, "sam", sam, a.releaseAPI(t, cam, "olga", olga))
	if got := a.eventsOf(t, cam.ID, "sam", sam); len(got) != 0 {
		t.Fatalf("sam lists %d events of olga's", len(got))
	}
	for _, p := range []string{byCam.Thumb, byOlga.Thumb, clip.URL, evs[0].Clip} {
		for _, u := range []struct{ name, pw string }{{"sam", sam}, {"olga", olga}} {
			if s, _, b := a.get(t, p, u.name, u.pw); s != 404 || bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
				t.Errorf("%s fetches %s after the handover: %d, want 404", u.name, p, s)
			}
		}
	}
	if got := metricSum(t, a, "vigil_isolation_violations_total"); got != 0 {
		t.Fatalf("%v isolation violations", got)
	}
}

// TestEventFloodIsBounded: a camera that marks events as fast as it can
// gets a burst of them kept; the rest are refused with 429 and counted.
func TestEventFloodIsBounded(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.Record = true })
	cam := a.addCamera(t, "porch")
	kept, refused := 0, 0
	for range 40 {
		switch s, _ := a.markEvent(t, cam.ID, cam.ID, cameraPassword(cam), map[string]any{"kind": "motion"}); s {
		case 201:
			kept++
		case 429:
			refused++
		default:
			t.Fatalf("event: %d", s)
		}
	}
	if kept < 10 || kept > 13 || refused != 40-kept {
		t.Fatalf("40 events at once: %d kept, %d refused; want the burst of 10 (and what refilled) kept", kept, refused)
	}
	if got := metricSum(t, a, "vigil_events_refused_total"); got != float64(refused) {
		t.Fatalf("vigil_events_refused_total = %v, want %d", got, refused)
	}
	if s, _ := a.markEvent(t, cam.ID, cam.ID, "wrong", map[string]any{"kind": "motion"}); s != 401 {
		t.Fatalf("an event with the wrong camera password: %d, want 401", s)
	}
	if got := a.eventsOf(t, cam.ID, AdminName, adminPassword); len(got) != kept {
		t.Fatalf("%d events listed, %d kept", len(got), kept)
	}
}

// TestStillUploadMarksAnEvent: a camera's still upload with ?event=ring
// keeps the still and marks an event with it as the thumbnail; a kind
// that is not one is refused before anything is kept.
func TestStillUploadMarksAnEvent(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.Record = true })
	cam := a.addCamera(t, "door")
	put := func(query string, jpg []byte) int {
		t.Helper()
		req, _ := http.NewRequest("PUT", a.url("/api/cameras/"+cam.ID+"/still.jpg"+query), bytes.NewReader(jpg))
		req.SetBasicAuth(cam.ID, cameraPassword(cam))
		req.Header.Set("Content-Type", "image/jpeg")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	jpg := plainJPEG(t, color.RGBA{R: 250, G: 200, A: 255})
	if s := put("?event=party", jpg); s != 400 {
		t.Fatalf("an upload marking no kind of event: %d, want 400", s)
	}
	if s := put("?event=ring", jpg); s != 201 {
		t.Fatalf("an upload marking a ring: %d, want 201", s)
	}
	evs := a.eventsOf(t, cam.ID, AdminName, adminPassword)
	if len(evs) != 1 || evs[0].Kind != "ring" || evs[0].Thumb == "" {
		t.Fatalf("events: %+v", evs)
	}
	if s, _, b := a.get(t, evs[0].Thumb, AdminName, adminPassword); s != 200 || !bytes.Equal(b, jpg) {
		t.Fatalf("the event's thumbnail: %d, %d bytes", s, len(b))
	}
	if s, _, b := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", AdminName, adminPassword); s != 200 || !bytes.Equal(b, jpg) {
		t.Fatalf("the still: %d, %d bytes", s, len(b))
	}
}
