package app

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/config"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

func (a *testApp) url(path string) string {
	return "http://" + a.HTTPAddr().String() + path
}

// get fetches path as user (admin when user is ""), returning status and body.
func (a *testApp) get(t *testing.T, path, user, pass string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", a.url(path), nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, body
}

// adminURL is an HTTP URL with the admin's credentials, for ffmpeg.
func (a *testApp) adminURL(path string) string {
	return fmt.Sprintf("http://%s:%s@%s%s", AdminName, adminPassword, a.HTTPAddr(), path)
}

func TestHTTPOutputsCarryOnlyTheirCamera(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", nil)
	one, two := a.addCamera(t, "one"), a.addCamera(t, "two")
	a.run(t, one, two)

	for _, c := range []*sim.Camera{one, two} {
		t.Run("still-"+c.ID, func(t *testing.T) {
			for _, q := range []string{"", "?width=160"} {
				code, h, body := a.get(t, "/api/cameras/"+c.ID+"/still.jpg"+q, AdminName, adminPassword)
				if code != 200 || h.Get("Content-Type") != "image/jpeg" || h.Get("Cache-Control") != "private, no-store" {
					t.Fatalf("%s: %d %v %s", q, code, h, body)
				}
				img, err := jpeg.Decode(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				got, err := sim.ReadCode(img)
				if err != nil || got != sim.CodeFor(c.ID) {
					t.Fatalf("%s: block code %x (%v), want %x", q, got, err, sim.CodeFor(c.ID))
				}
				if h.Get("X-Still-Source") != "keyframe" || h.Get("X-Still-Captured") == "" {
					t.Fatalf("%s: headers %v", q, h)
				}
			}
		})
		for _, path := range []string{"/live.mp4", "/hls/index.m3u8", "/hls/index.m3u8?variant=ts"} {
			t.Run(strings.TrimPrefix(path, "/")+"-"+c.ID, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				var out, stderr bytes.Buffer
				cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-i", a.adminURL("/api/cameras/"+c.ID+path),
					"-map", "0:v", "-c", "copy", "-frames:v", "20", "-f", "h264", "-bsf:v", "h264_mp4toannexb", "pipe:1")
				cmd.Stdout, cmd.Stderr = &out, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("ffmpeg: %v\n%s", err, stderr.String())
				}
				chk := sim.NewChecker(sim.StaticKeys(stampSecret))
				if err := chk.AnnexB(out.Bytes()); err != nil {
					t.Fatal(err)
				}
				if err := chk.Only(c.ID); err != nil {
					t.Fatalf("stamps %v: %v", chk.Counts(), err)
				}
			})
		}
	}
}

func TestHTTPRefusals(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "cam")
	a.run(t, cam)
	base := "/api/cameras/" + cam.ID
	tests := []struct {
		name, path, user, pass string
		want                   int
	}{
		{"anonymous still", base + "/still.jpg", "", "", 401},
		{"wrong password", base + "/still.jpg", AdminName, "nope", 401},
		{"camera credentials cannot watch", base + "/still.jpg", cam.ID, "x", 401},
		{"unknown camera", "/api/cameras/cam-nothere/still.jpg", AdminName, adminPassword, 404},
		{"malformed camera id", "/api/cameras/..%2Fetc/still.jpg", AdminName, adminPassword, 404},
		{"absurd width", base + "/still.jpg?width=99999", AdminName, adminPassword, 400},
		{"absurd max_age", base + "/still.jpg?max_age=-3", AdminName, adminPassword, 400},
		{"bad stream", base + "/still.jpg?stream=other", AdminName, adminPassword, 400},
		{"anonymous mp4", base + "/live.mp4", "", "", 401},
		{"anonymous playlist", base + "/hls/index.m3u8", "", "", 401},
		{"anonymous mjpeg", base + "/mjpeg", "", "", 401},
		{"bad fps", base + "/mjpeg?fps=1000", AdminName, adminPassword, 400},
		{"offline sub stream mp4", base + "/live.mp4?stream=sub", AdminName, adminPassword, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h, body := a.get(t, tt.path, tt.user, tt.pass)
			if code != tt.want {
				t.Fatalf("%s: %d %q, want %d", tt.path, code, body, tt.want)
			}
			if ct := h.Get("Content-Type"); strings.HasPrefix(ct, "image/") || strings.HasPrefix(ct, "video/") {
				t.Fatalf("refusal carried media: %s", ct)
			}
		})
	}
}

