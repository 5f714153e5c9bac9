package record

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/access"
)

// Export is the footage of an ownership epoch that has ended, which the
// releasing household chose to keep for a while: when its owner released
// the camera, the epoch's secret was moved, in the release's transaction,
// from the device to the export's row instead of being destroyed. Until
// Deadline its household reads the footage captured in [Epoch, Released)
// with grants auth mints for the export (access.Issuer.MintSpan), whoever
// holds the camera now; at Deadline retention destroys the secret and
// deletes the objects. Nobody else ever reads it: a new owner's grants
// carry a later epoch and the current secret.
type Export struct {
	ID     int64 // assigned by the release
	Device access.DeviceID
	// Epoch is when the exported ownership epoch began (the recordings'
	// Epoch) and Released when it ended: the release, from which nothing
	// is the export's.
	Epoch, Released time.Time
	// Household is the releasing owner, the only one who reads it.
	Household access.UserID
	// Name is the camera's name at the release.
	Name     string
	Deadline time.Time
}

// ExportIndex files exports (store/sqlite and store/postgres implement
// it); the release that makes an export is the store's (ResetDevice's
// keeping variant).
type ExportIndex interface {
	// Export returns an export and its epoch's secret, or an error
	// wrapping a not-found error.
	Export(ctx context.Context, id int64) (Export, []byte, error)
	// ExportsOf lists the household's exports, by release.
	ExportsOf(ctx context.Context, household access.UserID) ([]Export, error)
	// DeviceExports lists the device's exports, by release.
	DeviceExports(ctx context.Context, device access.DeviceID) ([]Export, error)
	// DestroyExport deletes the export's row, and with it the only copy of
	// its epoch's secret: its footage opens for nobody any more.
	DestroyExport(ctx context.Context, id int64) error
}

// Exports lists and opens exports for grants auth minted for them.
type Exports struct {
	// Library opens the recordings (its Sealer, Blobs, Index, Violations).
	Library *Library
	Index   ExportIndex
	// Events opens the events kept with exports (its Index, Blobs, Sealer
	// and Violations); nil keeps none listed.
	Events *Events
	// Now defaults to time.Now.
	Now func() time.Time
}

func (x *Exports) now() time.Time {
	if x.Now == nil {
		return time.Now()
	}
	return x.Now()
}

// ExportView is an export as its household lists it: the span and size of
// what it keeps (both streams).
type ExportView struct {
	Export
	First, Last time.Time // zero when nothing was recorded
	Size        int64
}

