package canary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image/jpeg"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/sim"
)

// fleet runs the simulated cameras: publishing through the camera proxy,
// restarting with new parameters, and uploading stills.
type fleet struct {
	layout    *Layout
	secret    []byte
	proxies   *proxies
	uploadURL string // http://host:port of the HTTP proxy
	fps       int
	log       *slog.Logger
	httpc     *http.Client

	uploads, uploadErrors, restarts atomic.Int64
	sentBefore                      atomic.Uint64 // frames sent by camera runs that ended

	mu      sync.Mutex
	running map[int]*running  // guarded by mu; by camera index
	ended   map[string]uint64 // guarded by mu; sessions of ended runs per poor path kind
}

type running struct {
	kind   string // the poor path's fault kind, "" for the clean path
	cam    *sim.Camera
	cancel context.CancelFunc
	done   chan struct{}
}

func newFleet(l *Layout, secret []byte, px *proxies, fps int, log *slog.Logger) *fleet {
	return &fleet{layout: l, secret: secret, proxies: px, uploadURL: "http://" + px.addr(px.upload), fps: fps, log: log,
		httpc: &http.Client{Timeout: 20 * time.Second}, running: map[int]*running{}, ended: map[string]uint64{}}
}

// path is where camera c publishes: one camera in five through each poor
// camera path (for the whole run), the others through the clean one.
func (f *fleet) path(c *Camera) (host, kind string) {
	if i := c.Index % 5; i < len(f.proxies.cameraPoor) {
		return f.proxies.addr(f.proxies.cameraPoor[i].proxy), f.proxies.cameraPoor[i].kind
	}
	return f.proxies.addr(f.proxies.camera), ""
}

// faultSessions counts camera sessions made through each poor path.
func (f *fleet) faultSessions() map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]uint64{}
	for k, n := range f.ended {
		m[k] += n
	}
	for _, r := range f.running {
		if r.kind != "" {
			m[r.kind] += r.cam.Sessions()
		}
	}
	return m
}

// start publishes every camera that is not still-only.
func (f *fleet) start(ctx context.Context) {
	for _, c := range f.publishers() {
		f.run(ctx, c)
	}
}

// run starts camera c with its current parameters, ending a previous run:
// its main stream, and its sub stream if it has one.
func (f *fleet) run(ctx context.Context, c *Camera) {
	f.runStream(ctx, c, false)
	if c.Sub {
		f.runStream(ctx, c, true)
	}
}

// runKey is the key of a camera's main or sub stream run in f.running.
func runKey(c *Camera, sub bool) int {
	if sub {
		return 2*c.Index + 1
	}
	return 2 * c.Index
}

// runStream starts one stream of camera c. The sub stream is a smaller
// picture of the same generation, published to /<id>/sub and stamped as
// camera "<id>/sub" (see subID), so that a viewer tells the streams apart.
func (f *fleet) runStream(ctx context.Context, c *Camera, sub bool) {
	host, kind := f.path(c)
	cam := f.camera(c, sub, host)
	cctx, cancel := context.WithCancel(ctx)
	r := &running{kind: kind, cam: cam, cancel: cancel, done: make(chan struct{})}
	f.mu.Lock()
	old := f.running[runKey(c, sub)]
	f.running[runKey(c, sub)] = r
	f.mu.Unlock()
	if old != nil {
		f.end(old)
	}
	go func() {
		defer close(r.done)
		cam.Run(cctx)
	}()
}

// camera is the simulated camera of one stream of c, publishing to host
// with c's current parameters.
func (f *fleet) camera(c *Camera, sub bool, host string) *sim.Camera {
	path, id, w, h, audio := "/"+c.ID, c.ID, c.Width, c.Height, c.Audio
	if sub {
		path, id, w, h, audio = "/"+c.ID+"/sub", subID(c.ID), 128, 96, false
	}
	u := url.URL{Scheme: "rtsp", Host: host, Path: path, User: url.UserPassword(c.ID, c.Password)}
	return &sim.Camera{URL: u.String(), ID: id, Label: f.layout.label(c), Key: sim.CameraKey(f.secret, id),
		Width: w, Height: h, Main: c.Main, Audio: audio, FPS: f.fps, GOP: 4 * f.fps, Logger: f.log}
}

// subID is what a camera's sub stream stamps as its camera.
func subID(id string) string { return id + "/sub" }

