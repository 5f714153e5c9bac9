package record_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/hub"
	"vigil/internal/record"
	"vigil/internal/seal"
	"vigil/internal/testkit/simcam"
)

// BenchmarkRecordingHeap reports the live heap that recording adds per
// camera (heap-B/camera): 40 cameras publish (15 fps, 2 s GOPs) into a
// hub; the heap is measured (after a GC, the median of 9 samples 0.7 s
// apart) before the recorder starts and again while it records them all
// continuously to disk, in the same run. With -memprofile the profile
// shows where it goes. Run with -benchtime=1x.
func BenchmarkRecordingHeap(b *testing.B) {
	const n = 40
	var cams [][2]string
	var targets []record.Target
	for i := range n {
		cams = append(cams, [2]string{fmt.Sprintf("cam-%d", i), "u-a"})
		targets = append(targets, record.Target{Device: access.DeviceID(cams[i][0]), Stream: access.StreamMain})
	}
	st := openStore(b, cams)
	blobs, err := blob.NewDisk(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	sealer, err := seal.NewSealer(bytes.Repeat([]byte{7}, seal.MasterKeySize))
	if err != nil {
		b.Fatal(err)
	}
	h := hub.New(hub.Config{})
	for _, c := range cams {
		cam := simcam.New(b, simcam.Config{ID: c[0], Secret: []byte("heap"), Width: 160, Height: 96, FPS: 15, GOP: 30})
		f := simcam.Publish(b, h, access.DeviceID(c[0]), access.StreamMain, cam, nil)
		if err := f.Frame(); err != nil {
			b.Fatal(err)
		}
		f.Live(b)
	}
	time.Sleep(3 * time.Second)
	live := liveHeap()
	r, err := record.New(record.Config{Hub: h, Sealer: sealer, Blobs: blobs, Index: st,
		Targets: func(context.Context) ([]record.Target, error) { return targets, nil },
		Grant: func(d access.DeviceID) access.Grant {
			return issuer.Mint("recorder", d, access.AudienceWeb, time.Hour)
		},
		SegmentDuration: 10 * time.Second, Poll: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	time.Sleep(6 * time.Second)
	recording := liveHeap()
	for b.Loop() {
	}
	b.ReportMetric((recording-live)/n, "heap-B/camera")
	b.Logf("live heap: %.2f MiB with %d cameras, %.2f MiB recording them", live/(1<<20), n, recording/(1<<20))
}

// liveHeap is the heap in use after a GC, the median of 9 samples.
func liveHeap() float64 {
	var s []float64
	var ms runtime.MemStats
	for range 9 {
		time.Sleep(700 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		s = append(s, float64(ms.HeapAlloc))
	}
	slices.Sort(s)
	return s[len(s)/2]
}
