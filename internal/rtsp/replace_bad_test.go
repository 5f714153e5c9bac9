package rtsp

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/testkit"
)

// proc is a background ffmpeg.
type proc struct {
	done chan struct{}
	err  error
	out  *syncBuffer
}

func (p *proc) exitedWithin(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// publishSized pushes testsrc of the given size to url over TCP until ctx ends.
func publishSized(ctx context.Context, t *testing.T, url, size string) *proc {
	t.Helper()
	needFFmpeg(t)
	p := &proc{done: make(chan struct{}), out: &syncBuffer{}}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size="+size+":rate=25",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
		"-f", "rtsp", "-rtsp_transport", "tcp", url)
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { defer close(p.done); p.err = cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	return p
}

// waitNewSession waits for a publisher session of d other than old and
// returns a hub reader attached to it.
func waitNewSession(t *testing.T, h *hub.Hub, d access.DeviceID, old uint64) *hub.Reader {
	t.Helper()
	var r *hub.Reader
	testkit.WaitFor(t, 15*time.Second, "new session of "+string(d), func() error {
		got, err := h.Read(issuer.Mint("admin", d, access.AudienceRTSP, time.Hour), access.StreamMain)
		if err != nil {
			return err
		}
		if got.Owner().Session == old {
			got.Close()
			return errors.New("still the old session")
		}
		r = got
		return nil
	})
	t.Cleanup(r.Close)
	return r
}

func checkOwners(t *testing.T, what string, units []*media.Unit, o media.Owner) {
	t.Helper()
	for _, u := range units {
		if u.Owner() != o {
			t.Fatalf("%s: unit of %+v on the stream of %+v", what, u.Owner(), o)
		}
	}
}

// TestSecondPublisherReplacesFirst: a camera that publishes again (say,
// after a reconnect its old TCP connection has not noticed) wins. The old
// publisher's connection is closed, readers attached to the old session are
// ended, and a new reader gets only the new session's picture (640x360, not
// the old 320x240).
func TestSecondPublisherReplacesFirst(t *testing.T) {
	t.Parallel()
	const cam access.DeviceID = "cam-swap"
	e, lc := startLogged(t, cam)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pubURL := "rtsp://cam-swap:pw-cam-swap@" + e.addr + "/cam-swap"
	readURL := "rtsp://admin:secret@" + e.addr + "/cam-swap"

	p1 := publishSized(ctx, t, pubURL, "320x240")
	waitOnline(t, e.hub, cam, p1.out)
	hr1 := hubReader(t, e.hub, cam)
	o1 := hr1.Owner()
	old := collect(ctx, hr1)
	old.waitFor(t, func(u *media.Unit) bool { return u.Key })
	if w, h := probeSize(t, readURL); w != 320 || h != 240 {
		t.Fatalf("first session is %dx%d", w, h)
	}
	oldViewer := startRead(ctx, t, readURL, 1000000)
	// The viewer plays the first session once it is the stream's second
	// reader (hr1 is the first). A second's sleep was no proof on a loaded
	// machine: a viewer that joined after the replacement would play the
	// new session, rightly, and fail the test.
	readers := e.hub.Metrics().Readers.WithLabelValues(string(cam), "main")
	testkit.WaitFor(t, 20*time.Second, "the viewer playing the first session", func() error {
		if n := testutil.ToFloat64(readers); n < 2 {
			return fmt.Errorf("%v readers", n)
		}
		return nil
	})

	p2 := publishSized(ctx, t, pubURL, "640x360")
	hr2 := waitNewSession(t, e.hub, cam, o1.Session)
	o2 := hr2.Owner()
	if o2.Device != cam || o2.Session <= o1.Session {
		t.Fatalf("new owner %+v after %+v", o2, o1)
	}

	if err := old.ended(5 * time.Second); !errors.Is(err, hub.ErrReplaced) {
		t.Fatalf("old session's hub reader: %v; want ErrReplaced", err)
	}
	old.mu.Lock()
	checkOwners(t, "old reader", old.units, o1)
	old.mu.Unlock()
	if !p1.exitedWithin(10 * time.Second) {
		t.Fatal("the first publisher's connection was not closed")
	}
	if !oldViewer.exitedWithin(10 * time.Second) {
		t.Fatal("the viewer of the old session was not ended")
	}

	units := collect(ctx, hr2)
	if w, h := probeSize(t, readURL); w != 640 || h != 360 {
		t.Fatalf("a new viewer sees %dx%d; want 640x360", w, h)
	}
	got := units.waitFor(t, func(u *media.Unit) bool { return u.Key })
	checkOwners(t, "new reader", got, o2)

	select {
	case <-p2.done:
		t.Fatalf("the second publisher ended: %v %s", p2.err, p2.out)
	default:
	}
	if _, ok := lc.wait("publisher replaced", cam, time.Second); !ok {
		t.Error("the replacement was not logged with the camera's name")
	}
	if _, ok := lc.wait("camera session replaced", cam, time.Second); !ok {
		t.Error("closing the old session was not logged with the camera's name")
	}
}

func (r *bgRead) exitedWithin(d time.Duration) bool {
	select {
	case <-r.done:
		return true
	case <-time.After(d):
		return false
	}
}

// probeSize asks ffprobe for the picture size a new viewer of url gets.
func probeSize(t *testing.T, url string) (w, h int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp",
		"-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, out)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%d,%d", &w, &h); err != nil {
		t.Fatalf("ffprobe said %q", out)
	}
	return w, h
}

