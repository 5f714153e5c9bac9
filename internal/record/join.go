package record

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"vigil/internal/access"
	"vigil/internal/fmp4"
	"vigil/internal/media"
	"vigil/internal/seal"
)

// MaxJoin bounds the span one joined file covers.
const MaxJoin = time.Hour

// contiguous is how long after a recording's end the next may start and
// still be the same stretch of the stream (a segment cut, not a gap): its
// decode times are chained to the one before, not placed by the wall
// clock (ingest's clock jitters; a burst after a stall bunches it).
const contiguous = 500 * time.Millisecond

// Joined is the grant's recordings of a stream over a span as one fMP4
// file: the first recording's init segment, then the fragments of each
// recording in turn, from the keyframe at or before the span's start to
// the end of the fragment that holds its end. Each fragment's moof is
// rewritten as it is read (sequence number, tfdt), so decode times run on
// across the recordings' boundaries; nothing else is re-muxed. Only
// recordings with the first one's init segment (one publisher session's
// tracks) are joined: the file ends before the first that differs.
type Joined struct {
	clips []*joinClip
	size  int64
	parts []joinPart
	lib   *Library
	// Start is the capture time of the file's first frame.
	Start time.Time
	// Duration is how long the file plays.
	Duration time.Duration
}

// joinClip is a recording of a join, opened at its first read: a join of
// an hour holds some sixty recordings, and each Range request a player
// makes (it seeks, it reads ahead) is a join of its own that touches one
// or two of them. A recording's init segment is read to build the join
// only when the Library has not seen it (see heads); a recording is
// opened — its object stat'ed, its size and key proved — only when a read
// first reaches it, before any byte of it is read (or by Joined.Check).
type joinClip struct {
	open   func() (*Clip, error) // opens it under the request's grant
	object string                // its row's object, for Check's stat
	size   int64                 // its row's plaintext size
	once   sync.Once
	clip   *Clip // set by once
	err    error // set by once
	ready  atomic.Bool
}

// opened returns the clip, opening it on the first call.
func (jc *joinClip) opened() (*Clip, error) {
	jc.once.Do(func() {
		jc.clip, jc.err = jc.open()
		jc.ready.Store(jc.err == nil)
	})
	return jc.clip, jc.err
}

// joinPart is a byte range of a clip in the joined file.
type joinPart struct {
	clip       *joinClip
	start, end int64 // in the clip's file
	moof       bool  // the range is one fragment: its moof is rebased
	seq        uint32
	shift      []trackShift // ticks, by track id

	mu      sync.Mutex
	rebased []byte // the rebased moof, once read; guarded by mu
}

// trackShift is how far a track's decode times move, in its ticks.
type trackShift struct {
	track uint32
	ticks int64
}

