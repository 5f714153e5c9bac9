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
	pushHost  string // the camera proxy's host:port
	uploadURL string // http://host:port of the HTTP proxy
	fps       int
	log       *slog.Logger
	httpc     *http.Client

	uploads, uploadErrors, restarts atomic.Int64
	sentBefore                      atomic.Uint64 // frames sent by camera runs that ended

	mu      sync.Mutex
	running map[int]*running // guarded by mu; by camera index
}

type running struct {
	cam    *sim.Camera
	cancel context.CancelFunc
	done   chan struct{}
}

func newFleet(l *Layout, secret []byte, pushHost, httpHost string, fps int, log *slog.Logger) *fleet {
	return &fleet{layout: l, secret: secret, pushHost: pushHost, uploadURL: "http://" + httpHost, fps: fps, log: log,
		httpc: &http.Client{Timeout: 20 * time.Second}, running: map[int]*running{}}
}

// start publishes every camera that is not still-only.
func (f *fleet) start(ctx context.Context) {
	for _, c := range f.publishers() {
		f.run(ctx, c)
	}
}

// run starts camera c with its current parameters, ending a previous run.
func (f *fleet) run(ctx context.Context, c *Camera) {
	u := url.URL{Scheme: "rtsp", Host: f.pushHost, Path: "/" + c.ID, User: url.UserPassword(c.ID, c.Password)}
	cam := &sim.Camera{URL: u.String(), ID: c.ID, Key: sim.CameraKey(f.secret, c.ID), Width: c.Width, Height: c.Height,
		Main: c.Main, FPS: f.fps, Logger: f.log}
	cctx, cancel := context.WithCancel(ctx)
	r := &running{cam: cam, cancel: cancel, done: make(chan struct{})}
	f.mu.Lock()
	old := f.running[c.Index]
	f.running[c.Index] = r
	f.mu.Unlock()
	if old != nil {
		old.cancel()
		<-old.done
		f.sentBefore.Add(old.cam.FramesSent())
	}
	go func() {
		defer close(r.done)
		cam.Run(cctx)
	}()
}

// restart restarts camera c with a new picture size and profile.
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
		r.cancel()
		<-r.done
		f.sentBefore.Add(r.cam.FramesSent())
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
// picture with a JPEG comment naming the camera and the upload.
func (f *fleet) upload(ctx context.Context, c *Camera, rng *rand.Rand) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, sim.DrawPicture(c.ID, c.Width, c.Height), &jpeg.Options{Quality: 85}); err != nil {
		return
	}
	b := buf.Bytes()
	comment := fmt.Appendf(nil, "canary upload %s %d", c.ID, rng.Uint64())
	seg := binary.BigEndian.AppendUint16([]byte{0xff, 0xfe}, uint16(len(comment)+2))
	body := append(append(append([]byte{}, b[:2]...), append(seg, comment...)...), b[2:]...)
	c.recordUpload(sha256.Sum256(body))
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, f.uploadURL+"/api/cameras/"+c.ID+"/still.jpg", bytes.NewReader(body))
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
	if res.StatusCode != http.StatusNoContent {
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
