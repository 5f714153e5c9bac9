package app

// Regression tests for issue 11 (items 1, 2 and part of 6): a camera that
// changes hands leaves nothing behind, a share sees nothing from before it
// began, and a revoked share's stream tokens stay dead. They use only what
// existed before ownership epochs (HTTP API, hub, stamps), so that they run,
// and fail, on the code before the fix too.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// stampTimes returns the capture times the camera stamped into nalus.
func stampTimes(t *testing.T, nalus [][]byte) []time.Time {
	t.Helper()
	var out []time.Time
	for _, n := range nalus {
		s, ok, err := sim.ParseStamp(n, sim.StaticKeys(stampSecret))
		if ok && err != nil {
			t.Fatalf("bad stamp: %v", err)
		}
		if ok {
			out = append(out, s.Time)
		}
	}
	return out
}

// claimAPI makes user the owner of the unclaimed-or-reset cam through the
// API and returns when the claim was asked for.
func (a *testApp) claimAPI(t *testing.T, cam *sim.Camera, user, pass, code string) time.Time {
	t.Helper()
	at := time.Now()
	if s, b := a.call(t, "POST", "/api/cameras/claim", user, pass, map[string]string{"code": code}); s != 200 {
		t.Fatalf("%s claims %s: %d %s", user, cam.ID, s, b)
	}
	return at
}

// uploadStill PUTs jpg as cam's still, authenticated as the camera.
func (a *testApp) uploadStill(t *testing.T, cam *sim.Camera, jpg []byte) {
	t.Helper()
	u, _ := url.Parse(cam.URL)
	pw, _ := u.User.Password()
	req, _ := http.NewRequest("PUT", a.url("/api/cameras/"+cam.ID+"/still.jpg"), bytes.NewReader(jpg))
	req.SetBasicAuth(cam.ID, pw)
	req.Header.Set("Content-Type", "image/jpeg")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("upload of %s: %d", cam.ID, res.StatusCode)
	}
}

