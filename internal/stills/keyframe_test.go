package stills

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/hub"
)

func TestKeyframeStillShowsItsCamera(t *testing.T) {
	e := newEnv(t)
	publish(t, e.hub, camA)
	publish(t, e.hub, camB)
	for _, cam := range []access.DeviceID{camA, camB} {
		for _, c := range []struct{ width, w, h int }{{0, picW, picH}, {160, 160, 120}, {MaxWidth, picW, picH}} {
			st, err := e.svc.Get(context.Background(), grant(cam), Request{Width: c.width})
			if err != nil {
				t.Fatalf("%s width %d: %v", cam, c.width, err)
			}
			if st.Device != cam || st.Source != SourceKeyframe || st.Fallback {
				t.Errorf("%s width %d: device %s source %s fallback %v", cam, c.width, st.Device, st.Source, st.Fallback)
			}
			if age := time.Since(st.Captured); age < 0 || age > 10*time.Second {
				t.Errorf("%s: captured %v ago", cam, age)
			}
			checkPicture(t, st.JPEG, cam, c.w, c.h)
		}
	}
	if v := counterValue(e.violations); v != 0 {
		t.Errorf("violations = %v", v)
	}
}

func TestKeyframeDecodedOncePerWidth(t *testing.T) {
	e := newEnv(t)
	pub := publish(t, e.hub, camA)
	get := func(width int) []byte {
		t.Helper()
		st, err := e.svc.Get(context.Background(), grant(camA), Request{Width: width})
		if err != nil {
			t.Fatal(err)
		}
		return st.JPEG
	}
	first := get(0)
	if again := get(0); !bytes.Equal(first, again) {
		t.Error("second Get of the same keyframe returned other bytes")
	}
	if n := e.svc.ffmpegRuns.Load(); n != 1 {
		t.Fatalf("ffmpeg ran %d times for one keyframe, want 1", n)
	}
	// Other widths are the one decode scaled, once per width.
	get(160)
	get(160)
	get(640) // no wider than the picture: the picture itself
	if n, m := e.svc.ffmpegRuns.Load(), e.svc.scaleRuns.Load(); n != 1 || m != 1 {
		t.Fatalf("ffmpeg ran %d times and scaling %d times for one keyframe at three widths, want 1 and 1", n, m)
	}
	// A new keyframe is a new still, decoded for the first request after it.
	writeKeyframe(t, pub, camA, time.Second)
	if get(0); e.svc.ffmpegRuns.Load() != 2 {
		t.Fatalf("ffmpeg ran %d times after a new keyframe, want 2", e.svc.ffmpegRuns.Load())
	}
	// A max_age the previous still cannot meet waits for the new decode.
	// (Captured is when the hub received the keyframe, so the decode's own
	// time may add to the age the caller sees.)
	time.Sleep(600 * time.Millisecond)
	written := time.Now()
	writeKeyframe(t, pub, camA, 2*time.Second)
	st, err := e.svc.Get(context.Background(), grant(camA), Request{MaxAge: 500 * time.Millisecond})
	if err != nil || st.Captured.Before(written) {
		t.Fatalf("max_age 500ms: %v, got the still captured %v before the new keyframe", err, written.Sub(st.Captured))
	}
}

func TestConcurrentGetsCoalesce(t *testing.T) {
	slow, _ := slowFFmpeg(t, "0.3")
	e := newEnv(t, func(c *Config) { c.FFmpeg = slow })
	publish(t, e.hub, camA)
	const n = 8
	var wg sync.WaitGroup
	results := make([][]byte, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			st, err := e.svc.Get(context.Background(), grant(camA), Request{Width: 160})
			results[i], errs[i] = st.JPEG, err
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Get %d: %v", i, errs[i])
		}
		if !bytes.Equal(results[i], results[0]) {
			t.Errorf("Get %d returned other bytes", i)
		}
	}
	checkPicture(t, results[0], camA, 160, 120)
	if runs := e.svc.ffmpegRuns.Load(); runs != 1 {
		t.Errorf("%d concurrent Gets ran ffmpeg %d times, want 1", n, runs)
	}
}

// TestCancelledDecodeNotCached: a decode whose callers all left, or that
// timed out, is killed and leaves nothing behind (invariant 6).
func TestCancelledDecodeNotCached(t *testing.T) {
	slow, hang := slowFFmpeg(t, "0")
	if err := os.WriteFile(hang, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.FFmpeg = slow; c.DecodeTimeout = 500 * time.Millisecond })
	publish(t, e.hub, camA)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	st, err := e.svc.Get(ctx, grant(camA), Request{})
	if !errors.Is(err, context.DeadlineExceeded) || st.JPEG != nil {
		t.Fatalf("cancelled Get = %d bytes, %v", len(st.JPEG), err)
	}
	st, err = e.svc.Get(context.Background(), grant(camA), Request{})
	if !errors.Is(err, ErrDecode) || st.JPEG != nil {
		t.Fatalf("timed-out Get = %d bytes, %v", len(st.JPEG), err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("hung decoder held Get for %v", d)
	}
	if b := e.svc.cache.bytes(); b != 0 {
		t.Errorf("cache holds %d bytes after failed decodes", b)
	}

	// The decoder recovers: the next Get decodes afresh and succeeds. It
	// gets a real decode's time: on a loaded machine ffmpeg alone took
	// more than the 500 ms that made the hung ones fail fast.
	if err := os.Remove(hang); err != nil {
		t.Fatal(err)
	}
	e.svc.cfg.DecodeTimeout = 20 * time.Second
	st, err = e.svc.Get(context.Background(), grant(camA), Request{})
	if err != nil {
		t.Fatal(err)
	}
	checkPicture(t, st.JPEG, camA, picW, picH)
	if runs := e.svc.ffmpegRuns.Load(); runs != 3 {
		t.Errorf("ffmpeg ran %d times, want 3 (two hung, one fresh)", runs)
	}
}

