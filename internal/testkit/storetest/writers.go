package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/audit"
)

// testConcurrentWritersAllFinish: a burst of writers in one process (a
// reconnect storm recording viewing sessions) take fair turns. Without the
// write gate SQLite's busy handler left some waiting past 2 s while others
// went straight through (64 writers: p50 0.5 ms, max 2.0 s).
//
// No write may wait longer than fairWait, or on a machine busy with other
// tests (a CI run missed 1.5 s with 117 of 2,560 writes) longer than every
// writer taking writerTurns turns at the run's own mean write time.
const (
	writers     = 64
	writerTurns = 8
	fairWait    = 1500 * time.Millisecond
)

func testConcurrentWritersAllFinish(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.open(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	errs := make(chan error, writers*20)
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				t0 := time.Now()
				id, err := s.StartAccess(wctx, audit.Viewing{Viewer: "u-x", Device: "cam-x", Output: "mp4", Started: time.Now()})
				d := time.Since(t0)
				if err == nil {
					t0 = time.Now()
					err = s.EndAccess(wctx, id, time.Now(), 1)
					d = max(d, time.Since(t0))
				}
				cancel()
				mu.Lock()
				slowest = max(slowest, d)
				mu.Unlock()
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	// A transaction and a writing query (RETURNING) take turns with them.
	if err := s.ResetDevice(ctx, "cam-none", "x"); err == nil {
		t.Error("reset of a missing device succeeded")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mean := time.Since(start) / (writers * 20 * 2)
	if bound := max(fairWait, writers*writerTurns*mean); slowest > bound {
		t.Errorf("a write waited %v, more than %v and than %d writers taking %d turns of the mean %v",
			slowest, fairWait, writers, writerTurns, mean)
	}
	t.Logf("slowest write %v; mean write %v", slowest, mean)
}

func testTraceStatements(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.open(t)
	var seen []string
	s.TraceStatements(func(q string) { seen = append(seen, q) })
	if _, err := s.UserByName(ctx, "nobody"); err == nil {
		t.Fatal("found a user in an empty store")
	}
	s.TraceStatements(nil)
	if _, err := s.UserByName(ctx, "nobody"); err == nil {
		t.Fatal("found a user in an empty store")
	}
	if len(seen) != 1 || !strings.Contains(seen[0], "FROM users WHERE name") {
		t.Fatalf("traced %q, want the one user lookup made while tracing", seen)
	}
}
