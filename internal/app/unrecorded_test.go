package app

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestUnrecordedViewersAreNotServed: when the access history cannot take a
// row, every HTTP output answers 503 with a generic text (the database's
// words stay in the log) and not a byte of media.
func TestUnrecordedViewersAreNotServed(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	db, err := sql.Open("sqlite", filepath.Join(a.cfg.DataDir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const secret = "disk sector 7 of /var/lib/vigil is unreadable"
	if _, err := db.Exec(`CREATE TRIGGER broken BEFORE INSERT ON access_log BEGIN SELECT RAISE(FAIL, '` + secret + `'); END`); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"live.mp4", "still.jpg", "mjpeg", "hls/index.m3u8", "hls/main/ll/index.m3u8"} {
		t.Run(path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", a.url("/api/cameras/"+cam.ID+"/"+path), nil)
			req.SetBasicAuth(AdminName, adminPassword)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if err != nil || res.StatusCode != 503 || bytes.Contains(b, []byte("sector")) ||
				!bytes.Contains(b, []byte("viewing is not possible right now")) {
				t.Fatalf("%d %.80q (%v), want 503 \"viewing is not possible right now\" and nothing else", res.StatusCode, b, err)
			}
		})
	}
}

// TestHLSNoSuchFileHasNoBody: hls returns its refusals as errors and the
// error table answers them with the status alone, through the whole stack.
func TestHLSNoSuchFileHasNoBody(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	base := "/api/cameras/" + cam.ID + "/hls/main/ll/"
	if code, _, body := a.get(t, base+"index.m3u8", AdminName, adminPassword); code != 200 {
		t.Fatalf("playlist: %d %.80q", code, body)
	}
	code, h, body := a.get(t, base+"abc_main_seg999999.mp4", AdminName, adminPassword)
	if code != 404 || len(body) != 0 || h.Get("Content-Type") != "" {
		t.Fatalf("a segment that does not exist: %d %q (Content-Type %q), want 404 and nothing", code, body, h.Get("Content-Type"))
	}
	code, _, body = a.get(t, "/api/cameras/"+cam.ID+"/hls/index.m3u8?variant=ts", AdminName, adminPassword)
	if code != 200 || !bytes.HasPrefix(body, []byte("#EXTM3U")) {
		t.Fatalf("multivariant: %d %.80q", code, body)
	}
}
