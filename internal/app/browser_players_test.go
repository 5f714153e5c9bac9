package app

import (
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/chromium"
	"vigil/internal/sim"
)

// TestWebPlayersColdStart: Shaka Player (what Cast receivers are built on)
// and hls.js, in Chromium, start cold — the muxer made for them — on a
// stream token's multivariant URL from another origin, and play the
// camera's picture. Time to the first frame and stalls in the first
// seconds of playback are logged.
func TestWebPlayersColdStart(t *testing.T) {
	needChromium(t)
	pages := webPlayerServer(t)
	a := startApp(t, "", nil)
	cams := map[string]*sim.Camera{}
	for _, name := range []string{"hls.js-ll", "hls.js-ts", "shaka-ll", "shaka-ts"} {
		cams[name] = a.addCamera(t, name)
	}
	a.run(t, cams["hls.js-ll"], cams["hls.js-ts"], cams["shaka-ll"], cams["shaka-ts"])

	tab := startChromium(t)

	for _, run := range []struct{ lib, variant string }{{"hls.js", "ll"}, {"hls.js", "ts"}, {"shaka", "ll"}, {"shaka", "ts"}} {
		lib := run.lib
		t.Run(lib+"-"+run.variant, func(t *testing.T) {
			c := cams[lib+"-"+run.variant]
			started := a.hls.Metrics().MuxersStarted.WithLabelValues(run.variant)
			before := testutil.ToFloat64(started)
			tok := a.mintWith(t, c.ID, nil, basicAuth(AdminName, adminPassword))
			src := a.url(tok.URLs["hls"])
			if run.variant != "ll" {
				src += "&variant=" + run.variant
			}
			page := pages + "/play/" + lib + "?src=" + url.QueryEscape(src)
			if got := watch(t, tab, page); got != sim.CodeFor(c.ID) {
				t.Fatalf("%s showed block code %x, want %x", lib, got, sim.CodeFor(c.ID))
			}
			if n := testutil.ToFloat64(started) - before; n != 1 {
				t.Errorf("%v %s muxers started while %s played, want 1 (a cold start)", n, run.variant, lib)
			}
			time.Sleep(6 * time.Second)
			p, err := chromedp.Run(tab, chromedp.Evaluate[map[string]any](
				`({firstFrame: player.firstFrame, stalls: player.stalls, stallMs: player.stallMs || 0, t: v.currentTime, errors: player.errors})`))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s: first frame %.0f ms after navigation; 6 s later: %v stalls (%.0f ms), played to %.2f s, errors %v",
				lib, run.variant, p["firstFrame"], p["stalls"], p["stallMs"], p["t"], p["errors"])
			if errs, _ := p["errors"].([]any); len(errs) > 0 {
				t.Fatalf("%s errors: %v", lib, errs)
			}
		})
	}
}

// webPlayerServer serves the web players and their test page
// (chromium.PlayerServer); it returns its URL.
func webPlayerServer(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("testdata/players")
	if err != nil {
		t.Fatal(err)
	}
	h, err := chromium.PlayerServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	pages := httptest.NewServer(h)
	t.Cleanup(pages.Close)
	return pages.URL
}
