package app

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAPITokensForRTSPAndTools(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	pw := a.addUser(t, "olga")
	// olga owns the camera.
	claimFor(t, a, cam, "olga")

	s, b := a.call(t, "POST", "/api/tokens", "olga", pw, map[string]any{"name": "vlc", "ttl_days": 30})
	var tok struct{ ID, Token string }
	if s != 201 || json.Unmarshal(b, &tok) != nil || tok.Token == "" {
		t.Fatalf("create: %d %s", s, b)
	}
	if s, b := a.call(t, "GET", "/api/tokens", "olga", pw, nil); s != 200 || !json.Valid(b) || strings.Contains(string(b), tok.Token) {
		t.Fatalf("list: %d (secret must not be listed) %s", s, b)
	}
	// The token is the RTSP Digest password (ffmpeg as the player) and the Basic one.
	if _, err := readStamps(a.rtspURL("olga", tok.Token, cam.ID), "tcp", 5); err != nil {
		t.Fatalf("RTSP with the API token: %v", err)
	}
	if s, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "olga", tok.Token); s != 200 {
		t.Fatalf("Basic with the API token: %d", s)
	}
	if s, _ := a.call(t, "DELETE", "/api/tokens/"+tok.ID, "olga", pw, nil); s != 204 {
		t.Fatalf("revoke: %d", s)
	}
	if _, err := readStamps(a.rtspURL("olga", tok.Token, cam.ID), "tcp", 5); err == nil {
		t.Fatal("RTSP with a revoked API token still plays")
	}
	if s, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "olga", tok.Token); s != 401 {
		t.Fatalf("Basic with a revoked token: %d", s)
	}
}
