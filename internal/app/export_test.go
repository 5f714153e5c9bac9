package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/testkit"
)

// exportItem is an export as GET /api/exports lists it.
type exportItem struct {
	ID       int64     `json:"id"`
	Camera   string    `json:"camera"`
	Name     string    `json:"name"`
	Released time.Time `json:"released"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Size     int64     `json:"size"`
	Deadline time.Time `json:"deadline"`
}

// exportsOf is user's list of exports.
func (a *testApp) exportsOf(t *testing.T, user, pass string) []exportItem {
	t.Helper()
	var out struct{ Exports []exportItem }
	a.listOf(t, "/api/exports", user, pass, &out)
	return out.Exports
}

// TestExportAfterRelease: olga releases her camera keeping her recordings
// for two days, and sam claims it. Olga still lists the export (the
// camera's name at the release, its span and size, the deadline), reads
// its timeline and downloads its recordings whole and by Range — ffmpeg
// finds only that camera's stamps, every one captured before the release.
// Sam, who owns the camera now, and vera, another household, list nothing
// and are refused (404) its timeline, recordings and deletion, as olga is
// a forged id; sam's own recordings are not in it and his access history
// does not show olga's reads. Olga deletes it: gone at once.
func TestExportAfterRelease(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, time.Second })
	cam := a.addCamera(t, "porch")
	cam.GOP = cam.FPS / 2
	a.run(t, cam)
	olga, sam, vera := a.addUser(t, "olga"), a.addUser(t, "sam"), a.addUser(t, "vera")
	a.claimFresh(t, cam, "olga", olga)
	testkit.WaitFor(t, 20*time.Second, "two recordings of olga's", func() error {
		if n := len(a.timelineOf(t, cam.ID, "olga", olga)); n < 2 {
			return fmt.Errorf("%d", n)
		}
		return nil
	})
	// An event of olga's with its thumbnail, marked by the camera.
	olgaJPEG := []byte{0xff, 0xd8, 'o', 'l', 'g', 'a', 0xff, 0xd9}
	s, olgaEv := a.markEvent(t, cam.ID, cam.ID, cameraPassword(cam), map[string]any{"kind": "ring", "thumbnail": olgaJPEG})
	if s != 201 {
		t.Fatalf("the camera marks an event: %d", s)
	}
	s, b := a.call(t, "DELETE", "/api/cameras/"+cam.ID+"?keep_days=31", "olga", olga, nil)
	if s != 400 {
		t.Fatalf("keeping for 31 days: %d %s, want 400", s, b)
	}
	s, b = a.call(t, "DELETE", "/api/cameras/"+cam.ID+"?keep_days=2", "olga", olga, nil)
	var rel struct {
		Code string `json:"claim_code"`
	}
	if s != 200 || json.Unmarshal(b, &rel) != nil {
		t.Fatalf("release keeping two days: %d %s", s, b)
	}
	released := time.Now()
	claimed := a.claimAPI(t, cam, "sam", sam, rel.Code)

	list := a.exportsOf(t, "olga", olga)
	if len(list) != 1 {
		t.Fatalf("olga's exports: %+v", list)
	}
	ex := list[0]
	if ex.Camera != cam.ID || ex.Name != "porch" || ex.Size == 0 || ex.Released.After(released) || !ex.Last.After(ex.First) ||
		ex.Deadline.Sub(ex.Released) < 47*time.Hour || ex.Deadline.Sub(ex.Released) > 49*time.Hour {
		t.Fatalf("olga's export: %+v", ex)
	}
	for _, u := range [][2]string{{"sam", sam}, {"vera", vera}} {
		if l := a.exportsOf(t, u[0], u[1]); len(l) != 0 {
			t.Fatalf("%s lists exports %+v", u[0], l)
		}
	}
	path := fmt.Sprintf("/api/exports/%d/recordings", ex.ID)
	var tl struct{ Spans []timelineSpan }
	a.listOf(t, path, "olga", olga, &tl)
	if len(tl.Spans) < 2 {
		t.Fatalf("the export's timeline: %+v", tl.Spans)
	}
	for _, sp := range tl.Spans {
		if sp.End.After(ex.Released) {
			t.Errorf("export span %d ends %v, after the release %v", sp.ID, sp.End, ex.Released)
		}
	}
	whole := checkDownloadAs(t, a, tl.Spans[0], cam.ID, "olga", olga)
	for _, st := range checkClip(t, whole, cam.ID) {
		if !st.Before(ex.Released) {
			t.Fatalf("the export holds a frame captured %v, at or after the release %v", st, ex.Released)
		}
	}

	// Sam records; none of it is the export's.
	var sams []timelineSpan
	testkit.WaitFor(t, 20*time.Second, "a recording of sam's", func() error {
		if sams = a.timelineOf(t, cam.ID, "sam", sam); len(sams) == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	var again struct{ Spans []timelineSpan }
	a.listOf(t, path, "olga", olga, &again)
	if !slices.Equal(again.Spans, tl.Spans) {
		t.Fatalf("the export's timeline changed after sam's claim: %+v", again.Spans)
	}
	for _, sp := range sams {
		if sp.Start.Before(claimed.Add(-time.Second)) {
			t.Errorf("sam lists a recording from %v, before his claim", sp.Start)
		}
		if s, _, _ := a.get(t, fmt.Sprintf("%s/%d/video.mp4?stream=main", path, sp.ID), "olga", olga); s != 404 {
			t.Errorf("olga fetches sam's recording %d through her export: %d", sp.ID, s)
		}
	}
	// The export keeps olga's event and its thumbnail, and no event of
	// sam's; sam's list does not show hers.
	s, samEv := a.markEvent(t, cam.ID, cam.ID, cameraPassword(cam), map[string]any{"kind": "motion", "thumbnail": []byte{0xff, 0xd8, 's', 0xff, 0xd9}})
	if s != 201 {
		t.Fatalf("the camera marks an event for sam: %d", s)
	}
	evPath := fmt.Sprintf("/api/exports/%d/events", ex.ID)
	var kept struct{ Events []eventOut }
	a.listOf(t, evPath, "olga", olga, &kept)
	if len(kept.Events) != 1 || kept.Events[0].ID != olgaEv.ID || kept.Events[0].Kind != "ring" ||
		kept.Events[0].Thumb != fmt.Sprintf("%s/%d/thumb.jpg", evPath, olgaEv.ID) {
		t.Fatalf("the export's events: %+v; want olga's %d", kept.Events, olgaEv.ID)
	}
	for _, c := range kept.Events[0].Clips {
		if !strings.HasPrefix(c.URL, fmt.Sprintf("/api/exports/%d/recordings/", ex.ID)) {
			t.Errorf("the export's event links %s", c.URL)
		}
	}
	if s, _, body := a.get(t, kept.Events[0].Thumb, "olga", olga); s != 200 || !bytes.Equal(body, olgaJPEG) {
		t.Fatalf("olga's kept thumbnail: %d %x", s, body)
	}
	for _, e := range a.eventsOf(t, cam.ID, "sam", sam) {
		if e.ID != samEv.ID {
			t.Errorf("sam lists event %d, not his", e.ID)
		}
	}
	forged := fmt.Sprintf("/api/exports/%d/recordings", ex.ID+1)
	for _, try := range []struct{ user, pass, path string }{
		{"sam", sam, evPath}, {"vera", vera, evPath}, {"sam", sam, kept.Events[0].Thumb}, {"vera", vera, kept.Events[0].Thumb},
		{"olga", olga, fmt.Sprintf("/api/exports/%d/events", ex.ID+1)},
		{"olga", olga, fmt.Sprintf("%s/%d/thumb.jpg", evPath, samEv.ID)},
		{"sam", sam, fmt.Sprintf("/api/cameras/%s/events/%d/thumb.jpg", cam.ID, olgaEv.ID)},
	} {
		if s, _, body := a.get(t, try.path, try.user, try.pass); s != 404 || bytes.Contains(body, olgaJPEG) {
			t.Errorf("%s GET %s: %d, want 404", try.user, try.path, s)
		}
	}
	for _, try := range []struct{ user, pass, path string }{
		{"sam", sam, path}, {"vera", vera, path}, {"sam", sam, tl.Spans[0].URL}, {"vera", vera, tl.Spans[0].URL},
		{"olga", olga, forged},
	} {
		if s, _, body := a.get(t, try.path, try.user, try.pass); s != 404 || carriesMedia("", body) {
			t.Errorf("%s GET %s: %d, want 404", try.user, try.path, s)
		}
	}
	for _, u := range [][2]string{{"sam", sam}, {"vera", vera}} {
		if s, _ := a.call(t, "DELETE", fmt.Sprintf("/api/exports/%d", ex.ID), u[0], u[1], nil); s != 404 {
			t.Errorf("%s deletes olga's export: %d, want 404", u[0], s)
		}
	}
	s, b = a.call(t, "GET", "/api/cameras/"+cam.ID+"/access", "sam", sam, nil)
	var hist []struct {
		User   string `json:"user"`
		Output string `json:"output"`
	}
	if s != 200 || json.Unmarshal(b, &hist) != nil {
		t.Fatalf("sam's access history: %d %s", s, b)
	}
	for _, h := range hist {
		if h.User == "olga" {
			t.Fatalf("sam's access history shows olga: %+v", h)
		}
	}

	if s, b := a.call(t, "DELETE", fmt.Sprintf("/api/exports/%d", ex.ID), "olga", olga, nil); s != 204 {
		t.Fatalf("olga deletes her export: %d %s", s, b)
	}
	if s, _, _ := a.get(t, path, "olga", olga); s != 404 {
		t.Fatalf("the deleted export's timeline: %d", s)
	}
	if l := a.exportsOf(t, "olga", olga); len(l) != 0 {
		t.Fatalf("olga's exports after the delete: %+v", l)
	}
	if s, _ := a.getRangeAs(t, tl.Spans[0].URL, "", "olga", olga); s != 404 {
		t.Fatalf("the deleted export's recording: %d", s)
	}
	if s, _, _ := a.get(t, kept.Events[0].Thumb, "olga", olga); s != 404 {
		t.Fatalf("the deleted export's thumbnail: %d", s)
	}
	if _, err := a.store.Event(t.Context(), olgaEv.ID); err == nil {
		t.Fatal("the deleted export's event is still filed")
	}
	if got := metricSum(t, a, "vigil_isolation_violations_total"); got != 0 {
		t.Fatalf("%v isolation violations", got)
	}
}
