package chromium

import (
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Web players: a page that plays a URL with a JavaScript player (MSE) in
// Chromium, as Cast receivers and web apps do, and reports how it went.

// PlayerLibs are the players PlayerServer serves, by the name the page's
// URL takes.
func PlayerLibs() []string { return []string{"hls.js", "shaka"} }

// playerScript is lib's script under the npm directory (scripts/deps.sh
// installs the packages, pinned in its package-lock.json).
func playerScript(lib string) (string, bool) {
	switch lib {
	case "hls.js":
		return "node_modules/hls.js/dist/hls.min.js", true
	case "shaka":
		return "node_modules/shaka-player/dist/shaka-player.compiled.js", true
	}
	return "", false
}

// PlayerServer returns a handler that serves the players installed in dir
// at /players/{lib}.js and a page that plays src with one of them at
// /play/{lib}?src=URL. It fails when a player is not installed.
func PlayerServer(dir string) (http.Handler, error) {
	for _, lib := range PlayerLibs() {
		file, _ := playerScript(lib)
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			return nil, fmt.Errorf("%s is not installed (%w): run scripts/deps.sh", lib, err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /players/{lib}", func(w http.ResponseWriter, r *http.Request) {
		file, ok := playerScript(strings.TrimSuffix(r.PathValue("lib"), ".js"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(dir, file))
	})
	mux.HandleFunc("GET /play/{lib}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = playerPage.Execute(w, map[string]string{"Lib": r.PathValue("lib"), "Src": r.URL.Query().Get("src")})
	})
	return mux, nil
}

// playerPage plays Src with a JavaScript player (MSE) and keeps its report
// in the globals v (the video element) and player: fatal player errors go
// to player.errors, player.stalls counts "waiting" events once playback
// has begun and player.stallMs their duration, player.stallLog their
// start and end, player.heights the picture heights as they change.
var playerPage = template.Must(template.New("webplayer").Parse(`<!doctype html>
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
// samples are the bandwidth samples the player's estimator was given (ms
// from the page's start, the sample's duration in ms, its bytes, the file),
// estimates the player's estimate every half second (ms, bits/s, the
// height it plays or loads, the video's dropped and total frames: Shaka
// bans a stream for 30 s when it drops 15 % of its frames in 2 s). Observation only: the players keep their
// default configuration.
player.samples = []; player.estimates = [];
performance.setResourceTimingBufferSize(5000);
const sample = (ms, bytes, uri) => { if (player.samples.length < 2000) player.samples.push([Math.round(performance.now()), Math.round(ms), bytes, String(uri || "").replace(/\?.*$/, "").split("/").slice(-2).join("/")]); };
const estimate = (bps, h) => {
	const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
	if (player.estimates.length < 2000) player.estimates.push([Math.round(performance.now()), Math.round(bps || 0), h || 0, q.droppedVideoFrames || 0, q.totalVideoFrames || 0]);
};
(async () => {
	if ({{.Lib}} === "hls.js") {
		const hls = new Hls();
		hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) player.errors.push("hls.js " + d.type + " " + d.details); });
		// hls.js rates a load from its first byte to its last (less any
		// time to first byte beyond its estimate of it).
		const loaded = (_, d) => { const s = (d.part || d.frag).stats; sample(s.loading.end - s.loading.first, s.loaded, (d.part || d.frag).url); };
		hls.on(Hls.Events.FRAG_LOADED, loaded);
		setInterval(() => { const l = hls.levels && hls.levels[hls.nextLoadLevel]; estimate(hls.bandwidthEstimate, l && l.height); }, 500);
		hls.loadSource(src);
		hls.attachMedia(v);
		return;
	}
	shaka.polyfill.installAll();
	// Shaka's ABR manager is given each progress report of a segment
	// load (at least 16 kB and 100 ms apart, or the last of a load).
	const downloaded = shaka.abr.SimpleAbrManager.prototype.segmentDownloaded;
	shaka.abr.SimpleAbrManager.prototype.segmentDownloaded = function (ms, bytes, allow, req) {
		sample(ms, bytes, req && req.uris && req.uris[0]);
		return downloaded.apply(this, arguments);
	};
	const p = new shaka.Player();
	setInterval(() => { const t = p.getVariantTracks().find((t) => t.active); estimate(p.getStats().estimatedBandwidth, t && t.height); }, 500);
	// A run at 17:46 UTC logged 76 errors whose detail had no code:
	// keep what the detail holds, and when.
	p.addEventListener("error", (e) => { if (player.errors.length < 50) player.errors.push("shaka@" + Math.round(performance.now()) + "ms " +
		(e.detail && e.detail.code) + " " + String(JSON.stringify(e.detail === undefined ? String(e.detail) : e.detail)).slice(0, 300)); });
	await p.attach(v);
	await p.load(src);
})().catch((e) => player.errors.push(String(e.code || e) + (e.data ? " " + JSON.stringify(e.data).slice(0, 300) : "") + (e.stack ? " at " + e.stack : "")));
</script>
`))

// PlayerRun is what the player page reports, in its clock: milliseconds
// since the page's navigation began.
type PlayerRun struct {
	Now        float64      `json:"now"`
	FirstFrame float64      `json:"firstFrame"`
	StallLog   [][2]float64 `json:"stallLog"` // start, end (0: still stalled)
	Heights    [][2]float64 `json:"heights"`  // when, picture height
	Errors     []string     `json:"errors"`
	Buffered   float64      `json:"buffered"` // seconds ahead of the play position
	Events     []string     `json:"events"`   // the latest media events
	// Samples are the bandwidth samples the player's estimator was given:
	// when (ms), the sample's duration (ms), its bytes, the file's last
	// two path elements.
	Samples [][4]any `json:"samples"`
	// Estimates are the player's bandwidth estimate every half second:
	// when (ms), bits/s, the height of the variant it plays or loads, and
	// the video's dropped and total frames.
	Estimates [][5]float64 `json:"estimates"`
	// Resources are the page's requests (Resource Timing): start and end
	// (ms), the URL's last three path elements.
	Resources [][3]any `json:"resources"`
}

// PlayerRunJS evaluates to a PlayerRun on the player page.
const PlayerRunJS = `({now: performance.now(), firstFrame: player.firstFrame,
	stallLog: player.stallLog, heights: player.heights, errors: player.errors,
	buffered: v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : -1, events: player.events.slice(-8),
	samples: player.samples, estimates: player.estimates,
	resources: performance.getEntriesByType("resource").map((e) => [Math.round(e.startTime), Math.round(e.responseEnd),
		e.name.replace(/\?.*$/, "").split("/").slice(-3).join("/")])})`

// MinStall is the shortest "waiting" counted as a stall: Chromium fires
// some for a fraction of a millisecond, which nobody sees.
const MinStall = 100 // ms

// Smooth returns when playback became smooth — the start of the first
// stretch of span without a stall (from the first frame or a stall's end)
// — and the stall time after that.
func (p PlayerRun) Smooth(span time.Duration) (float64, time.Duration) {
	var stalls [][2]float64
	for _, s := range p.StallLog {
		if s[1] == 0 || s[1]-s[0] >= MinStall {
			stalls = append(stalls, s)
		}
	}
	p.StallLog = stalls
	from := p.FirstFrame
	i := 0
	for ; i < len(p.StallLog); i++ {
		if p.StallLog[i][0]-from >= float64(span.Milliseconds()) {
			break
		}
		if from = p.StallLog[i][1]; from == 0 {
			return p.Now, 0 // stalled still
		}
	}
	var stalled float64
	for _, s := range p.StallLog[i:] {
		end := s[1]
		if end == 0 {
			end = p.Now
		}
		stalled += end - s[0]
	}
	return from, time.Duration(stalled * float64(time.Millisecond))
}
