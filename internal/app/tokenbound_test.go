package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// login signs user in, returning the session cookie (nil when refused),
// the CSRF token and the status.
func (a *testApp) login(t *testing.T, user, pw string) (*http.Cookie, string, int) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"name": user, "password": pw})
	res, err := http.Post(a.url("/api/login"), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ CSRF string }
	json.NewDecoder(res.Body).Decode(&out)
	for _, c := range res.Cookies() {
		if c.Name == "vigil_session" {
			return c, out.CSRF, res.StatusCode
		}
	}
	return nil, "", res.StatusCode
}

// session signs user in and returns a request preparer carrying the
// session cookie and CSRF header.
func (a *testApp) session(t *testing.T, user, pw string) func(*http.Request) {
	t.Helper()
	c, csrf, code := a.login(t, user, pw)
	if c == nil {
		t.Fatalf("login of %s: %d", user, code)
	}
	return func(r *http.Request) { r.AddCookie(c); r.Header.Set("X-CSRF-Token", csrf) }
}

// send makes a request with a JSON body (nil: none) prepared by prepare.
func (a *testApp) send(t *testing.T, method, path string, body any, prepare func(*http.Request)) (int, []byte) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, a.url(path), rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	prepare(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes()
}

type mintedToken struct {
	Token string
	URLs  map[string]string
}

func (a *testApp) mintWith(t *testing.T, id string, body any, prepare func(*http.Request)) mintedToken {
	t.Helper()
	status, b := a.send(t, "POST", "/api/cameras/"+id+"/tokens", body, prepare)
	var m mintedToken
	if err := json.Unmarshal(b, &m); status != 200 || err != nil {
		t.Fatalf("mint: %d %s", status, b)
	}
	return m
}

func basicAuth(user, pw string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pw) }
}

// TestStreamTokensDieWithTheirSession: a stream token is bound to what it
// was minted in. Logging out, deleting the API token, or changing the
// password makes the tokens minted with it useless, while tokens minted in
// other sessions keep working. A password change ends every API token and
// every session but the one that made it.
func TestStreamTokensDieWithTheirSession(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	still := func(m mintedToken) int {
		code, _, _ := a.get(t, m.URLs["still"], "", "")
		return code
	}

	sess1, sess2 := a.session(t, "olga", pw), a.session(t, "olga", pw)
	tok1, tok2 := a.mintWith(t, cam.ID, nil, sess1), a.mintWith(t, cam.ID, nil, sess2)
	if still(tok1) != 200 || still(tok2) != 200 {
		t.Fatal("fresh session tokens refused")
	}
	if code, _ := a.send(t, "POST", "/api/logout", nil, sess1); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if c1, c2 := still(tok1), still(tok2); c1 != 401 || c2 != 200 {
		t.Fatalf("after logging out of session 1: its token %d (want 401), session 2's %d (want 200)", c1, c2)
	}

	code, b := a.send(t, "POST", "/api/tokens", map[string]any{"name": "nvr"}, sess2)
	var key struct{ ID, Token string }
	if json.Unmarshal(b, &key); code != 201 {
		t.Fatalf("api token: %d %s", code, b)
	}
	byKey := a.mintWith(t, cam.ID, nil, basicAuth("olga", key.Token))
	byPassword := a.mintWith(t, cam.ID, nil, basicAuth("olga", pw))
	if still(byKey) != 200 || still(byPassword) != 200 {
		t.Fatal("tokens minted with an API token or the password refused")
	}
	if code, _ := a.send(t, "DELETE", "/api/tokens/"+key.ID, nil, sess2); code != 204 {
		t.Fatalf("delete api token: %d", code)
	}
	if c1, c2 := still(byKey), still(byPassword); c1 != 401 || c2 != 200 {
		t.Fatalf("after deleting the API token: its stream token %d (want 401), the password's %d (want 200)", c1, c2)
	}
	// A password change cuts off whoever knew the old password: the
	// password's tokens, other sessions' and API tokens' die; the session
	// that made the change keeps its own.
	code, b = a.send(t, "POST", "/api/tokens", map[string]any{"name": "nvr2"}, sess2)
	if json.Unmarshal(b, &key); code != 201 {
		t.Fatalf("api token: %d %s", code, b)
	}
	byKey = a.mintWith(t, cam.ID, nil, basicAuth("olga", key.Token))
	sess3 := a.session(t, "olga", pw)
	tok3 := a.mintWith(t, cam.ID, nil, sess3)
	if code, b := a.send(t, "POST", "/api/password", map[string]string{"current": pw, "new": "a new long passphrase 42"}, sess2); code != 204 {
		t.Fatalf("password change: %d %s", code, b)
	}
	if c1, c2, c3 := still(byPassword), still(byKey), still(tok3); c1 != 401 || c2 != 401 || c3 != 401 {
		t.Fatalf("after the password change: password token %d, API token's %d, other session's %d (want 401 all)", c1, c2, c3)
	}
	if c := still(tok2); c != 200 {
		t.Fatalf("after the password change: the changing session's token %d, want 200", c)
	}
	if code, _, _ := a.get(t, "/api/cameras", "olga", key.Token); code != 401 {
		t.Fatalf("the API token after the password change: %d, want 401", code)
	}
}

