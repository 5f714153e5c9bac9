package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/nats-io/nats.go"

	"vigil/internal/access"
	"vigil/internal/media"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// bootstrap asks for the GOP until an answer comes (the responder's
// interest crosses the route a moment after it subscribes).
func bootstrap(t *testing.T, sub *Subscription) ([]*media.Unit, error) {
	t.Helper()
	var units []*media.Unit
	var err error
	testkit.WaitFor(t, 20*time.Second, "an answer to the GOP request", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		began := time.Now()
		_, units, err = sub.Bootstrap(ctx)
		t.Logf("GOP request answered in %v (%d units, %v)", time.Since(began), len(units), err)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNoHome) {
			return err
		}
		return nil
	})
	return units, err
}

// describe is a description of owner's session with one H.264 track.
func describe(owner media.Owner) Description {
	return Description{Owner: owner, Start: time.Now(), Tracks: []*media.Track{{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}}}
}

// TestBootstrapKeyframeFirst: a viewer's node asks the home node for the
// camera's GOP and gets it keyframe first, carrying only that camera's
// stamps, then the live units.
func TestBootstrapKeyframeFirst(t *testing.T) {
	home, viewer, _ := busPair(t)
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 2}
	gop := []*media.Unit{stampedUnit(owner, 7, true, 2<<20), stampedUnit(owner, 8, false, 900), stampedUnit(owner, 9, false, 900)}
	serve, err := home.ServeGOP(describe(owner), func() []*media.Unit { return gop })
	if err != nil {
		t.Fatal(err)
	}
	defer serve.Unsubscribe()
	var c collector
	sub, err := viewer.Subscribe(t.Context(), "cam-a", access.StreamMain, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	units, err := bootstrap(t, sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != len(gop) || !units[0].Key {
		t.Fatalf("bootstrap gave %d units (first a keyframe: %v), want the GOP's %d, keyframe first", len(units), len(units) > 0 && units[0].Key, len(gop))
	}
	checker := sim.NewChecker(sim.StaticKeys(stampSecret))
	for i, u := range units {
		if u.Owner() != owner || u.Seq != gop[i].Seq {
			t.Fatalf("GOP unit %d is %+v seq %d, want %+v seq %d", i, u.Owner(), u.Seq, owner, gop[i].Seq)
		}
		if err := checker.AccessUnit(u.Payload); err != nil {
			t.Fatal(err)
		}
	}
	snd, _ := home.Sender(t.Context(), owner)
	live := prime(t, snd, &c)
	for _, u := range append(units, c.got()...) {
		if u.Owner() != owner {
			t.Fatalf("a unit of %+v on cam-a's stream", u.Owner())
		}
	}
	if err := checker.Only("cam-a"); err != nil || len(live) == 0 {
		t.Fatalf("live after the GOP: %d units, %v", len(live), err)
	}
}

// TestBootstrapFromWrongCache: a GOP answered from another camera's cache
// (sealed, as it would be, under that camera's key) does not open: the
// request fails, the reply is counted, nothing of it is returned.
func TestBootstrapFromWrongCache(t *testing.T) {
	home, viewer, _ := busPair(t)
	ownerB := media.Owner{Device: "cam-b", Stream: access.StreamMain, Session: 1}
	// The planted bug: cam-a's GOP requests answered with cam-b's GOP.
	rogue, err := home.nc.Subscribe(gopSubject("cam-a", access.StreamMain), func(m *nats.Msg) {
		snd, _ := home.Sender(context.Background(), ownerB)
		snd.subject = m.Reply
		snd.Send(stampedUnit(ownerB, 1, true, 500))
		home.nc.Publish(m.Reply, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Unsubscribe()
	sub, err := viewer.Subscribe(t.Context(), "cam-a", access.StreamMain, func(*media.Unit) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	units, err := bootstrap(t, sub)
	if err == nil || len(units) != 0 || viewer.Refused() == 0 {
		t.Fatalf("a GOP from cam-b's cache for cam-a: %d units, error %v, %d refused; want none, an error, counted", len(units), err, viewer.Refused())
	}
	// The real answerer refuses to send another camera's GOP at all.
	ownerA := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1}
	sndA, _ := home.Sender(t.Context(), ownerA)
	if err := home.answerGOP(sndA, describe(ownerA), []*media.Unit{stampedUnit(ownerB, 1, true, 10)}); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("answerGOP of cam-b's units for cam-a = %v, want ErrNotOwner", err)
	}
}

// TestGOPAnswerKeepsItsEpoch: the home node answers GOP requests of a
// publisher session in the epoch the session started in, even after the
// camera changed hands: a viewer's node subscribing in the new epoch
// refuses the answer (invariant 8), where an answer sealed in the current
// epoch would have opened.
func TestGOPAnswerKeepsItsEpoch(t *testing.T) {
	home, viewer, ep := busPair(t)
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 9}
	snd, err := home.Sender(t.Context(), owner)
	if err != nil {
		t.Fatal(err)
	}
	ep.set("cam-a", 0xc) // the camera changed hands; the old session lives on
	serve, err := home.serveGOP(describe(owner), func() []*media.Unit { return []*media.Unit{stampedUnit(owner, 1, true, 100)} }, snd.reply)
	if err != nil {
		t.Fatal(err)
	}
	defer serve.Unsubscribe()
	sub, err := viewer.Subscribe(t.Context(), "cam-a", access.StreamMain, func(*media.Unit) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	units, err := bootstrap(t, sub)
	if err == nil || len(units) != 0 || viewer.Refused() == 0 {
		t.Fatalf("the old epoch's GOP for a new-epoch viewer: %d units, %v, %d refused; want none, an error, counted", len(units), err, viewer.Refused())
	}
}
