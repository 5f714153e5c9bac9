package record_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
	"vigil/internal/testkit"
)

// beforeRelease records gops GOPs of dev, waits until the recorder lets go
// and the clock has passed the last frame, and returns the plaintext of each recording (by id) as its owner read it
// before the release.
func (e *env) beforeRelease(dev access.DeviceID, owner access.UserID, gops int) (map[int64][]byte, []record.Recording) {
	e.t.Helper()
	g, _ := e.recorded(dev, owner, gops)
	testkit.WaitFor(e.t, 5*time.Second, "the recorder lets go", func() error {
		if e.rec.Streams() > 0 {
			return errors.New("still recording")
		}
		return nil
	})
	// The simulated camera's frames are captured ahead of the clock (they
	// are sent at once): the release comes after the last of them, once
	// every segment is filed.
	var rows []record.Recording
	for {
		rows = e.rows(dev)
		last := time.Time{}
		for _, r := range rows {
			last = latest(last, r.End())
		}
		if time.Now().After(last.Add(100 * time.Millisecond)) {
			break
		}
		time.Sleep(time.Until(last) + 100*time.Millisecond)
	}
	plain := map[int64][]byte{}
	for _, r := range rows {
		c, err := e.lib.Open(e.t.Context(), g, r.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		plain[r.ID] = readAll(e.t, c.File())
	}
	return plain, rows
}

// keep releases dev keeping its footage until deadline and returns the
// export.
func (e *env) keep(dev access.DeviceID, code string, deadline time.Time) record.Export {
	e.t.Helper()
	id, err := e.st.ResetDeviceKeeping(e.t.Context(), dev, code, deadline)
	if err != nil {
		e.t.Fatal(err)
	}
	ex, secret, err := e.st.Export(e.t.Context(), id)
	clear(secret)
	if err != nil {
		e.t.Fatal(err)
	}
	return ex
}

// exportGrant is the grant auth.Service.ExportGrant mints for ex's household
// (lasting past the deadline: the export, not the grant, ends there).
func exportGrant(ex record.Export) access.Grant {
	return issuer.MintSpan(ex.Household, ex.Device, access.AudienceWeb, 48*time.Hour, nil, ex.Epoch, ex.Released)
}

// TestExportKeptForItsHousehold: a release that keeps its footage leaves
// it readable, byte for byte, by the releasing household alone — after a
// new claim too — and by no grant of the new owner, of another camera, or
// for another span; what the camera records for its new owner is not in
// it. On a fake clock the sweep keeps it until the deadline, then destroys
// its secret and deletes its objects: the rows restored, nothing opens. A
// release without keeping loses its footage at the next sweep, and a
// household that deletes its export early loses it at once.
func TestExportKeptForItsHousehold(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	plainA, rowsA := e.beforeRelease("cam-a", "u-a", 3)
	_, rowsB := e.beforeRelease("cam-b", "u-b", 2)
	deadline := time.Now().Add(24 * time.Hour)
	ex := e.keep("cam-a", "code-2", deadline)
	if _, err := e.st.ClaimDevice(ctx, "code-2", "u-c"); err != nil {
		t.Fatal(err)
	}
	e.hub.Handover("cam-a")
	if err := e.st.ResetDevice(ctx, "cam-b", "code-b2"); err != nil { // keeps nothing
		t.Fatal(err)
	}
	now := time.Now()
	x := &record.Exports{Library: e.lib, Index: e.st, Now: func() time.Time { return now }}

	// The new owner records; none of it is the export's.
	f := e.publish("cam-a")
	e.frames(f, 2*testGOP)
	f.Pub.Close()
	gc := e.owner("cam-a", "u-c")
	newSpans := e.spans(gc, 1)

	mine := exportGrant(ex)
	spans, err := x.Timeline(ctx, mine, ex.ID, access.StreamMain)
	if err != nil || !slices.EqualFunc(spans, rowsA, func(s record.Span, r record.Recording) bool { return s.ID == r.ID }) {
		t.Fatalf("the export's timeline = %+v, %v; want the %d recordings before the release", spans, err, len(rowsA))
	}
	for _, s := range spans {
		if s.Start.Before(ex.Epoch) || !s.Start.Add(s.Duration).Before(ex.Released) {
			t.Errorf("span %d [%v, +%v) outside the export's [%v, %v)", s.ID, s.Start, s.Duration, ex.Epoch, ex.Released)
		}
		c, err := x.Open(ctx, mine, ex.ID, s.ID)
		if err != nil {
			t.Fatalf("the household opens its export's recording %d: %v", s.ID, err)
		}
		if err := c.Egress(time.Now()); err != nil {
			t.Fatalf("egress of the export's recording: %v", err)
		}
		if got := readAll(t, c.File()); !bytes.Equal(got, plainA[s.ID]) {
			t.Errorf("recording %d read from the export: %d bytes, not the %d read before the release", s.ID, len(got), len(plainA[s.ID]))
		}
	}
	for _, s := range newSpans {
		if _, err := x.Open(ctx, mine, ex.ID, s.ID); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("the new owner's recording %d through the export: %v, want ErrNotFound", s.ID, err)
		}
	}
	list, err := x.List(ctx, "u-a")
	var size int64
	var end time.Time
	for _, r := range rowsA {
		size, end = size+r.Size, latest(end, r.End())
	}
	if err != nil || len(list) != 1 || list[0].ID != ex.ID || list[0].Size != size || list[0].Name != "cam-a" ||
		!list[0].First.Equal(rowsA[0].Start) || !list[0].Last.Equal(end) {
		t.Fatalf("u-a's exports = %+v, %v; want export %d of %d bytes", list, err, ex.ID, size)
	}
	for _, u := range []access.UserID{"u-b", "u-c"} {
		if l, err := x.List(ctx, u); err != nil || len(l) != 0 {
			t.Errorf("%s's exports = %+v, %v; want none", u, l, err)
		}
	}

	// Grants that are not the export's own read nothing of it.
	forged := map[string]access.Grant{
		"the new owner's":          gc,
		"an operator's":            issuer.Mint("admin", "cam-a", access.AudienceWeb, time.Hour),
		"another camera's span":    issuer.MintSpan("u-a", "cam-b", access.AudienceWeb, time.Hour, nil, ex.Epoch, ex.Released),
		"one reaching past it":     issuer.MintSpan("u-a", "cam-a", access.AudienceWeb, time.Hour, nil, ex.Epoch, ex.Released.Add(time.Hour)),
		"one from after the claim": issuer.MintSpan("u-c", "cam-a", access.AudienceWeb, time.Hour, nil, ex.Released, now.Add(time.Hour)),
	}
	for name, g := range forged {
		if _, err := x.Timeline(ctx, g, ex.ID, access.StreamMain); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("%s grant lists the export: %v", name, err)
		}
		if _, err := x.Open(ctx, g, ex.ID, rowsA[0].ID); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("%s grant opens the export: %v", name, err)
		}
		if err := x.Delete(ctx, g, ex.ID); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("%s grant deletes the export: %v", name, err)
		}
	}
	if _, err := e.lib.Open(ctx, gc, rowsA[0].ID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("the new owner opens the old epoch's recording in the library: %v", err)
	}

	// The sweep: cam-b's footage (nothing kept) goes at once, the export's
	// stays until its deadline.
	ret := &record.Retention{Index: e.st, Blobs: e.blobs, Exports: e.st,
		Devices: func(context.Context) ([]access.DeviceID, error) { return []access.DeviceID{"cam-a", "cam-b"}, nil },
		Rule:    func(context.Context, access.DeviceID) (record.Rule, error) { return record.Rule{}, nil },
		Now:     func() time.Time { return now },
	}
	if n, err := ret.Sweep(ctx); n != len(rowsB) || err != nil {
		t.Fatalf("first sweep deleted %d, %v; want cam-b's %d", n, err, len(rowsB))
	}
	for _, r := range rowsB {
		e.gone(r)
	}
	// The new owner's usage, and a byte cap of their rule, count their
	// own footage only: the export is nobody's now but its household's.
	e.stop()
	var theirs int64
	for _, r := range e.rows("cam-a") {
		if !r.Epoch.Equal(ex.Epoch) {
			theirs += r.Size
		}
	}
	if u, err := ret.Usage(ctx, "cam-a"); err != nil || u.Bytes != theirs {
		t.Fatalf("the new owner's usage = %+v, %v; want their %d bytes", u, err, theirs)
	}
	ret.Rule = func(context.Context, access.DeviceID) (record.Rule, error) { return record.Rule{Bytes: theirs}, nil }
	if n, err := ret.Sweep(ctx); n != 0 || err != nil {
		t.Fatalf("a byte cap of the new owner's own bytes deleted %d, %v", n, err)
	}
	ret.Rule = func(context.Context, access.DeviceID) (record.Rule, error) { return record.Rule{}, nil }
	now = deadline.Add(-time.Second)
	if n, err := ret.Sweep(ctx); n != 0 || err != nil {
		t.Fatalf("a sweep before the deadline deleted %d, %v", n, err)
	}
	if _, err := x.Open(ctx, mine, ex.ID, rowsA[0].ID); err != nil {
		t.Fatalf("the export a second before its deadline: %v", err)
	}
	now = deadline
	if _, err := x.Open(ctx, mine, ex.ID, rowsA[0].ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("the export at its deadline, before the sweep: %v, want ErrNotFound", err)
	}
	kept := fmt.Sprintf("rec/cam-a/main/kept-%d.seg", rowsA[0].ID) // as a backup or an object version would
	copyObject(t, e, rowsA[0].Object, kept, 0)
	if n, err := ret.Sweep(ctx); n != len(rowsA) || err != nil {
		t.Fatalf("the sweep at the deadline deleted %d, %v; want the export's %d", n, err, len(rowsA))
	}
	for _, r := range rowsA {
		e.gone(r)
	}
	if _, secret, err := e.st.Export(ctx, ex.ID); !errors.Is(err, store.ErrNotFound) || secret != nil {
		t.Fatalf("the export's secret after its deadline: %x, %v", secret, err)
	}
	// Its row restored, under its own epoch or the current one: nothing
	// opens, the export being gone with its secret.
	d, _ := e.st.Device(ctx, "cam-a")
	for _, epoch := range []time.Time{ex.Epoch, d.EpochStarted} {
		restored := rowsA[0]
		restored.Epoch, restored.Object = epoch, kept
		id, err := e.st.AddRecording(ctx, restored)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Open(ctx, mine, ex.ID, id); err == nil {
			t.Fatal("a restored row opened through the expired export")
		}
		if _, err := e.lib.Open(ctx, issuer.Mint("admin", "cam-a", access.AudienceWeb, time.Hour), id); err == nil {
			t.Fatal("a restored row of the expired export opened")
		}
		if err := e.st.DeleteRecording(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExportDeletedEarly: its household deletes an export before the
// deadline: the secret and the footage go at once.
func TestExportDeletedEarly(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	_, rows := e.beforeRelease("cam-b", "u-b", 2)
	ev := &record.Events{Index: e.st, Sealer: e.sealer, Blobs: e.blobs, Violations: e.violations}
	m, err := ev.Mark(ctx, "cam-b", record.Event{Kind: record.EventRing, Start: time.Now()}, []byte{0xff, 0xd8, 0xff, 0xd9})
	if err != nil {
		t.Fatal(err)
	}
	ex := e.keep("cam-b", "code-2", time.Now().Add(time.Hour))
	x := &record.Exports{Library: e.lib, Index: e.st, Events: ev}
	g := exportGrant(ex)
	if err := x.Delete(ctx, g, ex.ID); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		e.gone(r)
	}
	_, rowErr := e.st.Event(ctx, m.ID)
	_, objErr := e.blobs.Stat(ctx, m.Thumb)
	if rowErr == nil || objErr == nil {
		t.Fatalf("the deleted export's event: row %v, thumbnail %v", rowErr, objErr)
	}
	if _, _, err := e.st.Export(ctx, ex.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the deleted export: %v", err)
	}
	if _, err := x.Timeline(ctx, g, ex.ID, access.StreamMain); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("the deleted export's timeline: %v", err)
	}
}

