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
	// Start is the capture time of the file's first frame.
	Start time.Time
	// Duration is how long the file plays.
	Duration time.Duration
}

// joinClip is a recording of a join, opened at its first read: a join of
// an hour holds some sixty recordings, and each Range request a player
// makes (it seeks, it reads ahead) is a join of its own that touches one
// or two of them. A recording's init segment is read to build the join
// only when the Library has not seen it (see heads).
type joinClip struct {
	open  func() (*Clip, error) // opens it under the request's grant
	once  sync.Once
	clip  *Clip // set by once
	err   error // set by once
	ready atomic.Bool
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
	shift      map[uint32]int64 // ticks, by track id

	mu      sync.Mutex
	rebased []byte // the rebased moof, once read; guarded by mu
}

// Join opens the grant's device's recordings of stream that overlap
// [from, to) as one file. See ErrNotFound (none), ErrIsolation, ErrDamaged:
// the first recording is opened here, the others at their first read;
// but every recording is checked to be there, at the size its row says,
// before Join returns (see check), so that a file that cannot be served
// whole is refused before its first byte rather than cut short.
func (l *Library) Join(ctx context.Context, g access.Grant, stream access.StreamID, from, to time.Time) (*Joined, error) {
	if to.Sub(from) > MaxJoin {
		to = from.Add(MaxJoin)
	}
	spans, err := l.Timeline(ctx, g, stream, from, to)
	if err != nil {
		return nil, err
	}
	spans = l.joinSpans(ctx, g, stream, spans, from, to)
	var j Joined
	var init []byte
	var initSum [sha256.Size]byte
	var scales map[uint32]uint32
	var origin time.Duration // decode time, in the file, of the current clip's start
	var prevEnd time.Time
	var unchecked []Span // recordings not opened here, by clip
	var uncheckedClips []*joinClip
	seq := uint32(0)
	for i, s := range spans {
		if len(s.Fragments) == 0 {
			continue
		}
		jc := &joinClip{open: func() (*Clip, error) { return l.joinOpen(ctx, g, s.ID) }}
		key := headKey{device: g.Device(), id: s.ID, start: s.Start.UnixNano()}
		sum, known := l.heads.get(key)
		opened := init == nil || !known
		if opened {
			head, err := jc.head(s.Fragments[0].Offset)
			if err != nil {
				return nil, err
			}
			sum = sha256.Sum256(head)
			l.heads.put(key, sum)
			if init == nil {
				init, initSum = head, sum
			}
		}
		first, last := fragmentRange(s.Fragments, s.Start, from, to, i == 0, i == len(spans)-1)
		if len(j.clips) == 0 {
			j.Start = s.Start.Add(s.Fragments[first].Time)
			if scales, err = fmp4.Timescales(init); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
			}
			j.parts = append(j.parts, joinPart{clip: jc, start: 0, end: int64(len(init))})
			origin = -s.Fragments[first].Time
		} else if sum != initSum {
			break // another session's tracks: the file ends here
		} else if s.Start.Sub(prevEnd) > contiguous {
			origin = max(origin, s.Start.Sub(j.Start)) // a gap: placed by the wall clock
		}
		j.clips = append(j.clips, jc)
		if !opened {
			unchecked, uncheckedClips = append(unchecked, s), append(uncheckedClips, jc)
		}
		shift := make(map[uint32]int64, len(scales))
		for id, scale := range scales {
			shift[id] = media.DurationToClock(origin, int64(scale))
		}
		for k := first; k <= last; k++ {
			end := s.Size
			if k+1 < len(s.Fragments) {
				end = s.Fragments[k+1].Offset
			}
			seq++
			j.parts = append(j.parts, joinPart{clip: jc, start: s.Fragments[k].Offset, end: end, moof: true, seq: seq, shift: shift})
		}
		lastEnd := s.Duration
		if last+1 < len(s.Fragments) {
			lastEnd = s.Fragments[last+1].Time
		}
		j.Duration = origin + lastEnd
		origin += s.Duration
		prevEnd = s.Start.Add(s.Duration)
	}
	if len(j.clips) == 0 {
		return nil, ErrNotFound
	}
	if err := l.check(ctx, unchecked, uncheckedClips); err != nil {
		return nil, err
	}
	for i := range j.parts {
		j.size += j.parts[i].end - j.parts[i].start
	}
	return &j, nil
}

// checkers bounds the object stats one join runs at once (an S3 store
// answers each in a round trip).
const checkers = 8

// check makes sure the recordings of a join that it did not open are there
// to be served: each object exists at the sealed size of its row's length
// (a stat, no data read; run in parallel). One that is not is opened,
// which tells a damaged or missing object (ErrDamaged, logged) from
// another camera's (ErrIsolation, counted), and the join is refused. The
// objects' keys are proved only when a read opens them (an object swapped
// for another of the same size still fails there, fail closed), and one
// deleted after this check (retention, meanwhile) still cuts the file
// short.
func (l *Library) check(ctx context.Context, spans []Span, clips []*joinClip) error {
	var g errgroup.Group
	g.SetLimit(checkers)
	for i, s := range spans {
		g.Go(func() error {
			if s.object != "" {
				fi, err := l.Blobs.Stat(ctx, s.object)
				if err == nil && fi.Size == seal.SealedSize(s.Size) {
					return nil
				}
			}
			_, err := clips[i].opened()
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
	m  map[headKey][sha256.Size]byte // guarded by mu
}

type headKey struct {
	device access.DeviceID
	id     int64
	start  int64 // the recording's start, Unix nanoseconds
}

// maxHeads bounds the digests remembered (some 60 bytes each).
const maxHeads = 1 << 14

func (h *heads) get(k headKey) ([sha256.Size]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sum, ok := h.m[k]
	return sum, ok
}

func (h *heads) put(k headKey, sum [sha256.Size]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxHeads {
		h.m = make(map[headKey][sha256.Size]byte)
	}
	h.m[k] = sum
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
	if err := fmp4.Rebase(moof, pt.seq, func(track uint32) int64 { return pt.shift[track] }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	pt.rebased = moof
	return moof, nil
}