// TestAPITokenScopes: a view token reads media and mints stream tokens but
// changes nothing; a manage token shares; neither touches the account.
func TestAPITokenScopes(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	pw := a.addUser(t, "olga")
	a.addUser(t, "vera")
	claimFor(t, a, cam, "olga")
	key := func(scope string) func(*http.Request) {
		code, b := a.send(t, "POST", "/api/tokens", map[string]any{"scope": scope}, basicAuth("olga", pw))
		var k struct{ Token, Scope string }
		if json.Unmarshal(b, &k); code != 201 || (scope != "" && k.Scope != scope) {
			t.Fatalf("api token %q: %d %s", scope, code, b)
		}
		return basicAuth("olga", k.Token)
	}
	if code, _ := a.send(t, "POST", "/api/tokens", map[string]any{"scope": "account"}, basicAuth("olga", pw)); code != 400 {
		t.Fatalf("an account-scoped API token was made: %d", code)
	}
	view, manage := key(""), key("manage")
	share := "/api/cameras/" + cam.ID + "/shares/vera"
	cases := []struct {
		name, method, path string
		body               any
		as                 func(*http.Request)
		want               int
	}{
		{"view lists cameras", "GET", "/api/cameras", nil, view, 200},
		{"view reads a still", "GET", "/api/cameras/" + cam.ID + "/still.jpg", nil, view, 200},
		{"view mints a stream token", "POST", "/api/cameras/" + cam.ID + "/tokens", nil, view, 200},
		{"view may not share", "PUT", share, map[string]any{}, view, 403},
		{"view may not read history", "GET", "/api/cameras/" + cam.ID + "/access", nil, view, 403},
		{"manage shares", "PUT", share, map[string]any{}, manage, 204},
		{"manage reads history", "GET", "/api/cameras/" + cam.ID + "/access", nil, manage, 200},
		{"manage may not make API tokens", "POST", "/api/tokens", map[string]any{}, manage, 403},
		{"manage may not change the password", "POST", "/api/password", map[string]string{"current": pw, "new": "another long passphrase"}, manage, 403},
		{"a token does not sign in", "POST", "/api/login", nil, nil, 401},
	}
	for _, c := range cases {
		if c.as == nil { // sign in with an API token as the password
			code, b := a.send(t, "POST", "/api/tokens", map[string]any{}, basicAuth("olga", pw))
			var k struct{ Token string }
			json.Unmarshal(b, &k)
			c.body, c.as = map[string]string{"name": "olga", "password": k.Token}, func(*http.Request) {}
			_ = code
		}
		if code, b := a.send(t, c.method, c.path, c.body, c.as); code != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, code, c.want, strings.TrimSpace(string(b)))
		}
	}
}