// cutExports is the store's exports with the release moved to released
// (as if the camera was released while a segment was being recorded).
type cutExports struct {
	record.ExportIndex
	released time.Time
}

func (c cutExports) Export(ctx context.Context, id int64) (record.Export, []byte, error) {
	e, secret, err := c.ExportIndex.Export(ctx, id)
	e.Released = c.released
	return e, secret, err
}

// TestExportEndsAtTheRelease: a recording the release cut (its camera
// released while it was recorded) is served to its last GOP that ended
// before the release; one that started after is not served at all.
func TestExportEndsAtTheRelease(t *testing.T) {
	e := newEnvWith(t, func(c *record.Config) { c.SegmentDuration = 10 * time.Second })
	ctx := t.Context()
	plain, rows := e.beforeRelease("cam-a", "u-a", 4)
	ex := e.keep("cam-a", "code-2", time.Now().Add(time.Hour))
	last := rows[len(rows)-1]
	if len(last.Fragments) < 3 {
		t.Fatalf("the last recording has %d fragments, want 3 or more", len(last.Fragments))
	}
	release := last.Start.Add(last.Fragments[1].Time).Add(time.Millisecond) // in its second fragment
	ex.Released = release
	x := &record.Exports{Library: e.lib, Index: cutExports{e.st, release}}
	g := exportGrant(ex)
	spans, err := x.Timeline(ctx, g, ex.ID, access.StreamMain)
	if err != nil || len(spans) != len(rows) {
		t.Fatalf("timeline = %d spans, %v; want %d", len(spans), err, len(rows))
	}
	cut := spans[len(spans)-1]
	if cut.Start.Add(cut.Duration).After(release) || cut.Size != last.Fragments[1].Offset || len(cut.Fragments) != 1 {
		t.Fatalf("the cut span ends %v (release %v), %d bytes, %d fragments; want its first fragment only",
			cut.Start.Add(cut.Duration), release, cut.Size, len(cut.Fragments))
	}
	c, err := x.Open(ctx, g, ex.ID, last.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Egress(time.Now()); err != nil {
		t.Fatalf("egress of the cut recording: %v", err)
	}
	if got := readAll(t, c.File()); !bytes.Equal(got, plain[last.ID][:cut.Size]) {
		t.Fatalf("the cut recording: %d bytes, want the first %d of it", len(got), cut.Size)
	}
	// The release before the last recording's first GOP ended: it is not
	// the export's at all.
	early := last.Start.Add(time.Millisecond)
	x.Index = cutExports{e.st, early}
	ex.Released = early
	if _, err := x.Open(ctx, exportGrant(ex), ex.ID, last.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("a recording whose first GOP ended after the release: %v, want ErrNotFound", err)
	}
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestExportKeepsItsEvents: the events of an export's epoch captured
// before the release, and their sealed thumbnails, stay with the export:
// the sweep after the release and a new claim keeps them, the releasing
// household lists them and opens their thumbnails through the export, and
// nobody else does — not the new owner, nor a grant for another camera or
// span, nor the export's own grant for an event not its own. At the
// deadline the sweep deletes them; their rows restored, nothing opens.
func TestExportKeepsItsEvents(t *testing.T) {
	e := newEnv(t)
	e.stop()
	ctx := t.Context()
	ev := &record.Events{Index: e.st, Sealer: e.sealer, Blobs: e.blobs, Violations: e.violations}
	mark := func(dev access.DeviceID, jpeg []byte) record.Event {
		t.Helper()
		m, err := ev.Mark(ctx, dev, record.Event{Kind: record.EventPerson, Start: time.Now()}, jpeg)
		if err != nil || m.Thumb == "" {
			t.Fatalf("mark: %+v, %v", m, err)
		}
		return m
	}
	jpegs := [][]byte{{0xff, 0xd8, 1, 0xff, 0xd9}, {0xff, 0xd8, 2, 0xff, 0xd9}}
	kept := []record.Event{mark("cam-a", jpegs[0]), mark("cam-a", jpegs[1])}
	other := mark("cam-b", jpegs[0])
	time.Sleep(time.Millisecond)
	deadline := time.Now().Add(24 * time.Hour)
	ex := e.keep("cam-a", "code-2", deadline)
	if _, err := e.st.ClaimDevice(ctx, "code-2", "u-c"); err != nil {
		t.Fatal(err)
	}
	theirs := mark("cam-a", jpegs[0]) // the new owner's
	// A row of the old epoch dated after the release (none is made so):
	// not the export's.
	late := kept[0]
	late.Start = ex.Released.Add(time.Second)
	lateID, err := e.st.AddEvent(ctx, late)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	x := &record.Exports{Library: e.lib, Index: e.st, Events: ev, Now: func() time.Time { return now }}
	ret := &record.Retention{Index: e.st, Blobs: e.blobs, Events: e.st, Exports: e.st,
		Devices: func(context.Context) ([]access.DeviceID, error) { return []access.DeviceID{"cam-a", "cam-b"}, nil },
		Rule:    func(context.Context, access.DeviceID) (record.Rule, error) { return record.Rule{}, nil },
		Now:     func() time.Time { return now },
	}
	if _, err := ret.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range kept {
		if _, err := e.st.Event(ctx, k.ID); err != nil {
			t.Fatalf("the sweep after the release deleted the export's event %d: %v", k.ID, err)
		}
	}

	mine := exportGrant(ex)
	list, err := x.EventList(ctx, mine, ex.ID)
	if err != nil || !slices.EqualFunc(list, kept, func(a, b record.Event) bool { return a.ID == b.ID }) {
		t.Fatalf("the export's events = %+v, %v; want %d and %d", list, err, kept[0].ID, kept[1].ID)
	}
	for i, k := range kept {
		if got, err := x.Thumbnail(ctx, mine, ex.ID, k.ID); err != nil || !bytes.Equal(got, jpegs[i]) {
			t.Fatalf("the export's thumbnail of event %d: %x, %v", k.ID, got, err)
		}
	}
	for _, id := range []int64{theirs.ID, other.ID, lateID, 1 << 40} {
		if _, err := x.Thumbnail(ctx, mine, ex.ID, id); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("event %d's thumbnail through the export: %v, want ErrNotFound", id, err)
		}
	}
	gc := e.owner("cam-a", "u-c")
	if l, err := ev.List(ctx, gc, time.Time{}, now.Add(time.Hour)); err != nil || len(l) != 1 || l[0].ID != theirs.ID {
		t.Errorf("the new owner's events = %+v, %v; want only their own", l, err)
	}
	forged := map[string]access.Grant{
		"the new owner's":       gc,
		"an operator's":         issuer.Mint("admin", "cam-a", access.AudienceWeb, time.Hour),
		"another camera's span": issuer.MintSpan("u-a", "cam-b", access.AudienceWeb, time.Hour, nil, ex.Epoch, ex.Released),
		"one reaching past it":  issuer.MintSpan("u-a", "cam-a", access.AudienceWeb, time.Hour, nil, ex.Epoch, ex.Released.Add(time.Hour)),
	}
	for name, g := range forged {
		if l, err := x.EventList(ctx, g, ex.ID); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("%s grant lists the export's events: %+v, %v", name, l, err)
		}
		if _, err := x.Thumbnail(ctx, g, ex.ID, kept[0].ID); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("%s grant opens the export's thumbnail: %v", name, err)
		}
		if _, err := ev.Thumbnail(ctx, g, kept[0].ID); err == nil {
			t.Errorf("%s grant opens the export's thumbnail as a camera's event", name)
		}
	}

	// The deadline: the sweep deletes the events, their thumbnails with
	// them, and a restored row opens for nobody.
	copyObject(t, e, kept[0].Thumb, "evt/cam-a/kept.jpg", 0)
	now = deadline
	if _, err := x.Thumbnail(ctx, mine, ex.ID, kept[0].ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("the export's thumbnail at its deadline: %v", err)
	}
	if _, err := ret.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range kept {
		_, rowErr := e.st.Event(ctx, k.ID)
		_, objErr := e.blobs.Stat(ctx, k.Thumb)
		if rowErr == nil || objErr == nil {
			t.Errorf("the export's event %d after its deadline: row %v, thumbnail %v", k.ID, rowErr, objErr)
		}
	}
	d, _ := e.st.Device(ctx, "cam-a")
	for _, epoch := range []time.Time{ex.Epoch, d.EpochStarted} {
		restored := kept[0]
		restored.Epoch, restored.Thumb = epoch, "evt/cam-a/kept.jpg"
		id, err := e.st.AddEvent(ctx, restored)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Thumbnail(ctx, mine, ex.ID, id); err == nil {
			t.Fatal("a restored event opened through the expired export")
		}
		if _, err := ev.Thumbnail(ctx, issuer.Mint("admin", "cam-a", access.AudienceWeb, time.Hour), id); err == nil {
			t.Fatal("a restored event of the expired export opened")
		}
		if err := e.st.DeleteEvent(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}
