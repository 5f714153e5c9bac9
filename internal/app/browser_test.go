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
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus/testutil"

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

// playerPage is a bare player: the video element plays Src (in CORS mode
// for another origin's URL, so that its frames can be read), and the script
// records (in ms since navigation started) when media data arrived, when
// playback began and when the first frame was presented, and media errors.
var playerPage = template.Must(template.New("player").Parse(`<!doctype html>
<meta charset="utf-8"><title>vigil player</title>
<video id="v" autoplay muted playsinline {{if .CORS}}crossorigin="anonymous" {{end}}src="{{.Src}}"></video>
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

// playerSrc is what playerPage plays; CORS for another origin's URL.
type playerSrc struct {
	Src  string
	CORS bool
}

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
	// A page of this origin playing a URL of Vigil's as it is.
	mux.HandleFunc("GET /play", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = playerPage.Execute(w, playerSrc{Src: r.URL.Query().Get("src"), CORS: true})
	})
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
		_ = playerPage.Execute(w, playerSrc{Src: camera + src})
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

// startChromium starts a headless Chromium with a fresh profile and returns
// a tab in it. The browser is closed, and waited for, when the test ends;
// start it after the servers it talks to, so that it goes first (cleanups
// run last-in, first-out, and a server's Close waits for open streams).
// Chromium's log is shown if the test failed.
func startChromium(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	needChromium(t)
	var out testkit.Buffer
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

// TestChromiumPlaysLiveMP4 has Chromium, an independent client, play each
// camera's progressive MP4 and HLS (LL-HLS and MPEG-TS, natively) and checks
// that the picture it shows carries that camera's block code. The HLS
// players start cold — no muxer runs, as after 30 s of nobody watching — on
// the multivariant URL of a stream token, from another origin, with no
// other credential: every URI in the playlists must answer to the token
// alone (no EXT-X-GAP "gap.mp4" without it), and a playlist must not start
// with one segment (Chromium fails on either).
func TestChromiumPlaysLiveMP4(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	cams := []*sim.Camera{a.addCamera(t, "one"), a.addCamera(t, "two")}
	if sim.CodeFor(cams[0].ID) == sim.CodeFor(cams[1].ID) {
		t.Fatalf("cameras %s and %s share block code %x", cams[0].ID, cams[1].ID, sim.CodeFor(cams[0].ID))
	}
	a.run(t, cams...)
	srv := playerServer(t, a)
	tab := startChromium(t) // after the servers: its cleanup must run first

	check := func(t *testing.T, page, kind string, c *sim.Camera) {
		got := watch(t, tab, page)
		if want := sim.CodeFor(c.ID); got != want {
			t.Fatalf("camera %s: Chromium showed block code %x over %s, want %x", c.ID, got, kind, want)
		}
	}
	for _, c := range cams {
		t.Run("mp4-"+c.ID, func(t *testing.T) { check(t, fmt.Sprintf("%s/watch/mp4/%s", srv.URL, c.ID), "mp4", c) })
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
				started := a.hls.Metrics().MuxersStarted.WithLabelValues(kind)
				before := testutil.ToFloat64(started)
				tok := a.mintWith(t, c.ID, nil, basicAuth(AdminName, adminPassword))
				u := a.url(tok.URLs["hls"])
				if kind == "ts" {
					u += "&variant=ts"
				}
				check(t, srv.URL+"/play?src="+url.QueryEscape(u), kind, c)
				// The camera's muxer of this variant was made for this player.
				if n := testutil.ToFloat64(started) - before; n != 1 {
					t.Errorf("%v %s muxers started while Chromium played, want 1 (a cold start)", n, kind)
				}
			})
		}
	}
}
