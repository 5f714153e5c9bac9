package record_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/record"
	"vigil/internal/store"
	"vigil/internal/store/sqlite"
)

// retEnv is a store with three claimed cameras — cam-a and cam-b of
// household u-a, cam-c of u-b — a disk blob store and a Retention on a
// fake clock. Rows are filed directly: retention never opens an object.
type retEnv struct {
	t     *testing.T
	st    *sqlite.Store
	blobs *blob.Disk
	now   time.Time
	ret   *record.Retention
	reg   *prometheus.Registry
	log   *logBuffer
	rules map[access.DeviceID]record.Rule
	seq   int
}

func newRetEnv(t *testing.T) *retEnv {
	t.Helper()
	st := openStore(t, [][2]string{{"cam-a", "u-a"}, {"cam-b", "u-a"}, {"cam-c", "u-b"}})
	blobs, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &retEnv{t: t, st: st, blobs: blobs, now: time.Now().Add(30 * 24 * time.Hour), reg: prometheus.NewRegistry(),
		log: &logBuffer{}, rules: map[access.DeviceID]record.Rule{}}
	e.ret = &record.Retention{Index: st, Blobs: blobs, Events: st, Pins: st,
		Logger: slog.New(slog.NewTextHandler(e.log, nil)),
		Devices: func(context.Context) ([]access.DeviceID, error) {
			return []access.DeviceID{"cam-a", "cam-b", "cam-c"}, nil
		},
		Rule: func(_ context.Context, d access.DeviceID) (record.Rule, error) { return e.rules[d], nil },
		Now:  func() time.Time { return e.now },
	}
	e.ret.Register(e.reg)
	return e
}

// logBuffer is a log's text, safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// epoch is the device's current epoch.
func (e *retEnv) epoch(dev access.DeviceID) time.Time {
	e.t.Helper()
	ep, _, err := e.st.Epoch(e.t.Context(), dev)
	if err != nil {
		e.t.Fatal(err)
	}
	return ep
}

// add files a minute-long recording of dev that ended ago before now,
// of size bytes, with a one-byte object.
func (e *retEnv) add(dev access.DeviceID, ago time.Duration, size int64) record.Recording {
	e.t.Helper()
	e.seq++
	r := record.Recording{Device: dev, Stream: access.StreamMain, Epoch: e.epoch(dev), SegmentID: uint64(e.seq),
		Start: e.now.Add(-ago - time.Minute), Duration: time.Minute, Size: size, Object: fmt.Sprintf("rec/%s/%d", dev, e.seq)}
	if err := e.blobs.Put(e.t.Context(), r.Object, bytes.NewReader([]byte{1}), 1); err != nil {
		e.t.Fatal(err)
	}
	id, err := e.st.AddRecording(e.t.Context(), r)
	if err != nil {
		e.t.Fatal(err)
	}
	r.ID = id
	return r
}

// event files an event of dev over the recording r.
func (e *retEnv) event(r record.Recording) record.Event {
	e.t.Helper()
	ev := record.Event{Device: r.Device, Epoch: r.Epoch, Kind: record.EventPerson, Start: r.Start.Add(10 * time.Second),
		End: r.Start.Add(20 * time.Second)}
	id, err := e.st.AddEvent(e.t.Context(), ev)
	if err != nil {
		e.t.Fatal(err)
	}
	ev.ID = id
	return ev
}

// pin pins r for user, made at now.
func (e *retEnv) pin(r record.Recording, user access.UserID) record.Pin {
	e.t.Helper()
	p := record.Pin{Device: r.Device, Epoch: r.Epoch, User: user, Start: r.Start, End: r.End(), Created: e.now}
	id, err := e.st.AddPin(e.t.Context(), p)
	if err != nil {
		e.t.Fatal(err)
	}
	p.ID = id
	return p
}

func (e *retEnv) sweep(want int) {
	e.t.Helper()
	if n, err := e.ret.Sweep(e.t.Context()); n != want || err != nil {
		e.t.Fatalf("swept %d, %v; want %d deleted", n, err, want)
	}
}

