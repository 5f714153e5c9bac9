package cluster

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
	"vigil/internal/seal"
	"vigil/internal/testkit"
)

// TestHomePublishesOnlyWhenWanted: a home node publishes a camera's units
// on the bus only while another node's feed wants them: nothing without a
// remote viewer, every unit with one, nothing again once the feed ended
// and its last want lapsed.
func TestHomePublishesOnlyWhenWanted(t *testing.T) {
	nodes := startNodes(t, 2)
	regs := openRegistries(t, nodes, RegistryConfig{})
	sealer, err := seal.NewSealer(bytes.Repeat([]byte{7}, seal.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	ep := &epochs{secrets: map[access.DeviceID][]byte{}}
	ep.set("cam-a", 0xa)
	homeBus, viewerBus := NewBus(nodes[0].Conn(), sealer, ep, quiet), NewBus(nodes[1].Conn(), sealer, ep, quiet)
	home := &Home{Registry: regs[0], Bus: homeBus, Log: quiet}
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 4}
	var gop []*media.Unit // written and read by this goroutine and the GOP service; guarded by the test's order
	hd, err := home.Claim(t.Context(), describe(owner), func() []*media.Unit { return append([]*media.Unit(nil), gop...) })
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	seq := uint64(0)
	stream := func(n int) uint64 { // n units of 4 KB, a keyframe every 10, as the hub would send them
		before := homeBus.BytesSent()
		for range n {
			seq++
			u := stampedUnit(owner, seq, seq%10 == 1, 4000)
			if u.Key {
				gop = nil
			}
			gop = append(gop, u)
			hd.Send(u)
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the queue drains
		return homeBus.BytesSent() - before
	}
	if sent := stream(50); sent != 0 {
		t.Fatalf("no node wants cam-a's units, yet %d bytes were published", sent)
	}

	var sinks []*sink
	feeds := NewFeeds(viewerBus, func(Description) (Sink, error) {
		s := &sink{}
		sinks = append(sinks, s)
		return s, nil
	}, 100*time.Millisecond)
	release := acquire(t, feeds)
	wanted := stream(50)
	if wanted < 50*4000 {
		t.Fatalf("a remote viewer wants cam-a's units: %d bytes published, want at least 50 units' %d", wanted, 50*4000)
	}
	testkit.WaitFor(t, 5*time.Second, "the live units at the remote feed", func() error {
		if got := sinks[0].got(); len(got) == 0 || got[len(got)-1].Seq != seq {
			return errors.New("not yet")
		}
		return nil
	})
	t.Logf("bus bytes for 50 units of 4 KB: %d with no remote viewer, %d with one", 0, wanted)

	release()
	testkit.WaitFor(t, 5*time.Second, "the feed to end", func() error {
		if feeds.Active() != 0 {
			return errors.New("not yet")
		}
		return nil
	})
	time.Sleep(wantTTL)
	if sent := stream(20); sent != 0 {
		t.Fatalf("the remote viewer left %v ago, yet %d bytes were published", wantTTL, sent)
	}
}

// TestHomeSendNeverBlocks: a home session's bus queue that does not drain
// (NATS stalled) never blocks the hub's writer: units past the queue's
// bound are dropped and counted, and the queue starts again at a keyframe.
func TestHomeSendNeverBlocks(t *testing.T) {
	b := &Bus{log: quiet}
	hd := &Homed{h: &Home{Bus: b, Log: quiet}, q: make(chan *media.Unit, homeQueue)}
	hd.wantedFor(time.Minute)
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1}
	began := time.Now()
	for seq := uint64(1); seq <= 1000; seq++ {
		hd.Send(media.NewUnit(owner, seq, 0, 0, seq%100 == 1, time.Now(), [][]byte{{1}}))
	}
	if d := time.Since(began); d > time.Second {
		t.Fatalf("1000 sends to a stalled queue took %v", d)
	}
	if len(hd.q) != homeQueue || b.Dropped() != 1000-homeQueue {
		t.Fatalf("queue holds %d, %d dropped; want %d held and %d dropped", len(hd.q), b.Dropped(), homeQueue, 1000-homeQueue)
	}
	for len(hd.q) > 0 {
		<-hd.q
	}
	hd.Send(media.NewUnit(owner, 1001, 0, 0, false, time.Now(), [][]byte{{1}}))
	if len(hd.q) != 0 {
		t.Fatal("after a drop, a unit that is no keyframe was queued")
	}
	hd.Send(media.NewUnit(owner, 1002, 0, 0, true, time.Now(), [][]byte{{1}}))
	hd.Send(media.NewUnit(owner, 1003, 0, 0, false, time.Now(), [][]byte{{1}}))
	if len(hd.q) != 2 {
		t.Fatalf("after the keyframe: %d queued, want the keyframe and the unit after it", len(hd.q))
	}
}