func TestStillUploadReturnsToItsCameraOnly(t *testing.T) {
	a := startApp(t, "", nil)
	mine, other := a.addCamera(t, "mine"), a.addCamera(t, "other")
	pw := strings.Split(strings.TrimPrefix(mine.URL, "rtsp://"+mine.ID+":"), "@")[0]
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, sim.DrawPicture(mine.ID, 320, 240), nil); err != nil {
		t.Fatal(err)
	}
	put := func(path, user, pass string, body []byte) int {
		req, _ := http.NewRequest("PUT", a.url(path), bytes.NewReader(body))
		req.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := put("/api/cameras/"+other.ID+"/still.jpg", mine.ID, pw, buf.Bytes()); c != 401 {
		t.Fatalf("upload for another camera with mine's credentials: %d", c)
	}
	if c := put("/api/cameras/"+mine.ID+"/still.jpg", mine.ID, pw, []byte("not a jpeg")); c != 415 {
		t.Fatalf("non-JPEG upload: %d", c)
	}
	if c := put("/api/cameras/"+mine.ID+"/still.jpg", mine.ID, pw, bytes.Repeat([]byte{0xff}, 20<<20)); c != 413 {
		t.Fatalf("oversized upload: %d", c)
	}
	if c := put("/api/cameras/"+mine.ID+"/still.jpg", mine.ID, pw, buf.Bytes()); c != 204 {
		t.Fatalf("upload: %d", c)
	}
	code, h, body := a.get(t, "/api/cameras/"+mine.ID+"/still.jpg", AdminName, adminPassword)
	if code != 200 || !bytes.Equal(body, buf.Bytes()) || h.Get("X-Still-Fallback") != "true" || h.Get("X-Still-Source") != "upload" {
		t.Fatalf("uploaded still: %d, %d bytes (sent %d), headers %v", code, len(body), buf.Len(), h)
	}
	if code, _, body := a.get(t, "/api/cameras/"+other.ID+"/still.jpg", AdminName, adminPassword); code == 200 || bytes.Contains(body, buf.Bytes()[:64]) {
		t.Fatalf("the other camera served %d with %d bytes", code, len(body))
	}
}

func TestCORSForCastReceivers(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.CORSOrigins = []string{"https://cast.example"} })
	cam := a.addCamera(t, "cam")
	a.run(t, cam)
	path := "/api/cameras/" + cam.ID + "/hls/index.m3u8"
	do := func(method, origin string) *http.Response {
		req, _ := http.NewRequest(method, a.url(path), nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Headers", "range")
		req.SetBasicAuth(AdminName, adminPassword)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	pre := do("OPTIONS", "https://cast.example")
	if pre.StatusCode != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "https://cast.example" ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Range") {
		t.Fatalf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
	if res := do("GET", "https://cast.example"); res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://cast.example" {
		t.Fatalf("allowed origin: %d %v", res.StatusCode, res.Header)
	}
	if res := do("GET", "https://evil.example"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin got CORS headers: %v", res.Header)
	}
}

// TestClientsThatLeaveMidResponse: viewers that hang up in the middle of an
// MP4 or MJPEG response leave no reader, no viewer count and no goroutine behind.
func TestClientsThatLeaveMidResponse(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "cam")
	a.run(t, cam)
	readers := a.hub.Metrics().Readers.WithLabelValues(cam.ID, "main")
	before := runtime.NumGoroutine()
	for _, path := range []string{"/live.mp4", "/mjpeg?fps=10"} {
		for range 5 {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", a.url("/api/cameras/"+cam.ID+path), nil)
			req.SetBasicAuth(AdminName, adminPassword)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(res.Body, make([]byte, 1000)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			cancel()
			res.Body.Close()
		}
	}
	testkit.WaitFor(t, 5*time.Second, "release of readers, viewers and goroutines after hang-ups", func() error {
		viewers := metricSum(t, a, "vigil_http_viewers")
		if testutil.ToFloat64(readers) == 0 && viewers == 0 && runtime.NumGoroutine() <= before+5 {
			return nil
		}
		return fmt.Errorf("%v hub readers, %v HTTP viewers, %d goroutines (were %d)",
			testutil.ToFloat64(readers), viewers, runtime.NumGoroutine(), before)
	})
}

// metricSum adds up every series of a gauge or counter family in the app's
// registry.
func metricSum(t *testing.T, a *testApp, name string) float64 {
	t.Helper()
	mfs, err := a.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue() + m.GetCounter().GetValue() // one of them is set
			}
		}
	}
	return sum
}
