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
