package stills

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"strconv"
	"testing"
	"time"
)

func TestMJPEG(t *testing.T) {
	e := newEnv(t)
	publish(t, e.hub, camA)
	publish(t, e.hub, camB)
	// The keyframe is decoded first, so the window below measures the
	// stream's pace, not ffmpeg's start (over 1.1 s on a loaded machine).
	if _, err := e.svc.Get(context.Background(), grant(camA), Request{Width: 160}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 1100*time.Millisecond)
	defer cancel()
	var buf bytes.Buffer
	flushes := 0
	if err := e.svc.MJPEG(ctx, &buf, func() { flushes++ }, grant(camA), Request{Width: 160}, 5); err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(&buf, e.svc.Boundary())
	parts := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part %d: %v", parts, err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("part %d: %v", parts, err)
		}
		if ct := p.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Errorf("part %d: Content-Type %q", parts, ct)
		}
		if cl := p.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
			t.Errorf("part %d: Content-Length %s, body %d bytes", parts, cl, len(body))
		}
		checkPicture(t, body, camA, 160, 120)
		parts++
	}
	if parts < 3 || parts > 7 {
		t.Errorf("%d parts in 1.1 s at 5 fps, want 3..7", parts)
	}
	if flushes != parts+1 {
		t.Errorf("%d flushes for %d parts and the closing delimiter", flushes, parts)
	}
	if runs := e.svc.ffmpegRuns.Load(); runs != 1 {
		t.Errorf("ffmpeg ran %d times for one keyframe", runs)
	}
}

// TestMJPEGOtherCamera: a grant for a camera with nothing to show gets
// nothing, however long it waits.
func TestMJPEGNothingToShow(t *testing.T) {
	e := newEnv(t)
	publish(t, e.hub, camA)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var buf bytes.Buffer
	if err := e.svc.MJPEG(ctx, &buf, nil, grant(camB), Request{}, 10); err != nil {
		t.Fatal(err)
	}
	if want := "--" + e.svc.Boundary() + "--\r\n"; buf.String() != want {
		t.Errorf("wrote %q, want only the closing delimiter", buf.String())
	}
}