func TestMaxAge(t *testing.T) {
	e := newEnv(t)
	publish(t, e.hub, camA)
	time.Sleep(50 * time.Millisecond)
	// The keyframe has PTS 0: captured when the session started.
	st, err := e.svc.Get(context.Background(), grant(camA), Request{MaxAge: 10 * time.Millisecond})
	if !errors.Is(err, ErrTooOld) || st.JPEG != nil {
		t.Fatalf("Get with MaxAge 10ms = %d bytes, %v; want ErrTooOld", len(st.JPEG), err)
	}
	if runs := e.svc.ffmpegRuns.Load(); runs != 0 {
		t.Errorf("a too-old keyframe was decoded (%d runs)", runs)
	}
	if _, err := e.svc.Get(context.Background(), grant(camA), Request{MaxAge: time.Minute}); err != nil {
		t.Errorf("Get with MaxAge 1m: %v", err)
	}

	// Uploads too.
	upload(t, e.svc, camB, cameraJPEG(t, camB))
	time.Sleep(30 * time.Millisecond)
	if _, err := e.svc.Get(context.Background(), grant(camB), Request{MaxAge: 10 * time.Millisecond}); !errors.Is(err, ErrTooOld) {
		t.Errorf("old upload: %v, want ErrTooOld", err)
	}
	if _, err := e.svc.Get(context.Background(), grant(camB), Request{MaxAge: time.Minute}); err != nil {
		t.Errorf("fresh enough upload: %v", err)
	}
}

func TestFreshestWins(t *testing.T) {
	e := newEnv(t)
	pub := publish(t, e.hub, camA)

	// Live keyframe, no upload.
	st, err := e.svc.Get(context.Background(), grant(camA), Request{})
	if err != nil || st.Source != SourceKeyframe {
		t.Fatalf("live: source %q, %v", st.Source, err)
	}
	// An upload newer than the keyframe wins.
	up := cameraJPEG(t, camA)
	upload(t, e.svc, camA, up)
	st, err = e.svc.Get(context.Background(), grant(camA), Request{})
	if err != nil || st.Source != SourceUpload || st.Fallback || !bytes.Equal(st.JPEG, up) {
		t.Fatalf("newer upload: source %q fallback %v same bytes %v, %v", st.Source, st.Fallback, bytes.Equal(st.JPEG, up), err)
	}
	// A keyframe newer than the upload wins again.
	time.Sleep(10 * time.Millisecond)
	writeKeyframe(t, pub, camA, time.Minute) // PTS far ahead: captured after the upload
	st, err = e.svc.Get(context.Background(), grant(camA), Request{})
	if err != nil || st.Source != SourceKeyframe {
		t.Fatalf("newer keyframe: source %q, %v", st.Source, err)
	}
	// Offline: the last upload, marked as a fallback.
	pub.Close()
	st, err = e.svc.Get(context.Background(), grant(camA), Request{})
	if err != nil || st.Source != SourceUpload || !st.Fallback || !bytes.Equal(st.JPEG, up) {
		t.Fatalf("offline: source %q fallback %v same bytes %v, %v", st.Source, st.Fallback, bytes.Equal(st.JPEG, up), err)
	}
	// Offline and nothing uploaded: nothing to show.
	st, err = e.svc.Get(context.Background(), grant(camB), Request{})
	if !errors.Is(err, ErrOffline) || st.JPEG != nil {
		t.Fatalf("offline, no upload: %d bytes, %v", len(st.JPEG), err)
	}
}

