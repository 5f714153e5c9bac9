package hub

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/media"
)

// Stream is one publisher session of one camera stream.
type Stream struct {
	hub      *Hub
	owner    media.Owner
	tracks   []*media.Track
	keyTrack int // index of the first video track, -1 if none
	// start is the wall-clock time of PTS zero, for RTCP sender reports.
	start time.Time

	ingestBytes prometheus.Counter
	ingestUnits prometheus.Counter
	readersG    prometheus.Gauge
	skips       prometheus.Counter
	gopG        prometheus.Gauge
	rejected    prometheus.Counter

	mu     sync.Mutex
	closed error         // guarded by mu; set once
	seq    uint64        // guarded by mu; Seq of the last unit
	gop    []*media.Unit // guarded by mu; units since the last keyframe, in arrival order
	// prevGop is the complete GOP before gop; guarded by mu. Only muxers
	// that must cut a whole segment at once read it (ReadBack).
	prevGop   []*media.Unit
	gopBytes  int64 // guarded by mu; payload bytes of gop
	prevBytes int64 // guarded by mu; payload bytes of prevGop
	// gopDur is the interval between the last two keyframes; guarded by mu.
	gopDur  time.Duration
	readers map[*Reader]struct{} // guarded by mu
	// lastUnit is when ingest received the last unit (unix nanoseconds),
	// for operators (Hub.LastFrame); written under mu, read without it.
	lastUnit atomic.Int64

	// fed is true for a stream fed from another node (Hub.Feed); set
	// before the stream is shared.
	fed bool
	// epoch identifies the camera's ownership epoch of the session in a
	// cluster (its home's, or the one a fed stream's units opened in);
	// nil on one node and until the claim is made. Guarded by hub.mu.
	epoch []byte
	// home is the session's hold on its stream in a cluster; nil on one
	// node and for fed streams. Set before the first write.
	home HomeSession
	// done is closed when the stream closes.
	done chan struct{}
}

func newStream(h *Hub, owner media.Owner, tracks []*media.Track) *Stream {
	m := h.cfg.Metrics
	lv := []string{string(owner.Device), string(owner.Stream)}
	s := &Stream{
		hub: h, owner: owner, tracks: tracks, keyTrack: -1, start: h.cfg.Now(),
		ingestBytes: m.IngestBytes.WithLabelValues(lv...),
		ingestUnits: m.IngestUnits.WithLabelValues(lv...),
		readersG:    m.Readers.WithLabelValues(lv...),
		skips:       m.Skips.WithLabelValues(lv...),
		gopG:        m.GOPBytes.WithLabelValues(lv...),
		rejected:    m.Rejected.WithLabelValues(lv...),
		readers:     make(map[*Reader]struct{}),
		done:        make(chan struct{}),
	}
	for i, t := range tracks {
		if t.Kind == media.Video {
			s.keyTrack = i
			break
		}
	}
	return s
}

// write publishes a unit to the GOP cache and every reader. It never blocks
// on a reader: a full reader queue makes that reader skip to the next keyframe.
func (s *Stream) write(track int, d UnitData) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed != nil {
		s.rejected.Inc()
		return s.closed
	}
	s.seq++
	s.publish(media.NewUnit(s.owner, s.seq, track, d.PTS, d.Key, s.hub.cfg.Now(), d.Payload))
	return nil
}

// publish caches u and offers it to every reader and, in a cluster, to
// the other nodes. Caller holds s.mu.
func (s *Stream) publish(u *media.Unit) {
	s.ingestBytes.Add(float64(u.Size()))
	s.ingestUnits.Inc()
	s.lastUnit.Store(u.Captured().UnixNano())
	s.cache(u)
	for r := range s.readers {
		r.offer(u)
	}
	if s.home != nil {
		s.home.Send(u)
	}
}

// cache keeps the units since the last keyframe of the key track.
// Caller holds s.mu.
func (s *Stream) cache(u *media.Unit) {
	switch {
	case u.Track == s.keyTrack && u.Key:
		if len(s.gop) > 0 {
			s.gopDur = u.PTS - s.gop[0].PTS
		}
		// The finished GOP becomes the previous one; a new slice for the
		// next, since the old backing array now belongs to prevGop.
		s.prevGop, s.gop = s.gop, append(make([]*media.Unit, 0, cap(s.gop)), u)
		s.prevBytes, s.gopBytes = s.gopBytes, int64(u.Size())
	case len(s.gop) > 0:
		if s.gopBytes+int64(u.Size()) > s.hub.cfg.GOPMaxBytes {
			s.gop, s.prevGop, s.gopBytes, s.prevBytes = nil, nil, 0, 0
			break
		}
		s.gop = append(s.gop, u)
		s.gopBytes += int64(u.Size())
	}
	// The gauge counts both GOPs: the previous one is held as long
	// (until the next keyframe), and both are what the cache costs.
	s.gopG.Set(float64(s.gopBytes + s.prevBytes))
}

