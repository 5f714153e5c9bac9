package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/household"
	"vigil/internal/sim"
)

// whepOffer is a complete offer of a viewer that never connects: enough
// for the access matrix, which only looks at who gets an answer.
func whepOffer(t *testing.T) string {
	t.Helper()
	v := newWebRTCViewer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sdp, err := v.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sdp
}

func newWebRTCViewer(t *testing.T, audio bool) *sim.WebRTCViewer {
	t.Helper()
	v, err := sim.NewWebRTCViewer(sim.StaticKeys(stampSecret), sim.WebRTCOptions{Audio: audio})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// viewEnds waits for v's connection to close after what ended its view
// (the call returned at ended) and fails if v got a frame of camera
// captured more than a second after that: the view ended at once. It
// judges by the camera's capture stamps, not by frames arriving in a
// wall-clock window: a loaded machine delivers frames captured before the
// end late (CI counted 29 arriving after a DISCONNECT once).
func viewEnds(t *testing.T, v *sim.WebRTCViewer, camera string, ended time.Time, what string) {
	t.Helper()
	select {
	case <-v.Gone():
	case <-time.After(10 * time.Second):
		t.Fatalf("the view stayed open 10 s after %s: %d units", what, v.Stats().Units)
	}
	if late := v.Checker().Stats()[camera].Latest.Sub(ended); late > time.Second {
		t.Fatalf("the view got a frame captured %v after %s", late.Round(time.Millisecond), what)
	}
	t.Logf("the view ended %v after %s", time.Since(ended).Round(time.Millisecond), what)
}

// postOffer posts an SDP offer to a camera's WHEP endpoint.
func (a *testApp) postOffer(t *testing.T, camera, sdp, ctype string, prepare func(*http.Request)) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", a.url("/api/cameras/"+camera+"/whep"), strings.NewReader(sdp))
	req.Header.Set("Content-Type", ctype)
	prepare(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// whep posts an offer and returns the session's URL path (Location).
func (a *testApp) whep(t *testing.T, camera, sdp string, prepare func(*http.Request)) string {
	t.Helper()
	loc, _ := a.whepAnswer(t, camera, sdp, prepare)
	return loc
}

// whepAnswer posts an offer and returns the session's URL path and the answer.
func (a *testApp) whepAnswer(t *testing.T, camera, sdp string, prepare func(*http.Request)) (string, string) {
	t.Helper()
	res := a.postOffer(t, camera, sdp, "application/sdp", prepare)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusCreated || res.Header.Get("Content-Type") != "application/sdp" ||
		!strings.HasPrefix(loc, "/api/cameras/"+camera+"/whep/") {
		t.Fatalf("WHEP offer: %d %v %s", res.StatusCode, res.Header, body)
	}
	return loc, string(body)
}

// playWHEP has a pion viewer play camera c over WHEP as the principal of
// as, checks what it got, and hangs up with DELETE.
func (a *testApp) playWHEP(t *testing.T, c *sim.Camera, as func(*http.Request)) {
	t.Helper()
	v := newWebRTCViewer(t, c.Audio)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sdp, err := v.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	posted := time.Now()
	loc, answer := a.whepAnswer(t, c.ID, sdp, as)
	if err := v.Accept(answer); err != nil {
		t.Fatal(err)
	}
	if err := v.WaitUnits(ctx, 30); err != nil {
		t.Fatal(err)
	}
	st := v.Stats()
	t.Logf("offer posted to first frame %v; %d units, %d packets, %d lost, %d audio packets (%s)",
		st.FirstUnit.Sub(posted).Round(time.Millisecond), st.Units, st.VideoPackets, st.Lost, st.AudioPackets, st.AudioCodec)
	if !st.FirstKey || !st.FirstParams {
		t.Fatalf("first unit: keyframe %v, SPS and PPS %v", st.FirstKey, st.FirstParams)
	}
	if err := v.Checker().Only(c.ID); err != nil {
		t.Fatalf("stamps %v: %v", v.Checker().Counts(), err)
	}
	if c.Audio && st.AudioPackets == 0 {
		t.Fatal("no audio")
	}
	for _, want := range []int{204, 404} {
		if code, _, body := a.try(t, "DELETE", loc, "", as); code != want {
			t.Fatalf("DELETE %s: %d, want %d (%s)", loc, code, want, body)
		}
	}
	select {
	case <-v.Gone():
	case <-time.After(5 * time.Second):
		t.Fatal("the viewer's connection outlived DELETE")
	}
}

// TestWHEPEndToEnd: a Go pion viewer plays each camera over WHEP through
// the HTTP API: only that camera's stamps, a keyframe with its parameter
// sets first, audio when the camera has it; the viewing session is in the
// owner's access history with its bytes; DELETE hangs up.
func TestWHEPEndToEnd(t *testing.T) {
	a := startApp(t, "", nil)
	cams := []*sim.Camera{a.addCamera(t, "one"), a.addCamera(t, "two")}
	cams[1].Audio = true
	a.run(t, cams...)
	pw := a.addUser(t, "olga")
	ctx := context.Background()
	code, _ := auth.NewClaimCode()
	a.store.ResetDevice(ctx, deviceID(cams[1]), auth.ClaimHash(code))
	if _, err := a.auth.Claim(ctx, a.callerNamed(ctx, "olga"), code, a.households()); err != nil {
		t.Fatal(err)
	}
	a.waitBack(t, deviceID(cams[1]))
	olga := func(r *http.Request) { r.SetBasicAuth("olga", pw) }
	admin := func(r *http.Request) { r.SetBasicAuth(AdminName, adminPassword) }
	for i, c := range cams {
		as := admin
		if i == 1 {
			as = olga
		}
		t.Run(c.ID, func(t *testing.T) { a.playWHEP(t, c, as) })
	}
	var h []household.AccessView
	if s, b := a.call(t, "GET", "/api/cameras/"+cams[1].ID+"/access", "olga", pw, nil); s != 200 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("history: %d %s", s, b)
	}
	if len(h) != 1 || h[0].Output != "webrtc" || h[0].User != "olga" || h[0].Bytes <= 0 || h[0].Ended.IsZero() {
		t.Fatalf("history: %+v, want one ended webrtc session with its bytes", h)
	}
}

// TestWHEPRefusals: what the WHEP endpoint says to requests it cannot
// serve, none of them with an answer.
func TestWHEPRefusals(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.WebRTCMaxSessionsPerUser = 1 })
	live, off := a.addCamera(t, "live"), a.addCamera(t, "offline")
	a.run(t, live)
	admin := func(r *http.Request) { r.SetBasicAuth(AdminName, adminPassword) }
	good := whepOffer(t)
	cases := []struct {
		name, camera, sdp, ctype string
		want                     int
	}{
		{"not SDP", live.ID, "hello", "application/sdp", 400},
		{"no H.264", live.ID, strings.ReplaceAll(good, "H264/90000", "XYZ/90000"), "application/sdp", 400},
		{"wrong content type", live.ID, good, "application/json", 415},
		{"too large", live.ID, good + strings.Repeat("a=x-padding\r\n", 6000), "application/sdp", 413},
		{"offline camera", off.ID, good, "application/sdp", 503},
		{"no such camera", "no-such-camera", good, "application/sdp", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := a.postOffer(t, tc.camera, tc.sdp, tc.ctype, admin)
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.want || carriesMedia(res.Header.Get("Content-Type"), body) {
				t.Fatalf("%d %s, want %d without an answer", res.StatusCode, body, tc.want)
			}
			t.Logf("%d %s", res.StatusCode, strings.TrimSpace(string(body)))
		})
	}
	t.Run("one session per user", func(t *testing.T) {
		loc := a.whep(t, live.ID, good, admin)
		res := a.postOffer(t, live.ID, good, "application/sdp", admin)
		res.Body.Close()
		if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
			t.Fatalf("second session: %d %v, want 503 with Retry-After", res.StatusCode, res.Header)
		}
		if code, _, _ := a.try(t, "DELETE", loc, "", admin); code != 204 {
			t.Fatalf("DELETE: %d", code)
		}
		a.whep(t, live.ID, good, admin) // the place was given back
	})
	t.Run("no trickle ICE", func(t *testing.T) {
		req, _ := http.NewRequest("PATCH", a.url("/api/cameras/"+live.ID+"/whep/x"), strings.NewReader("a=candidate:1"))
		req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
		admin(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 405 {
			t.Fatalf("PATCH: %d, want 405", res.StatusCode)
		}
	})
}
