package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
	"vigil/internal/seal"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// epochs is a fake EpochSource: a device's secret until the test changes it.
type epochs struct {
	mu      sync.Mutex
	secrets map[access.DeviceID][]byte
}

func (e *epochs) EpochSecret(_ context.Context, d access.DeviceID) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.secrets[d]
	if !ok {
		return nil, fmt.Errorf("unknown device %s", d)
	}
	return bytes.Clone(s), nil
}

func (e *epochs) set(d access.DeviceID, fill byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets[d] = bytes.Repeat([]byte{fill}, 32)
}

// busPair returns a bus on each of two routed nodes, sharing a master key
// and epochs, as a cluster's nodes do.
func busPair(t *testing.T) (home, viewer *Bus, ep *epochs) {
	t.Helper()
	nodes := startNodes(t, 2)
	sealer, err := seal.NewSealer(bytes.Repeat([]byte{7}, seal.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	ep = &epochs{secrets: map[access.DeviceID][]byte{}}
	ep.set("cam-a", 0xa)
	ep.set("cam-b", 0xb)
	return NewBus(nodes[0].Conn(), sealer, ep, quiet), NewBus(nodes[1].Conn(), sealer, ep, quiet), ep
}

var stampSecret = []byte("bus test stamp secret")

// stampedUnit is a unit of owner's camera carrying the camera's stamp, as
// a test camera sends it, padded to size bytes.
func stampedUnit(owner media.Owner, seq uint64, key bool, size int) *media.Unit {
	stamp := sim.StampNALU(sim.CameraKey(stampSecret, string(owner.Device)), sim.Stamp{Camera: string(owner.Device), Seq: seq, Time: time.Now()})
	pad := bytes.Repeat([]byte{0x41, byte(seq)}, max(size-len(stamp), 0)/2)
	return media.NewUnit(owner, seq, 0, time.Duration(seq)*40*time.Millisecond, key, time.Now().Round(0), [][]byte{stamp, pad})
}

// collector gathers delivered units.
type collector struct {
	mu    sync.Mutex
	units []*media.Unit
}

func (c *collector) add(u *media.Unit) {
	c.mu.Lock()
	c.units = append(c.units, u)
	c.mu.Unlock()
}

func (c *collector) reset() {
	c.mu.Lock()
	c.units = nil
	c.mu.Unlock()
}

func (c *collector) got() []*media.Unit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*media.Unit(nil), c.units...)
}

func (c *collector) waitN(t *testing.T, n int) []*media.Unit {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("%d units delivered", n), func() error {
		if got := len(c.got()); got < n {
			return fmt.Errorf("%d delivered", got)
		}
		return nil
	})
	return c.got()
}

// prime sends units of snd's camera until the subscription collecting
// into c gets one: the subscription's interest has then crossed the route
// (NATS drops what is published before). It returns the units sent.
func prime(t *testing.T, snd *Sender, c *collector) []*media.Unit {
	t.Helper()
	var sent []*media.Unit
	testkit.WaitFor(t, 10*time.Second, "the route carrying a first unit", func() error {
		u := stampedUnit(snd.owner, uint64(len(sent)+1), true, 100)
		sent = append(sent, u)
		if err := snd.Send(u); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
		if len(c.got()) == 0 {
			return errors.New("nothing delivered yet")
		}
		return nil
	})
	sent = sent[c.got()[0].Seq-1:]
	c.waitN(t, len(sent))
	return sent
}

// TestBusCarriesUnitsAcrossNodes: units sent on the home node arrive on
// another node whole and in order — a keyframe over NATS's max payload
// in chunks — owned by the camera, carrying only its stamps.
func TestBusCarriesUnitsAcrossNodes(t *testing.T) {
	home, viewer, _ := busPair(t)
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 4}
	var c collector
	sub, err := viewer.Subscribe(t.Context(), "cam-a", access.StreamMain, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := viewer.nc.Flush(); err != nil { // the subscription has reached the server
		t.Fatal(err)
	}
	snd, err := home.Sender(t.Context(), owner)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{3 << 20, 900, 20 << 10, 1 << 20, 0}
	sent := prime(t, snd, &c)
	for i, size := range sizes {
		u := stampedUnit(owner, sent[len(sent)-1].Seq+1, i == 0, size)
		sent = append(sent, u)
		if err := snd.Send(u); err != nil {
			t.Fatal(err)
		}
	}
	got := c.waitN(t, len(sent))
	checker := sim.NewChecker(sim.StaticKeys(stampSecret))
	for i, u := range got {
		want := sent[i]
		if u.Owner() != owner || u.Seq != want.Seq || u.Key != want.Key || u.PTS != want.PTS || u.Track != want.Track ||
			!u.Captured().Equal(want.Captured()) || u.Size() != want.Size() {
			t.Fatalf("unit %d arrived as owner %+v seq %d key %v pts %v captured %v size %d; sent %+v %d %v %v %v %d",
				i, u.Owner(), u.Seq, u.Key, u.PTS, u.Captured(), u.Size(), want.Owner(), want.Seq, want.Key, want.PTS, want.Captured(), want.Size())
		}
		if err := checker.AccessUnit(u.Payload); err != nil {
			t.Fatalf("unit %d: %v", i, err)
		}
	}
	if err := checker.Only("cam-a"); err != nil {
		t.Fatal(err)
	}
	if viewer.Refused() != 0 {
		t.Fatalf("%d messages refused on a clean bus", viewer.Refused())
	}
}

