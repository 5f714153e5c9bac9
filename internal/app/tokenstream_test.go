package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"vigil/internal/sim"
)

// status fetches url and returns its status without reading the body (a
// live output would stream for ever).
func (a *testApp) status(t *testing.T, method, url, ctype, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, a.url(url), strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// rtspStatus sends one RTSP request with no credentials but the URL's and
// returns the status.
func (a *testApp) rtspStatus(t *testing.T, method base.Method, path string) base.StatusCode {
	t.Helper()
	c := dialRTSP(t, a)
	defer c.conn.Close()
	return c.do(t, method, path, base.Header{}).StatusCode
}

// TestSubTokenNeverOpensMain: a stream token binds its stream on every
// output. A token for sub opens sub, and main nowhere — also where the
// request leaves ?stream out, which means main for every credential.
func TestSubTokenNeverOpensMain(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	i := strings.LastIndex(cam.URL, "/")
	sub := &sim.Camera{URL: cam.URL[:i] + "/" + cam.ID + "/sub", ID: cam.ID, Key: cam.Key, FPS: 10}
	a.run(t, cam, sub)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	web := a.mintWith(t, cam.ID, map[string]any{"stream": "sub"}, basicAuth("olga", pw)).Token
	rtsp := a.mintWith(t, cam.ID, map[string]any{"stream": "sub", "audience": "rtsp"}, basicAuth("olga", pw)).Token
	api := "/api/cameras/" + cam.ID

	if c := a.status(t, "GET", api+"/still.jpg?stream=sub&token="+web, "", ""); c != 200 {
		t.Fatalf("sub still with the sub token: %d, want 200", c)
	}
	offer := whepOffer(t)
	for _, tt := range []struct{ method, path, ctype, body string }{
		{"GET", "/still.jpg?token=" + web, "", ""},
		{"GET", "/still.jpg?stream=main&token=" + web, "", ""},
		{"GET", "/mjpeg?token=" + web, "", ""},
		{"GET", "/mjpeg?stream=main&token=" + web, "", ""},
		{"GET", "/live.mp4?token=" + web, "", ""},
		{"GET", "/live.mp4?stream=main&token=" + web, "", ""},
		{"GET", "/hls/main/ll/index.m3u8?token=" + web, "", ""},
		{"GET", "/hls/main/fmp4/index.m3u8?token=" + web, "", ""},
		{"POST", "/whep?token=" + web, "application/sdp", offer},
		{"POST", "/whep?stream=main&token=" + web, "application/sdp", offer},
	} {
		if c := a.status(t, tt.method, api+tt.path, tt.ctype, tt.body); c != 403 {
			t.Errorf("%s %s with a sub token: %d, want 403", tt.method, strings.Split(tt.path, "token=")[0], c)
		}
	}
	if c := a.rtspStatus(t, base.Describe, cam.ID+"/sub?token="+rtsp); c != 200 {
		t.Fatalf("RTSP DESCRIBE of sub with the sub token: %d, want 200", c)
	}
	for _, path := range []string{cam.ID + "?token=" + rtsp, cam.ID + "/main?token=" + rtsp} {
		if c := a.rtspStatus(t, base.Describe, path); c != 403 {
			t.Errorf("RTSP DESCRIBE %s with a sub token: %d, want 403", strings.Split(path, "?")[0], c)
		}
	}
}
