package hub

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
)

// A cluster of nodes shares camera streams through two hooks. On the node
// a camera publishes to, Home claims the stream for the publisher session
// and carries its units to the other nodes; on a node where a viewer
// reads a camera published elsewhere, Remote feeds a stream into this hub
// (Feed) that local readers read like any other. Without them (one node),
// a stream is offline unless published here.

// Home makes this node the home of the camera streams published here.
type Home interface {
	// Claim claims the stream of the publisher session desc.Owner, whose
	// cached GOP gop returns; the session ends (ErrFenced) when the
	// returned hold's Fenced closes.
	Claim(owner media.Owner, tracks []*media.Track, start time.Time, gop func() []*media.Unit) (HomeSession, error)
}

// HomeSession is one publisher session's hold on its stream in the cluster.
type HomeSession interface {
	// Send carries a unit of the session to the other nodes; it must not
	// block for long.
	Send(u *media.Unit)
	// Fenced is closed when another session took the stream over.
	Fenced() <-chan struct{}
	// Epoch identifies the camera's ownership epoch the session is
	// sealed in (HandoverStale compares it).
	Epoch() []byte
	// Close ends the hold.
	Close()
}

// Remote feeds this hub the streams of cameras homed on other nodes.
type Remote interface {
	// Acquire makes sure the camera stream is fed into the hub (through
	// Feed) with its cached GOP and counts one reader of it, until
	// release. It fails when no node serves the stream.
	Acquire(ctx context.Context, device access.DeviceID, stream access.StreamID) (release func(), err error)
	// Online reports whether another node serves the camera stream.
	Online(device access.DeviceID, stream access.StreamID) bool
}

// remoteWait bounds how long a reader waits for a remote stream's feed.
const remoteWait = 5 * time.Second

// Fed is the write side of a stream fed from another node: the units of a
// publisher session of that node, as they arrive, each keeping the owner
// it came with (the device whose key opened it on the bus).
type Fed struct {
	s *Stream
}

// Feed starts a stream fed from another node for the publisher session
// owner, whose tracks and session start (the wall-clock time of PTS zero)
// are given, and whose units open in the ownership epoch epoch identifies.
// It replaces a fed stream of the camera stream, never a
// stream published here: a camera publishing here is read here.
func (h *Hub) Feed(owner media.Owner, tracks []*media.Track, start time.Time, epoch []byte) (*Fed, error) {
	if len(tracks) == 0 {
		return nil, ErrNoTracks
	}
	s := newStream(h, owner, tracks)
	s.fed, s.start, s.epoch = true, start, epoch
	k := streamKey{owner.Device, owner.Stream}
	h.mu.Lock()
	old := h.streams[k]
	if old != nil && !old.fed {
		h.mu.Unlock()
		return nil, fmt.Errorf("hub: feed of %s/%s: %w", owner.Device, owner.Stream, ErrPublishedHere)
	}
	h.streams[k] = s
	if old != nil {
		h.noteEnded(k, old)
	}
	h.mu.Unlock()
	if old != nil {
		old.close(ErrReplaced)
	}
	return &Fed{s: s}, nil
}

// Write publishes a unit that came from the stream's home node. A unit of
// any other camera session is refused and counted as a violation: nothing
// of it reaches a reader. An error means the stream is closed (replaced,
// handed over) and the feed must end.
func (f *Fed) Write(u *media.Unit) error {
	s := f.s
	if u.Owner() != s.owner {
		err := fmt.Errorf("isolation violation: remote unit of %s/%s session %d fed to the stream of %s/%s session %d",
			u.Owner().Device, u.Owner().Stream, u.Owner().Session, s.owner.Device, s.owner.Stream, s.owner.Session)
		s.hub.cfg.Metrics.Violations.Inc()
		s.hub.cfg.Logger.Error("remote unit refused", "error", err)
		return err
	}
	if u.Track < 0 || u.Track >= len(s.tracks) {
		s.rejected.Inc()
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed != nil {
		return s.closed
	}
	s.publish(u)
	return nil
}

// Close ends the fed stream; its readers are told the camera went offline.
func (f *Fed) Close() {
	f.s.hub.remove(f.s)
	f.s.close(ErrOffline)
}

// remote returns the stream another node feeds for the camera stream,
// with the release of the reader it counts at the feed (a no-op when the
// stream turned out to be published here meanwhile); nil without a remote
// or when the feed cannot be acquired — a fed stream still in the map but
// not acquired is never handed out, or its feed could end under a reader.
func (h *Hub) remote(device access.DeviceID, stream access.StreamID) (*Stream, func()) {
	if h.cfg.Remote == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteWait)
	defer cancel()
	release, err := h.cfg.Remote.Acquire(ctx, device, stream)
	if err != nil {
		h.cfg.Logger.Debug("remote stream not fed", "camera", device, "stream", stream, "error", err)
		return nil, nil
	}
	h.mu.Lock()
	s := h.streams[streamKey{device, stream}]
	h.mu.Unlock()
	if s == nil || !s.fed {
		release()
		return s, func() {}
	}
	return s, release
}

// claimHome makes this node the home of s's stream when the hub has a
// Home, and ends s (ErrFenced) when another session takes it over.
func (h *Hub) claimHome(s *Stream) error {
	if h.cfg.Home == nil {
		return nil
	}
	hs, err := h.cfg.Home.Claim(s.owner, s.tracks, s.start, s.gopSnapshot)
	if err != nil {
		return fmt.Errorf("hub: claim %s/%s: %w", s.owner.Device, s.owner.Stream, err)
	}
	s.home = hs
	h.mu.Lock()
	s.epoch = hs.Epoch()
	h.mu.Unlock()
	go func() {
		select {
		case <-hs.Fenced():
			h.remove(s)
			s.close(ErrFenced)
			h.cfg.Logger.Info("publisher session fenced: the camera's stream was claimed by a newer session",
				"camera", s.owner.Device, "stream", s.owner.Stream, "session", s.owner.Session)
		case <-s.done:
		}
		hs.Close()
	}()
	return nil
}

// gopSnapshot returns the cached GOP, keyframe first.
func (s *Stream) gopSnapshot() []*media.Unit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*media.Unit(nil), s.gop...)
}
