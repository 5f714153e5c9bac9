package app

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"os/exec"
	"strings"
	"testing"
	"time"

	"vigil/internal/auth"
	"vigil/internal/sim"
)

func TestStreamTokensForPlayersWithoutHeaders(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", nil)
	cam, other := a.addCamera(t, "porch"), a.addCamera(t, "garage")
	a.run(t, cam, other)
	a.addUser(t, "olga")
	vera := a.addUser(t, "vera")
	ctx := context.Background()
	dir := a.households()
	for _, c := range []*sim.Camera{cam, other} {
		code, _ := auth.NewClaimCode()
		a.store.ResetDevice(ctx, deviceID(c), auth.ClaimHash(code))
		if _, err := a.auth.Claim(ctx, a.callerNamed(ctx, "olga"), code, dir); err != nil {
			t.Fatal(err)
		}
		a.waitBack(t, deviceID(c))
	}
	if err := a.auth.Share(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", time.Time{}, dir); err != nil {
		t.Fatal(err)
	}
	mint := func(user, pass, id string, body map[string]any) (int, map[string]any) {
		t.Helper()
		status, b := a.call(t, "POST", "/api/cameras/"+id+"/tokens", user, pass, body)
		var out map[string]any
		json.Unmarshal(b, &out)
		return status, out
	}
	if s, _ := mint("vera", vera, other.ID, nil); s != 404 {
		t.Fatalf("token for a camera vera may not see: %d", s)
	}
	s, tok := mint("vera", vera, cam.ID, map[string]any{"audience": "google"})
	if s != 200 {
		t.Fatalf("mint: %d %v", s, tok)
	}
	urls := tok["urls"].(map[string]any)
	token := tok["token"].(string)
	_, mainTok := mint("vera", vera, cam.ID, map[string]any{"audience": "google", "stream": "main"})

	// No credentials but the token: the still is the camera's own picture.
	code, _, body := a.get(t, urls["still"].(string), "", "")
	if code != 200 {
		t.Fatalf("still with token: %d %s", code, body)
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := sim.ReadCode(img); c != sim.CodeFor(cam.ID) {
		t.Fatalf("block code %x, want %x", c, sim.CodeFor(cam.ID))
	}
	// ffmpeg plays the LL-HLS URL (segments and parts carry the token).
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-i", a.url(urls["hls"].(string)),
		"-map", "0:v", "-c", "copy", "-frames:v", "15", "-f", "h264", "pipe:1").Output()
	if err != nil {
		t.Fatalf("ffmpeg with token: %v", err)
	}
	chk := sim.NewChecker(sim.StaticKeys(stampSecret))
	if chk.AnnexB(out); chk.Only(cam.ID) != nil {
		t.Fatalf("stamps through the token's HLS: %v", chk.Counts())
	}

	refused := []struct {
		name, path string
		want       int
	}{
		{"token for another camera", "/api/cameras/" + other.ID + "/still.jpg?token=" + token, 403},
		{"token for another stream", "/api/cameras/" + cam.ID + "/still.jpg?stream=sub&token=" + mainTok["token"].(string), 403},
		{"forged token", "/api/cameras/" + cam.ID + "/still.jpg?token=" + token[:len(token)-4] + "AAAA", 401},
		{"garbage token", "/api/cameras/" + cam.ID + "/live.mp4?token=x.y", 401},
	}
	for _, tt := range refused {
		if code, h, _ := a.get(t, tt.path, "", ""); code != tt.want || strings.HasPrefix(h.Get("Content-Type"), "image/") {
			t.Errorf("%s: %d, want %d", tt.name, code, tt.want)
		}
	}
	// A one-second token expires.
	_, short := mint("vera", vera, cam.ID, map[string]any{"ttl_seconds": 1})
	time.Sleep(1100 * time.Millisecond)
	if code, _, _ := a.get(t, short["urls"].(map[string]any)["still"].(string), "", ""); code != 401 {
		t.Errorf("expired token: %d", code)
	}
	// Unsharing makes the outstanding token useless.
	if err := a.auth.Unshare(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", dir); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := a.get(t, urls["still"].(string), "", ""); code != 404 {
		t.Errorf("token replayed after unshare: %d", code)
	}

}
