package rtsp

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
)

// BenchmarkFanOut publishes a 4 Mbit/s camera's units (20 kB each, 25 fps
// of PTS, a keyframe every 50) to viewers that are plays over loopback TCP
// (their other ends read and discard), as a TCP viewer's session runs them:
// "queued" wakes each viewer's goroutine per unit (the path before
// hub.Reader.Deliver, and the one a viewer that fell behind takes), "direct"
// writes on the publisher's goroutine. An op is one unit to every viewer;
// the units are paced (1 ms apart, 5 ms for 50 viewers), so that the
// viewers are idle between units as with a camera, not fed a burst that
// their queues would batch. cpu-ns/unit/viewer is the process's CPU time
// (getrusage: every goroutine's and the runtime's) per unit per viewer,
// which a loaded machine does not inflate as it does wall time; the other
// ends' reading is in it, the same in both.
func BenchmarkFanOut(b *testing.B) {
	for _, viewers := range []int{1, 50} {
		for _, direct := range []bool{false, true} {
			name := map[bool]string{false: "queued", true: "direct"}[direct]
			b.Run(name+"/"+map[int]string{1: "1", 50: "50"}[viewers], func(b *testing.B) { benchFanOut(b, viewers, direct) })
		}
	}
}

func benchFanOut(b *testing.B, viewers int, direct bool) {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: testSPS, PPS: testPPS}
	h := hub.New(hub.Config{})
	pub, err := h.Publish("cam-a", access.StreamMain, []*media.Track{{Kind: media.Video, Format: f}})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	s := &Server{cfg: Config{WriteTimeout: 10 * time.Second}, packets: newPacketCache()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var received, handed atomic.Int64
	done := make(chan struct{})
	running := 0
	defer func() {
		cancel()
		for range running {
			<-done
		}
	}()
	for range viewers {
		cc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		go func() {
			buf := make([]byte, 256<<10)
			for {
				n, err := cc.Read(buf)
				received.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		sc, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer sc.Close()
		r, err := h.Read(issuer.Mint("admin", "cam-a", access.AudienceRTSP, time.Hour), access.StreamMain)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		p := &play{s: s, reader: r, clocks: []clock{{rate: 90000}},
			direct: &directWriter{conn: admit(sc, false, nil, 0, nil), timeout: s.cfg.WriteTimeout,
				tracks: []directTrack{{channel: 0, ssrc: 1}}}}
		if direct {
			r.Deliver(func(u *media.Unit) hub.Delivery {
				d := p.deliver(u)
				if d != hub.Delivered {
					handed.Add(1)
				}
				return d
			})
		}
		running++
		go func() { p.run(ctx); done <- struct{}{} }()
	}

	nal := make([]byte, 20000)
	payload := func(n int) [][]byte {
		nal[0] = 0x41
		if n%50 == 0 {
			nal[0] = 0x65
		}
		return [][]byte{append([]byte(nil), nal...)} // a unit's payload is its own
	}
	// The bytes one unit takes on a viewer's socket, without sender reports.
	pkts, err := s.packets.get(media.NewUnit(pub.Owner(), 0, 0, 0, true, time.Now(), payload(0)), f)
	if err != nil {
		b.Fatal(err)
	}
	perUnit := 0
	for i := range pkts {
		perUnit += 4 + rtpHeaderSize + pkts[i].size()
	}
	units := make([][][]byte, 100)
	for i := range units {
		units[i] = payload(i)
	}

	pace := max(time.Millisecond, time.Duration(viewers)*100*time.Microsecond)
	b.ReportAllocs()
	before := cpuTime()
	b.ResetTimer()
	for n := range b.N {
		if err := pub.Write(0, hub.UnitData{PTS: time.Duration(n) * 40 * time.Millisecond, Key: n%50 == 0, Payload: units[n%100]}); err != nil {
			b.Fatal(err)
		}
		// Units come at a camera's pace, not in a burst that a queue
		// would batch: the viewers are idle again before the next.
		time.Sleep(pace)
	}
	for received.Load() < int64(b.N)*int64(perUnit*viewers) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-before)/float64(b.N*viewers), "cpu-ns/unit/viewer")
	if direct {
		// Units the socket did not take at once (left to the viewer's
		// goroutine) or the connection was busy for.
		b.ReportMetric(float64(handed.Load())/float64(b.N*viewers), "handed/unit/viewer")
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
