package hub

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"vigil/internal/access"
)

// BenchmarkManyCamerasGC publishes the many-cameras bench's traffic (150
// cameras of 0.5 Mbit/s: 2.6 KB pictures at 25 fps, a keyframe every 50)
// into GOP caches at each GOGC, so the price of a lower GOGC is measured
// back to back in one process: ns per published unit, collections and the
// collector's CPU (the runtime's estimate) per 1,000 units, and the heap
// goal per camera. Ingest drops little garbage per unit besides the
// payload's own allocation since its depacketizer stopped referring to a
// copy of every packet (a keyframe's assembly buffer: a fraction of the
// GOP's bytes). The copy this benchmark made of a "packet" per unit to
// stand for that garbage never reached the heap (a constant-size slice
// that does not escape lives on the stack), so it was left out.
//
//	go test -run - -bench ManyCamerasGC -count 3 ./internal/hub
func BenchmarkManyCamerasGC(b *testing.B) {
	const (
		cameras = 150
		unit    = 2600
		gop     = 50
	)
	for _, gogc := range []int{100, 50, 25} {
		b.Run(fmt.Sprintf("GOGC=%d", gogc), func(b *testing.B) {
			defer debug.SetGCPercent(debug.SetGCPercent(gogc))
			h := New(Config{})
			pubs := make([]*Publisher, cameras)
			for i := range pubs {
				var err error
				if pubs[i], err = h.Publish(access.DeviceID(fmt.Sprintf("cam-%03d", i)), access.StreamMain, tracks()[:1]); err != nil {
					b.Fatal(err)
				}
			}
			n := 0
			publish := func() {
				i, f := n%cameras, n/cameras
				payload := make([]byte, unit)
				pubs[i].Write(0, UnitData{PTS: time.Duration(f) * 40 * time.Millisecond, Key: f%gop == 0, Payload: [][]byte{payload}})
				n++
			}
			for range 2 * gop * cameras { // two GOPs cached per camera
				publish()
			}
			runtime.GC()
			s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/heap/goal:bytes"}}
			metrics.Read(s)
			cycles, gcCPU := s[0].Value.Uint64(), s[1].Value.Float64()
			b.ResetTimer()
			for range b.N {
				publish()
			}
			b.StopTimer()
			metrics.Read(s)
			b.ReportMetric(float64(s[0].Value.Uint64()-cycles)*1000/float64(b.N), "GCs/1000units")
			b.ReportMetric((s[1].Value.Float64()-gcCPU)*1e9/float64(b.N), "GC-ns/unit")
			b.ReportMetric(float64(s[2].Value.Uint64())/cameras/1024, "goal-KiB/camera")
			for _, p := range pubs {
				p.Close()
			}
		})
	}
}
