package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
)

// Sink takes a remote camera stream's units on a viewer's node, in order,
// keyframe first: the hub stream that local readers read. Write must not
// block for long (it runs on the bus's delivery goroutine); an error means
// the sink's stream is gone (replaced, handed over) and ends the feed.
type Sink interface {
	Write(u *media.Unit) error
	Close()
}

// SinkFactory makes the sink of a remote publisher session when its first
// local reader comes. desc's owner is the one whose key opened the
// description: the camera the sink must serve.
type SinkFactory func(desc Description) (Sink, error)

// Feeds keeps, on a viewer's node, one bus subscription per remote camera
// stream that has local readers — one copy crosses to each interested
// node, never one per viewer. A feed starts with the description and GOP
// from the home node, then goes live. It ends Linger after its last reader
// leaves (so a viewer who reloads finds it still warm), at once when the
// home node's sealed end message comes or the publisher session changes
// (a reconnect: readers come back to a feed of the new session and its
// tracks), when its sink refuses a unit, or when no unit came for Silence
// (the home node died).
type Feeds struct {
	bus     *Bus
	newSink SinkFactory
	linger  time.Duration
	// Silence is how long a feed may go without a unit before it ends. It
	// defaults to 5 s; set it before the first Acquire.
	Silence time.Duration
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
	return &Feeds{bus: bus, newSink: newSink, linger: linger, Silence: 5 * time.Second, pending: 512, feeds: map[feedKey]*feed{}}
}

// Acquire counts a local reader of a remote camera stream, starting its
// feed if there is none, and returns once the feed's sink has the GOP.
// The returned release uncounts the reader (calling it more than once is
// harmless). It fails with ErrNoHome when no node serves the stream.
func (fs *Feeds) Acquire(ctx context.Context, device access.DeviceID, stream access.StreamID) (release func(), err error) {
	k := feedKey{device, stream}
	fs.mu.Lock()
	f := fs.feeds[k]
	if f == nil {
		f = &feed{fs: fs, key: k, ready: make(chan struct{}), done: make(chan struct{}), max: fs.pending}
		fs.feeds[k] = f
		f.readers = 1
		fs.mu.Unlock()
		f.err = fs.start(ctx, f)
		close(f.ready)
		if f.err != nil {
			fs.remove(f)
			return nil, f.err
		}
		go f.watch()
		return f.releaser(), nil
	}
	f.readers++
	if f.idle != nil {
		f.idle.Stop()
		f.idle = nil
	}
	fs.mu.Unlock()
	release = f.releaser()
	select {
	case <-f.ready:
	case <-ctx.Done():
		release()
		return nil, context.Cause(ctx)
	}
	if f.err != nil {
		return nil, f.err
	}
	return release, nil
}

// remove forgets f if it is still the feed of its key.
func (fs *Feeds) remove(f *feed) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.feeds[f.key] == f {
		delete(fs.feeds, f.key)
	}
	if f.idle != nil {
		f.idle.Stop()
		f.idle = nil
	}
}

// drop ends f now.
func (fs *Feeds) drop(f *feed) {
	fs.remove(f)
	f.stop()
}

// expire ends f if it is still idle.
func (fs *Feeds) expire(f *feed) {
	fs.mu.Lock()
	if fs.feeds[f.key] != f || f.readers > 0 {
		fs.mu.Unlock()
		return
	}
	delete(fs.feeds, f.key)
	fs.mu.Unlock()
	f.stop()
}

// Active is the number of remote streams this node is fed.
func (fs *Feeds) Active() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.feeds)
}

