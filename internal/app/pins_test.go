package app

import (
	"encoding/json"
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/testkit"
)

type reviewOut struct {
	Items []struct {
		Start  time.Time  `json:"start"`
		End    time.Time  `json:"end"`
		Kinds  []string   `json:"kinds"`
		Clip   string     `json:"clip"`
		Events []eventOut `json:"events"`
	} `json:"items"`
}

// TestPinsAndReviewThroughTheAPI: olga's camera marks two overlapping
// events and, seconds later, a third: her review lists two items, the
// first with both overlapping events. She pins the first event's clip;
// its footage then counts as pinned in the camera's usage, and the event
// list shows her pin. Vera, a sharee, pins a span of her own and cannot
// see or remove olga's pin; nobody pins footage from before they could
// see the camera; a stranger pins nothing. Olga unpins; when vera's share
// ends, the next sweep drops her pin (auth's rule, through the app's
// PinHeld), and no footage is counted as pinned.
func TestPinsAndReviewThroughTheAPI(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, time.Second })
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	olga, vera, sam := a.addUser(t, "olga"), a.addUser(t, "vera"), a.addUser(t, "sam")
	claimed := a.claimFresh(t, cam, "olga", olga)
	if s, b := a.call(t, "PUT", "/api/cameras/"+cam.ID+"/shares/vera", "olga", olga, nil); s != 204 {
		t.Fatalf("share: %d %s", s, b)
	}
	pw := cameraPassword(cam)
	now := time.Now()
	_, first := a.markEvent(t, cam.ID, cam.ID, pw, map[string]any{"kind": "motion", "start": now, "end": now.Add(2 * time.Second)})
	_, second := a.markEvent(t, cam.ID, cam.ID, pw, map[string]any{"kind": "person", "start": now, "end": now.Add(time.Second)})
	time.Sleep(8 * time.Second) // past the review gap (5 s) after the first two end
	// With its own thumbnail, its start is its mark (a still taken for it
	// would move its start back to when the still was captured).
	_, third := a.markEvent(t, cam.ID, cam.ID, pw, map[string]any{"kind": "ring", "thumbnail": plainJPEG(t, color.RGBA{R: 200, A: 255})})
	if first.ID == 0 || second.ID == 0 || third.ID == 0 {
		t.Fatalf("events not marked: %+v %+v %+v", first, second, third)
	}
	var review reviewOut
	a.listOf(t, "/api/cameras/"+cam.ID+"/review", "olga", olga, &review)
	if len(review.Items) != 2 || len(review.Items[0].Events) != 2 || len(review.Items[1].Events) != 1 ||
		review.Items[1].Events[0].ID != third.ID || !review.Items[0].End.Before(review.Items[1].Start) {
		t.Fatalf("review items: %+v; want the two overlapping events, then the third", review.Items)
	}
	if k := review.Items[0].Kinds; len(k) != 2 {
		t.Errorf("the first item's kinds: %v, want motion and person", k)
	}

	pins := "/api/cameras/" + cam.ID + "/pins"
	s, b := a.call(t, "POST", pins, "olga", olga, map[string]any{"event": first.ID})
	var olgaPin struct {
		ID    int64     `json:"id"`
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	if s != 201 || json.Unmarshal(b, &olgaPin) != nil || !olgaPin.Start.Before(first.Start) || olgaPin.Start.Before(claimed) {
		t.Fatalf("olga pins an event: %d %s; want its window, from its pre-roll but not before her claim", s, b)
	}
	var listed struct {
		Events []struct {
			ID  int64 `json:"id"`
			Pin int64 `json:"pin"`
		} `json:"events"`
	}
	a.listOf(t, "/api/cameras/"+cam.ID+"/events", "olga", olga, &listed)
	for _, e := range listed.Events {
		if want := map[bool]int64{true: olgaPin.ID}[e.ID == first.ID]; e.Pin != want {
			t.Errorf("event %d listed with pin %d, want %d", e.ID, e.Pin, want)
		}
	}
	usage := func() (bytes, pinned int64) {
		t.Helper()
		var u struct {
			Bytes  int64 `json:"bytes"`
			Pinned int64 `json:"pinned_bytes"`
		}
		s, b := a.call(t, "GET", "/api/cameras/"+cam.ID+"/usage", "olga", olga, nil)
		if s != 200 || json.Unmarshal(b, &u) != nil {
			t.Fatalf("usage: %d %s", s, b)
		}
		return u.Bytes, u.Pinned
	}
	testkit.WaitFor(t, 20*time.Second, "the pinned event's footage counted", func() error {
		if n, p := usage(); p == 0 || p > n {
			return fmt.Errorf("%d bytes, %d pinned", n, p)
		}
		return nil
	})

	span := map[string]any{"start": time.Now().Add(-2 * time.Second), "end": time.Now()}
	s, b = a.call(t, "POST", pins, "vera", vera, span)
	var veraPin struct {
		ID int64 `json:"id"`
	}
	if s != 201 || json.Unmarshal(b, &veraPin) != nil {
		t.Fatalf("vera pins a span: %d %s", s, b)
	}
	if s, b := a.call(t, "GET", pins, "vera", vera, nil); s != 200 || strings.Count(string(b), `"id"`) != 1 || strings.Contains(string(b), `"event"`) {
		t.Fatalf("vera's pins: %d %s; want her span only", s, b)
	}
	path := fmt.Sprintf("%s/%d", pins, olgaPin.ID)
	if s, _ := a.call(t, "DELETE", path, "vera", vera, nil); s != 404 {
		t.Errorf("vera removes olga's pin: %d, want 404", s)
	}
	before := map[string]any{"start": claimed.Add(-time.Hour), "end": claimed.Add(-time.Second)}
	if s, _ := a.call(t, "POST", pins, "olga", olga, before); s != 400 {
		t.Errorf("olga pins footage from before her claim: %d, want 400", s)
	}
	for _, who := range []struct{ name, pw string }{{"sam", sam}} {
		if s, _ := a.call(t, "POST", pins, who.name, who.pw, map[string]any{"event": first.ID}); s != 404 {
			t.Errorf("%s pins an event of a camera they may not see: %d, want 404", who.name, s)
		}
	}
	if s, b := a.call(t, "DELETE", path, "olga", olga, nil); s != 204 {
		t.Fatalf("olga unpins: %d %s", s, b)
	}
	// The share ends: at the next sweep vera's pin holds nothing and goes.
	if s, b := a.call(t, "DELETE", "/api/cameras/"+cam.ID+"/shares/vera", "olga", olga, nil); s != 204 {
		t.Fatalf("unshare: %d %s", s, b)
	}
	if _, err := a.retention.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if left, err := a.store.Pins(t.Context(), deviceID(cam)); err != nil || len(left) != 0 {
		t.Fatalf("pins after olga unpinned and vera's share ended: %+v, %v; want none", left, err)
	}
	if _, p := usage(); p != 0 {
		t.Errorf("%d bytes pinned after every pin was removed", p)
	}
}
