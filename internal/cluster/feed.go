package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
)

// Sink takes a remote camera stream's units on a viewer's node, in order,
// keyframe first: the hub stream that local readers read. Write must not
// block for long (it runs on the bus's delivery goroutine).
type Sink interface {
	Write(u *media.Unit)
	Close()
}

// SinkFactory makes the sink of a remote camera stream when its first
// local reader comes.
type SinkFactory func(device access.DeviceID, stream access.StreamID) (Sink, error)

// Feeds keeps, on a viewer's node, one bus subscription per remote camera
// stream that has local readers — one copy crosses to each interested
// node, never one per viewer. A feed starts with the GOP from the home
// node, then goes live; it ends Linger after its last reader leaves, so a
// viewer who reloads finds it still warm.
type Feeds struct {
	bus     *Bus
	newSink SinkFactory
	linger  time.Duration
	// pending bounds the live units a feed holds while its GOP is fetched;
	// past it the feed drops them and starts at the next keyframe.
	pending int

	mu    sync.Mutex // guards feeds
	feeds map[feedKey]*feed
}

type feedKey struct {
	device access.DeviceID
	stream access.StreamID
}

// NewFeeds returns the node's feeds over bus. linger defaults to 5 s.
func NewFeeds(bus *Bus, newSink SinkFactory, linger time.Duration) *Feeds {
	if linger <= 0 {
		linger = 5 * time.Second
	}
	return &Feeds{bus: bus, newSink: newSink, linger: linger, pending: 512, feeds: map[feedKey]*feed{}}
}

// Acquire counts a local reader of a remote camera stream, starting its
// feed if there is none. Each Acquire needs one Release.
func (fs *Feeds) Acquire(ctx context.Context, device access.DeviceID, stream access.StreamID) error {
	k := feedKey{device, stream}
	fs.mu.Lock()
	f := fs.feeds[k]
	if f != nil {
		f.readers++
		if f.idle != nil {
			f.idle.Stop()
			f.idle = nil
		}
		fs.mu.Unlock()
		return nil
	}
	fs.mu.Unlock()
	f, err := fs.start(ctx, k)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if other := fs.feeds[k]; other != nil { // another reader started one meanwhile
		other.readers++
		go f.stop()
		return nil
	}
	f.readers = 1
	fs.feeds[k] = f
	return nil
}

// Release uncounts a local reader; the feed ends Linger after the last.
func (fs *Feeds) Release(device access.DeviceID, stream access.StreamID) {
	k := feedKey{device, stream}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.feeds[k]
	if f == nil || f.readers == 0 {
		return
	}
	if f.readers--; f.readers == 0 {
		f.idle = time.AfterFunc(fs.linger, func() { fs.expire(k, f) })
	}
}

// expire ends f if it is still idle.
func (fs *Feeds) expire(k feedKey, f *feed) {
	fs.mu.Lock()
	if fs.feeds[k] != f || f.readers > 0 {
		fs.mu.Unlock()
		return
	}
	delete(fs.feeds, k)
	fs.mu.Unlock()
	f.stop()
}

// Active is the number of remote streams this node is fed.
func (fs *Feeds) Active() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.feeds)
}

// feed is one remote camera stream's subscription and sink.
type feed struct {
	sink    Sink
	sub     *Subscription
	readers int         // guarded by Feeds.mu
	idle    *time.Timer // guarded by Feeds.mu; set while readers is 0

	mu      sync.Mutex    // guards live, closed, pending, last, lastSeq
	live    bool          // the GOP was written; units go straight to the sink
	closed  bool          // the sink was closed; nothing more is written
	pending []*media.Unit // live units that came while the GOP was fetched
	last    media.Owner   // session of the last unit written
	lastSeq uint64
	max     int
}

// start subscribes to the stream, fetches its GOP from the home node and
// writes it to a new sink, then the live units that came meanwhile.
func (fs *Feeds) start(ctx context.Context, k feedKey) (*feed, error) {
	sink, err := fs.newSink(k.device, k.stream)
	if err != nil {
		return nil, fmt.Errorf("cluster: feed %s/%s: %w", k.device, k.stream, err)
	}
	f := &feed{sink: sink, max: fs.pending}
	if f.sub, err = fs.bus.Subscribe(ctx, k.device, k.stream, f.deliver); err != nil {
		sink.Close()
		return nil, err
	}
	gop, err := f.sub.Bootstrap(ctx)
	if err != nil {
		f.stop()
		return nil, err
	}
	f.goLive(gop)
	return f, nil
}

// deliver takes a live unit from the bus.
func (f *feed) deliver(u *media.Unit) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live {
		if len(f.pending) == f.max {
			f.pending = nil // too far behind: start again at a keyframe
		}
		f.pending = append(f.pending, u)
		return
	}
	f.write(u)
}

// goLive writes the GOP, then the units that came while it was fetched.
func (f *feed) goLive(gop []*media.Unit) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range gop {
		f.write(u)
	}
	for _, u := range f.pending {
		f.write(u)
	}
	f.pending, f.live = nil, true
}

// write passes u on unless it was written already (in the GOP and live
// both) or it would start the sink, or a new session, without a keyframe.
// Callers hold f.mu.
func (f *feed) write(u *media.Unit) {
	newSession := u.Owner() != f.last
	if f.closed || newSession && !u.Key || !newSession && u.Seq <= f.lastSeq {
		return
	}
	f.last, f.lastSeq = u.Owner(), u.Seq
	f.sink.Write(u)
}

// stop ends the subscription and closes the sink; a delivery still under
// way writes nothing after.
func (f *feed) stop() {
	f.sub.Close()
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.sink.Close()
}