// keyframe returns the cached GOP's keyframe, or nil.
func (s *Stream) keyframe() *media.Unit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.gop) == 0 {
		return nil
	}
	return s.gop[0]
}

// maxLag is how far behind live a reader's queue may fall before it skips
// to the next keyframe: twice the GOP plus two seconds, so that a joining
// reader's replay of the cached GOP never counts as lag. Caller holds s.mu.
func (s *Stream) maxLag() time.Duration {
	gop := s.gopDur
	if len(s.gop) > 0 {
		gop = max(gop, s.gop[len(s.gop)-1].PTS-s.gop[0].PTS)
	}
	return 2*gop + 2*time.Second
}

func (s *Stream) addReader(g access.Grant, back bool) (*Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed != nil {
		return nil, ErrOffline
	}
	r := newReader(s, g)
	// The cached GOP is replayed at once with its original timestamps: the
	// reader's first picture is a keyframe, the timeline stays continuous
	// with the live units that follow, and audio keeps its place in it. A
	// GOP whose keyframe was captured before the grant's epoch is not the
	// holder's (invariant 8): the reader waits for the next keyframe, the
	// first picture captured after its epoch, as a reader that joins an
	// empty cache does. Units within a GOP arrive in capture order, so its
	// keyframe's time bounds them all.
	// The replay starts at a key picture: what follows it that refers
	// before it is left out (refersBeforeStart).
	gop := sinceEpoch(s.gop, g)
	r.fromKey = true
	if back && len(gop) > 0 {
		r.replay(sinceEpoch(s.prevGop, g))
	}
	r.replay(gop)
	r.waitKey = len(gop) == 0 && s.keyTrack >= 0
	s.readers[r] = struct{}{}
	s.readersG.Inc()
	return r, nil
}

// replay queues cached units for a reader that is not yet attached.
// Caller holds s.mu.
func (r *Reader) replay(units []*media.Unit) {
	for _, u := range units {
		if r.refersBeforeStart(u) {
			continue
		}
		r.q = append(r.q, u)
		r.qBytes += int64(u.Size())
	}
}

// sinceEpoch returns gop, or nothing when its first unit was captured
// before the grant's epoch.
func sinceEpoch(gop []*media.Unit, g access.Grant) []*media.Unit {
	if len(gop) == 0 || !handoverKeepsStreams() && gop[0].Captured().Before(g.Epoch()) {
		return nil
	}
	return gop
}

func (s *Stream) removeReader(r *Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.readers[r]; ok {
		delete(s.readers, r)
		s.readersG.Dec()
	}
}

// close ends the session: readers get err, later writes fail.
func (s *Stream) close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed != nil {
		return
	}
	s.closed = err
	close(s.done)
	for r := range s.readers {
		r.end(err)
		s.readersG.Dec()
	}
	clear(s.readers)
	s.gop, s.prevGop, s.gopBytes, s.prevBytes = nil, nil, 0, 0
	s.gopG.Set(0)
}

// Publisher is the write side of a stream, held by the camera's ingest session.
type Publisher struct {
	s *Stream
}

// Owner is the camera session the publisher writes as.
func (p *Publisher) Owner() media.Owner { return p.s.owner }

// Tracks are the tracks announced by the camera.
func (p *Publisher) Tracks() []*media.Track { return p.s.tracks }

// Write publishes one access unit. The unit is owned by the publisher's
// session; payload must not be modified afterwards. It returns ErrReplaced
// once a newer session of the same camera took over.
func (p *Publisher) Write(track int, u UnitData) error {
	if track < 0 || track >= len(p.s.tracks) {
		p.s.rejected.Inc()
		return nil
	}
	return p.s.write(track, u)
}

// Close ends the publisher session; its readers are told the camera went offline.
func (p *Publisher) Close() {
	p.s.hub.remove(p.s)
	p.s.close(ErrOffline)
}

// Closed reports why the session ended, or nil while it is live.
func (p *Publisher) Closed() error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.closed
}
