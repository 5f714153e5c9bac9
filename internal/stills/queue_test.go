package stills

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"vigil/internal/access"
)

// TestQueueTakesTurnsPerUser: with the one worker busy, a flood of waiters
// from one user does not stand before another user's waiter, a user's own
// waiters keep their order, and one past the per-user bound is refused.
func TestQueueTakesTurnsPerUser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(1, 3)
		ctx := context.Background()
		if err := q.acquire(ctx, "flood"); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var order []string
		wait := func(user access.UserID, name string) {
			go func() {
				if err := q.acquire(ctx, user); err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
			}()
			synctest.Wait() // queued in this order
		}
		wait("flood", "f1")
		wait("flood", "f2")
		wait("flood", "f3")
		if err := q.acquire(ctx, "flood"); !errors.Is(err, ErrBusy) {
			t.Fatalf("a fourth waiting decode of one user: %v, want ErrBusy", err)
		}
		wait("other", "o1")
		for range 4 {
			q.release()
			synctest.Wait()
		}
		want := []string{"f1", "o1", "f2", "f3"}
		if len(order) != len(want) {
			t.Fatalf("granted %v, want %v", order, want)
		}
		for i := range want {
			if order[i] != want[i] {
				t.Fatalf("granted %v, want %v", order, want)
			}
		}
	})
}

// TestQueueGivesUp: a waiter whose context ends leaves the line with
// ErrDecode, and the worker it would have had goes to the next.
func TestQueueGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(1, 2)
		if err := q.acquire(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := q.acquire(ctx, "b"); !errors.Is(err, ErrDecode) {
			t.Fatalf("a waiter past its deadline: %v, want ErrDecode", err)
		}
		got := make(chan error, 1)
		go func() { got <- q.acquire(context.Background(), "c") }()
		synctest.Wait()
		q.release()
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if len(q.turns) != 0 || len(q.waiting) != 0 {
			t.Fatalf("queue kept %v turns and %d users", q.turns, len(q.waiting))
		}
	})
}

// TestWidthFloodDoesNotFailAnotherHousehold: one household asks for sixty
// widths of its camera at once; another household's still, asked for
// while that flood waits, is still served within the decode timeout. The
// flood costs one ffmpeg run: every width is scaled from the keyframe's
// one decode.
func TestWidthFloodDoesNotFailAnotherHousehold(t *testing.T) {
	// Each decode takes over 1.5 s. Were each width a decode of its own,
	// the other household's still would wait for the flood's running
	// decode and one turn of the flood (about 4.5 s with its own, within
	// the 7 s timeout), and behind the flood's queue of four over 9 s.
	ffmpeg, _ := slowFFmpeg(t, "1.5")
	e := newEnv(t, func(c *Config) { c.FFmpeg, c.Workers, c.QueuePerUser, c.DecodeTimeout = ffmpeg, 1, 4, 7*time.Second })
	publish(t, e.hub, camA)
	publish(t, e.hub, camB)
	flooder := issuer.Mint("u-flood", camA, access.AudienceWeb, time.Hour)
	neighbour := issuer.Mint("u-neighbour", camB, access.AudienceWeb, time.Hour)

	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			_, err := e.svc.Get(context.Background(), flooder, Request{Width: MinWidth + i*63})
			if err != nil && !errors.Is(err, ErrBusy) && !errors.Is(err, ErrDecode) {
				t.Errorf("flood width %d: %v", MinWidth+i*63, err)
			}
		})
	}
	defer wg.Wait()
	for deadline := time.Now().Add(5 * time.Second); e.svc.ffmpegRuns.Load() == 0; { // the flood holds the worker
		if time.Now().After(deadline) {
			t.Fatal("the flood started no decode")
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := e.svc.Get(context.Background(), neighbour, Request{})
	if err != nil {
		t.Fatalf("the other household's still failed during the flood: %v", err)
	}
	checkPicture(t, st.JPEG, camB, picW, picH)
	wg.Wait()
	if runs := e.svc.ffmpegRuns.Load(); runs != 2 {
		t.Errorf("ffmpeg ran %d times for sixty widths of one camera and one still of another, want 2", runs)
	}
}

func TestWidthsSnapUp(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 0}, {MinWidth, 160}, {160, 160}, {161, 320}, {1000, 1280}, {MaxWidth, MaxWidth}} {
		r, err := Request{Width: c.in}.normalized()
		if err != nil || r.Width != c.want {
			t.Errorf("width %d: got %d (%v), want %d", c.in, r.Width, err, c.want)
		}
	}
}

// waiters counts the decodes waiting for a worker.
func (q *queue) waiters() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, ws := range q.waiting {
		n += len(ws)
	}
	return n
}
