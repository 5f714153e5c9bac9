package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/config"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// homeGraph is a loopback HomeGraph that records every call.
type homeGraph struct {
	mu    sync.Mutex
	calls []map[string]any
	paths []string
}

func (h *homeGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	json.Unmarshal(b, &body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer hg-test-token" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.calls = append(h.calls, body)
	h.paths = append(h.paths, r.URL.Path)
	w.Write([]byte("{}"))
}

// reports returns the online states reported for agent so far.
func (h *homeGraph) reports(agent string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for i, c := range h.calls {
		if c["agentUserId"] == agent && h.paths[i] == "/v1/devices:reportStateAndNotification" {
			out = append(out, c["payload"].(map[string]any)["devices"].(map[string]any)["states"].(map[string]any))
		}
	}
	return out
}

// runClaimed publishes cameras that are already claimed (run's wait
// needs the admin's grant, which claimed cameras refuse).
func (a *testApp) runClaimed(t *testing.T, cams ...*sim.Camera) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.RunMany(ctx, cams); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	testkit.WaitFor(t, 15*time.Second, "every camera online", func() error {
		for _, c := range cams {
			if !a.hub.Online(deviceID(c), access.StreamMain) {
				return fmt.Errorf("camera %s offline", c.ID)
			}
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // the first keyframe
}

// intent posts a fixture (from the fulfillment's testdata, shaped like
// Google's requests) with a bearer token and decodes the answer.
func (a *testApp) intent(t *testing.T, bearer, fixture, camera string) (int, map[string]any) {
	t.Helper()
	b, err := os.ReadFile("../smarthome/google/testdata/" + fixture)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer("{{camera}}", camera, "{{foreign}}", "cam-nosuchcam0").Replace(string(b))
	req, _ := http.NewRequest("POST", a.url("/google/fulfillment"), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// streamOf returns the states of the single command of an EXECUTE answer
// (nil on an error) and its error code.
func streamOf(t *testing.T, out map[string]any) (map[string]any, string) {
	t.Helper()
	cmds, _ := out["payload"].(map[string]any)["commands"].([]any)
	if len(cmds) != 1 {
		t.Fatalf("EXECUTE answer: %v", out)
	}
	c := cmds[0].(map[string]any)
	st, _ := c["states"].(map[string]any)
	code, _ := c["errorCode"].(string)
	return st, code
}

func syncIDs(t *testing.T, out map[string]any) []string {
	t.Helper()
	var ids []string
	for _, d := range out["payload"].(map[string]any)["devices"].([]any) {
		ids = append(ids, d.(map[string]any)["id"].(string))
	}
	return ids
}

// playStamps plays a stream URL with ffmpeg (no headers: the token is in
// the URL, as for a Cast receiver) and returns the stamps' checker.
func playStamps(t *testing.T, url string, frames string) *sim.Checker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-i", url, "-map", "0:v", "-c", "copy",
		"-frames:v", frames, "-f", "h264", "pipe:1").Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v", url, err)
	}
	chk := sim.NewChecker(sim.StaticKeys(stampSecret))
	chk.AnnexB(out)
	return chk
}

// TestSmartDisplayEndToEnd: two households link their Google accounts the
// way Google does; their displays SYNC, QUERY and EXECUTE with requests
// shaped like Google's and play the returned URLs with ffmpeg, at the
// same time; every frame carries the stamp of the requested camera, no
// household ever sees the other's, and DISCONNECT ends the link, its
// stream tokens and its HomeGraph reports.
func TestSmartDisplayEndToEnd(t *testing.T) {
	needFFmpeg(t)
	hg := &homeGraph{}
	hgSrv := httptest.NewServer(hg)
	defer hgSrv.Close()
	a := startApp(t, "", func(c *config.Config) {
		withOAuthClients(c)
		c.HomeGraphURL, c.HomeGraphToken = hgSrv.URL, "hg-test-token"
	})
	olgaPW, porch, garage := a.household(t)
	bobPW := a.addUser(t, "bob")
	shed := a.addCamera(t, "shed")
	claimFor(t, a, shed, "bob")
	a.runClaimed(t, porch, garage, shed)

	link := func(user, pw string, cams ...string) (string, string) {
		g := a.google(t)
		code, verifier := g.Link(user, pw, cams...)
		tok := g.Exchange(code, verifier)
		if tok.Status != 200 {
			t.Fatalf("exchange: %+v", tok)
		}
		refreshed := g.Refresh(tok.RefreshToken)
		if refreshed.Status != 200 || refreshed.AccessToken == "" {
			t.Fatalf("refresh: %+v", refreshed)
		}
		return refreshed.AccessToken, refreshed.RefreshToken
	}
	olgaTok, _ := link("olga", olgaPW, porch.ID) // the garage stays private
	bobTok, _ := link("bob", bobPW, shed.ID)

	for _, h := range []struct {
		tok  string
		want string
	}{{olgaTok, porch.ID}, {bobTok, shed.ID}} {
		code, out := a.intent(t, h.tok, "sync.json", "")
		if ids := syncIDs(t, out); code != 200 || len(ids) != 1 || ids[0] != h.want {
			t.Fatalf("SYNC: %d %v, want only %s", code, ids, h.want)
		}
	}
	_, out := a.intent(t, olgaTok, "query.json", porch.ID)
	states := out["payload"].(map[string]any)["devices"].(map[string]any)
	if st := states[porch.ID].(map[string]any); st["online"] != true || st["status"] != "SUCCESS" {
		t.Fatalf("QUERY porch: %v", st)
	}

	// Both households' displays ask for streams and play them at once.
	var wg sync.WaitGroup
	for _, h := range []struct {
		tok          string
		mine, theirs *sim.Camera
	}{{olgaTok, porch, shed}, {bobTok, shed, porch}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, fixture := range []string{"execute_hls.json", "execute_no_hls.json", "execute_hls.json"} {
				_, out := a.intent(t, h.tok, fixture, h.mine.ID)
				st, code := streamOf(t, out)
				if code != "" {
					t.Errorf("EXECUTE %s on %s: %s", fixture, h.mine.ID, code)
					return
				}
				want := map[bool]string{true: "hls", false: "progressive_mp4"}[fixture == "execute_hls.json"]
				if st["cameraStreamProtocol"] != want || st["cameraStreamAuthToken"] == "" {
					t.Errorf("EXECUTE %s: %v", fixture, st)
				}
				if chk := playStamps(t, st["cameraStreamAccessUrl"].(string), "20"); chk.Only(h.mine.ID) != nil {
					t.Errorf("round %d: stamps %v, want only %s", i, chk.Counts(), h.mine.ID)
				}
				if _, out := a.intent(t, h.tok, "execute_hls.json", h.theirs.ID); func() string { _, c := streamOf(t, out); return c }() != "deviceNotFound" {
					t.Errorf("EXECUTE for the other household's %s: %v", h.theirs.ID, out)
				}
			}
		}()
	}
	wg.Wait()
	if _, out := a.intent(t, olgaTok, "execute_hls.json", garage.ID); func() string { _, c := streamOf(t, out); return c }() != "deviceNotFound" {
		t.Fatalf("EXECUTE for a camera olga did not expose: %v", out)
	}

	// A Cast receiver (another origin) may read the token's playlist.
	_, out = a.intent(t, olgaTok, "execute_hls.json", porch.ID)
	hlsState, _ := streamOf(t, out)
	req, _ := http.NewRequest("GET", hlsState["cameraStreamAccessUrl"].(string), nil)
	req.Header.Set("Origin", "https://www.gstatic.com")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://www.gstatic.com" {
		t.Fatalf("Cast receiver's playlist request: %d %v", res.StatusCode, res.Header)
	}

	// Refusals, with zero media bytes.
	_, out = a.intent(t, olgaTok, "execute_no_hls.json", porch.ID)
	st, _ := streamOf(t, out)
	mp4URL := st["cameraStreamAccessUrl"].(string)
	refused := map[string]string{
		"stream token for another camera": strings.Replace(mp4URL, porch.ID, garage.ID, 1),
	}
	if code, _ := a.intent(t, "forged-token", "sync.json", ""); code != 401 {
		t.Errorf("forged access token: %d", code)
	}
	alexa := a.alexa(t)
	acode, averifier := alexa.Link("olga", olgaPW, porch.ID)
	if code, out := a.intent(t, alexa.Exchange(acode, averifier).AccessToken, "sync.json", ""); code != 401 {
		t.Errorf("Alexa's access token on Google's fulfillment: %d %v", code, out)
	}

	// HomeGraph heard olga's porch online, then DISCONNECT ends it all.
	testkit.WaitFor(t, 10*time.Second, "state report for olga", func() error {
		if len(hg.reports(agentOf(t, a, "olga"))) == 0 {
			return errors.New("HomeGraph heard none")
		}
		return nil
	})
	agent := agentOf(t, a, "olga")
	if r := hg.reports(agent)[0]; r[porch.ID] == nil || r[garage.ID] != nil || r[shed.ID] != nil {
		t.Fatalf("olga's report: %v", r)
	}
	if code, out := a.intent(t, olgaTok, "disconnect.json", ""); code != 200 || len(out) != 0 {
		t.Fatalf("DISCONNECT: %d %v", code, out)
	}
	refused["stream token after DISCONNECT"] = mp4URL
	for name, u := range refused {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode < 400 || bytes.Contains(b, []byte("ftyp")) {
			t.Errorf("%s: %d, %d bytes", name, res.StatusCode, len(b))
		}
	}
	if code, _ := a.intent(t, olgaTok, "sync.json", ""); code != 401 {
		t.Errorf("SYNC after DISCONNECT: %d", code)
	}
	before := len(hg.reports(agent))
	a.store.SetUserDisabled(context.Background(), "u-olga", false) // a change that would be reported
	time.Sleep(3 * time.Second)
	if n := len(hg.reports(agent)); n != before {
		t.Errorf("%d reports for a disconnected agent user", n-before)
	}
	if code, out := a.intent(t, bobTok, "sync.json", ""); code != 200 || len(syncIDs(t, out)) != 1 {
		t.Errorf("bob's link after olga's DISCONNECT: %d %v", code, out)
	}
}