// kept checks that each recording's row and object are there (want) or
// both gone.
func (e *retEnv) kept(want bool, rs ...record.Recording) {
	e.t.Helper()
	for _, r := range rs {
		_, rowErr := e.st.Recording(e.t.Context(), r.ID)
		_, objErr := e.blobs.Stat(e.t.Context(), r.Object)
		if want && (rowErr != nil || objErr != nil) {
			e.t.Errorf("recording %d of %s ended %v ago: row %v, object %v; want kept", r.ID, r.Device, e.now.Sub(r.End()), rowErr, objErr)
		}
		if !want && (!errors.Is(rowErr, store.ErrNotFound) || !errors.Is(objErr, blob.ErrNotFound)) {
			e.t.Errorf("recording %d of %s ended %v ago: row %v, object %v; want deleted", r.ID, r.Device, e.now.Sub(r.End()), rowErr, objErr)
		}
	}
}

// deleted is the retention's deletions for why.
func (e *retEnv) deleted(why string) float64 {
	e.t.Helper()
	return metric(e.t, e.reg, "vigil_record_retention_deleted_total", "reason", why)
}

const days = 24 * time.Hour

// TestRetentionEventRule, on a fake clock: with 2 days of continuous
// footage and 7 of event footage, footage an event touches is kept past
// the continuous rule (the larger wins) and goes past the event rule;
// footage no event touches goes past the continuous rule; events go with
// their footage, and an event rule shorter than the continuous one
// shortens nothing.
func TestRetentionEventRule(t *testing.T) {
	e := newRetEnv(t)
	e.rules["cam-a"] = record.Rule{Age: 2 * days, EventAge: 7 * days}
	plain := e.add("cam-a", 3*days, 100)
	touched := e.add("cam-a", 3*days+time.Hour, 100)
	stale := e.add("cam-a", 8*days, 100)
	fresh := e.add("cam-a", time.Hour, 100)
	kept, gone := e.event(touched), e.event(stale)
	e.sweep(2)
	e.kept(true, touched, fresh)
	e.kept(false, plain, stale)
	if _, err := e.st.Event(t.Context(), kept.ID); err != nil {
		t.Errorf("an event within the event rule: %v", err)
	}
	if _, err := e.st.Event(t.Context(), gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an event past the event rule: %v", err)
	}
	e.now = e.now.Add(5 * days) // touched ended 8 days ago, fresh 5
	e.sweep(2)
	e.kept(false, touched, fresh)
	if got := e.deleted("age"); got != 4 {
		t.Errorf("age deletions counted %v, want 4", got)
	}

	e.rules["cam-b"] = record.Rule{Age: 5 * days, EventAge: 1 * days}
	short := e.add("cam-b", 3*days, 100)
	e.event(short)
	e.sweep(0)
	e.kept(true, short)
}

// TestRetentionGrace, on a fake clock: a lowered rule deletes nothing
// until its grace period is over, and lowered and raised back within it
// never deletes; a raised rule keeps more at once; a second lowering
// within the grace period keeps what the first rule kept.
func TestRetentionGrace(t *testing.T) {
	e := newRetEnv(t)
	rules := &record.Rules{Store: e.st, Default: record.Rule{Age: 10 * days}, Grace: 24 * time.Hour, Now: func() time.Time { return e.now }}
	e.ret.Rule = rules.Rule
	ctx := t.Context()
	old := e.add("cam-a", 3*days, 100)
	older := e.add("cam-a", 5*days, 100)
	e.sweep(0)

	set := func(age time.Duration) {
		t.Helper()
		if _, err := rules.Set(ctx, "cam-a", record.Rule{Age: age}); err != nil {
			t.Fatal(err)
		}
	}
	set(1 * days) // a mistake
	e.now = e.now.Add(2 * time.Hour)
	e.sweep(0)
	set(0) // undone: back to the default
	e.now = e.now.Add(2 * days)
	e.sweep(0)
	e.kept(true, old, older)

	set(4 * days) // lowered on purpose; older ended 7 days ago
	e.now = e.now.Add(12 * time.Hour)
	e.sweep(0)
	set(2 * days) // lowered again within the grace period
	r, _ := rules.Get(ctx, "cam-a")
	if got := rules.Effective(r, e.now); got.Age != 10*days {
		t.Fatalf("rule in force while both changes wait: %v, want the 10 days before them", got.Age)
	}
	e.now = e.now.Add(23 * time.Hour)
	e.sweep(0)
	e.kept(true, old, older)
	e.now = e.now.Add(2 * time.Hour) // the second change's grace is over
	e.sweep(2)
	e.kept(false, old, older)

	raised := e.add("cam-a", 3*days, 100)
	set(20 * days)
	e.sweep(0)
	e.kept(true, raised)
}

