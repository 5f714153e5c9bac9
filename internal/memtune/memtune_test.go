package memtune

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func heapGoal() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

var sink []byte

// TestHeapGoalIsLivePlusHeadroom: with 64 MiB live (pointer-free, as GOP
// payloads are) the collector's heap goal is twice that under GOGC=100;
// with the tuner running it is live + headroom (+ the runtime's own few
// MiB), and without the tuner it goes back to GOGC's.
func TestHeapGoalIsLivePlusHeadroom(t *testing.T) {
	live := make([][]byte, 64)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	churn := func() {
		for range 200 {
			sink = make([]byte, 1<<20)
		}
		runtime.GC()
	}
	churn()
	if g := heapGoal(); g < 120<<20 {
		t.Fatalf("without the tuner the heap goal is %d MiB, want about 128 (GOGC=100)", g>>20)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	tu := &Tuner{Headroom: 16 << 20}
	go func() { done <- tu.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		churn()
		g := heapGoal()
		if g <= (64+16+8)<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the tuner the heap goal is %d MiB, want at most 64 live + 16 headroom + 8", g>>20)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	churn()
	if g := heapGoal(); g < 120<<20 {
		t.Fatalf("after the tuner stopped the heap goal is %d MiB, want GOGC's again", g>>20)
	}
	runtime.KeepAlive(live)
}
