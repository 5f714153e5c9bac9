package rtsp

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/audit"
)

// history is an audit.Store in memory; fail, when set, fails every start.
type history struct {
	mu     sync.Mutex
	starts []audit.Viewing
	bytes  map[int64]int64 // by session id, once ended
	fail   error
}

func (h *history) StartAccess(_ context.Context, v audit.Viewing) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return 0, h.fail
	}
	h.starts = append(h.starts, v)
	return int64(len(h.starts)), nil
}

func (h *history) EndAccess(_ context.Context, id int64, _ time.Time, bytes int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bytes == nil {
		h.bytes = map[int64]int64{}
	}
	h.bytes[id] = bytes
	return nil
}

// TestViewingIsRecorded: a viewer's session is in the history with its
// bytes once it ends; a viewer whose session cannot be recorded gets no
// frame.
func TestViewingIsRecorded(t *testing.T) {
	h := &history{}
	e := startWith(t, func(c *Config) { c.Record = audit.New(h, slog.Default()) }, "cam-aaa")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := publishFFmpeg(ctx, t, "rtsp://cam-aaa:pw-cam-aaa@"+e.addr+"/cam-aaa", "tcp")
	waitOnline(t, e.hub, "cam-aaa", stderr)
	probeFrames(t, "rtsp://admin:secret@"+e.addr+"/cam-aaa", "tcp", 10)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		h.mu.Lock()
		n, bytes, ended := len(h.starts), h.bytes[1], h.bytes != nil
		var v audit.Viewing
		if n > 0 {
			v = h.starts[0]
		}
		h.mu.Unlock()
		if ended {
			if n != 1 || v.Output != "rtsp" || v.Viewer != "admin" || v.Device != "cam-aaa" || v.Remote == "" || bytes <= 0 {
				t.Fatalf("recorded %d sessions, the first %+v with %d bytes", n, v, bytes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session never ended in the history (%d started)", n)
		}
	}

	h.mu.Lock()
	h.fail = errors.New("disk full")
	h.mu.Unlock()
	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
	defer rcancel()
	// ffmpeg may exit 0 when the server hangs up: count the frames it wrote.
	out, err := exec.CommandContext(rctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp",
		"-i", "rtsp://admin:secret@"+e.addr+"/cam-aaa", "-frames:v", "1", "-map", "0:v", "-f", "framecrc", "-").Output()
	if frames := framecrcLines(out); frames != 0 || rctx.Err() != nil {
		t.Fatalf("a viewer whose session could not be recorded got %d frames (%v)", frames, err)
	}
}

// framecrcLines counts the frames in ffmpeg's framecrc output.
func framecrcLines(out []byte) int {
	n := 0
	for l := range strings.Lines(string(out)) {
		if l != "" && l[0] != '#' {
			n++
		}
	}
	return n
}