func plainJPEG(t *testing.T, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readUnits reads up to n units from r (video units only), or what arrives
// within d.
func readUnits(r *hub.Reader, n int, d time.Duration) []*media.Unit {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*media.Unit
	for len(out) < n {
		u, err := r.Next(ctx)
		if err != nil {
			break
		}
		if u.Track == 0 {
			out = append(out, u)
		}
	}
	return out
}

// checkCapturedAfter fails if a still's X-Still-Captured is before t.
// stillHeader waits up to 10 s for user's still of camera and returns
// its header.
func stillHeader(t *testing.T, a *testApp, camera, user, password string) http.Header {
	t.Helper()
	var h http.Header
	testkit.WaitFor(t, 10*time.Second, "still of "+camera+" for "+user, func() error {
		s, hh, _ := a.get(t, "/api/cameras/"+camera+"/still.jpg", user, password)
		if s != 200 {
			return fmt.Errorf("status %d", s)
		}
		h = hh
		return nil
	})
	return h
}

func checkCapturedAfter(t *testing.T, what string, h http.Header, after time.Time) {
	t.Helper()
	captured, err := time.Parse(time.RFC3339Nano, h.Get("X-Still-Captured"))
	if err != nil {
		t.Fatalf("%s: X-Still-Captured %q: %v", what, h.Get("X-Still-Captured"), err)
	}
	if captured.Before(after) {
		t.Errorf("%s: a still captured %v, %v before it was allowed (%v)", what, captured.Format(time.RFC3339Nano),
			after.Sub(captured), after.Format(time.RFC3339Nano))
	}
}

// TestHandoverLeavesNothingBehind: olga uses a camera on every output,
// then releases it and sam claims it. Sam gets no still (uploaded or
// decoded), no hub frame (GOP cache, ReadBack), no HLS segment captured
// before his claim, and no row of olga's access history; olga's uploaded
// still is deleted, and a copy of its sealed file put back (a deletion that
// failed) no longer opens.
func TestHandoverLeavesNothingBehind(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", nil)
	cam, yard := a.addCamera(t, "porch"), a.addCamera(t, "yard") // yard only uploads stills
	a.run(t, cam)
	olga, sam := a.addUser(t, "olga"), a.addUser(t, "sam")
	ctx := context.Background()
	for _, c := range []*sim.Camera{cam, yard} {
		code, _ := auth.NewClaimCode()
		if err := a.store.ResetDevice(ctx, deviceID(c), auth.ClaimHash(code)); err != nil {
			t.Fatal(err)
		}
		a.claimAPI(t, c, "olga", olga, code)
	}
	// Olga's household uses everything: a still is uploaded and viewed,
	// the live camera's still decoded, HLS played, RTSP watched.
	olgasStill := plainJPEG(t, color.RGBA{R: 200, G: 30, B: 30})
	a.uploadStill(t, yard, olgasStill)
	testkit.WaitFor(t, 15*time.Second, "still of olga's camera for olga", func() error {
		if s, _, body := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "olga", olga); s != 200 || len(body) == 0 {
			return fmt.Errorf("status %d, %d bytes", s, len(body))
		}
		return nil
	})
	if s, _, body := a.get(t, "/api/cameras/"+yard.ID+"/still.jpg", "olga", olga); s != 200 || !bytes.Equal(body, olgasStill) {
		t.Fatalf("olga's upload: %d", s)
	}
	olgaHLS := "http://olga:" + olga + "@" + a.HTTPAddr().String() + "/api/cameras/" + cam.ID + "/hls/main/ts/index.m3u8"
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", olgaHLS, "-map", "0:v", "-c", "copy",
		"-frames:v", "5", "-f", "h264", "pipe:1").Output(); err != nil || len(out) == 0 {
		t.Fatalf("olga's HLS: %v", err)
	}
	if chk, err := readStamps(a.rtspURL("olga", olga, cam.ID), "tcp", 15); err != nil || chk.Only(cam.ID) != nil {
		t.Fatalf("olga's RTSP: %v", err)
	}
	stillFile := filepath.Join(a.cfg.DataDir, "stills", yard.ID+".main.still")
	sealed, err := os.ReadFile(stillFile)
	if err != nil {
		t.Fatalf("olga's upload on disk: %v", err)
	}

	// Olga sells both cameras; sam claims them.
	codes := map[string]string{}
	for _, c := range []*sim.Camera{cam, yard} {
		s, b := a.call(t, "DELETE", "/api/cameras/"+c.ID, "olga", olga, nil)
		var rel struct {
			Code string `json:"claim_code"`
		}
		if s != 200 || json.Unmarshal(b, &rel) != nil {
			t.Fatalf("release %s: %d %s", c.ID, s, b)
		}
		codes[c.ID] = rel.Code
	}
	if _, err := os.Stat(stillFile); !os.IsNotExist(err) {
		t.Errorf("the released camera's uploaded still is still on disk (%v)", err)
	}
	claimed := a.claimAPI(t, cam, "sam", sam, codes[cam.ID])
	a.claimAPI(t, yard, "sam", sam, codes[yard.ID])

	t.Run("hub GOP cache and ReadBack", func(t *testing.T) {
		g, err := a.grantFor(ctx, "sam", deviceID(cam), access.AudienceWeb)
		if err != nil {
			t.Fatal(err)
		}
		var r *hub.Reader
		testkit.WaitFor(t, 10*time.Second, "return of sam's camera", func() (err error) {
			r, err = a.hub.ReadBack(g, access.StreamMain)
			return err
		})
		defer r.Close()
		units := readUnits(r, 20, 8*time.Second)
		if len(units) == 0 {
			t.Fatal("sam got no frame")
		}
		for i, u := range units {
			for _, st := range stampTimes(t, u.Payload) {
				if st.Before(claimed) {
					t.Fatalf("frame %d (key %v) the camera captured %v before sam's claim", i, u.Key, claimed.Sub(st))
				}
			}
		}
	})

	t.Run("decoded still", func(t *testing.T) {
		checkCapturedAfter(t, "sam's still", stillHeader(t, a, cam.ID, "sam", sam), claimed)
	})

	t.Run("HLS", func(t *testing.T) {
		samHLS := "http://sam:" + sam + "@" + a.HTTPAddr().String() + "/api/cameras/" + cam.ID + "/hls/main/ts/index.m3u8"
		out, err := exec.Command("ffmpeg", "-v", "error", "-live_start_index", "0", "-i", samHLS,
			"-map", "0:v", "-c", "copy", "-frames:v", "10", "-f", "h264", "pipe:1").Output()
		if err != nil {
			t.Fatalf("sam's HLS: %v", err)
		}
		times := stampTimes(t, sim.SplitAnnexB(out))
		if len(times) == 0 {
			t.Fatal("no stamped frame in sam's HLS")
		}
		for i, st := range times {
			if st.Before(claimed) {
				t.Fatalf("HLS frame %d was captured %v before sam's claim", i, claimed.Sub(st))
			}
		}
	})

	t.Run("uploaded still, even if its file survived", func(t *testing.T) {
		// A deletion that failed: the old epoch's sealed file is back.
		if err := os.WriteFile(stillFile, sealed, 0o600); err != nil {
			t.Fatal(err)
		}
		s, h, body := a.get(t, "/api/cameras/"+yard.ID+"/still.jpg", "sam", sam)
		if bytes.Equal(body, olgasStill) {
			t.Fatalf("sam got olga's uploaded still, byte for byte (%d, fallback %q)", s, h.Get("X-Still-Fallback"))
		}
		if s == 200 {
			checkCapturedAfter(t, "sam's yard still", h, claimed)
		}
	})

	t.Run("access history", func(t *testing.T) {
		s, b := a.call(t, "GET", "/api/cameras/"+cam.ID+"/access", "sam", sam, nil)
		var rows []struct {
			User    string    `json:"user"`
			Started time.Time `json:"started"`
		}
		if s != 200 || json.Unmarshal(b, &rows) != nil {
			t.Fatalf("sam's history: %d %s", s, b)
		}
		for _, r := range rows {
			if r.User == "olga" || r.Started.Before(claimed) {
				t.Errorf("sam sees a row of the old ownership: %+v", r)
			}
		}
	})
}

