package rtsp

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/hub"
)

// tcpViewer is a gortsplib client playing a camera over TCP that records
// the tags of the video frames it receives and the gaps in their RTP
// sequence numbers.
type tcpViewer struct {
	c *gortsplib.Client

	mu   sync.Mutex
	tags map[string]bool
	seq  uint16
	gaps int
}

// playTCP plays camera d as admin; dial, when not nil, makes the connection.
func playTCP(t *testing.T, host, d string, dial func(ctx context.Context, network, address string) (net.Conn, error)) *tcpViewer {
	t.Helper()
	v := &tcpViewer{tags: map[string]bool{}}
	tcp := gortsplib.ProtocolTCP
	v.c = &gortsplib.Client{Scheme: "rtsp", Host: host, Protocol: &tcp, ReadTimeout: time.Minute, DialContext: dial}
	u, _ := base.ParseURL("rtsp://admin:secret@" + host + "/" + d)
	if err := v.c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.c.Close)
	desc, _, err := v.c.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatal(err)
	}
	first := true
	v.c.OnPacketRTPAny(func(m *description.Media, _ format.Format, p *rtp.Packet) {
		if m.Type != description.MediaTypeVideo {
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		if !first && p.SequenceNumber != v.seq+1 {
			v.gaps++
		}
		first, v.seq = false, p.SequenceNumber
		if tag, ok := frameTag(p.Payload); ok {
			v.tags[tag] = true
		}
	})
	if _, err := v.c.Play(nil); err != nil {
		t.Fatal(err)
	}
	return v
}

// frameTag is the tag of a test frame's last NAL unit (see bigFrame).
func frameTag(nal []byte) (string, bool) {
	if len(nal) < 8 || nal[3] != 'F' {
		return "", false
	}
	return string(nal[3:8]), true
}

// bigFrame writes frame n: 48 IDR slices of 1300 bytes, the last tagged
// "FNNNN".
func (p *rawPublisher) bigFrame(t *testing.T, n int) {
	t.Helper()
	filler := strings.Repeat("x", 1300)
	for i := range 48 {
		nal := append([]byte{0x65, 0x88, 0x84}, filler...)
		if i == 47 {
			copy(nal[3:], fmt.Sprintf("F%04d", n))
		}
		p.write(t, p.video(), nal, i == 47)
	}
	p.ts += 3600
}

// TestStalledViewerDelaysNobody: with the viewers' writes made on the
// camera's goroutine while they keep up, a TCP viewer that stops reading
// neither delays the camera's ingest (a hub reader gets every frame at
// once, while the stalled viewer's write timeout is 10 s) nor the other
// viewers, who get every frame without a gap; the stalled one skips.
func TestStalledViewerDelaysNobody(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := hub.NewMetrics(reg)
	const writeTimeout = 10 * time.Second
	e := startWith(t, func(c *Config) {
		c.Hub, c.WriteTimeout = hub.New(hub.Config{Metrics: metrics}), writeTimeout
	}, "cam-fan")
	pub := startPublisher(t, e.addr, "cam-fan", "pw-cam-fan")
	pub.keyframe(t, "first")

	small := func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}
	var stalled *stallConn
	playTCP(t, e.addr, "cam-fan", func(ctx context.Context, network, address string) (net.Conn, error) {
		nc, err := (&net.Dialer{Control: small}).DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		stalled = &stallConn{Conn: nc, closed: make(chan struct{})}
		return stalled, nil
	})
	stalled.stalled.Store(true)
	var fast []*tcpViewer
	for range 3 {
		fast = append(fast, playTCP(t, e.addr, "cam-fan", nil))
	}

	// The camera's ingest, seen from a hub reader of its own.
	// 8 s of media at 25 fps, 12.5 Mbit/s: the stalled viewer's socket
	// takes its send buffer's worth (up to tcp_wmem's 4 MiB, some 2.6 s),
	// then its queue must lag past its bound (2 s and two GOPs of one
	// frame each) for it to skip; with 4 s (100 frames) it did not on a
	// quiet machine.
	const frames = 200
	probe := hubReader(t, e.hub, "cam-fan")
	arrived := make(chan map[string]time.Time, 1)
	go func() {
		at := map[string]time.Time{}
		defer func() { arrived <- at }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for len(at) < frames {
			u, err := probe.Next(ctx)
			if err != nil {
				return
			}
			if p := u.Payload; u.Track == 0 && len(p) > 0 {
				if tag, ok := frameTag(p[len(p)-1]); ok {
					at[tag] = time.Now()
				}
			}
		}
	}()

	sent := map[string]time.Time{}
	for n := range frames {
		sent[fmt.Sprintf("F%04d", n)] = time.Now()
		pub.bigFrame(t, n)
		time.Sleep(40 * time.Millisecond)
	}
	pub.keyframe(t, "last") // the last frame's unit ends when the next begins
	at := <-arrived
	var worst time.Duration
	for tag, s := range sent {
		a, ok := at[tag]
		if !ok {
			t.Fatalf("the hub reader never got %s: the camera's ingest was held up", tag)
		}
		worst = max(worst, a.Sub(s))
	}
	// Held up by the stalled viewer, the ingest would wait for its write
	// timeout (10 s); half of it leaves a loaded machine room (a frame's
	// way to the hub took 270 ms at load 5 under -race).
	t.Logf("ingest: the hub reader got each frame within %v of its write", worst)
	if worst > writeTimeout/2 {
		t.Errorf("a frame reached the hub %v after the camera wrote it, with a stalled viewer", worst)
	}

	deadline := time.Now().Add(10 * time.Second)
	for i, v := range fast {
		for {
			v.mu.Lock()
			got, gaps := len(v.tags), v.gaps
			v.mu.Unlock()
			if got == frames {
				if gaps != 0 {
					t.Errorf("fast viewer %d: %d gaps in its RTP sequence", i, gaps)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("fast viewer %d got %d of %d frames beside a stalled viewer", i, got, frames)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if s := testutil.ToFloat64(metrics.Skips.WithLabelValues("cam-fan", "main")); s == 0 {
		t.Error("the stalled viewer never skipped: the test did not stall it")
	}
}
