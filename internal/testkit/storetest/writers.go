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
// reconnect storm recording viewing sessions) all get their turn within a
// short deadline. Without the write gate SQLite's busy handler left some
// waiting past 2 s while others went through (64 writers: max 2.0 s).
//
// writeDeadline sits below those 2 s, so the test still fails without the
// gate, with room for a machine busy running other tests in parallel.
const writeDeadline = 1500 * time.Millisecond

func testConcurrentWritersAllFinish(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.open(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64*20)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				wctx, cancel := context.WithTimeout(ctx, writeDeadline)
				id, err := s.StartAccess(wctx, audit.Viewing{Viewer: "u-x", Device: "cam-x", Output: "mp4", Started: time.Now()})
				if err == nil {
					err = s.EndAccess(wctx, id, time.Now(), 1)
				}
				cancel()
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
	n := 0
	for err := range errs {
		if n++; n <= 3 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Errorf("%d of %d writes missed a %v deadline", n, 64*20*2, writeDeadline)
	}
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
