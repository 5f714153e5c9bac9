package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/png"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/chromium"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// playTimeout bounds how long one page may take to show moving video.
const playTimeout = 20 * time.Second

// playerSource maps a player kind to the camera path its <video> plays.
func playerSource(kind string) (string, bool) {
	switch kind {
	case "mp4":
		return "/live.mp4", true
	case "ll": // our default variant: LL-HLS with fMP4 segments and parts
		return "/hls/index.m3u8", true
	case "ts":
		return "/hls/index.m3u8?variant=ts", true
	}
	return "", false
}

// playerPage is a bare player: the video element plays src, and the script
// records (in ms since navigation started) when media data arrived, when
// playback began and when the first frame was presented, and media errors.
var playerPage = template.Must(template.New("player").Parse(`<!doctype html>
<meta charset="utf-8"><title>vigil player</title>
<video id="v" autoplay muted playsinline src="{{.}}"></video>
<script>
const v = document.getElementById("v");
window.player = {errors: [], events: []};
const at = (e) => e + "@" + Math.round(performance.now()) + "ms/" + v.currentTime.toFixed(2) + "s";
for (const e of ["loadedmetadata", "loadeddata", "canplay", "playing", "waiting", "stalled"]) {
	v.addEventListener(e, () => { player[e] ??= performance.now(); player.events.push(at(e)); });
}
v.addEventListener("error", () => { player.errors.push(v.error ? v.error.code + " " + v.error.message : "error"); });
if ("requestVideoFrameCallback" in v) {
	v.requestVideoFrameCallback(() => { player.firstFrame = performance.now(); });
}
</script>
`))

// playerServer serves player pages at /watch/{kind}/{id} and reverse-proxies
// /api/ to Vigil as the admin: a <video> element cannot send Basic
// credentials, so the proxy adds them. FlushInterval -1 passes every
// fragment of the progressive MP4 on as it arrives.
func playerServer(t *testing.T, a *testApp) *httptest.Server {
	t.Helper()
	vigil, err := url.Parse(a.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(vigil)
			pr.Out.SetBasicAuth(AdminName, adminPassword)
		},
		FlushInterval: -1,
		// The browser hangs up on streams when it navigates or quits.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", proxy)
	mux.HandleFunc("GET /watch/{kind}/{id}", func(w http.ResponseWriter, r *http.Request) {
		camera := "/api/cameras/" + url.PathEscape(r.PathValue("id"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.PathValue("kind") == "whep" {
			_ = whepPage.Execute(w, camera+"/whep")
			return
		}
		src, ok := playerSource(r.PathValue("kind"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = playerPage.Execute(w, camera+src)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium.Path); err != nil {
		t.Fatalf("Chromium is missing (%v): run `make test`, which installs it", err)
	}
}

// lockedBuffer collects Chromium's output, which a goroutine of chromedp writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startChromium starts a headless Chromium with a fresh profile and returns
// a tab in it. The browser is closed, and waited for, when the test ends;
// start it after the servers it talks to, so that it goes first (cleanups
// run last-in, first-out, and a server's Close waits for open streams).
// Chromium's log is shown if the test failed.
func startChromium(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	needChromium(t)
	var out lockedBuffer
	tab, stop, err := chromium.Start(context.Background(), t.TempDir(), &out, extra...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Logf("closing Chromium: %v", err)
		}
		if t.Failed() {
			t.Logf("Chromium's output:\n%s", out.String())
		}
	})
	return tab
}

// playback is what the player page reports.
type playback struct {
	ReadyState  int      `json:"readyState"`
	CurrentTime float64  `json:"currentTime"`
	LoadedData  float64  `json:"loadeddata"`
	Playing     float64  `json:"playing"`
	FirstFrame  float64  `json:"firstFrame"`
	Width       int      `json:"width"`
	Height      int      `json:"height"`
	Errors      []string `json:"errors"`
	Events      []string `json:"events"`
}

const playbackJS = `({readyState: v.readyState, currentTime: v.currentTime,
	loadeddata: player.loadeddata || 0, playing: player.playing || 0, firstFrame: player.firstFrame || 0,
	width: v.videoWidth, height: v.videoHeight, errors: player.errors, events: player.events})`

// frameJS draws the current frame at the video's intrinsic size and returns
// it as a PNG data URL (same origin, so the canvas is not tainted).
const frameJS = `(() => {
	const c = document.createElement("canvas");
	c.width = v.videoWidth;
	c.height = v.videoHeight;
	c.getContext("2d").drawImage(v, 0, 0, c.width, c.height);
	return c.toDataURL("image/png");
})()`

// watch opens the player page at pageURL, waits until the video has played
// for half a second, and returns the block code in the frame it shows.
func watch(t *testing.T, tab context.Context, pageURL string) uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, playTimeout)
	defer cancel()
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("navigate %s: %v", pageURL, err)
	}
	var p playback
	for {
		var err error
		if p, err = chromedp.Run(ctx, chromedp.Evaluate[playback](playbackJS)); err != nil {
			t.Fatalf("%s did not play within %v: %v (last state %+v)", pageURL, playTimeout, err, p)
		}
		if len(p.Errors) > 0 {
			t.Fatalf("%s: media error %v (events %v)", pageURL, p.Errors, p.Events)
		}
		if p.ReadyState >= 2 && p.CurrentTime > 0.5 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not play within %v (last state %+v)", pageURL, playTimeout, p)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("%s: first frame %.0f ms after navigation (data %.0f ms, playing %.0f ms), %dx%d, "+
		"played %.2f s by %v; events %v", pageURL, p.FirstFrame, p.LoadedData, p.Playing,
		p.Width, p.Height, p.CurrentTime, time.Since(start).Round(time.Millisecond), p.Events)

	dataURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](frameJS))
	if err != nil {
		t.Fatalf("%s: capture frame: %v", pageURL, err)
	}
	b64, ok := strings.CutPrefix(dataURL, "data:image/png;base64,")
	if !ok {
		t.Fatalf("%s: canvas gave %.40q, want a PNG data URL", pageURL, dataURL)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: decode frame: %v", pageURL, err)
	}
	code, err := sim.ReadCode(img)
	if err != nil {
		t.Fatalf("%s: read block code in %v frame: %v", pageURL, img.Bounds().Size(), err)
	}
	return code
}

