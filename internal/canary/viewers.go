package canary

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Output names, as reported.
const (
	OutRTSP   = "rtsp"
	OutFMP4   = "fmp4"
	OutHLS    = "hls-fmp4"
	OutHLSTS  = "hls-ts"
	OutLLHLS  = "ll-hls"
	OutMJPEG  = "mjpeg"
	OutStill  = "still"
	OutThumbs = "thumbnails"
	OutToken  = "token-url"
	OutGoogle = "google"
	OutAlexa  = "alexa"
	OutStale  = "credential-attack"
	// OutOldToken is a stream token minted under a share, played after the
	// share was revoked and granted again (see world.oldToken).
	OutOldToken = "token-after-reshare"
	OutWHEP     = "whep"
	OutRTSPU    = "rtsp-udp"
	OutSub      = "sub-stream"
	// OutRecording is a Range read of a recorded span's MP4.
	OutRecording = "recording"
	// OutEvents is a camera's event list and one event's thumbnail.
	OutEvents = "events"
	// OutPins is a camera's review items and the viewer's pins: listed,
	// pinned and unpinned.
	OutPins = "pins"
)

// builtinFlows are the outputs Vigil has today.
func builtinFlows() []Flow {
	return []Flow{
		{Name: OutRTSP, Weight: 6, Video: true, Run: rtspFlow},
		{Name: OutFMP4, Weight: 6, Video: true, Run: mp4Flow},
		{Name: OutHLS, Weight: 2, Video: true, Run: hlsFlow("fmp4")},
		{Name: OutHLSTS, Weight: 2, Video: true, Run: hlsFlow("ts")},
		{Name: OutLLHLS, Weight: 3, Video: true, Run: hlsFlow("ll")},
		{Name: OutMJPEG, Weight: 9, Run: mjpegFlow},
		{Name: OutStill, Weight: 8, Run: stillFlow},
		{Name: OutThumbs, Weight: 2, Run: thumbsFlow},
		{Name: OutToken, Weight: 2, Run: tokenFlow},
		{Name: OutGoogle, Weight: 2, Video: true, Run: googleFlow},
		{Name: OutAlexa, Weight: 2, Video: true, Run: alexaFlow},
		{Name: OutStale, Weight: 2, Run: credFlow},
		{Name: OutWHEP, Weight: 3, Video: true, Run: whepFlow},
		{Name: OutRTSPU, Weight: 2, Video: true, Run: rtspUDPFlow},
		{Name: OutSub, Weight: 2, Video: true, Run: subFlow},
		{Name: OutRecording, Weight: 2, Video: true, Run: recordingFlow},
		{Name: OutEvents, Weight: 2, Run: eventFlow},
		{Name: OutPins, Weight: 2, Run: pinFlow},
		{Name: OutExports, Weight: 2, Run: exportFlow},
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)) }

// viewers runs the viewer clients until ctx ends.
type viewers struct {
	c     *checker
	flows []Flow
	total int // sum of weights
	sched *schedule
	log   *slog.Logger
}

func (vs *viewers) run(ctx context.Context, n int, seed int64) {
	for _, f := range vs.flows {
		vs.total += f.Weight
		vs.c.out(f.Name)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { vs.client(ctx, i, newRand(uint64(seed)+uint64(i)*7919)) })
	}
	wg.Wait()
}

// client is one viewer device: it makes visits one after another, each
// bounded in time, with its own HTTP connections. Its first visits go
// round the flows, so that even a short run opens every output.
func (vs *viewers) client(ctx context.Context, id int, rng *rand.Rand) {
	tr := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for n := 0; ctx.Err() == nil; n++ {
		f := vs.pick(rng)
		if n < 2 {
			f = vs.flows[(id+n*len(vs.flows)/2)%len(vs.flows)]
		}
		v := vs.visit(rng, hc, f.Video)
		v.output = f.Name
		vs.once(ctx, f, v, rng)
		if v.Cancel && ctx.Err() == nil { // redis-py: retry the same at once
			v.Cancel, v.bad = false, false
			vs.once(ctx, f, v, rng)
		}
	}
}

