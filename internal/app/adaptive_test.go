package app

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// subOf is a camera publishing cam's sub stream, with cam's identity and key.
func subOf(cam *sim.Camera) *sim.Camera {
	i := strings.LastIndex(cam.URL, "/")
	return &sim.Camera{URL: cam.URL[:i] + "/" + cam.ID + "/sub", ID: cam.ID, Key: cam.Key, FPS: 10, Width: 160, Height: 120}
}

// waitStreams waits until the playlist at path, fetched with no
// credentials but its token, lists want's streams, in that order (the
// lowest BANDWIDTH first), and no others.
func waitStreams(t *testing.T, a *testApp, path string, want ...string) string {
	t.Helper()
	var body []byte
	var code int
	listed := func() []string {
		var got []string
		for l := range strings.Lines(string(body)) {
			if s, _, ok := strings.Cut(strings.TrimSpace(l), "/"); ok && !strings.HasPrefix(l, "#") {
				got = append(got, s)
			}
		}
		return got
	}
	testkit.WaitFor(t, 10*time.Second, "the multivariant playlist to list "+strings.Join(want, " and "), func() error {
		code, _, body = a.get(t, path, "", "")
		if code == 200 && strings.Join(listed(), ",") == strings.Join(want, ",") {
			return nil
		}
		return fmt.Errorf("%d, listing %v", code, listed())
	})
	return string(body)
}

// TestTokenCoversAdaptiveSet: a stream token minted for no one stream opens
// the camera's main and sub streams, and its urls.hls is the multivariant
// playlist listing both (players step down on a poor network, and that
// playlist is the one that carries the audio rendition); Google's EXECUTE
// token and an Alexa token do the same. A token minted for one stream lists
// and opens that stream alone.
func TestTokenCoversAdaptiveSet(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	pw := a.addUser(t, "olga")
	cam := a.addCamera(t, "porch")
	claimFor(t, a, cam, "olga")
	a.runClaimed(t, cam, subOf(cam))

	for _, aud := range []string{"web", "alexa"} {
		m := a.mintWith(t, cam.ID, map[string]any{"audience": aud}, basicAuth("olga", pw))
		if !strings.HasPrefix(m.URLs["hls"], "/api/cameras/"+cam.ID+"/hls/index.m3u8?") {
			t.Fatalf("%s token: urls.hls %s, want the multivariant playlist", aud, m.URLs["hls"])
		}
		waitStreams(t, a, m.URLs["hls"], "sub", "main") // the lightest first
		for _, s := range []string{"main", "sub"} {
			p := "/api/cameras/" + cam.ID + "/hls/" + s + "/ll/index.m3u8?token=" + url.QueryEscape(m.Token)
			if code, _, body := a.get(t, p, "", ""); code != 200 {
				t.Errorf("%s token, %s media playlist: %d %s", aud, s, code, body)
			}
			still := "/api/cameras/" + cam.ID + "/still.jpg?stream=" + s + "&token=" + url.QueryEscape(m.Token)
			if code, _, body := a.get(t, still, "", ""); code != 200 {
				t.Errorf("%s token, %s still: %d %s", aud, s, code, body)
			}
		}
	}

	sub := a.mintWith(t, cam.ID, map[string]any{"stream": "sub"}, basicAuth("olga", pw))
	waitStreams(t, a, sub.URLs["hls"], "sub")
	if code, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/hls/main/ll/index.m3u8?token="+sub.Token, "", ""); code != 403 {
		t.Errorf("sub token on main's media playlist: %d, want 403", code)
	}

	g := a.google(t)
	code, verifier := g.Link("olga", pw, cam.ID)
	_, out := a.intent(t, g.Exchange(code, verifier).AccessToken, "execute_hls.json", cam.ID)
	st, ecode := streamOf(t, out)
	if ecode != "" {
		t.Fatalf("EXECUTE: %s", ecode)
	}
	u, err := url.Parse(st["cameraStreamAccessUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	waitStreams(t, a, u.RequestURI(), "sub", "main")
}
