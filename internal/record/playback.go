package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/seal"
)

// Library lists and opens recordings for grants.
type Library struct {
	Sealer *seal.Sealer
	Blobs  blob.Store
	Index  Index
	// Violations counts objects that did not open under the grant's key
	// (vigil_isolation_violations_total, shared with the hub). Required.
	Violations prometheus.Counter
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	heads heads // init segments' digests, for joins
}

// Span is a recorded stretch of a stream on a timeline.
type Span struct {
	ID       int64
	Stream   access.StreamID
	Start    time.Time
	Duration time.Duration
	Size     int64
	// Fragments are where the recording's GOPs start (for HLS byte ranges).
	Fragments []Fragment

	object string // the recording's blob key, for joins to check it is there
}

// Timeline lists the grant's device's recordings of stream that overlap
// [from, to), by start: only those of the device's current epoch that
// started at or after the grant's epoch (a new owner sees nothing recorded
// before the claim, a sharee nothing before the share).
func (l *Library) Timeline(ctx context.Context, g access.Grant, stream access.StreamID, from, to time.Time) ([]Span, error) {
	if err := g.Live(time.Now()); err != nil {
		return nil, err
	}
	epoch, secret, err := l.Index.Epoch(ctx, g.Device())
	if err != nil {
		return nil, err
	}
	clear(secret)
	rows, err := l.rows(ctx, g, stream, epoch, from, to)
	if err != nil {
		return nil, err
	}
	spans := []Span{}
	for _, r := range rows {
		if !visible(g, r, epoch, time.Now()) {
			continue
		}
		spans = append(spans, Span{ID: r.ID, Stream: r.Stream, Start: r.Start, Duration: r.Duration, Size: r.Size,
			Fragments: r.Fragments, object: r.Object})
	}
	return spans, nil
}

// rows are the device's recordings of stream in its current epoch that
// overlap [from, to), from the grant's epoch on.
func (l *Library) rows(ctx context.Context, g access.Grant, stream access.StreamID, epoch, from, to time.Time) ([]Recording, error) {
	if !indexIgnoresEpoch() {
		if e := g.Epoch(); from.Before(e) {
			from = e
		}
		return l.Index.Recordings(ctx, g.Device(), stream, epoch, from, to)
	}
	all, err := l.Index.OldestRecordings(ctx, g.Device(), 10_000)
	var out []Recording
	for _, r := range all {
		if r.Stream == stream && r.Start.Before(to) && r.End().After(from) {
			out = append(out, r)
		}
	}
	return out, err
}

// Clip is an opened recording: its plaintext is read through the seal,
// a chunk at a time. It belongs to one request.
type Clip struct {
	rec   Recording
	grant access.Grant
	sr    *seal.SegmentReader
	lib   *Library
}

// Open opens the grant's device's recording id. See ErrNotFound,
// ErrIsolation and ErrDamaged.
func (l *Library) Open(ctx context.Context, g access.Grant, id int64) (*Clip, error) {
	return l.openIf(ctx, g, id, visible)
}