// once makes one visit, bounded to 2 to 8 seconds, or 3 to 12 for video
// once its output has its coverage (see owed): a video visit spends its
// first second or two joining (a handshake, a playlist, a keyframe), so a
// longer one checks more frames for each join, while short visits keep
// opening every output in a short run.
func (vs *viewers) once(ctx context.Context, f Flow, v *Visit, rng *rand.Rand) {
	t := vs.c.out(f.Name)
	t.sessions.Add(1)
	bound := time.Duration(2000+rng.IntN(6000)) * time.Millisecond
	if f.Video && !vs.owed(f.Name) {
		bound = time.Duration(3000+rng.IntN(9000)) * time.Millisecond
	}
	vctx, cancel := context.WithTimeout(ctx, bound)
	err := f.Run(vctx, v)
	cancel()
	if err != nil && ctx.Err() == nil {
		vs.c.fail(f.Name, err)
		if t.errors.Add(1) <= 5 {
			vs.log.Info("canary visit failed", "output", f.Name, "camera", v.Camera.ID, "user", v.User.Name, "error", err)
		}
		sleep(ctx, time.Duration(100+rng.IntN(400))*time.Millisecond)
	}
}

// visit draws who asks for what: one visit in six is an attack. A video
// flow asks for a camera that publishes video, when the user may see one.
// Only pairs with no change in flight are drawn (see standing).
func (vs *viewers) visit(rng *rand.Rand, hc *http.Client, video bool) *Visit {
	l := vs.c.layout
	base, rtspHost := vs.sched.paths(rng)
	v := &Visit{Cancel: rng.Float64() < vs.sched.cancelRate(), HTTP: hc, Base: base, RTSPHost: rtspHost, rng: rng, c: vs.c}
	for {
		v.User = l.user(rng.IntN(len(l.Users)))
		v.Secret, v.Addr = v.User.Password, householdAddr(v.User.Index)
		// Players use the API token; a user who chose a password signs in
		// with it rarely: each check of a chosen password is an argon2id
		// hash (19 MiB), and a full run whose players all sent one with
		// every request kept Vigil's CPU on hashing (every request of a
		// 200-camera run timed out within minutes).
		if v.User.Token != "" && (rng.IntN(3) == 0 || v.User.Changed && rng.IntN(10) != 0) {
			v.Secret = v.User.Token
		}
		cam := l.Cameras[rng.IntN(len(l.Cameras))]
		if vis := l.visible(v.User.Name); len(vis) > 0 && rng.IntN(6) != 0 {
			cam = vis[rng.IntN(len(vis))]
			for try := 0; video && cam.StillOnly && try < 4; try++ {
				cam = vis[rng.IntN(len(vis))]
			}
		}
		if v.retarget(cam) {
			return v
		}
	}
}

// minVisits is how many visits every output gets before the weights
// rule: a short run draws only a few of the lightly weighted outputs, and
// a handover or a restart can fail all of them (the short canary's
// coverage check then found an output that checked nothing).
const minVisits = 8

// pick draws a flow by weight; thumbnails weigh ten times more during a
// reconnect storm. An output still owed coverage — fewer than minVisits
// visits, or nothing checked yet — is drawn first, one time in two: on a
// loaded machine faults failed 8 of hls-ts's 9 visits in a CI run.
func (vs *viewers) pick(rng *rand.Rand) Flow {
	for _, f := range vs.flows {
		if vs.owed(f.Name) && rng.IntN(2) == 0 {
			return f
		}
	}
	storm := vs.sched.storming()
	total := vs.total
	if storm {
		total += 9 * vs.flows[thumbsIndex(vs.flows)].Weight
	}
	x := rng.IntN(total)
	for _, f := range vs.flows {
		w := f.Weight
		if storm && f.Name == OutThumbs {
			w *= 10
		}
		if x < w {
			return f
		}
		x -= w
	}
	return vs.flows[0]
}

// owed reports whether an output still needs visits for coverage.
func (vs *viewers) owed(name string) bool {
	t := vs.c.out(name)
	return t.sessions.Load() < minVisits || !covered(name, t.frames.Load()+t.stills.Load(), t.refusals.Load())
}

// covered reports whether an output has checked something: attack outputs
// are judged by refusals (an old token's may all be overtaken by a new
// grant, so it needs none), and so are pins, whose listings carry no
// media (a viewer's probe is refused only once pins of another camera
// were listed and made), the rest by frames or stills checked.
func covered(name string, checked, refusals int64) bool {
	switch name {
	case OutStale, OutPins:
		return refusals > 0
	case OutOldToken:
		return true
	case OutExports: // a household's own export's frames, or another's refused
		return checked+refusals > 0
	}
	return checked > 0
}

func thumbsIndex(fs []Flow) int {
	for i, f := range fs {
		if f.Name == OutThumbs {
			return i
		}
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
