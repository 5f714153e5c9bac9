package cluster

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// sink is a fake Sink recording what it is given.
type sink struct {
	collector
	mu     sync.Mutex
	closed bool
}

func (s *sink) Write(u *media.Unit) error {
	s.add(u)
	return nil
}
func (s *sink) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}
func (s *sink) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// acquire acquires cam-a's main stream once the home node's GOP service
// is reachable (its interest crosses the route a moment after it subscribes).
func acquire(t *testing.T, feeds *Feeds) (release func()) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "a feed (the home node's GOP service reachable)", func() (err error) {
		release, err = feeds.Acquire(t.Context(), "cam-a", access.StreamMain)
		return err
	})
	return release
}

// TestFeedGOPThenLive: a reader on a node that does not home the camera
// gets one feed; it starts with the home node's GOP, keyframe first, then
// the live units, each once and in order, with only the camera's stamps.
func TestFeedGOPThenLive(t *testing.T) {
	home, viewer, _ := busPair(t)
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 3}
	var mu sync.Mutex
	var gop []*media.Unit
	serve, err := home.ServeGOP(describe(owner), func() []*media.Unit {
		mu.Lock()
		defer mu.Unlock()
		return append([]*media.Unit(nil), gop...)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer serve.Unsubscribe()
	snd, _ := home.Sender(t.Context(), owner)
	var sinks []*sink
	feeds := NewFeeds(viewer, func(Description) (Sink, error) {
		s := &sink{}
		sinks = append(sinks, s)
		return s, nil
	}, time.Minute)

	// The camera streams: a GOP of 10 units is cached, then sent live as a
	// feed starts (some units are in the GOP and live both).
	seq := uint64(0)
	next := func() *media.Unit {
		seq++
		u := stampedUnit(owner, seq, seq%10 == 1, 1000)
		mu.Lock()
		if u.Key {
			gop = nil
		}
		gop = append(gop, u)
		mu.Unlock()
		return u
	}
	for range 5 {
		next()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 40 {
			if err := snd.Send(next()); err != nil {
				t.Error(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	acquire(t, feeds)
	if _, err := feeds.Acquire(t.Context(), "cam-a", access.StreamMain); err != nil { // a second reader
		t.Fatal(err)
	}
	<-done
	if len(sinks) != 1 || sinks[0].isClosed() || feeds.Active() != 1 {
		t.Fatalf("two readers have %d sinks, %d feeds; want one, open", len(sinks), feeds.Active())
	}
	testkit.WaitFor(t, 10*time.Second, "the last live unit", func() error {
		if got := sinks[0].got(); len(got) == 0 || got[len(got)-1].Seq != seq {
			return fmt.Errorf("%d units", len(got))
		}
		return nil
	})
	got := sinks[0].got()
	if !got[0].Key {
		t.Fatalf("the feed started with unit %d, not a keyframe", got[0].Seq)
	}
	checker := sim.NewChecker(sim.StaticKeys(stampSecret))
	for i, u := range got {
		if u.Owner() != owner || i > 0 && u.Seq != got[i-1].Seq+1 {
			t.Fatalf("unit %d: %+v seq %d after seq %d", i, u.Owner(), u.Seq, got[max(i-1, 0)].Seq)
		}
		if err := checker.AccessUnit(u.Payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := checker.Only("cam-a"); err != nil {
		t.Fatal(err)
	}
}

// TestFeedLingers: a feed outlives its last reader by the linger, a reader
// coming back within it finds the same feed, and it ends after.
func TestFeedLingers(t *testing.T) {
	home, viewer, _ := busPair(t)
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1}
	serve, _ := home.ServeGOP(describe(owner), func() []*media.Unit { return []*media.Unit{stampedUnit(owner, 1, true, 10)} })
	defer serve.Unsubscribe()
	var sinks []*sink
	feeds := NewFeeds(viewer, func(Description) (Sink, error) {
		s := &sink{}
		sinks = append(sinks, s)
		return s, nil
	}, 300*time.Millisecond)
	release := acquire(t, feeds)
	made, first := len(sinks), sinks[len(sinks)-1]
	release()
	release() // twice is harmless
	release, err := feeds.Acquire(t.Context(), "cam-a", access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // past the linger: a held feed must not end
	if len(sinks) != made || first.isClosed() {
		t.Fatalf("a reader back within the linger: %d new sinks, the feed's closed %v; want the same one, open", len(sinks)-made, first.isClosed())
	}
	release()
	testkit.WaitFor(t, 5*time.Second, "the idle feed ending", func() error {
		if !first.isClosed() || feeds.Active() != 0 {
			return errors.New("still open")
		}
		return nil
	})
}

// TestFeedEnds: a feed ends — its sink closed, readers gone with it — at
// the home node's sealed end of the session, at a unit of a newer session
// (readers come back to a feed of that session and its tracks), and after
// Silence without a unit (the home node died).
func TestFeedEnds(t *testing.T) {
	home, viewer, _ := busPair(t)
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 5}
	serve, _ := home.ServeGOP(describe(owner), func() []*media.Unit { return []*media.Unit{stampedUnit(owner, 1, true, 10)} })
	defer serve.Unsubscribe()
	snd, _ := home.Sender(t.Context(), owner)
	newer, _ := home.Sender(t.Context(), media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 6})
	var mu sync.Mutex
	var sinks []*sink
	feeds := NewFeeds(viewer, func(Description) (Sink, error) {
		s := &sink{}
		mu.Lock()
		sinks = append(sinks, s)
		mu.Unlock()
		return s, nil
	}, time.Minute)
	feeds.Silence = 400 * time.Millisecond
	seq := uint64(1)
	for _, tc := range []struct {
		name   string
		end    func() error
		silent bool // no unit after the end
	}{
		{"end message", snd.SendEnd, false},
		{"newer session", func() error { return newer.Send(stampedUnit(newer.owner, 1, true, 10)) }, false},
		{"silence", func() error { return nil }, true},
	} {
		acquire(t, feeds)
		mu.Lock()
		s := sinks[len(sinks)-1]
		mu.Unlock()
		// Live units keep the feed from falling silent until the end comes
		// (and after it, but for the silence case).
		for range 4 {
			seq++
			snd.Send(stampedUnit(owner, seq, false, 10))
			time.Sleep(50 * time.Millisecond)
		}
		if s.isClosed() {
			t.Fatalf("%s: the feed ended before", tc.name)
		}
		if err := tc.end(); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 5*time.Second, tc.name+" ending the feed", func() error {
			if !tc.silent {
				seq++
				snd.Send(stampedUnit(owner, seq, false, 10))
			}
			if !s.isClosed() || feeds.Active() != 0 {
				return errors.New("still open")
			}
			return nil
		})
		for _, u := range s.got() {
			if u.Owner() != owner {
				t.Fatalf("%s: a unit of %+v reached the sink of %+v", tc.name, u.Owner(), owner)
			}
		}
	}
}