// Join opens the grant's device's recordings of stream that overlap
// [from, to) as one file. See ErrNotFound (none), ErrIsolation, ErrDamaged.
// A recording whose init segment the Library has not seen is opened here
// to read it; the others are opened when a read first reaches them, so a
// Range request stats and opens only the recordings it touches. Before
// serving the whole file, call Check: it is refused before its first byte
// rather than cut short where a recording is missing.
func (l *Library) Join(ctx context.Context, g access.Grant, stream access.StreamID, from, to time.Time) (*Joined, error) {
	if to.Sub(from) > MaxJoin {
		to = from.Add(MaxJoin)
	}
	spans, err := l.Timeline(ctx, g, stream, from, to)
	if err != nil {
		return nil, err
	}
	spans = l.joinSpans(ctx, g, stream, spans, from, to)
	j := Joined{lib: l}
	var first head
	var origin time.Duration // decode time, in the file, of the current clip's start
	var prevEnd time.Time
	seq := uint32(0)
	for i, s := range spans {
		if len(s.Fragments) == 0 {
			continue
		}
		jc := &joinClip{open: func() (*Clip, error) { return l.joinOpen(ctx, g, s.ID) }, object: s.object, size: s.Size}
		h, err := l.head(jc, g.Device(), s)
		if err != nil {
			return nil, err
		}
		lo, hi := fragmentRange(s.Fragments, s.Start, from, to, i == 0, i == len(spans)-1)
		if len(j.clips) == 0 {
			if h.scales == nil {
				return nil, fmt.Errorf("%w: %w", ErrDamaged, fmp4.ErrBadFragment)
			}
			first = h
			j.Start = s.Start.Add(s.Fragments[lo].Time)
			j.parts = append(j.parts, joinPart{clip: jc, start: 0, end: s.Fragments[0].Offset})
			origin = -s.Fragments[lo].Time
		} else if h.sum != first.sum {
			break // another session's tracks: the file ends here
		} else if s.Start.Sub(prevEnd) > contiguous {
			origin = max(origin, s.Start.Sub(j.Start)) // a gap: placed by the wall clock
		}
		j.clips = append(j.clips, jc)
		shift := make([]trackShift, len(first.scales))
		for k, ts := range first.scales {
			shift[k] = trackShift{track: ts.track, ticks: media.DurationToClock(origin, int64(ts.scale))}
		}
		for k := lo; k <= hi; k++ {
			end := s.Size
			if k+1 < len(s.Fragments) {
				end = s.Fragments[k+1].Offset
			}
			seq++
			j.parts = append(j.parts, joinPart{clip: jc, start: s.Fragments[k].Offset, end: end, moof: true, seq: seq, shift: shift})
		}
		lastEnd := s.Duration
		if hi+1 < len(s.Fragments) {
			lastEnd = s.Fragments[hi+1].Time
		}
		j.Duration = origin + lastEnd
		origin += s.Duration
		prevEnd = s.Start.Add(s.Duration)
	}
	if len(j.clips) == 0 {
		return nil, ErrNotFound
	}
	for i := range j.parts {
		j.size += j.parts[i].end - j.parts[i].start
	}
	return &j, nil
}

// head is what a join needs of a recording's init segment: the digest it
// compares with the first recording's, and its tracks' timescales (nil
// when they cannot be read), which decide the decode-time shifts when it
// is the first. It comes from heads, or from the init segment read
// through the seal (the recording opened) when the Library has not seen
// it.
func (l *Library) head(jc *joinClip, device access.DeviceID, s Span) (head, error) {
	key := headKey{device: device, id: s.ID, start: s.Start.UnixNano()}
	if h, ok := l.heads.get(key); ok {
		return h, nil
	}
	init, err := jc.head(s.Fragments[0].Offset)
	if err != nil {
		return head{}, err
	}
	h := head{sum: sha256.Sum256(init)}
	if scales, err := fmp4.Timescales(init); err == nil {
		h.scales = make([]trackScale, 0, len(scales))
		for id, scale := range scales {
			h.scales = append(h.scales, trackScale{track: id, scale: scale})
		}
	}
	l.heads.put(key, h)
	return h, nil
}

// checkers bounds the object stats one Check runs at once (an S3 store
// answers each in a round trip).
const checkers = 8

// Check makes sure that every recording of the join not yet opened is
// there to be served, so that a whole file is refused before its first
// byte rather than cut short: each object exists at the sealed size of
// its row's length (a stat, no data read; run in parallel). One that is
// not is opened, which tells a damaged or missing object (ErrDamaged,
// logged) from another camera's (ErrIsolation, counted). The objects' keys
// are proved only when a read opens them (an object swapped for another
// of the same size still fails there, fail closed), and one deleted after
// this check (retention, meanwhile) still cuts the file short. A Range
// request need not call it: a read opens each recording before any byte
// of it is read.
func (j *Joined) Check(ctx context.Context) error {
	var g errgroup.Group
	g.SetLimit(checkers)
	for _, jc := range j.clips {
		if jc.ready.Load() {
			continue
		}
		g.Go(func() error {
			if jc.object != "" {
				fi, err := j.lib.Blobs.Stat(ctx, jc.object)
				if err == nil && fi.Size == seal.SealedSize(jc.size) {
					return nil
				}
			}
			_, err := jc.opened()
			return err
		})
	}
	return g.Wait()
}

// head opens the clip and reads its first n bytes, its init segment.
func (jc *joinClip) head(n int64) ([]byte, error) {
	c, err := jc.opened()
	if err != nil {
		return nil, err
	}
	head := make([]byte, n)
	if _, err := c.sr.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("record: join: %w", err)
	}
	return head, nil
}