// TestRetentionQuota, on a fake clock: a household over its quota loses
// its oldest unpinned footage across its cameras until it is under;
// pinned footage counts but stays; another household is untouched.
func TestRetentionQuota(t *testing.T) {
	e := newRetEnv(t)
	quotas := map[access.UserID]int64{"u-a": 450}
	e.ret.Households = func(context.Context) (map[access.UserID][]access.DeviceID, error) {
		return map[access.UserID][]access.DeviceID{"u-a": {"cam-a", "cam-b"}, "u-b": {"cam-c"}}, nil
	}
	e.ret.Quota = func(_ context.Context, h access.UserID) (int64, error) { return quotas[h], nil }
	a1 := e.add("cam-a", 6*time.Hour, 100)
	b1 := e.add("cam-b", 5*time.Hour, 100)
	a2 := e.add("cam-a", 4*time.Hour, 100)
	b2 := e.add("cam-b", 3*time.Hour, 100)
	a3 := e.add("cam-a", 2*time.Hour, 100)
	b3 := e.add("cam-b", 1*time.Hour, 100)
	c1 := e.add("cam-c", 7*time.Hour, 1000)
	e.pin(a1, "u-a")
	e.sweep(2) // 600 bytes, 450 allowed: b1 and a2 go; a1 is pinned
	e.kept(true, a1, b2, a3, b3, c1)
	e.kept(false, b1, a2)
	if got := e.deleted("quota"); got != 2 {
		t.Errorf("quota deletions counted %v, want 2", got)
	}
	for h, want := range map[string]float64{"u-a": 400, "u-b": 1000} { // after the sweep's deletions
		if v := metric(t, e.reg, "vigil_record_household_stored_bytes", "household", h); v != want {
			t.Errorf("vigil_record_household_stored_bytes{household=%s} = %v, want %v", h, v, want)
		}
	}
	quotas["u-a"] = 250 // b2 and a3 go: a1 (pinned) and b3 fit
	e.sweep(2)
	e.kept(true, a1, b3)
	e.kept(false, b2, a3)
	quotas["u-a"] = 50 // b3 goes; the pinned a1 stays though over the quota
	e.sweep(1)
	e.kept(true, a1, c1)
}