// TestRTSPStreamTokens: an RTSP player with only a URL (a stream token for
// audience rtsp) plays the camera; a web token, a token for another camera
// and a token after unsharing are refused.
func TestRTSPStreamTokens(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", nil)
	cam, other := a.addCamera(t, "porch"), a.addCamera(t, "garage")
	a.run(t, cam, other)
	a.addUser(t, "olga")
	pw := a.addUser(t, "vera")
	claimFor(t, a, cam, "olga")
	claimFor(t, a, other, "olga")
	ctx := context.Background()
	if err := a.auth.Share(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", time.Time{}, a.households()); err != nil {
		t.Fatal(err)
	}
	m := a.mintWith(t, cam.ID, map[string]any{"audience": "rtsp"}, basicAuth("vera", pw))
	url := m.URLs["rtsp"]
	if !strings.HasPrefix(url, "rtsp://") || !strings.Contains(url, "/"+cam.ID+"?token=") {
		t.Fatalf("rtsp url %q", url)
	}
	chk, err := readStamps(url, "tcp", 15)
	if err != nil {
		t.Fatalf("ffmpeg with an RTSP token: %v", err)
	}
	if err := chk.Only(cam.ID); err != nil {
		t.Fatalf("stamps: %v", err)
	}
	web := a.mintWith(t, cam.ID, nil, basicAuth("vera", pw))
	base := strings.SplitN(url, "?", 2)[0]
	refused := map[string]string{
		"web token on rtsp":        base + "?token=" + web.Token,
		"token for another camera": strings.Replace(url, cam.ID, other.ID, 1),
		"forged token":             url[:len(url)-3] + "AAA",
	}
	for name, u := range refused {
		if out, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", u).CombinedOutput(); err == nil {
			t.Errorf("%s: ffprobe read it: %s", name, out)
		}
	}
	if err := a.auth.Unshare(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", a.households()); err != nil {
		t.Fatal(err)
	}
	if _, err := readStamps(url, "tcp", 5); err == nil {
		t.Error("the RTSP token still played after unsharing")
	}
}

// TestTokenMultivariantListsOnlyItsStream: a token for the sub stream gets
// a multivariant playlist naming the sub stream only.
func TestTokenMultivariantListsOnlyItsStream(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	i := strings.LastIndex(cam.URL, "/")
	sub := &sim.Camera{URL: cam.URL[:i] + "/" + cam.ID + "/sub", ID: cam.ID, Key: cam.Key, FPS: 10}
	a.run(t, cam, sub)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	testkit.WaitFor(t, 15*time.Second, "signed-in multivariant listing both streams", func() error {
		code, _, all := a.get(t, "/api/cameras/"+cam.ID+"/hls/index.m3u8", "olga", pw)
		if code == 200 && strings.Contains(string(all), "main/") && strings.Contains(string(all), "sub/") {
			return nil
		}
		return fmt.Errorf("%d %s", code, all)
	})
	m := a.mintWith(t, cam.ID, map[string]any{"stream": "sub"}, basicAuth("olga", pw))
	code, _, one := a.get(t, "/api/cameras/"+cam.ID+"/hls/index.m3u8?token="+m.Token, "", "")
	if code != 200 || strings.Contains(string(one), "main/") || !strings.Contains(string(one), "sub/") {
		t.Fatalf("token multivariant: %d %s", code, one)
	}
}

// TestHLSViewOutlivesItsToken: a player keeps playing LL-HLS past its
// token's expiry (it cannot be handed a new URL mid-view), and the expired
// token opens nothing new once the view has stopped using it.
func TestHLSViewOutlivesItsToken(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	m := a.mintWith(t, cam.ID, map[string]any{"audience": "google", "ttl_seconds": 2}, basicAuth("olga", pw))
	start := time.Now()
	// 75 frames at 15 fps: about 5 s of playback on a 2-second token.
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", a.url(m.URLs["hls"]),
		"-map", "0:v", "-c", "copy", "-frames:v", "75", "-f", "h264", "pipe:1").Output()
	if err != nil {
		t.Fatalf("ffmpeg stopped %v into a view with a 2 s token: %v", time.Since(start).Round(time.Millisecond), err)
	}
	chk := sim.NewChecker(sim.StaticKeys(stampSecret))
	if chk.AnnexB(out); chk.Only(cam.ID) != nil || time.Since(start) < 3*time.Second {
		t.Fatalf("stamps %v after %v", chk.Counts(), time.Since(start))
	}
	t.Logf("played %v on a 2 s token", time.Since(start).Round(time.Millisecond))
	if code, _, _ := a.get(t, m.URLs["still"], "", ""); code != 200 {
		t.Fatalf("the view's token, still in use, refused for a still: %d", code)
	}
}