// heads remembers the digests of recordings' init segments, read through
// the seal, so that a join compares a recording's tracks with the first's
// without opening it. A recording's init segment never changes; the key
// holds its start as well as its row id, so a reused id is not mistaken.
// The digest decides only where a joined file ends: every byte served is
// still read through the seal under the request's grant. Bounded: past
// maxHeads the digests are all forgotten at once.
type heads struct {
	mu sync.Mutex
	m  map[headKey]head // guarded by mu
}

// head is what heads keeps of a recording's init segment. Its scales are
// shared by every join that reads them: never written after put.
type head struct {
	sum    [sha256.Size]byte
	scales []trackScale
}

type trackScale struct{ track, scale uint32 }

type headKey struct {
	device access.DeviceID
	id     int64
	start  int64 // the recording's start, Unix nanoseconds
}

// maxHeads bounds the digests remembered (some 120 bytes each).
const maxHeads = 1 << 14

func (h *heads) get(k headKey) (head, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[k]
	return v, ok
}

func (h *heads) put(k headKey, v head) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxHeads {
		h.m = make(map[headKey]head)
	}
	h.m[k] = v
}

// fragmentRange is the fragments of a recording that started at start to
// join for [from, to): in the first recording from the keyframe at or
// before from, in the last up to the fragment that holds to.
func fragmentRange(fs []Fragment, start, from, to time.Time, isFirst, isLast bool) (first, last int) {
	last = len(fs) - 1
	if isFirst {
		for i, f := range fs {
			if f.Key && !start.Add(f.Time).After(from) {
				first = i
			}
		}
	}
	if isLast {
		if j := sort.Search(len(fs), func(i int) bool { return !start.Add(fs[i].Time).Before(to) }); j > first && j <= last {
			last = j - 1
		}
	}
	return first, last
}

// Size is the joined file's length.
func (j *Joined) Size() int64 { return j.size }

// Egress is the egress check (Clip.Egress) of every recording joined
// that has been opened (read from).
func (j *Joined) Egress(now time.Time) error {
	for i, jc := range j.clips {
		if i > 0 && joinEgressFirstClip() {
			break
		}
		if !jc.ready.Load() {
			continue // not opened: nothing of it has been read
		}
		if err := jc.clip.Egress(now); err != nil {
			return err
		}
	}
	return nil
}

// File is the joined file, for http.ServeContent.
func (j *Joined) File() io.ReadSeeker { return io.NewSectionReader(j, 0, j.size) }

// ReadAt reads the joined file: the parts' bytes, each fragment's moof
// rebased.
func (j *Joined) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for i := range j.parts {
		pt := &j.parts[i]
		l := pt.end - pt.start
		if off >= l {
			off -= l
			continue
		}
		k := int(min(int64(len(p)-n), l-off))
		if err := pt.read(p[n:n+k], off); err != nil {
			return n, err
		}
		n += k
		off = 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}

// read fills p from the part's bytes at off, the moof rebased.
func (pt *joinPart) read(p []byte, off int64) error {
	c, err := pt.clip.opened()
	if err != nil {
		return err
	}
	if _, err := c.sr.ReadAt(p, pt.start+off); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if !pt.moof {
		return nil
	}
	moof, err := pt.moofBytes()
	if err != nil {
		return err
	}
	if off < int64(len(moof)) {
		copy(p, moof[off:])
	}
	return nil
}

// ticks is how far the part's track's decode times move.
func (pt *joinPart) ticks(track uint32) int64 {
	for _, s := range pt.shift {
		if s.track == track {
			return s.ticks
		}
	}
	return 0
}

// moofBytes reads and rebases the part's moof once.
func (pt *joinPart) moofBytes() ([]byte, error) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.rebased != nil {
		return pt.rebased, nil
	}
	c, err := pt.clip.opened()
	if err != nil {
		return nil, err
	}
	head := make([]byte, 8)
	if _, err := c.sr.ReadAt(head, pt.start); err != nil {
		return nil, err
	}
	n, err := fmp4.MoofSize(head)
	if err != nil || int64(n) > pt.end-pt.start {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, errors.Join(err, fmp4.ErrBadFragment))
	}
	moof := make([]byte, n)
	if _, err := c.sr.ReadAt(moof, pt.start); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := fmp4.Rebase(moof, pt.seq, pt.ticks); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	pt.rebased = moof
	return moof, nil
}
