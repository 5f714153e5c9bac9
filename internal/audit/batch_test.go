package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
)

// batching is a Batcher in memory whose every transaction takes delay; fail,
// when set, fails every transaction.
type batching struct {
	memory
	delay time.Duration
	calls int // guarded by memory.mu
}

func (b *batching) WriteAccess(_ context.Context, starts []Viewing, ends []Ended) ([]int64, error) {
	time.Sleep(b.delay)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.fail != nil {
		return nil, b.fail
	}
	var ids []int64
	for _, v := range starts {
		b.rows = append(b.rows, v)
		ids = append(ids, int64(len(b.rows)))
	}
	if b.ends == nil {
		b.ends = map[int64]int64{}
	}
	for _, e := range ends {
		b.ends[e.ID] = e.Bytes
	}
	return ids, nil
}

// TestWritesAreGrouped: sixty-four viewers starting and ending at once
// through a store that takes 20 ms a commit are written in a few commits,
// each session under its own id, the ends with their bytes.
func TestWritesAreGrouped(t *testing.T) {
	st := &batching{delay: 20 * time.Millisecond}
	r := New(st, slog.Default())
	const n = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			cam := access.DeviceID(fmt.Sprintf("cam-%03d", i))
			s, err := r.Start(grant("u-vera", cam), "mp4", "192.0.2.7:5000")
			if err != nil {
				t.Errorf("Start %d: %v", i, err)
				return
			}
			st.mu.Lock()
			got := st.rows[s.id-1].Device
			st.mu.Unlock()
			if got != cam {
				t.Errorf("session of %s got the id of %s's", cam, got)
			}
			s.Add(i)
			s.End()
			st.mu.Lock()
			bytes := st.ends[s.id]
			st.mu.Unlock()
			if bytes != int64(i) {
				t.Errorf("session of %s ended with %d bytes, want %d", cam, bytes, i)
			}
		})
	}
	close(start)
	wg.Wait()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.rows) != n || len(st.ends) != n {
		t.Fatalf("%d starts and %d ends recorded, want %d", len(st.rows), len(st.ends), n)
	}
	if st.calls == 0 || st.calls > n/4 {
		t.Errorf("%d starts and %d ends took %d commits, want them grouped (at most %d)", n, n, st.calls, n/4)
	}
	if r.batch.flushing || len(r.batch.queue) != 0 {
		t.Errorf("after the last write: flushing %v, %d writes queued", r.batch.flushing, len(r.batch.queue))
	}
}

// TestFailedBatchFailsEachStart: a commit that fails refuses every start
// in it.
func TestFailedBatchFailsEachStart(t *testing.T) {
	st := &batching{delay: 10 * time.Millisecond}
	st.fail = errors.New("disk full")
	r := New(st, slog.Default())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if s, err := r.Start(grant("u-vera", "cam-a"), "mp4", "192.0.2.7:5000"); !errors.Is(err, ErrUnrecorded) || s != nil {
				t.Errorf("Start on a failing store = %v, %v; want ErrUnrecorded and no session", s, err)
			}
		})
	}
	wg.Wait()
}