// waitFullPlaylist waits until the camera's main media playlist of variant
// holds at least three segments and no EXT-X-GAP.
//
// Chromium's native HLS player cannot start on a fresh muxer: it fetches
// the URI of an EXT-X-GAP segment (gohlslib pads a young LL-HLS playlist
// with "gap.mp4", which we answer 404) and fails with
// DEMUXER_ERROR_COULD_NOT_PARSE ("Network read stopped"), and on a one-segment
// MPEG-TS playlist it fails with "Segment queue never had any data". It
// plays both once the playlist is full, about 14 s (LL) and 6 s (TS) after
// the muxer started, so that is what this test covers.
func waitFullPlaylist(t *testing.T, a *testApp, camera, variant string) {
	t.Helper()
	path := "/api/cameras/" + camera + "/hls/main/" + variant + "/index.m3u8"
	testkit.WaitFor(t, 25*time.Second, "full playlist "+path, func() error {
		code, _, body := a.get(t, path, AdminName, adminPassword)
		if code == 200 && !bytes.Contains(body, []byte("#EXT-X-GAP")) && bytes.Count(body, []byte("#EXTINF:")) >= 3 {
			return nil
		}
		return fmt.Errorf("%d\n%s", code, body)
	})
}

// TestChromiumPlaysLiveMP4 has Chromium, an independent client, play each
// camera's progressive MP4 and HLS (LL-HLS and MPEG-TS, natively) and checks
// that the picture it shows carries that camera's block code.
func TestChromiumPlaysLiveMP4(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	cams := []*sim.Camera{a.addCamera(t, "one"), a.addCamera(t, "two")}
	if sim.CodeFor(cams[0].ID) == sim.CodeFor(cams[1].ID) {
		t.Fatalf("cameras %s and %s share block code %x", cams[0].ID, cams[1].ID, sim.CodeFor(cams[0].ID))
	}
	a.run(t, cams...)
	srv := playerServer(t, a)
	// Start the HLS muxers now, so that their playlists fill while the MP4
	// plays (see waitFullPlaylist).
	for _, c := range cams {
		for _, kind := range []string{"ll", "ts"} {
			src, _ := playerSource(kind)
			if code, _, body := a.get(t, "/api/cameras/"+c.ID+src, AdminName, adminPassword); code != 200 {
				t.Fatalf("%s %s: %d %s", c.ID, kind, code, body)
			}
		}
	}
	tab := startChromium(t) // after the servers: its cleanup must run first

	check := func(t *testing.T, kind string, c *sim.Camera) {
		got := watch(t, tab, fmt.Sprintf("%s/watch/%s/%s", srv.URL, kind, c.ID))
		if want := sim.CodeFor(c.ID); got != want {
			t.Fatalf("camera %s: Chromium showed block code %x over %s, want %x", c.ID, got, kind, want)
		}
	}
	for _, c := range cams {
		t.Run("mp4-"+c.ID, func(t *testing.T) { check(t, "mp4", c) })
	}

	hls, err := chromedp.Run(tab, chromedp.Evaluate[string](`v.canPlayType("application/vnd.apple.mpegurl")`))
	if err != nil {
		t.Fatal(err)
	}
	if hls == "" {
		t.Fatal("this Chromium does not play HLS natively: install Debian's chromium (make test does)")
	}
	for _, c := range cams {
		for _, kind := range []string{"ll", "ts"} {
			t.Run(kind+"-"+c.ID, func(t *testing.T) {
				waitFullPlaylist(t, a, c.ID, kind)
				check(t, kind, c)
			})
		}
	}
}