// TestShareSeesNothingFromBeforeIt: a viewer whose share was just created
// gets no frame of the GOP cache captured before the share; the replay
// starts at the first keyframe after it, which comes within one GOP.
func TestShareSeesNothingFromBeforeIt(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	olga, vera := a.addUser(t, "olga"), a.addUser(t, "vera")
	code, _ := auth.NewClaimCode()
	if err := a.store.ResetDevice(context.Background(), deviceID(cam), auth.ClaimHash(code)); err != nil {
		t.Fatal(err)
	}
	a.claimAPI(t, cam, "olga", olga, code)
	ctx := context.Background()
	g0, err := a.grantFor(ctx, "olga", deviceID(cam), access.AudienceWeb)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "return of olga's camera", func() error {
		_, err := a.hub.Keyframe(g0, access.StreamMain)
		return err
	})
	time.Sleep(300 * time.Millisecond) // the cached GOP holds frames before the share

	shared := time.Now()
	if s, b := a.call(t, "PUT", "/api/cameras/"+cam.ID+"/shares/vera", "olga", olga, nil); s != 204 {
		t.Fatalf("share: %d %s", s, b)
	}
	g, err := a.grantFor(ctx, "vera", deviceID(cam), access.AudienceWeb)
	if err != nil {
		t.Fatal(err)
	}
	for _, back := range []bool{false, true} {
		read := a.hub.Read
		if back {
			read = a.hub.ReadBack
		}
		r, err := read(g, access.StreamMain)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		units := readUnits(r, 5, 6*time.Second)
		r.Close()
		if len(units) == 0 {
			t.Fatalf("back=%v: vera got no picture", back)
		}
		if !units[0].Key {
			t.Errorf("back=%v: vera's first frame is not a keyframe", back)
		}
		if wait := time.Since(start); wait > 5*time.Second {
			t.Errorf("back=%v: vera waited %v for her first frames (a GOP is 2 s)", back, wait)
		}
		for i, u := range units {
			for _, st := range stampTimes(t, u.Payload) {
				if st.Before(shared) {
					t.Fatalf("back=%v: frame %d was captured %v before vera's share", back, i, shared.Sub(st))
				}
			}
		}
	}
	// Her still, once there is one, is from after the share too.
	checkCapturedAfter(t, "vera's still", stillHeader(t, a, cam.ID, "vera", vera), shared)
}

// TestTokenOfRevokedShareStaysDeadAfterReshare: a stream token minted
// under a share that was revoked does not work again when the share is
// granted again; a token minted under the new share does.
func TestTokenOfRevokedShareStaysDeadAfterReshare(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	olga, vera := a.addUser(t, "olga"), a.addUser(t, "vera")
	code, _ := auth.NewClaimCode()
	if err := a.store.ResetDevice(context.Background(), deviceID(cam), auth.ClaimHash(code)); err != nil {
		t.Fatal(err)
	}
	a.claimAPI(t, cam, "olga", olga, code)
	shares := "/api/cameras/" + cam.ID + "/shares/vera"
	if s, b := a.call(t, "PUT", shares, "olga", olga, nil); s != 204 {
		t.Fatalf("share: %d %s", s, b)
	}
	mint := func() string {
		t.Helper()
		s, b := a.call(t, "POST", "/api/cameras/"+cam.ID+"/tokens", "vera", vera, map[string]any{})
		var out struct {
			URLs map[string]string `json:"urls"`
		}
		if s != 200 || json.Unmarshal(b, &out) != nil || out.URLs["still"] == "" {
			t.Fatalf("vera mints a token: %d %s", s, b)
		}
		return out.URLs["still"]
	}
	// still fetches u until it answers other than 503 (no still yet) or
	// 404 (the camera not back yet).
	still := func(what, u string) int {
		t.Helper()
		var s int
		testkit.WaitFor(t, 10*time.Second, "answer but 503 or 404 to the "+what, func() error {
			if s, _, _ = a.get(t, u, "", ""); s == http.StatusServiceUnavailable || s == http.StatusNotFound {
				return fmt.Errorf("status %d", s)
			}
			return nil
		})
		return s
	}
	old := mint()
	if s := still("token under the first share", old); s != 200 {
		t.Fatalf("token under the first share: %d", s)
	}
	if s, _ := a.call(t, "DELETE", shares, "olga", olga, nil); s != 204 {
		t.Fatalf("unshare: %d", s)
	}
	if s, _, _ := a.get(t, old, "", ""); s == 200 {
		t.Fatal("token worked after the share was revoked")
	}
	time.Sleep(10 * time.Millisecond)
	if s, b := a.call(t, "PUT", shares, "olga", olga, nil); s != 204 {
		t.Fatalf("share again: %d %s", s, b)
	}
	if s, _, body := a.get(t, old, "", ""); s == 200 || len(body) > 0 && bytes.HasPrefix(body, []byte{0xff, 0xd8}) {
		t.Fatalf("a token minted under the revoked share works again after a re-share: %d", s)
	}
	if s := still("token under the new share", mint()); s != 200 {
		t.Fatalf("token under the new share: %d", s)
	}
}
