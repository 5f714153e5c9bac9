package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCheckFlightJoinsAndLetsFollowersLeave: concurrent checks of one key
// run once and all get its result; a joined caller whose context ends
// leaves at once while the check goes on for the others; a check that
// panics fails the callers that joined it instead of hanging them.
func TestCheckFlightJoinsAndLetsFollowersLeave(t *testing.T) {
	var f checkFlight
	var runs atomic.Int32
	release := make(chan struct{})
	check := func() (Caller, error) {
		runs.Add(1)
		<-release
		return Caller{Principal: Principal{Name: "olga"}}, nil
	}
	var wg sync.WaitGroup
	results := make([]Caller, 8)
	wg.Go(func() { results[0], _ = f.do(context.Background(), "k", check) })
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	waitFor("the check did not start", func() bool { return runs.Load() == 1 })
	for i := 1; i < len(results); i++ {
		wg.Go(func() { results[i], _ = f.do(context.Background(), "k", check) })
	}
	waitFor("the other callers did not join the check", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.calls["k"].joined == len(results)-1
	})
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() { _, err := f.do(ctx, "k", check); left <- err }()
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("a joined caller whose context ended got %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("the check ran %d times for concurrent callers, want once", n)
	}
	for i, c := range results {
		if c.Name != "olga" {
			t.Fatalf("caller %d got %+v", i, c)
		}
	}

	started := make(chan struct{})
	panicked := make(chan struct{})
	go func() {
		defer func() { recover(); close(panicked) }()
		f.do(context.Background(), "p", func() (Caller, error) { close(started); time.Sleep(200 * time.Millisecond); panic("boom") })
	}()
	<-started
	if _, err := f.do(context.Background(), "p", check); err == nil {
		t.Fatal("a caller that joined a panicking check got no error")
	}
	<-panicked
}