func agentOf(t *testing.T, a *testApp, user string) string {
	t.Helper()
	links, err := a.store.LiveLinks(context.Background(), "google")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.UserName == user {
			return l.AgentUserID
		}
	}
	t.Fatalf("no live Google link of %s", user)
	return ""
}

// signal posts one of Google's WebRTC signaling messages, with the stream
// token as Google's sample sends it ("Authentication") from Google's origin.
func signal(t *testing.T, url, token string, msg map[string]string) (int, http.Header, map[string]string) {
	t.Helper()
	b, _ := json.Marshal(msg)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Authentication", "Bearer "+token)
	req.Header.Set("Origin", "https://www.gstatic.com")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]string
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, res.Header, out
}

// TestNestHubPlaysOverWebRTC: a display that asks only for WebRTC gets a
// signaling URL and a token; its offer is answered, the video it receives
// carries the camera's stamps, "end" hangs up; the token opens no other
// camera and dies with DISCONNECT.
func TestNestHubPlaysOverWebRTC(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	pw, porch, garage := a.household(t)
	a.runClaimed(t, porch, garage)
	g := a.google(t)
	code, verifier := g.Link("olga", pw, porch.ID)
	tok := g.Exchange(code, verifier).AccessToken

	_, out := a.intent(t, tok, "execute_webrtc_only.json", porch.ID)
	st, errCode := streamOf(t, out)
	if errCode != "" || st["cameraStreamProtocol"] != "webrtc" {
		t.Fatalf("EXECUTE webrtc: %v", out)
	}
	url, token := st["cameraStreamSignalingUrl"].(string), st["cameraStreamAuthToken"].(string)

	v := newWebRTCViewer(t, false)
	offer, err := v.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	status, h, ans := signal(t, url, token, map[string]string{"action": "offer", "deviceId": porch.ID, "sdp": offer})
	if status != 200 || ans["action"] != "answer" || ans["sdp"] == "" || h.Get("Access-Control-Allow-Origin") != "https://www.gstatic.com" {
		t.Fatalf("offer: %d %v %v", status, h, ans)
	}
	if err := v.Accept(ans["sdp"]); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "30 video units over WebRTC", func() error {
		if n := v.Stats().Units; n < 30 {
			return fmt.Errorf("%d units", n)
		}
		return nil
	})
	if err := v.Checker().Only(porch.ID); err != nil {
		t.Fatalf("stamps over Google's WebRTC: %v", err)
	}
	if status, _, out := signal(t, url, token, map[string]string{"action": "end", "deviceId": porch.ID}); status != 200 || len(out) != 0 {
		t.Fatalf("end: %d %v", status, out)
	}
	select {
	case <-v.Gone():
	case <-time.After(5 * time.Second):
		t.Fatal("the session outlived end")
	}

	other := strings.Replace(url, porch.ID, garage.ID, 1)
	if status, _, out := signal(t, other, token, map[string]string{"action": "offer", "deviceId": garage.ID, "sdp": offer}); status != 403 || out["sdp"] != "" {
		t.Fatalf("the porch's token on the garage: %d %v", status, out)
	}
	// The display plays again while olga watches in her browser; DISCONNECT
	// ends the display's view at once and leaves hers alone.
	display := newWebRTCViewer(t, false)
	dOffer, _ := display.Offer(context.Background())
	_, _, ans = signal(t, url, token, map[string]string{"action": "offer", "deviceId": porch.ID, "sdp": dOffer})
	browser := newWebRTCViewer(t, false)
	bOffer, _ := browser.Offer(context.Background())
	_, bAnswer := a.whepAnswer(t, porch.ID, bOffer, basicAuth("olga", pw))
	if display.Accept(ans["sdp"]) != nil || browser.Accept(bAnswer) != nil {
		t.Fatal("accepting the answers failed")
	}
	testkit.WaitFor(t, 10*time.Second, "both views playing", func() error {
		if d, b := display.Stats().Units, browser.Stats().Units; d <= 10 || b <= 10 {
			return fmt.Errorf("display %d units, browser %d", d, b)
		}
		return nil
	})
	a.intent(t, tok, "disconnect.json", "")
	viewEnds(t, display, porch.ID, time.Now(), "DISCONNECT")
	// Her own view goes on: ten more units, waited for (a loaded machine
	// can take more than a second to deliver them), on a connection still
	// open.
	before := browser.Stats().Units
	testkit.WaitFor(t, 10*time.Second, "olga's own browser view going on after DISCONNECT", func() error {
		select {
		case <-browser.Gone():
			t.Fatalf("olga's own browser view ended with the link: %d → %d units", before, browser.Stats().Units)
		default:
		}
		if n := browser.Stats().Units; n < before+10 {
			return fmt.Errorf("%d → %d units", before, n)
		}
		return nil
	})
	if status, _, out := signal(t, url, token, map[string]string{"action": "offer", "deviceId": porch.ID, "sdp": offer}); status != 401 || out["sdp"] != "" {
		t.Fatalf("after DISCONNECT: %d %v", status, out)
	}
}