// TestSecondPublisherReplacesFirstTagged checks the same policy at the level
// of content: two gortsplib publishers of one camera tag their keyframes;
// after the second starts, a new reader gets only the second's tags, and the
// first publisher's connection is closed at its next packet.
func TestSecondPublisherReplacesFirstTagged(t *testing.T) {
	t.Parallel()
	const cam access.DeviceID = "cam-tag"
	e, lc := startLogged(t, cam)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	a := startPublisher(t, e.addr, cam, "pw-cam-tag")
	a.keyframe(t, "from-A")
	hrA := hubReader(t, e.hub, cam)
	oA := hrA.Owner()
	oldUnits := collect(ctx, hrA)
	a.keyframe(t, "from-A")
	oldUnits.waitFor(t, func(u *media.Unit) bool { return containsTag(u, "from-A") })

	b := startPublisher(t, e.addr, cam, "pw-cam-tag")
	hrB := waitNewSession(t, e.hub, cam, oA.Session)
	oB := hrB.Owner()
	newUnits := collect(ctx, hrB)
	for range 5 {
		a.c.WritePacketRTP(a.video(), a.packet(a.video(), append([]byte{0x65, 0x88}, "from-A"...), true)) // may fail: A is being closed
		b.keyframe(t, "from-B")
		time.Sleep(20 * time.Millisecond)
	}
	got := newUnits.waitFor(t, func(u *media.Unit) bool { return containsTag(u, "from-B") })
	for _, u := range got {
		if containsTag(u, "from-A") {
			t.Fatal("the new session's reader got the old publisher's data")
		}
	}
	checkOwners(t, "new reader", got, oB)
	if err := oldUnits.ended(5 * time.Second); !errors.Is(err, hub.ErrReplaced) {
		t.Fatalf("old reader: %v; want ErrReplaced", err)
	}
	oldUnits.mu.Lock()
	checkOwners(t, "old reader", oldUnits.units, oA)
	for _, u := range oldUnits.units {
		if containsTag(u, "from-B") {
			t.Fatal("the old session's reader got the new publisher's data")
		}
	}
	oldUnits.mu.Unlock()
	select {
	case <-a.waitCh:
	case <-time.After(10 * time.Second):
		t.Fatal("the first publisher's connection was not closed")
	}
	select {
	case err := <-b.waitCh:
		t.Fatalf("the second publisher's connection ended: %v", err)
	default:
	}
	if _, ok := lc.wait("camera session replaced", cam, time.Second); !ok {
		t.Error("closing the old session was not logged with the camera's name")
	}
}
