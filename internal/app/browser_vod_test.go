package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/config"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// TestHLSJSPlaysAndSeeksAVODPlaylist: hls.js in Chromium plays the HLS
// VOD playlist of a camera's recordings from a stream token's URL (another
// origin), and after a seek into a later recording, across the playlist's
// discontinuity, it plays on from there: the camera's picture both times.
func TestHLSJSPlaysAndSeeksAVODPlaylist(t *testing.T) {
	needChromium(t)
	pages := webPlayerServer(t)
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, 2*time.Second })
	cam := a.addCamera(t, "porch")
	cam.GOP = cam.FPS / 2
	a.run(t, cam)
	spans := a.recordedN(t, cam.ID, 3)
	code, body := a.call(t, "POST", "/api/cameras/"+cam.ID+"/tokens", AdminName, adminPassword, map[string]any{})
	var tok struct{ Token string }
	if code != 200 || json.Unmarshal(body, &tok) != nil || tok.Token == "" {
		t.Fatalf("token: %d %s", code, body)
	}
	q := url.Values{"token": {tok.Token}, "from": {spans[0].Start.UTC().Format(time.RFC3339Nano)},
		"to": {spans[2].End.UTC().Format(time.RFC3339Nano)}}
	vod := a.url("/api/cameras/" + cam.ID + "/recordings/vod.m3u8?" + q.Encode())
	tab := startChromium(t)
	if got := watch(t, tab, pages+"/play/hls.js?src="+url.QueryEscape(vod)); got != sim.CodeFor(cam.ID) {
		t.Fatalf("hls.js showed block code %x, want %x", got, sim.CodeFor(cam.ID))
	}
	// Half a second into the third recording.
	to := spans[2].Start.Sub(spans[0].Start).Seconds() + 0.5
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { v.currentTime = %f; v.play(); return true; })()`, to))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 15*time.Second, "playback after the seek", func() error {
		p, err := chromedp.Run(tab, chromedp.Evaluate[map[string]any](`({t: v.currentTime, seeking: v.seeking, ready: v.readyState, paused: v.paused, errors: player.errors})`))
		if err != nil {
			t.Fatal(err)
		}
		if errs, _ := p["errors"].([]any); len(errs) > 0 {
			t.Fatalf("hls.js errors: %v", errs)
		}
		if cur, _ := p["t"].(float64); cur < to+0.2 || p["seeking"] == true || p["ready"].(float64) < 3 {
			return fmt.Errorf("%v, want playing past %.2f s", p, to)
		}
		return nil
	})
	if got := videoCode(t, tab, frameJS); got != sim.CodeFor(cam.ID) {
		t.Fatalf("after the seek hls.js shows block code %x, want %x", got, sim.CodeFor(cam.ID))
	}
}

// videoCode reads the block code of the frame js draws (a PNG data URL).
func videoCode(t *testing.T, tab context.Context, js string) uint32 {
	t.Helper()
	dataURL, err := chromedp.Run(tab, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(dataURL, "data:image/png;base64,"))
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("frame: %v", err)
	}
	code, err := sim.ReadCode(img)
	if err != nil {
		t.Fatalf("block code: %v", err)
	}
	return code
}
