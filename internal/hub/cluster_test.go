package hub

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/media"
)

// fakeHome is a Home whose holds the test fences.
type fakeHome struct {
	mu    sync.Mutex
	holds []*fakeHold
	epoch []byte // of the holds it makes
}

type fakeHold struct {
	owner  media.Owner
	gop    func() []*media.Unit
	epoch  []byte
	fenced chan struct{}
	sent   []*media.Unit
	closed bool
}

func (h *fakeHome) Claim(owner media.Owner, _ []*media.Track, _ time.Time, gop func() []*media.Unit) (HomeSession, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &fakeHold{owner: owner, gop: gop, epoch: h.epoch, fenced: make(chan struct{})}
	h.holds = append(h.holds, s)
	return s, nil
}

func (s *fakeHold) Send(u *media.Unit)      { s.sent = append(s.sent, u) }
func (s *fakeHold) Fenced() <-chan struct{} { return s.fenced }
func (s *fakeHold) Close()                  { s.closed = true }
func (s *fakeHold) Epoch() []byte           { return s.epoch }

// TestFencedSessionEnds: a session whose claim another node takes over
// ends with ErrFenced — its readers and its camera's next write — and
// every unit it published was handed to the cluster.
func TestFencedSessionEnds(t *testing.T) {
	home := &fakeHome{}
	h := New(Config{Home: home})
	p, err := h.Publish("cam-a", access.StreamMain, tracks())
	if err != nil {
		t.Fatal(err)
	}
	frame(t, p, 0, 10)
	r, err := h.Read(grant("cam-a"), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	hold := home.holds[0]
	if len(hold.sent) != 2 || len(hold.gop()) != 2 {
		t.Fatalf("the cluster got %d units, a GOP of %d; want 2 and 2", len(hold.sent), len(hold.gop()))
	}
	close(hold.fenced)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	for {
		if _, err := r.Next(ctx); err != nil {
			if !errors.Is(err, ErrFenced) {
				t.Fatalf("reader ended with %v, want ErrFenced", err)
			}
			break
		}
	}
	if err := p.Write(0, UnitData{Key: true, Payload: [][]byte{{1}}}); !errors.Is(err, ErrFenced) || !errors.Is(err, ErrReplaced) {
		t.Fatalf("a write after the fence = %v, want ErrFenced (an ErrReplaced)", err)
	}
	if h.Publishing("cam-a", access.StreamMain) {
		t.Fatal("a fenced session still publishes")
	}
}

// fakeRemote feeds streams from a "home node" the test plays.
type fakeRemote struct {
	h        *Hub
	owner    media.Owner
	readers  int
	acquires int
}

func (f *fakeRemote) Acquire(context.Context, access.DeviceID, access.StreamID) (func(), error) {
	f.acquires++
	if f.readers == 0 && f.acquires == 1 {
		fed, err := f.h.Feed(f.owner, tracks(), time.Now(), []byte("e1"))
		if err != nil {
			return nil, err
		}
		key := media.NewUnit(f.owner, 7, 0, 0, true, time.Now(), [][]byte{{7}})
		if err := fed.Write(key); err != nil {
			return nil, err
		}
		// A unit of another camera, as a mis-keyed feed would hand over.
		foreign := media.NewUnit(media.Owner{Device: "cam-b", Stream: access.StreamMain, Session: f.owner.Session}, 8, 0, 0, false, time.Now(), [][]byte{{8}})
		if err := fed.Write(foreign); err == nil {
			return nil, errors.New("a fed stream took a unit of another camera")
		}
	}
	f.readers++
	return func() { f.readers-- }, nil
}

func (f *fakeRemote) Online(access.DeviceID, access.StreamID) bool { return true }

// TestRemoteStreamIsReadLikeALocalOne: a reader of a camera published on
// another node gets the fed stream, keyframe first, with the owner the
// unit came with; a unit of another camera is refused by the fed stream
// and counted; the feed's reader count follows the hub's readers; and a
// camera publishing here replaces the fed stream, never the other way.
func TestRemoteStreamIsReadLikeALocalOne(t *testing.T) {
	remote := &fakeRemote{owner: media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1 << 40}}
	h := New(Config{Remote: remote})
	remote.h = h
	if !h.Online("cam-a", access.StreamMain) || h.Publishing("cam-a", access.StreamMain) {
		t.Fatal("a camera homed elsewhere must be online here, not publishing here")
	}
	r, err := h.Read(grant("cam-a"), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	if u := next(t, r); !u.Key || u.Owner() != remote.owner || u.Seq != 7 || r.Egress(u) != nil {
		t.Fatalf("first unit %+v seq %d key %v", u.Owner(), u.Seq, u.Key)
	}
	if got := testutil.ToFloat64(h.Metrics().Violations); got != 1 {
		t.Fatalf("violations = %v, want the foreign unit counted", got)
	}
	// A second reader, and a still's keyframe, find the fed stream here
	// but count at the feed too: the feed must outlive every reader.
	r2, err := h.Read(grant("cam-a"), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Keyframe(grant("cam-a"), access.StreamMain); err != nil {
		t.Fatal(err)
	}
	if remote.readers != 2 {
		t.Fatalf("feed readers = %d with two hub readers", remote.readers)
	}
	r.Close()
	r.Close()
	r2.Close()
	if remote.readers != 0 {
		t.Fatalf("feed readers = %d after the readers closed (one twice)", remote.readers)
	}
	if _, err := h.Feed(remote.owner, tracks(), time.Now(), []byte("e1")); err != nil {
		t.Fatal(err)
	}
	p, err := h.Publish("cam-a", access.StreamMain, tracks())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := h.Feed(remote.owner, tracks(), time.Now(), []byte("e1")); !errors.Is(err, ErrPublishedHere) {
		t.Fatalf("a feed over a camera publishing here = %v, want ErrPublishedHere", err)
	}
	if !h.Publishing("cam-a", access.StreamMain) {
		t.Fatal("the camera publishing here lost its stream to a feed")
	}
}

// TestHandoverStaleByEpoch: a camera that changed hands through another
// node ends the sessions here of any epoch but the current one, told by
// epoch identity, never by start time: a session of the old epoch that
// started after the change by this node's clock (clocks differ) ends, a
// fed session of the current epoch that started long before is kept.
func TestHandoverStaleByEpoch(t *testing.T) {
	home := &fakeHome{epoch: []byte("old epoch")}
	h := New(Config{Home: home})
	p, err := h.Publish("cam-a", access.StreamMain, tracks()) // started now, old epoch
	if err != nil {
		t.Fatal(err)
	}
	fedOwner := media.Owner{Device: "cam-a", Stream: access.StreamSub, Session: 77}
	if _, err := h.Feed(fedOwner, tracks(), time.Now().Add(-time.Hour), []byte("new epoch")); err != nil {
		t.Fatal(err)
	}
	fed := func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		s := h.streams[streamKey{"cam-a", access.StreamSub}]
		return s != nil && s.fed
	}
	h.HandoverStale("cam-a", []byte("new epoch"))
	if err := p.Write(0, UnitData{Key: true, Payload: [][]byte{{1}}}); !errors.Is(err, ErrHandover) {
		t.Fatalf("the old epoch's session after the handover: write = %v, want ErrHandover", err)
	}
	if !fed() {
		t.Fatal("the current epoch's fed session was ended")
	}
	h.HandoverStale("cam-a", []byte("newer epoch"))
	if fed() {
		t.Fatal("a fed session of a past epoch was kept")
	}
}
