package rtsp

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"vigil/internal/access"
	"vigil/internal/testkit"
)

// Goroutines a camera pushing over TCP and a caught-up TCP viewer cost the
// server; TestCostPerCameraAndViewer fails if either grows. Every
// one is gortsplib's (v5.6.4), which has no option to do without them: per
// connection its run loop and its reader (which, for a recording camera,
// runs our direct ingest and the camera's fan-out), per session its run
// loop and its write queue's processor, and per track a recording
// session's RTCP receiver-report ticker or a playing session's
// sender-report goroutine. A viewer that keeps up has no goroutine of
// Vigil's: the camera's goroutine writes to it (hub.Reader.Deliver), and
// one is started only while something is left to write (play.wake).
const (
	goroutinesPerCamera = 5
	goroutinesPerViewer = 5
)

// The bytes a camera and a caught-up viewer keep in the server beyond
// their media (live heap after a collection and goroutine stacks), with
// the test's plain-socket client of each (a 4 KiB bufio.Reader and a
// socket) counted in: TestCostPerCameraAndViewer fails above these. A
// camera measured 51-53 KiB (66-68 with the race detector): about 22 KiB
// of stacks, 4 KiB each of gortsplib's read buffer, our read buffer and
// the depacketizer's assembly buffer, and gortsplib's session and metric
// children. A viewer measured 52-54 KiB (63-65 with the race detector),
// and 65 KiB (76) while gortsplib's write queue had 1024 entries (see
// writeQueue).
func retainedLimits() (perCameraKiB, perViewerKiB float64) {
	if testkit.Race {
		return 84, 72
	}
	return 64, 60
}

// TestCostPerCameraAndViewer counts the server's goroutines and retained
// bytes with n cameras publishing over TCP (one small keyframe each), then
// with one caught-up viewer each, and checks each viewer received the live
// keyframe. The test's own clients are plain sockets used on the test's
// goroutine, so every goroutine counted is the server's.
func TestCostPerCameraAndViewer(t *testing.T) {
	const n = 40
	var ids []access.DeviceID
	for i := range n {
		ids = append(ids, access.DeviceID(fmt.Sprintf("cam-g%d", i)))
	}
	e := start(t, ids...)
	g0, b0 := settledGoroutines(t), retained()

	cams := make([]*rawCamera, n)
	for i, d := range ids {
		c := announceAndSetup(t, e.addr, d)
		if err := c.write(c.recordRequest()); err != nil {
			t.Fatal(err)
		}
		c.expectRead(base.StatusOK)
		if err := c.write(c.keyframe("k0")); err != nil {
			t.Fatal(err)
		}
		waitOnline(t, e.hub, d, &syncBuffer{})
		cams[i] = c
	}
	g1, b1 := settledGoroutines(t), retained()

	viewers := make([]*rawConn, n)
	for i, d := range ids {
		viewers[i] = playRaw(t, e.addr, d)
	}
	// Live units reach every viewer through the camera's goroutine.
	for i, c := range cams {
		if err := c.write(c.keyframe(fmt.Sprintf("k%d", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range viewers {
		v.waitFor(t, fmt.Sprintf("k%d", i+1))
	}
	g2, b2 := settledGoroutines(t), retained()

	perCam, camHeap, camStacks := b0.per(b1, n)
	perViewer, viewerHeap, viewerStacks := b1.per(b2, n)
	t.Logf("per camera: %d goroutines, %.1f KiB (heap %.1f, stacks %.1f); per viewer: %d goroutines, %.1f KiB (heap %.1f, stacks %.1f)",
		(g1-g0)/n, perCam, camHeap, camStacks, (g2-g1)/n, perViewer, viewerHeap, viewerStacks)
	// Judged per camera, rounded: a goroutine of an earlier test's that
	// ends meanwhile moves the count by one, a goroutine more per camera
	// by n.
	if got := g1 - g0; perOne(got, n) != goroutinesPerCamera {
		t.Errorf("%d cameras: %d goroutines, want %d per camera\n%s", n, got, goroutinesPerCamera, goroutineDump())
	}
	if got := g2 - g1; perOne(got, n) != goroutinesPerViewer {
		t.Errorf("%d viewers: %d goroutines, want %d per viewer\n%s", n, got, goroutinesPerViewer, goroutineDump())
	}
	camLimit, viewerLimit := retainedLimits()
	if perCam > camLimit {
		t.Errorf("a camera retains %.1f KiB beyond its media, want at most %.0f KiB", perCam, camLimit)
	}
	if perViewer > viewerLimit {
		t.Errorf("a viewer retains %.1f KiB, want at most %.0f KiB", perViewer, viewerLimit)
	}
	runtime.KeepAlive(cams)
	runtime.KeepAlive(viewers)
}

// perOne is total shared among n, to the nearest whole number.
func perOne(total, n int) int { return int(math.Round(float64(total) / float64(n))) }

// memory is the live heap after a full collection and the goroutine
// stacks in use.
type memory struct{ heap, stacks int64 }

func retained() memory {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return memory{int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())}
}

// per is the growth from m to next, per one of n, in KiB: the total, the
// heap's and the stacks'.
func (m memory) per(next memory, n int) (total, heap, stacks float64) {
	heap = float64(next.heap-m.heap) / float64(n) / 1024
	stacks = float64(next.stacks-m.stacks) / float64(n) / 1024
	return heap + stacks, heap, stacks
}

// playRaw sets up camera d's video over interleaved TCP as admin and plays
// it; the viewer is a plain socket.
func playRaw(t *testing.T, addr string, d access.DeviceID) *rawConn {
	t.Helper()
	v := dialRaw(t, addr)
	url := "rtsp://" + addr + "/" + string(d)
	ch := v.challenge(url)
	auth := func(method, uri string) string { return digestAuth(method, uri, "admin", "secret", ch.Nonce) }
	v.expect(base.StatusOK, "DESCRIBE", url, auth("DESCRIBE", url))
	setup := url + "/trackID=0"
	res := v.expect(base.StatusOK, "SETUP", setup, auth("SETUP", setup), "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
	session, _, _ := strings.Cut(res.Header["Session"][0], ";")
	// The response comes first: the cached GOP's frames follow it (see
	// play.start).
	v.expect(base.StatusOK, "PLAY", url+"/", auth("PLAY", url+"/"), "Session: "+session)
	return v
}

// waitFor reads what the viewer is sent until tag has arrived.
func (r *rawConn) waitFor(t *testing.T, tag string) {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !bytes.Contains(got, []byte(tag)) {
		n, err := r.br.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v (got %q)", tag, err, got)
		}
		got = append(got, buf[:n]...)
	}
}

// settledGoroutines is the process's goroutine count once it has not
// changed for 200 ms (goroutines of finished requests take a moment to
// end).
func settledGoroutines(t *testing.T) int {
	t.Helper()
	last, since := runtime.NumGoroutine(), time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if n := runtime.NumGoroutine(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= 200*time.Millisecond {
			return n
		}
	}
	t.Fatalf("goroutines did not settle (%d)", last)
	return 0
}

func goroutineDump() string {
	b := make([]byte, 1<<20)
	return string(b[:runtime.Stack(b, true)])
}