// openIf opens recording id if may says the grant may open it.
func (l *Library) openIf(ctx context.Context, g access.Grant, id int64, may func(access.Grant, Recording, time.Time, time.Time) bool) (*Clip, error) {
	now := time.Now()
	if err := g.Live(now); err != nil {
		return nil, err
	}
	rec, err := l.Index.Recording(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	epoch, secret, err := l.Index.Epoch(ctx, g.Device())
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	if !may(g, rec, epoch, now) {
		return nil, ErrNotFound
	}
	sr, err := l.open(ctx, g, secret, rec)
	if err != nil {
		return nil, err
	}
	return &Clip{rec: rec, grant: g, sr: sr, lib: l}, nil
}

// visible reports whether the grant may open rec: its device's, of the
// device's current epoch, started at or after the grant's epoch.
func visible(g access.Grant, rec Recording, epoch, now time.Time) bool {
	if indexIgnoresEpoch() {
		return rec.Device == g.Device()
	}
	return rec.Device == g.Device() && rec.Epoch.Equal(epoch) && g.Check(rec.Device, rec.Start, now) == nil
}

// open opens rec's object under the key of the epoch whose secret is
// secret. An object that is not the size its row says, or does not open,
// is told apart by its first chunk: one that opens under the row's key is
// this segment's, damaged (ErrDamaged); one that does not is another's
// object, and the row pointing at it an isolation violation (counted).
func (l *Library) open(ctx context.Context, g access.Grant, secret []byte, rec Recording) (*seal.SegmentReader, error) {
	fi, err := l.Blobs.Stat(ctx, rec.Object)
	if err != nil {
		l.logger().Error("recording's object is missing; not served", "camera", rec.Device, "recording", rec.ID,
			"object", rec.Object, "error", err)
		return nil, ErrDamaged
	}
	name := seal.Segment{Stream: rec.Stream, ID: rec.SegmentID, Start: rec.Start}
	ra := blob.ReaderAt(ctx, l.Blobs, rec.Object)
	var sr *seal.SegmentReader
	if fi.Size == seal.SealedSize(rec.Size) {
		if sr, err = l.Sealer.OpenSegment(g, secret, name, ra, fi.Size); err == nil && sr.Size() == rec.Size {
			return sr, nil
		}
	}
	if err != nil && !errors.Is(err, seal.ErrOpen) && !errors.Is(err, seal.ErrSegmentFormat) {
		return nil, err
	}
	first := make([]byte, min(fi.Size, seal.SegmentHeader+seal.SegmentChunk+16))
	if n, _ := ra.ReadAt(first, 0); n == len(first) {
		if plain, _ := l.Sealer.SalvageSegment(g, secret, name, first); len(plain) > 0 {
			l.logger().Error("recording's object is not the size of its row or cut short; not served", "camera", rec.Device,
				"recording", rec.ID, "object", rec.Object, "size", fi.Size, "want", seal.SealedSize(rec.Size))
			return nil, ErrDamaged
		}
	}
	l.Violations.Inc()
	l.logger().Error("isolation violation: a recording's object does not open under its camera's key; not served",
		"camera", g.Device(), "user", g.User(), "recording", rec.ID, "object", rec.Object)
	return nil, ErrIsolation
}

func (l *Library) logger() *slog.Logger {
	if l.Logger == nil {
		return slog.Default()
	}
	return l.Logger
}

// Recording is the clip's index row.
func (c *Clip) Recording() Recording { return c.rec }

// ChunksOpened counts the sealed chunks the clip has opened.
func (c *Clip) ChunksOpened() int64 { return c.sr.ChunksOpened() }

// Egress is the check of invariant 3 for the clip's bytes: the recording's
// device (which its key proved) against the grant's, its start against the
// grant's epoch, its end against the grant's end (an export's), and the
// grant still live. Run it right before writing; on
// an error write nothing more. A mismatch is counted and logged as an
// isolation violation; a grant that ended is not one.
func (c *Clip) Egress(now time.Time) error {
	err := c.grant.Check(c.rec.Device, c.rec.Start, now)
	if until := c.grant.Until(); err == nil && !until.IsZero() && c.rec.End().After(until) {
		err = &access.EndError{Device: c.rec.Device, Until: until, Captured: c.rec.End()}
	}
	var mismatch *access.MismatchError
	var epoch *access.EpochError
	var end *access.EndError
	if errors.As(err, &mismatch) || errors.As(err, &epoch) || errors.As(err, &end) {
		c.lib.Violations.Inc()
		c.lib.logger().Error("isolation violation: a recording reached egress under a grant that does not allow it",
			"grant", c.grant.String(), "camera", c.rec.Device, "recording", c.rec.ID, "error", err)
	}
	return err
}

// File is the whole recording, an fMP4 file, for http.ServeContent.
// An export's clip is cut to its fragments that end by the release.
func (c *Clip) File() io.ReadSeeker { return io.NewSectionReader(c.sr, 0, c.rec.Size) }

// Span is the recording cut to [from, to) (times from its start), as an
// fMP4 file: the init segment, then the fragments from the last keyframe
// at or before from to the first fragment at or after to. Nothing is
// re-muxed: the file is byte ranges of the recording, read through the seal.
func (c *Clip) Span(from, to time.Duration) io.ReadSeeker {
	fs := c.rec.Fragments
	if len(fs) == 0 {
		return c.File()
	}
	first := 0
	for i, f := range fs {
		if f.Time <= from && f.Key {
			first = i
		}
	}
	end := c.rec.Size
	if j := sort.Search(len(fs), func(i int) bool { return fs[i].Time >= to }); j < len(fs) && j > first {
		end = fs[j].Offset
	}
	return newConcat(c.sr, [][2]int64{{0, fs[0].Offset}, {fs[first].Offset, end}})
}

// concat is byte ranges of one io.ReaderAt read as one file.
type concat struct {
	r      io.ReaderAt
	ranges [][2]int64 // [start, end) in r
	size   int64
}

func newConcat(r io.ReaderAt, ranges [][2]int64) *io.SectionReader {
	c := &concat{r: r, ranges: ranges}
	for _, rg := range ranges {
		c.size += rg[1] - rg[0]
	}
	return io.NewSectionReader(c, 0, c.size)
}

func (c *concat) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, rg := range c.ranges {
		l := rg[1] - rg[0]
		if off >= l {
			off -= l
			continue
		}
		k := min(int64(len(p)-n), l-off)
		m, err := c.r.ReadAt(p[n:n+int(k)], rg[0]+off)
		n += m
		if err != nil && !(errors.Is(err, io.EOF) && int64(m) == k) {
			return n, err
		}
		off = 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}
