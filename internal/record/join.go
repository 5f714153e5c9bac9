package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"vigil/internal/access"
	"vigil/internal/fmp4"
	"vigil/internal/media"
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
	clips []*Clip
	size  int64
	parts []joinPart
	// Start is the capture time of the file's first frame.
	Start time.Time
	// Duration is how long the file plays.
	Duration time.Duration
}

// joinPart is a byte range of a clip in the joined file.
type joinPart struct {
	clip       *Clip
	start, end int64 // in the clip's file
	moof       bool  // the range is one fragment: its moof is rebased
	seq        uint32
	shift      map[uint32]int64 // ticks, by track id

	mu      sync.Mutex
	rebased []byte // the rebased moof, once read; guarded by mu
}

// Join opens the grant's device's recordings of stream that overlap
// [from, to) as one file. See ErrNotFound (none), ErrIsolation, ErrDamaged.
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
	var scales map[uint32]uint32
	var origin time.Duration // decode time, in the file, of the current clip's start
	var prevEnd time.Time
	seq := uint32(0)
	for i, s := range spans {
		if len(s.Fragments) == 0 {
			continue
		}
		c, err := l.joinOpen(ctx, g, s.ID)
		if err != nil {
			return nil, err
		}
		head := make([]byte, s.Fragments[0].Offset)
		if _, err := c.sr.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("record: join: %w", err)
		}
		first, last := fragmentRange(s.Fragments, s.Start, from, to, i == 0, i == len(spans)-1)
		if init == nil {
			init, j.Start = head, s.Start.Add(s.Fragments[first].Time)
			if scales, err = fmp4.Timescales(init); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
			}
			j.parts = append(j.parts, joinPart{clip: c, start: 0, end: int64(len(init))})
			origin = -s.Fragments[first].Time
		} else if !bytes.Equal(head, init) {
			break // another session's tracks: the file ends here
		} else if s.Start.Sub(prevEnd) > contiguous {
			origin = max(origin, s.Start.Sub(j.Start)) // a gap: placed by the wall clock
		}
		j.clips = append(j.clips, c)
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
			j.parts = append(j.parts, joinPart{clip: c, start: s.Fragments[k].Offset, end: end, moof: true, seq: seq, shift: shift})
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
	for i := range j.parts {
		j.size += j.parts[i].end - j.parts[i].start
	}
	return &j, nil
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

// Egress is the egress check (Clip.Egress) of every recording joined.
func (j *Joined) Egress(now time.Time) error {
	for i, c := range j.clips {
		if i > 0 && joinEgressFirstClip() {
			break
		}
		if err := c.Egress(now); err != nil {
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
	if _, err := pt.clip.sr.ReadAt(p, pt.start+off); err != nil && !errors.Is(err, io.EOF) {
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
	head := make([]byte, 8)
	if _, err := pt.clip.sr.ReadAt(head, pt.start); err != nil {
		return nil, err
	}
	n, err := fmp4.MoofSize(head)
	if err != nil || int64(n) > pt.end-pt.start {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, errors.Join(err, fmp4.ErrBadFragment))
	}
	moof := make([]byte, n)
	if _, err := pt.clip.sr.ReadAt(moof, pt.start); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := fmp4.Rebase(moof, pt.seq, func(track uint32) int64 { return pt.shift[track] }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	pt.rebased = moof
	return moof, nil
}