// TestCrowdAfterAKeyframeGetsThePreviousStill: the first request after a
// keyframe waits for its decode up to freshWait, then gets the previous
// keyframe's still, as those arriving meanwhile do at once; the decode
// runs on, and the next request after it gets the new still.
func TestCrowdAfterAKeyframeGetsThePreviousStill(t *testing.T) {
	e, pub, first := slowStart(t)
	writeKeyframe(t, pub, camA, time.Second)
	fresh := make(chan Still, 1)
	decodeBegan := time.Now()
	go func() {
		st, _ := e.svc.Get(context.Background(), grant(camA), Request{})
		fresh <- st
	}()
	time.Sleep(100 * time.Millisecond) // the first request's decode is running
	began := time.Now()
	crowd, err := e.svc.Get(context.Background(), grant(camA), Request{})
	// At once: well within freshWait, which a crowd request must not wait.
	if err != nil || !crowd.Captured.Equal(first.Captured) || time.Since(began) > freshWait*2/3 {
		t.Fatalf("crowd request: %v, captured %v (previous %v), took %v", err, crowd.Captured, first.Captured, time.Since(began))
	}
	if st := <-fresh; !st.Captured.Equal(first.Captured) || time.Since(decodeBegan) > freshWait+slowDecode/2 {
		t.Fatalf("the first request after the keyframe: captured %v (previous %v) after %v, want the previous after freshWait",
			st.Captured, first.Captured, time.Since(decodeBegan))
	}
	awaitStill(t, e, first.Captured.Add(time.Nanosecond), "the new still (the decode the first request began was kept)")
	if runs := e.svc.ffmpegRuns.Load(); runs != 2 {
		t.Errorf("ffmpeg ran %d times for two keyframes, want 2", runs)
	}
	// A max_age the previous still cannot meet waits instead.
	writeKeyframe(t, pub, camA, 2*time.Second)
	go e.svc.Get(context.Background(), grant(camA), Request{})
	time.Sleep(100 * time.Millisecond)
	st, err := e.svc.Get(context.Background(), grant(camA), Request{MaxAge: time.Millisecond})
	if err == nil && !st.Captured.After(first.Captured.Add(time.Second)) {
		t.Fatalf("max_age 1ms got the previous still (captured %v)", st.Captured)
	}
}

// TestReplacedKeyframeNotDecoded: a decode that nobody waits for any more
// (its request was shown the previous still) and whose keyframe a newer one
// replaced while it waited for the worker is dropped, not run: decoding
// replaced keyframes would keep a busy queue behind the cameras for good.
func TestReplacedKeyframeNotDecoded(t *testing.T) {
	e, pub, first := slowStart(t, func(c *Config) { c.Workers = 1 })
	get := func(name string) {
		t.Helper()
		st, err := e.svc.Get(context.Background(), grant(camA), Request{})
		if err != nil || !st.Captured.Equal(first.Captured) {
			t.Fatalf("%s: %v, captured %v, want the previous still (%v)", name, err, st.Captured, first.Captured)
		}
	}
	writeKeyframe(t, pub, camA, time.Second)
	get("request after keyframe 2") // its decode holds the worker slowDecode
	writeKeyframe(t, pub, camA, 2*time.Second)
	get("request after keyframe 3") // its decode waits for the worker
	written := time.Now()
	writeKeyframe(t, pub, camA, 3*time.Second)
	awaitStill(t, e, written, "keyframe 4")
	if runs := e.svc.ffmpegRuns.Load(); runs != 3 {
		t.Errorf("ffmpeg ran %d times, want 3: keyframes 1, 2 and 4 (3 was replaced before a worker was free)", runs)
	}
}

// awaitStill asks for camA's still until one captured at or after since
// comes, for up to 10 s.
func awaitStill(t *testing.T, e *testEnv, since time.Time, what string) Still {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, err := e.svc.Get(context.Background(), grant(camA), Request{})
		if err != nil {
			t.Fatal(err)
		}
		if !st.Captured.Before(since) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never decoded", what)
		}
	}
}

// TestNewWidthGetsThePreviousStillScaled: a width nobody asked for before
// a new keyframe, while its decode runs, gets the previous full-size still
// scaled, not a wait for the decode.
func TestNewWidthGetsThePreviousStillScaled(t *testing.T) {
	e, pub, first := slowStart(t)
	writeKeyframe(t, pub, camA, time.Second)
	began := time.Now()
	st, err := e.svc.Get(context.Background(), grant(camA), Request{Width: 160})
	if err != nil || !st.Captured.Equal(first.Captured) || time.Since(began) > slowDecode/2 {
		t.Fatalf("width 160 after a new keyframe: %v, captured %v (previous %v), took %v", err, st.Captured, first.Captured, time.Since(began))
	}
	checkPicture(t, st.JPEG, camA, 160, 120)
}

// slowDecode is how much longer slowStart's ffmpeg takes. The tests that
// use it tell a request that waited for a decode from one that did not by
// half of it: at 0.8 s, the bounds (700 ms for the first request after a
// keyframe, which waits freshWait) left a loaded machine under -race
// little room.
const slowDecode = 2 * time.Second

// slowStart is camA publishing to a service whose ffmpeg takes slowDecode more,
// and camA's first still.
func slowStart(t *testing.T, edit ...func(*Config)) (*testEnv, *hub.Publisher, Still) {
	t.Helper()
	slow, _ := slowFFmpeg(t, fmt.Sprint(slowDecode.Seconds()))
	e := newEnv(t, append([]func(*Config){func(c *Config) { c.FFmpeg = slow }}, edit...)...)
	pub := publish(t, e.hub, camA)
	first, err := e.svc.Get(context.Background(), grant(camA), Request{})
	if err != nil {
		t.Fatal(err)
	}
	return e, pub, first
}
