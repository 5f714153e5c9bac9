package app

import (
	"fmt"
	"html/template"
	"testing"

	"github.com/chromedp/chromedp"

	"vigil/internal/sim"
)

// whepPage is a WHEP player: the page offers to receive video and audio
// with an RTCPeerConnection, waits for its candidates (no trickle ICE),
// posts the offer, applies the answer and plays the stream in the video
// element. It records the player's events as playerPage does, and when
// the offer was posted (player.offered, ms since navigation).
var whepPage = template.Must(template.New("whep").Parse(`<!doctype html>
<meta charset="utf-8"><title>vigil WHEP player</title>
<video id="v" autoplay muted playsinline></video>
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
(async () => {
	const pc = new RTCPeerConnection();
	pc.addTransceiver("video", {direction: "recvonly"});
	pc.addTransceiver("audio", {direction: "recvonly"});
	pc.ontrack = (e) => { if (e.track.kind === "video") v.srcObject = new MediaStream([e.track]); };
	pc.onconnectionstatechange = () => player.events.push(at("pc-" + pc.connectionState));
	await pc.setLocalDescription(await pc.createOffer());
	await new Promise((done) => {
		if (pc.iceGatheringState === "complete") return done();
		pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && done();
		setTimeout(done, 2000);
	});
	player.offered = performance.now();
	const res = await fetch({{.}}, {method: "POST", headers: {"Content-Type": "application/sdp"}, body: pc.localDescription.sdp});
	if (res.status !== 201) throw new Error("WHEP " + res.status + ": " + await res.text());
	player.session = res.headers.get("Location");
	await pc.setRemoteDescription({type: "answer", sdp: await res.text()});
})().catch((e) => player.errors.push(String(e)));
</script>
`))

// TestChromiumPlaysWHEP has Chromium play each camera over WebRTC (WHEP)
// and checks that the picture it shows carries that camera's block code;
// the time from posting the offer to the first frame is logged.
func TestChromiumPlaysWHEP(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	cams := []*sim.Camera{a.addCamera(t, "one"), a.addCamera(t, "two")}
	cams[1].Audio = true
	a.run(t, cams...)
	srv := playerServer(t, a)
	tab := startChromium(t) // after the servers: its cleanup must run first
	for _, c := range cams {
		t.Run(c.ID, func(t *testing.T) {
			got := watch(t, tab, fmt.Sprintf("%s/watch/whep/%s", srv.URL, c.ID))
			if want := sim.CodeFor(c.ID); got != want {
				t.Fatalf("camera %s: Chromium showed block code %x over WebRTC, want %x", c.ID, got, want)
			}
			ms, err := chromedp.Run(tab, chromedp.Evaluate[float64](`player.firstFrame - player.offered`))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("offer posted to first frame shown: %.0f ms", ms)
		})
	}
}
