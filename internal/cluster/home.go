package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"vigil/internal/media"
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
type Homed struct {
	h      *Home
	claim  *Claim
	snd    *Sender
	serve  *nats.Subscription
	failed atomic.Uint64 // units not sent
}

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
	serve, err := h.Bus.serveGOP(desc, gop, snd.reply)
	if err != nil {
		claim.Release(ctx)
		return nil, fmt.Errorf("cluster: home of %s/%s: %w", o.Device, o.Stream, err)
	}
	return &Homed{h: h, claim: claim, snd: snd, serve: serve}, nil
}

// Send publishes u on the bus; a failure is counted and logged now and
// then (remote feeds skip to the next keyframe, as a slow reader does).
func (s *Homed) Send(u *media.Unit) {
	if err := s.snd.Send(u); err != nil {
		if s.failed.Add(1)%100 == 1 {
			s.h.Log.Warn("camera unit not sent on the bus", "camera", u.Owner().Device, "stream", u.Owner().Stream,
				"failed_total", s.failed.Load(), "error", err)
		}
	}
}

// Fenced is closed when another session, here or on another node, took
// the stream over, or the claim lapsed: the session must end.
func (s *Homed) Fenced() <-chan struct{} { return s.claim.Fenced() }

// Close ends the hold: remote feeds get the sealed end, GOP requests are
// no longer answered, and the claim is released (unless another holder
// took it over already).
func (s *Homed) Close() {
	s.snd.SendEnd()
	s.serve.Unsubscribe()
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
