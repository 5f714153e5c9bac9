package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/internal/seal"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// TestRecordingSurvivesKill9: vigil is killed with SIGKILL while it
// records a camera, a minute-long segment half written. After the restart
// the timeline lists what had been written, cut to whole fragments: it
// downloads, ffmpeg reads it, its stamps are the camera's only, and it
// lacks at most the fragment being written and the sealed chunk being
// filled (64 KiB). Nothing half-written is left or served.
func TestRecordingSurvivesKill9(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is missing: run `make test`, which installs it")
	}
	s := newServer(t, 1, "VIGIL_ADMIN_PASSWORD=crash-admin", "VIGIL_RECORD=true")
	s.start(t)
	defer s.kill9()
	dev := addTestDevice(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cam := &sim.Camera{ID: dev.ID, Key: sim.CameraKey([]byte("crash secret"), dev.ID), FPS: 15, GOP: 15, Width: 640, Height: 360,
		URL: fmt.Sprintf("rtsp://%s:%s@127.0.0.1:%d/%s", dev.ID, dev.Password, s.rtspPort, dev.ID)}
	go cam.Run(ctx)

	// The segment's Put is under way: its temporary file holds some
	// fragments in whole sealed chunks.
	dir := filepath.Join(s.dir, "recordings", "rec", dev.ID, "main")
	var written int64
	testkit.WaitFor(t, 60*time.Second, "a segment half written", func() error {
		m, _ := filepath.Glob(filepath.Join(dir, ".put-*"))
		if len(m) != 1 {
			return fmt.Errorf("%d segments being written", len(m))
		}
		fi, err := os.Stat(m[0])
		if err != nil {
			return err
		}
		if written = fi.Size(); written < seal.SegmentHeader+8*(seal.SegmentChunk+16) {
			return fmt.Errorf("%d bytes written", written)
		}
		return nil
	})
	s.kill9()
	cancel()
	plainWritten := (written - seal.SegmentHeader) / (seal.SegmentChunk + 16) * seal.SegmentChunk

	s.start(t)
	var spans []struct {
		ID   int64  `json:"id"`
		Size int64  `json:"size"`
		URL  string `json:"url"`
	}
	testkit.WaitFor(t, 30*time.Second, "the salvaged segment listed", func() error {
		body, err := adminGet(s, "/api/cameras/"+dev.ID+"/recordings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z")
		if err != nil {
			return err
		}
		var out struct{ Spans json.RawMessage }
		if err := json.Unmarshal(body, &out); err != nil {
			return err
		}
		if err := json.Unmarshal(out.Spans, &spans); err != nil || len(spans) == 0 {
			return fmt.Errorf("spans %s (%v)", out.Spans, err)
		}
		return nil
	})
	if len(spans) != 1 {
		t.Fatalf("%d spans after the restart, want the one salvaged", len(spans))
	}
	mp4, err := adminGet(s, spans[0].URL)
	if err != nil || int64(len(mp4)) != spans[0].Size {
		t.Fatalf("download: %d bytes of %d, %v", len(mp4), spans[0].Size, err)
	}
	lost, most := plainWritten-spans[0].Size, largestFragment(t, mp4)+seal.SegmentChunk
	t.Logf("%d bytes written in whole chunks at the kill, %d salvaged, %d lost (bound %d)", plainWritten, spans[0].Size, lost, most)
	if lost > most {
		t.Errorf("salvaged %d bytes of the %d written in whole chunks: %d lost, more than a fragment and a chunk (%d)",
			spans[0].Size, plainWritten, lost, most)
	}
	checkStamps(t, mp4, dev.ID)
	if m, _ := filepath.Glob(filepath.Join(dir, ".put-*")); len(m) != 0 {
		t.Errorf("partial objects left after the restart: %v", m)
	}
}

// testDevice is what `vigil device add --json` prints.
type testDevice struct{ ID, Password string }

// addTestDevice adds a device with the CLI beside s.
func addTestDevice(t *testing.T, s *server) testDevice {
	t.Helper()
	add := exec.Command(s.bin, "device", "add", "--name", "porch", "--json")
	add.Env = append(os.Environ(), s.env...)
	out, err := add.Output()
	if err != nil {
		t.Fatalf("device add: %v", err)
	}
	var dev testDevice
	if err := json.Unmarshal(out, &dev); err != nil {
		t.Fatal(err)
	}
	return dev
}

// adminGet GETs path (or a URL relative to the server) as the admin.
func adminGet(s *server, path string) ([]byte, error) {
	if !strings.HasPrefix(path, "http") {
		path = fmt.Sprintf("http://127.0.0.1:%d%s", s.httpPt, path)
	}
	req, err := http.NewRequest("GET", path, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("admin", "crash-admin")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("GET %s: %d %s", path, res.StatusCode, body)
	}
	return body, err
}

// largestFragment is the size of the largest moof+mdat of an fMP4 file,
// walking its top-level boxes.
func largestFragment(t *testing.T, b []byte) int64 {
	t.Helper()
	var largest, moof int64 = 0, -1
	for off := int64(0); off+8 <= int64(len(b)); {
		size := int64(binary.BigEndian.Uint32(b[off:]))
		if size < 8 {
			t.Fatalf("box of %d bytes at %d", size, off)
		}
		switch string(b[off+4 : off+8]) {
		case "moof":
			moof = off
		case "mdat":
			largest = max(largest, off+size-moof)
		}
		off += size
	}
	return largest
}

// checkStamps has ffmpeg read an MP4 file's video and checks that every
// frame is stamped by camera.
func checkStamps(t *testing.T, mp4 []byte, camera string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, mp4, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", "0:v", "-c", "copy", "-f", "h264", "pipe:1")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg reads the salvaged recording: %v: %s", err, stderr.String())
	}
	chk := sim.NewChecker(sim.StaticKeys([]byte("crash secret")))
	if err := chk.AnnexB(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := chk.Only(camera); err != nil || chk.Units() < 15 {
		t.Fatalf("stamps %v in %d units: %v", chk.Counts(), chk.Units(), err)
	}
}
