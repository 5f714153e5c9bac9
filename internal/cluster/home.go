package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"vigil/internal/media"
	"vigil/internal/seal"
)

// Home is the home-node side of the camera streams published on this
// node: each publisher session claims its stream (fencing the node that
// held it), sends its units on the bus and answers GOP requests, until it
// ends with a sealed end message and releases the claim.
type Home struct {
	Registry *Registry
	Bus      *Bus
	Log      *slog.Logger
	// Timeout bounds a claim's writes. It defaults to 5 s.
	Timeout time.Duration
}

// Homed is one publisher session's hold on its camera stream.
//
// Its units cross the bus only while some node wants them (a remote feed
// says so every wantEvery; a GOP request counts too), and never under the
// hub stream's lock: Send puts a unit on a bounded queue that one
// goroutine publishes from. A full queue drops the unit, counted, and the
// units after it up to the next keyframe (remote feeds then skip, as a
// slow reader does): local viewers are never slowed by the bus.
type Homed struct {
	h      *Home
	claim  *Claim
	epoch  []byte // identity of the epoch the session is sealed in (seal.EpochID)
	snd    *Sender
	serve  *nats.Subscription
	want   *nats.Subscription
	failed atomic.Uint64 // units not sent

	wanted atomic.Int64 // unix ns until which some node wants the units
	q      chan *media.Unit
	skip   bool          // a unit was dropped: drop up to the next keyframe; Send's alone
	done   chan struct{} // closed by Close: the queue is drained and ends
	exited chan struct{} // closed when the queue's goroutine returned
}

// homeQueue bounds the units a home node holds for the bus per publisher
// session (about 10 s of a 25 fps camera).
const homeQueue = 256

// Claim makes this node the home of desc's camera stream for desc's
// publisher session, whose cached GOP gop returns. The caller must have
// authenticated the camera as desc.Owner.Device. When Fenced closes, the
// session must end; Close ends the hold either way.
func (h *Home) Claim(ctx context.Context, desc Description, gop GOPSource) (*Homed, error) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	o := desc.Owner
	snd, err := h.Bus.Sender(ctx, o)
	if err != nil {
		return nil, err
	}
	claim, err := h.Registry.Claim(ctx, o.Device, o.Stream)
	if err != nil {
		return nil, err
	}
	hd := &Homed{h: h, claim: claim, snd: snd, epoch: seal.EpochID(snd.epoch), q: make(chan *media.Unit, homeQueue), done: make(chan struct{}), exited: make(chan struct{})}
	// A GOP request is a want too, marked before the GOP is read: every
	// unit published after the snapshot goes to the bus, so the requester
	// misses none between its GOP and the live units.
	hd.want, err = h.Bus.serveWants(o, snd.epoch, hd.wantedFor)
	if err == nil {
		hd.serve, err = h.Bus.serveGOP(desc, func() []*media.Unit {
			hd.wantedFor(wantTTL)
			return gop()
		}, snd.reply)
		if err != nil {
			hd.want.Unsubscribe()
		}
	}
	if err != nil {
		claim.Release(ctx)
		return nil, fmt.Errorf("cluster: home of %s/%s: %w", o.Device, o.Stream, err)
	}
	go hd.run()
	return hd, nil
}

// wantedFor marks the units wanted for d from now.
func (s *Homed) wantedFor(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		old := s.wanted.Load()
		if old >= until || s.wanted.CompareAndSwap(old, until) {
			return
		}
	}
}

// Send queues u for the bus if some node wants it; it never blocks. It is
// called by one goroutine at a time (the hub stream's writer, under its lock).
func (s *Homed) Send(u *media.Unit) {
	if time.Now().UnixNano() > s.wanted.Load() {
		return // no node wants the units: nothing crosses the bus
	}
	if s.skip && !u.Key {
		s.h.Bus.dropped.Add(1)
		return
	}
	select {
	case s.q <- u:
		s.skip = false
	default:
		s.skip = true
		if s.h.Bus.dropped.Add(1)%100 == 1 {
			s.h.Log.Warn("bus send queue full: units dropped up to the next keyframe", "camera", u.Owner().Device,
				"stream", u.Owner().Stream, "dropped_total", s.h.Bus.dropped.Load())
		}
	}
}

// run publishes the queued units until Close, then those still queued.
func (s *Homed) run() {
	defer close(s.exited)
	for {
		select {
		case u := <-s.q:
			s.send(u)
		case <-s.done:
			for {
				select {
				case u := <-s.q:
					s.send(u)
				default:
					return
				}
			}
		}
	}
}

// send publishes u; a failure is counted and logged now and then (remote
// feeds skip to the next keyframe, as a slow reader does).
func (s *Homed) send(u *media.Unit) {
	if err := s.snd.Send(u); err != nil {
		if s.failed.Add(1)%100 == 1 {
			s.h.Log.Warn("camera unit not sent on the bus", "camera", u.Owner().Device, "stream", u.Owner().Stream,
				"failed_total", s.failed.Load(), "error", err)
		}
	}
}

// Epoch identifies the ownership epoch the session's units are sealed in.
func (s *Homed) Epoch() []byte { return s.epoch }

// Fenced is closed when another session, here or on another node, took
// the stream over, or the claim lapsed: the session must end.
func (s *Homed) Fenced() <-chan struct{} { return s.claim.Fenced() }

// Close ends the hold: remote feeds get the sealed end, GOP requests are
// no longer answered, and the claim is released (unless another holder
// took it over already).
func (s *Homed) Close() {
	close(s.done)
	<-s.exited
	s.snd.SendEnd()
	s.serve.Unsubscribe()
	s.want.Unsubscribe()
	// The epoch secret goes with the session (invariant 4): kept, it would
	// re-derive the old epoch's keys after a handover. A GOP reply still
	// being sealed fails to open, which a viewer sees as the camera offline.
	clear(s.snd.epoch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.claim.Release(ctx); err != nil {
		s.h.Log.Warn("camera claim not released; it lapses", "error", err)
	}
}