// TestRetentionPins, on a fake clock: pinned footage outlives its rule
// and is counted in the camera's usage; unpinned it goes at the next
// sweep; a pin whose pinner lost access holds nothing and is dropped; a
// camera's next owner never inherits the previous owner's pins, and the
// old epoch's footage goes whatever was pinned.
func TestRetentionPins(t *testing.T) {
	e := newRetEnv(t)
	ctx := t.Context()
	held := map[access.UserID]bool{"u-a": true, "u-b": true, "u-c": true}
	e.ret.PinHeld = func(_ context.Context, p record.Pin) (bool, error) { return held[p.User], nil }
	e.rules["cam-a"] = record.Rule{Age: days}
	e.rules["cam-c"] = record.Rule{Age: days}
	mine := e.add("cam-a", 3*days, 100)
	shared := e.add("cam-a", 4*days, 100)
	other := e.add("cam-a", 5*days, 100)
	p := e.pin(mine, "u-a")
	e.pin(shared, "u-c") // a sharee's
	e.sweep(1)
	e.kept(true, mine, shared)
	e.kept(false, other)
	if u, err := e.ret.Usage(ctx, "cam-a"); u != (record.Usage{Bytes: 200, Pinned: 200}) || err != nil {
		t.Errorf("usage = %+v, %v; want 200 bytes, all pinned", u, err)
	}
	if v := metric(t, e.reg, "vigil_record_pinned_bytes", "camera", "cam-a"); v != 200 {
		t.Errorf("vigil_record_pinned_bytes{camera=cam-a} = %v, want 200", v)
	}
	if v := metric(t, e.reg, "vigil_record_stored_bytes", "camera", "cam-a"); v != 200 {
		t.Errorf("vigil_record_stored_bytes{camera=cam-a} = %v, want 200", v)
	}

	held["u-c"] = false // the share ended
	e.sweep(1)
	e.kept(false, shared)
	if pins, _ := e.st.Pins(ctx, "cam-a"); len(pins) != 1 || pins[0].ID != p.ID {
		t.Fatalf("pins after the sharee's access ended: %+v; want only the owner's", pins)
	}

	if err := e.st.DeletePin(ctx, p.ID); err != nil { // unpinned
		t.Fatal(err)
	}
	e.sweep(1)
	e.kept(false, mine)

	before := e.add("cam-c", 3*days, 100)
	e.pin(before, "u-b")
	if err := e.st.ResetDevice(ctx, "cam-c", "code-again"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ClaimDevice(ctx, "code-again", "u-c"); err != nil {
		t.Fatal(err)
	}
	e.sweep(1)
	e.kept(false, before)
	if pins, _ := e.st.Pins(ctx, "cam-c"); len(pins) != 0 {
		t.Fatalf("the previous owner's pins outlived the handover: %+v", pins)
	}
	if got := e.deleted("epoch"); got != 1 {
		t.Errorf("epoch deletions counted %v, want 1", got)
	}
}

// TestRetentionLowDisk, on a fake clock: below the free-space threshold
// the guard deletes the oldest unpinned footage of every household until
// the disk is above it, counts it, and warns at most once per ten
// minutes; with nothing unpinned left it says so.
func TestRetentionLowDisk(t *testing.T) {
	e := newRetEnv(t)
	var free int64 = 1000
	e.ret.Free = func(context.Context) (int64, error) { return free, nil }
	e.ret.MinFree = 1150
	r1 := e.add("cam-c", 9*time.Hour, 100)
	r2 := e.add("cam-a", 8*time.Hour, 100)
	r3 := e.add("cam-b", 7*time.Hour, 100)
	r4 := e.add("cam-c", 6*time.Hour, 100)
	e.pin(r2, "u-a")
	blobs := e.ret.Blobs
	e.ret.Blobs = countingDeletes{Store: blobs, freed: func() { free += 100 }}
	e.sweep(2) // 1000 free: r1 (u-b's) and r3 (u-a's) go; r2 is pinned
	e.kept(false, r1, r3)
	e.kept(true, r2, r4)
	if got := e.deleted("low_disk"); got != 2 {
		t.Errorf("low-disk deletions counted %v, want 2", got)
	}
	if n := e.log.count("level=WARN"); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	free = 1100
	e.now = e.now.Add(time.Minute)
	e.sweep(1)
	if n := e.log.count("level=WARN"); n != 1 {
		t.Fatalf("%d warnings a minute after the first, want still 1 (rate-limited)", n)
	}
	free = 0
	e.now = e.now.Add(11 * time.Minute)
	if _, err := e.ret.Sweep(t.Context()); err == nil || !strings.Contains(err.Error(), "nothing unpinned") {
		t.Fatalf("sweep with only pinned footage left: %v", err)
	}
	e.kept(true, r2)
	if n := e.log.count("level=WARN"); n != 2 {
		t.Fatalf("%d warnings, want 2", n)
	}
}

// countingDeletes frees room on a fake disk for every object deleted.
type countingDeletes struct {
	blob.Store
	freed func()
}

func (c countingDeletes) Delete(ctx context.Context, key string) error {
	if _, err := c.Store.Stat(ctx, key); err == nil {
		c.freed()
	}
	return c.Store.Delete(ctx, key)
}

// grant is a grant of dev for user from the device's current epoch on.
func (e *retEnv) grant(dev access.DeviceID, user access.UserID) access.Grant {
	e.t.Helper()
	return issuer.MintLeased(user, dev, access.AudienceWeb, time.Hour, nil, e.epoch(dev))
}

// TestPinsForGrants: a person pins an event of the grant's camera (its
// window, cut to the grant's epoch) or a span; not another camera's event,
// nor one of an earlier epoch, nor a span wholly before the grant's
// epoch; they list and unpin only their own pins of the current epoch.
func TestPinsForGrants(t *testing.T) {
	e := newRetEnv(t)
	e.now = time.Now() // grants are live in real time
	ctx := t.Context()
	ev := &record.Events{Index: e.st}
	ps := &record.Pins{Index: e.st, Events: ev, Now: func() time.Time { return e.now }}
	// Recorded just after the claims (the epochs started when the cameras
	// were claimed, moments ago).
	rec := e.add("cam-a", -2*time.Minute, 100)
	mine := e.event(rec)
	theirs := e.event(e.add("cam-c", -2*time.Minute, 100))
	ga := e.grant("cam-a", "u-a")
	p, err := ps.Pin(ctx, ga, mine.ID, time.Time{}, time.Time{})
	if from, to := ev.Window(mine); err != nil || !p.Start.Equal(from) || !p.End.Equal(to) || p.Event != mine.ID {
		t.Fatalf("pin an event: %+v, %v; want its window %v-%v", p, err, from, to)
	}
	if _, err := ps.Pin(ctx, ga, theirs.ID, time.Time{}, time.Time{}); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("pin another camera's event: %v, want not found", err)
	}
	if _, err := ps.Pin(ctx, ga, 0, e.epoch("cam-a").Add(-time.Hour), e.epoch("cam-a").Add(-time.Second)); !errors.Is(err, record.ErrBadPin) {
		t.Errorf("pin a span before the epoch: %v, want ErrBadPin", err)
	}
	if _, err := ps.Pin(ctx, ga, 0, e.now, e.now.Add(25*time.Hour)); !errors.Is(err, record.ErrBadPin) {
		t.Errorf("pin more than a day: %v, want ErrBadPin", err)
	}
	other := e.grant("cam-a", "u-c") // a sharee
	if mine, err := ps.List(ctx, other); err != nil || len(mine) != 0 {
		t.Errorf("a sharee lists the owner's pins: %+v, %v", mine, err)
	}
	if err := ps.Unpin(ctx, other, p.ID); !errors.Is(err, record.ErrNoPin) {
		t.Errorf("a sharee unpins the owner's pin: %v, want ErrNoPin", err)
	}

	if err := e.st.ResetDevice(ctx, "cam-a", "code-again"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ClaimDevice(ctx, "code-again", "u-b"); err != nil {
		t.Fatal(err)
	}
	gb := e.grant("cam-a", "u-b")
	if _, err := ps.Pin(ctx, gb, mine.ID, time.Time{}, time.Time{}); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("the next owner pins the previous owner's event: %v, want not found", err)
	}
	if got, err := ps.List(ctx, e.grant("cam-a", "u-a")); err != nil || len(got) != 0 {
		t.Errorf("the previous owner's pins listed after the handover: %+v, %v", got, err)
	}
}

// TestRetentionRunGuardsBetweenSweeps, in a synctest bubble: Run checks
// the free space every GuardEvery and deletes when it is low, without
// waiting for the next sweep (Every).
func TestRetentionRunGuardsBetweenSweeps(t *testing.T) {
	e := newRetEnv(t)
	old := e.add("cam-a", time.Hour, 100)
	var mu sync.Mutex
	free, asked := int64(1<<40), 0
	e.ret.Free = func(context.Context) (int64, error) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		return free, nil
	}
	e.ret.MinFree, e.ret.Every, e.ret.GuardEvery = 1<<30, time.Hour, 30*time.Second
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- e.ret.Run(ctx) }()
		time.Sleep(61 * time.Second)
		synctest.Wait()
		mu.Lock()
		if asked != 2 {
			t.Errorf("free space asked %d times in a minute, want 2", asked)
		}
		free = 0
		mu.Unlock()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	e.kept(false, old)
}