// Find returns the export with id while it is kept (before its deadline),
// for auth to decide whether a caller may read it; its secret is not
// returned.
func (x *Exports) Find(ctx context.Context, id int64) (Export, error) {
	e, secret, err := x.Index.Export(ctx, id)
	clear(secret)
	if err != nil {
		return Export{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if !x.now().Before(e.Deadline) {
		return Export{}, ErrNotFound
	}
	return e, nil
}

// List lists the household's exports that are kept, with their spans.
func (x *Exports) List(ctx context.Context, household access.UserID) ([]ExportView, error) {
	all, err := x.Index.ExportsOf(ctx, household)
	if err != nil {
		return nil, err
	}
	out := []ExportView{}
	now := x.now()
	for _, e := range all {
		if e.Household != household || !now.Before(e.Deadline) {
			continue
		}
		v := ExportView{Export: e}
		for _, s := range []access.StreamID{access.StreamMain, access.StreamSub} {
			rows, err := x.rows(ctx, e, s)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				if v.First.IsZero() || r.Start.Before(v.First) {
					v.First = r.Start
				}
				v.Last, v.Size = latest(v.Last, r.End()), v.Size+r.Size
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// rows are the export's recordings of stream: of its device and epoch,
// started in [Epoch, Released), each cut to end by Released.
func (x *Exports) rows(ctx context.Context, e Export, stream access.StreamID) ([]Recording, error) {
	if exportNoEnd() {
		return x.rowsNoEnd(ctx, e, stream)
	}
	rows, err := x.Library.Index.Recordings(ctx, e.Device, stream, e.Epoch, e.Epoch, e.Released)
	out := rows[:0]
	for _, r := range rows {
		if r, ok := cutAt(r, e.Released); ok && r.Device == e.Device && r.Epoch.Equal(e.Epoch) && !r.Start.Before(e.Epoch) {
			out = append(out, r)
		}
	}
	return out, err
}

// cutAt is rec without the fragments that end after t (a segment being
// recorded when its camera was released), and whether anything is left.
func cutAt(rec Recording, t time.Time) (Recording, bool) {
	if !rec.End().After(t) {
		return rec, rec.Start.Before(t)
	}
	fs := rec.Fragments
	keep := 0 // fragments [0, keep) end by t
	for i := range fs {
		end := rec.Duration
		if i+1 < len(fs) {
			end = fs[i+1].Time
		}
		if rec.Start.Add(end).After(t) {
			break
		}
		keep = i + 1
	}
	if keep == 0 {
		return rec, false
	}
	rec.Fragments = fs[:keep:keep]
	rec.Size = fs[keep].Offset
	rec.Duration = fs[keep].Time
	return rec, true
}

// check is the export's binding of g: minted for the export's device and
// exactly its span (auth.Service.ExportGrant), and live.
func (x *Exports) check(ctx context.Context, g access.Grant, id int64) (Export, []byte, error) {
	now := x.now()
	if err := g.Live(now); err != nil {
		return Export{}, nil, err
	}
	e, secret, err := x.Index.Export(ctx, id)
	if err != nil {
		return Export{}, nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if e.Device != g.Device() || !e.Epoch.Equal(g.Epoch()) || !e.Released.Equal(g.Until()) || !now.Before(e.Deadline) {
		clear(secret)
		return Export{}, nil, ErrNotFound
	}
	return e, secret, nil
}

// Timeline lists the export's recordings of stream, by start.
func (x *Exports) Timeline(ctx context.Context, g access.Grant, id int64, stream access.StreamID) ([]Span, error) {
	e, secret, err := x.check(ctx, g, id)
	clear(secret)
	if err != nil {
		return nil, err
	}
	rows, err := x.rows(ctx, e, stream)
	spans := []Span{}
	for _, r := range rows {
		spans = append(spans, Span{ID: r.ID, Stream: r.Stream, Start: r.Start, Duration: r.Duration, Size: r.Size, Fragments: r.Fragments})
	}
	return spans, err
}

// Open opens the export's recording rec under the export's secret, cut to
// end by its release.
func (x *Exports) Open(ctx context.Context, g access.Grant, id, rec int64) (*Clip, error) {
	e, secret, err := x.check(ctx, g, id)
	defer clear(secret)
	if err != nil {
		return nil, err
	}
	row, err := x.Library.Index.Recording(ctx, rec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	cut, ok := cutAt(row, e.Released)
	if !ok || row.Device != e.Device || !row.Epoch.Equal(e.Epoch) || g.Check(row.Device, row.Start, x.now()) != nil {
		return nil, ErrNotFound
	}
	sr, err := x.Library.open(ctx, g, secret, row)
	if err != nil {
		return nil, err
	}
	return &Clip{rec: cut, grant: g, sr: sr, lib: x.Library}, nil
}

// events are the export's events: of its device and epoch, started in
// [Epoch, Released), by start.
func (x *Exports) events(ctx context.Context, e Export) ([]Event, error) {
	if x.Events == nil {
		return []Event{}, nil
	}
	if exportNoEnd() {
		return x.Events.anyEpoch(ctx, e.Device, e.Epoch, x.now().Add(time.Hour))
	}
	evs, err := x.Events.Index.Events(ctx, e.Device, e.Epoch, e.Epoch, e.Released, maxEventsListed)
	out := []Event{}
	for _, ev := range evs {
		if ev.Device == e.Device && ev.Epoch.Equal(e.Epoch) && !ev.Start.Before(e.Epoch) && ev.Start.Before(e.Released) {
			out = append(out, ev)
		}
	}
	return out, err
}

// EventList lists the export's events, by start.
func (x *Exports) EventList(ctx context.Context, g access.Grant, id int64) ([]Event, error) {
	e, secret, err := x.check(ctx, g, id)
	clear(secret)
	if err != nil {
		return nil, err
	}
	return x.events(ctx, e)
}

// Thumbnail opens the thumbnail of the export's event ev under the
// export's secret. See Events.Thumbnail for its errors.
func (x *Exports) Thumbnail(ctx context.Context, g access.Grant, id, ev int64) ([]byte, error) {
	e, secret, err := x.check(ctx, g, id)
	defer clear(secret)
	if err != nil {
		return nil, err
	}
	if x.Events == nil {
		return nil, ErrNotFound
	}
	row, err := x.Events.Index.Event(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if row.Device != e.Device || !row.Epoch.Equal(e.Epoch) || !row.Start.Before(e.Released) || row.Thumb == "" ||
		g.Check(row.Device, row.Start, x.now()) != nil {
		return nil, ErrNotFound
	}
	return x.Events.openThumb(ctx, g, secret, row)
}

// Delete ends the export before its deadline: its secret is destroyed at
// once (nothing of it opens any more), then its objects are deleted;
// those a failure leaves, the next sweep deletes as an ended epoch's.
func (x *Exports) Delete(ctx context.Context, g access.Grant, id int64) error {
	e, secret, err := x.check(ctx, g, id)
	clear(secret)
	if err != nil {
		return err
	}
	if err := x.Index.DestroyExport(ctx, e.ID); err != nil {
		return err
	}
	for _, s := range []access.StreamID{access.StreamMain, access.StreamSub} {
		rows, err := x.Library.Index.Recordings(ctx, e.Device, s, e.Epoch, e.Epoch, e.Released.Add(time.Hour))
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := x.Library.Blobs.Delete(ctx, r.Object); err != nil {
				return err
			}
			if err := x.Library.Index.DeleteRecording(ctx, r.ID); err != nil {
				return err
			}
		}
	}
	evs, err := x.events(ctx, e)
	for _, ev := range evs {
		if ev.Thumb != "" {
			if err := x.Events.Blobs.Delete(ctx, ev.Thumb); err != nil {
				return err
			}
		}
		if err := x.Events.Index.DeleteEvent(ctx, ev.ID); err != nil {
			return err
		}
	}
	return err
}