// TestBusRefusesForeignSeal: frames sealed for camera A and published on
// camera B's subject fail to open on the receiving node and are counted,
// never delivered; B's own frames still are.
func TestBusRefusesForeignSeal(t *testing.T) {
	home, viewer, _ := busPair(t)
	var c collector
	sub, err := viewer.Subscribe(t.Context(), "cam-b", access.StreamMain, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := viewer.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ownerA := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1}
	ownerB := media.Owner{Device: "cam-b", Stream: access.StreamMain, Session: 1}
	sndA, _ := home.Sender(t.Context(), ownerA)
	sndB, _ := home.Sender(t.Context(), ownerB)
	primed := len(prime(t, sndB, &c))
	c.reset()
	// A's frames on B's subject: a mis-routed publish, a forged subject.
	var foreign int
	for seq := range uint64(5) {
		frames, err := sndA.frames(stampedUnit(ownerA, seq+1, seq == 0, 2<<20))
		if err != nil {
			t.Fatal(err)
		}
		foreign++
		for _, f := range frames {
			if err := home.nc.Publish(subject("cam-b", access.StreamMain), f); err != nil {
				t.Fatal(err)
			}
		}
	}
	// B's own unit, after them: once it is delivered, A's were handled.
	if err := sndB.Send(stampedUnit(ownerB, uint64(primed+1), true, 100)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "cam-b's unit after cam-a's foreign ones", func() error {
		if n := len(c.got()); n == 0 {
			return fmt.Errorf("nothing delivered; %d refused", viewer.Refused())
		}
		return nil
	})
	got := c.got()
	checker := sim.NewChecker(sim.StaticKeys(stampSecret))
	for _, u := range got {
		if u.Owner().Device != "cam-b" {
			t.Fatalf("delivered a unit of %s on cam-b's subscription", u.Owner().Device)
		}
		if err := checker.AccessUnit(u.Payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := checker.Only("cam-b"); err != nil {
		t.Fatalf("a foreign frame was delivered: %v", err)
	}
	if len(got) != 1 || viewer.Refused() != uint64(foreign) {
		t.Fatalf("delivered %d, refused %d; want cam-b's 1 delivered and cam-a's %d refused", len(got), viewer.Refused(), foreign)
	}

}

// TestBusRefusesOldEpoch: once a camera changed hands, frames still sealed
// in its old ownership epoch are refused; the new owner's are delivered,
// whether the node was told of the change (Rekey) or not.
func TestBusRefusesOldEpoch(t *testing.T) {
	home, viewer, ep := busPair(t)
	var c collector
	sub, err := viewer.Subscribe(t.Context(), "cam-b", access.StreamMain, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ownerB := media.Owner{Device: "cam-b", Stream: access.StreamMain, Session: 1}
	sndB, _ := home.Sender(t.Context(), ownerB)
	primed := len(prime(t, sndB, &c))
	c.reset()

	// cam-b changes hands and the node is told: frames still sealed in
	// the old epoch are refused, the new owner's are delivered.
	ep.set("cam-b", 0xc)
	if err := sub.Rekey(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := sndB.Send(stampedUnit(ownerB, uint64(primed+2), true, 100)); err != nil {
		t.Fatal(err)
	}
	ownerB2 := media.Owner{Device: "cam-b", Stream: access.StreamMain, Session: 2}
	sndB2, _ := home.Sender(t.Context(), ownerB2)
	if err := sndB2.Send(stampedUnit(ownerB2, 1, true, 100)); err != nil {
		t.Fatal(err)
	}
	got := c.waitN(t, 1)
	if len(got) != 1 || got[0].Owner() != ownerB2 || viewer.Refused() != 1 {
		t.Fatalf("after the epoch change: delivered %d (last of %+v), refused %d; want the new epoch's unit only",
			len(got), got[len(got)-1].Owner(), viewer.Refused())
	}

	// Not told of the next change, the subscription rereads the epoch when
	// a frame does not open (at most once a second) and opens the new one.
	ep.set("cam-b", 0xd)
	time.Sleep(1100 * time.Millisecond)
	ownerB3 := media.Owner{Device: "cam-b", Stream: access.StreamMain, Session: 3}
	sndB3, _ := home.Sender(t.Context(), ownerB3)
	if err := sndB3.Send(stampedUnit(ownerB3, 1, true, 100)); err != nil {
		t.Fatal(err)
	}
	if got = c.waitN(t, 2); got[1].Owner() != ownerB3 {
		t.Fatalf("second unit is of %+v, want %+v", got[1].Owner(), ownerB3)
	}
}

// TestSenderSealsOnlyItsCamera: a sender refuses a unit of another camera
// session, so nothing sealed under one camera's key carries another's media.
func TestSenderSealsOnlyItsCamera(t *testing.T) {
	home, _, _ := busPair(t)
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1}
	snd, err := home.Sender(t.Context(), owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []media.Owner{
		{Device: "cam-b", Stream: access.StreamMain, Session: 1},
		{Device: "cam-a", Stream: access.StreamSub, Session: 1},
		{Device: "cam-a", Stream: access.StreamMain, Session: 2},
	} {
		if err := snd.Send(stampedUnit(other, 1, true, 10)); !errors.Is(err, ErrNotOwner) {
			t.Errorf("Send of a unit of %+v = %v, want ErrNotOwner", other, err)
		}
	}
}
