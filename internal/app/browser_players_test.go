package app

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/sim"
)

// webPlayers are the JavaScript players the test pages load, from the npm
// packages scripts/deps.sh installs into testdata/players (pinned there).
var webPlayers = map[string]string{
	"hls.js": "node_modules/hls.js/dist/hls.min.js",
	"shaka":  "node_modules/shaka-player/dist/shaka-player.compiled.js",
}

// webPlayerPage plays Src with a JavaScript player (MSE) and reports as
// playerPage does: the same v and player globals, so watch reads it; fatal
// player errors go to player.errors, player.stalls counts "waiting" events
// once playback has begun and player.stallMs their duration.
var webPlayerPage = template.Must(template.New("webplayer").Parse(`<!doctype html>
<meta charset="utf-8"><title>vigil {{.Lib}}</title>
<video id="v" autoplay muted playsinline></video>
<script src="/players/{{.Lib}}.js"></script>
<script>
const v = document.getElementById("v");
window.player = {errors: [], events: [], stalls: 0, stallLog: [], heights: []};
const at = (e) => e + "@" + Math.round(performance.now()) + "ms/" + v.currentTime.toFixed(2) + "s";
for (const e of ["loadedmetadata", "loadeddata", "canplay", "playing", "waiting", "stalled"]) {
	v.addEventListener(e, () => { player[e] ??= performance.now(); player.events.push(at(e)); });
}
v.addEventListener("waiting", () => {
	if (player.playing && !player.stalledAt) { player.stalls++; player.stalledAt = performance.now(); player.stallLog.push([player.stalledAt, 0]); }
});
v.addEventListener("playing", () => {
	if (player.stalledAt) {
		player.stallMs = (player.stallMs || 0) + performance.now() - player.stalledAt; player.stalledAt = 0;
		player.stallLog[player.stallLog.length - 1][1] = performance.now();
	}
});
// heights lists the picture heights played, as they change (a step between streams).
v.addEventListener("resize", () => player.heights.push([Math.round(performance.now()), v.videoHeight]));
v.addEventListener("error", () => { player.errors.push(v.error ? v.error.code + " " + v.error.message : "error"); });
if ("requestVideoFrameCallback" in v) {
	v.requestVideoFrameCallback(() => { player.firstFrame = performance.now(); });
}
const src = {{.Src}};
(async () => {
	if ({{.Lib}} === "hls.js") {
		const hls = new Hls();
		hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) player.errors.push("hls.js " + d.type + " " + d.details); });
		hls.loadSource(src);
		hls.attachMedia(v);
		return;
	}
	shaka.polyfill.installAll();
	const p = new shaka.Player();
	p.addEventListener("error", (e) => player.errors.push("shaka " + e.detail.code));
	await p.attach(v);
	await p.load(src);
})().catch((e) => player.errors.push(String(e.code || e)));
</script>
`))

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

// webPlayerServer serves the web players and their test page; it returns
// its URL.
func webPlayerServer(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("testdata/players")
	if err != nil {
		t.Fatal(err)
	}
	for lib, file := range webPlayers {
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			t.Fatalf("%s is not installed (%v): run `make deps`", lib, err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /players/{lib}", func(w http.ResponseWriter, r *http.Request) {
		file, ok := webPlayers[strings.TrimSuffix(r.PathValue("lib"), ".js")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(dir, file))
	})
	mux.HandleFunc("GET /play/{lib}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = webPlayerPage.Execute(w, map[string]string{"Lib": r.PathValue("lib"), "Src": r.URL.Query().Get("src")})
	})
	pages := httptest.NewServer(mux)
	t.Cleanup(pages.Close)
	return pages.URL
}