// halt ends camera c's runs, if it has any, and waits for them.
func (f *fleet) halt(c *Camera) {
	for _, sub := range []bool{false, true} {
		f.mu.Lock()
		r := f.running[runKey(c, sub)]
		delete(f.running, runKey(c, sub))
		f.mu.Unlock()
		if r != nil {
			f.end(r)
		}
	}
}

// restart restarts camera c with a new picture size and profile; the
// caller holds c.busy.
func (f *fleet) restart(ctx context.Context, c *Camera, rng *rand.Rand) {
	sizes := pictureSizes()
	sz := sizes[rng.IntN(len(sizes))]
	c.Width, c.Height, c.Main = sz[0], sz[1], !c.Main
	f.restarts.Add(1)
	f.run(ctx, c)
}

// stop ends every camera and waits for them.
func (f *fleet) stop() {
	f.mu.Lock()
	all := f.running
	f.running = map[int]*running{}
	f.mu.Unlock()
	for _, r := range all {
		f.end(r)
	}
}

// frames is the number of video frames the cameras sent.
func (f *fleet) frames() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.sentBefore.Load()
	for _, r := range f.running {
		n += r.cam.FramesSent()
	}
	return n
}

// uploadLoop has still-only cameras upload a still every 2 to 4 s and the
// others every 20 to 40 s (the last upload is what viewers get while a
// camera is offline), until ctx ends.
func (f *fleet) uploadLoop(ctx context.Context, seed int64) {
	var wg sync.WaitGroup
	for _, c := range f.layout.Cameras {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(c.Index)))
			every := 20 * time.Second
			if c.StillOnly {
				every = 2 * time.Second
			}
			for {
				f.upload(ctx, c, rng)
				select {
				case <-ctx.Done():
					return
				case <-time.After(every + rand.N(every)):
				}
			}
		})
	}
	wg.Wait()
}

// upload PUTs a still of c whose bytes no other upload has: the camera's
// picture with a JPEG comment naming the camera and the upload. One in
// three marks an event (?event=motion), the still its thumbnail.
// The upload holds the camera's generation (genMu) from drawing to Vigil's
// answer, so that a handover closes the generation after it.
func (f *fleet) upload(ctx context.Context, c *Camera, rng *rand.Rand) {
	c.genMu.RLock()
	defer c.genMu.RUnlock()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, sim.DrawPicture(f.layout.label(c), c.Width, c.Height), &jpeg.Options{Quality: 85}); err != nil {
		return
	}
	b := buf.Bytes()
	comment := fmt.Appendf(nil, "canary upload %s %d", c.ID, rng.Uint64())
	seg := binary.BigEndian.AppendUint16([]byte{0xff, 0xfe}, uint16(len(comment)+2))
	body := append(append(append([]byte{}, b[:2]...), append(seg, comment...)...), b[2:]...)
	up := c.recordUpload(sha256.Sum256(body))
	defer c.uploadDone(up)
	path, want := "/api/cameras/"+c.ID+"/still.jpg", http.StatusNoContent
	if rng.IntN(3) == 0 {
		path, want = path+"?event=motion", http.StatusCreated
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, f.uploadURL+path, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.SetBasicAuth(c.ID, c.Password)
	req.Header.Set("Content-Type", "image/jpeg")
	res, err := f.httpc.Do(req)
	if err != nil {
		f.uploadErrors.Add(1)
		return
	}
	res.Body.Close()
	if res.StatusCode != want {
		f.uploadErrors.Add(1)
		return
	}
	f.uploads.Add(1)
}

// publishers lists the cameras that publish video.
func (f *fleet) publishers() []*Camera {
	var out []*Camera
	for _, c := range f.layout.Cameras {
		if !c.StillOnly {
			out = append(out, c)
		}
	}
	return out
}

// publishing counts the camera runs.
func (f *fleet) publishing() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.running)
}

// end stops a camera run and keeps its counts.
func (f *fleet) end(r *running) {
	r.cancel()
	<-r.done
	f.sentBefore.Add(r.cam.FramesSent())
	if r.kind != "" {
		f.mu.Lock()
		f.ended[r.kind] += r.cam.Sessions()
		f.mu.Unlock()
	}
}

// waitLive waits until every camera has reached RECORD once, or limit.
func (f *fleet) waitLive(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		live := 0
		f.mu.Lock()
		for _, r := range f.running {
			if r.cam.Sessions() > 0 {
				live++
			}
		}
		all := len(f.running)
		f.mu.Unlock()
		if live == all {
			return
		}
		sleep(ctx, 50*time.Millisecond)
	}
}