// feed is one remote publisher session's subscription and sink.
type feed struct {
	fs    *Feeds
	key   feedKey
	ready chan struct{} // closed when start returned; err is then set
	err   error
	done  chan struct{} // closed by stop
	once  sync.Once
	sink  Sink
	sub   *Subscription
	last  atomic.Int64 // unix ns of the last unit written, or of the start

	readers int         // guarded by Feeds.mu
	idle    *time.Timer // guarded by Feeds.mu; set while readers is 0

	mu      sync.Mutex    // guards owner, live, closed, pending, started, lastSeq
	owner   media.Owner   // the session fed, from its opened description
	live    bool          // the GOP was written; units go straight to the sink
	closed  bool          // the sink was closed; nothing more is written
	pending []*media.Unit // live units that came while the GOP was fetched
	started bool          // a keyframe was written
	lastSeq uint64
	max     int
}

// releaser returns the release of one reader of f.
func (f *feed) releaser() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			fs := f.fs
			fs.mu.Lock()
			defer fs.mu.Unlock()
			if f.readers--; f.readers == 0 && fs.feeds[f.key] == f {
				f.idle = time.AfterFunc(fs.linger, func() { fs.expire(f) })
			}
		})
	}
}

// start subscribes to the stream, fetches its description and GOP from
// the home node, makes the sink and writes the GOP to it, then the live
// units that came meanwhile.
func (fs *Feeds) start(ctx context.Context, f *feed) (err error) {
	k := f.key
	if f.sub, err = fs.bus.subscribe(ctx, k.device, k.stream, f.deliver, f.ended); err != nil {
		return err
	}
	desc, gop, err := f.sub.Bootstrap(ctx)
	if err == nil {
		f.mu.Lock()
		f.owner = desc.Owner
		f.mu.Unlock()
		f.sink, err = fs.newSink(*desc)
	}
	if err != nil {
		f.sub.Close()
		f.mu.Lock()
		f.closed = true
		f.mu.Unlock()
		if f.sink == nil {
			return fmt.Errorf("cluster: feed %s/%s: %w", k.device, k.stream, err)
		}
		return err
	}
	f.last.Store(time.Now().UnixNano())
	f.goLive(gop)
	// The GOP request made the home node publish for wantTTL; the feed
	// keeps it publishing until it stops.
	go f.sub.wantLoop(f.done)
	return nil
}

// deliver takes a live unit from the bus.
func (f *feed) deliver(u *media.Unit) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
	case !f.live:
		if len(f.pending) == f.max {
			f.pending = nil // too far behind: start again at a keyframe
		}
		f.pending = append(f.pending, u)
	default:
		f.write(u)
	}
}

// ended takes a sealed end message: the session fed is over.
func (f *feed) ended(o media.Owner) {
	f.mu.Lock()
	mine := o == f.owner
	f.mu.Unlock()
	if mine {
		go f.fs.drop(f)
	}
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
// both) or it would start the sink without a keyframe. A unit of another
// session ends the feed: its readers come back to a feed of the new
// session, which may have other tracks. Callers hold f.mu.
func (f *feed) write(u *media.Unit) {
	if f.closed {
		return
	}
	if u.Owner() != f.owner && !anyOwner() {
		f.closed = true
		go f.fs.drop(f)
		return
	}
	if u.Seq <= f.lastSeq || !f.started && !u.Key {
		return
	}
	f.started, f.lastSeq = true, u.Seq
	f.last.Store(time.Now().UnixNano())
	if err := f.sink.Write(u); err != nil {
		f.closed = true
		go f.fs.drop(f)
	}
}

// watch ends the feed when no unit came for Silence.
func (f *feed) watch() {
	tick := time.NewTicker(min(time.Second, f.fs.Silence/2))
	defer tick.Stop()
	for {
		select {
		case <-f.done:
			return
		case <-tick.C:
			if time.Since(time.Unix(0, f.last.Load())) > f.fs.Silence {
				f.fs.drop(f)
				return
			}
		}
	}
}

// stop ends the subscription and closes the sink; a delivery still under
// way writes nothing after.
func (f *feed) stop() {
	f.once.Do(func() {
		f.sub.Close()
		f.mu.Lock()
		f.closed = true
		f.mu.Unlock()
		f.sink.Close()
		close(f.done)
	})
}
