package hls

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/testkit"
)

// TestOtherDeviceGetsNothing asks, with a grant for cam-b, for every file
// name cam-a's playlists list: each gets 404 and not a byte.
func TestOtherDeviceGetsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
	publish(t, f.h, "cam-b", access.StreamMain, 320, 240, nil)
	for _, v := range []Variant{VariantLL, VariantTS} {
		base := f.url("/g/cam-a/main/" + string(v) + "/index.m3u8")
		pl, err := parseMedia(mustGet(t, base))
		if err != nil {
			t.Fatal(err)
		}
		files := []string{}
		if pl.mapURI != "" {
			files = append(files, pl.mapURI)
		}
		for _, s := range pl.segments {
			if !s.gap {
				files = append(files, s.uri)
			}
			for _, p := range s.parts {
				files = append(files, p.uri)
			}
		}
		for _, p := range pl.tailParts {
			files = append(files, p.uri)
		}
		if len(files) == 0 {
			t.Fatalf("%s: too few files to try: %v", v, files)
		}
		// cam-b's own muxer exists, so the names are looked up in it.
		mustGet(t, f.url("/g/cam-b/main/"+string(v)+"/index.m3u8"))
		for _, file := range files {
			code, body := get(t, f.url("/g/cam-b/main/"+string(v)+"/"+file))
			if code != http.StatusNotFound || len(body) != 0 {
				t.Errorf("cam-b grant, cam-a's %s: %d with %d bytes, want 404 and nothing", file, code, len(body))
			}
		}
	}
	// Names that are not file names are refused without a lookup.
	for _, file := range []string{"..", ".hidden", "a/b", "x%00y", strings.Repeat("a", 200)} {
		if _, err := f.serveRecorded(t, grant("cam-a"), access.StreamMain, VariantLL, file); !errors.Is(err, ErrNoFile) {
			t.Errorf("file %q: %v, want ErrNoFile (404, nothing written)", file, err)
		}
	}
}

// TestMisKeyedMuxerWritesNothing puts cam-a's muxer where cam-b's belongs,
// the mix-up invariant 3 guards against: a cam-b viewer must get 403 and
// not a byte, whichever file it asks for; the refusal counts as an isolation
// violation; and the muxer is stopped and evicted from the wrong slot, so
// that later requests find no muxer there rather than cam-a's media.
func TestMisKeyedMuxerWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
	base := f.url("/g/cam-a/main/ll/index.m3u8")
	violations := f.h.Metrics().Violations
	wrong := muxerKey{device: "cam-b", stream: access.StreamMain, variant: VariantLL}
	for i := range 4 {
		pl, err := parseMedia(mustGet(t, base)) // a running cam-a muxer and its file names
		if err != nil {
			t.Fatal(err)
		}
		file := []string{"index.m3u8", pl.mapURI, firstIndependentPart(pl), pl.hint.attrs["URI"]}[i]
		x := muxerOf(f.m, muxerKey{device: "cam-a", stream: access.StreamMain, variant: VariantLL})
		f.m.mu.Lock()
		f.m.muxers[wrong] = x
		f.m.mu.Unlock()

		before := testutil.ToFloat64(violations)
		code, body := get(t, f.url("/g/cam-b/main/ll/"+file))
		if code != http.StatusForbidden || len(body) != 0 {
			t.Errorf("cam-b grant on cam-a's muxer, %s: %d with %d bytes, want 403 and nothing", file, code, len(body))
		}
		if got := testutil.ToFloat64(violations) - before; got != 1 {
			t.Errorf("%s: %v violations counted, want 1", file, got)
		}
		testkit.WaitFor(t, 2*time.Second, "stop of the mis-keyed muxer", stopped(x))
		if y := muxerOf(f.m, wrong); y != nil {
			t.Fatalf("cam-b's slot still holds a muxer of %s", y.owner.Device)
		}
		if code, body := get(t, f.url("/g/cam-b/main/ll/"+pl.mapURI)); code != http.StatusNotFound || len(body) != 0 {
			t.Errorf("after the eviction, cam-a's init section for cam-b: %d with %d bytes", code, len(body))
		}
	}
	// A zero grant reads nothing either, and is no violation of isolation.
	before := testutil.ToFloat64(violations)
	if _, err := f.serveRecorded(t, access.Grant{}, access.StreamMain, VariantLL, "index.m3u8"); !errors.Is(err, ErrRefused) ||
		testutil.ToFloat64(violations) != before {
		t.Errorf("zero grant: %v, want ErrRefused (403, nothing written) and no violation", err)
	}
}

// TestOfflineCamera: 503 with a short reason.
func TestOfflineCamera(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code, body := get(t, f.url("/g/cam-x/main/ll/index.m3u8"))
	if code != http.StatusServiceUnavailable || strings.TrimSpace(string(body)) != "camera offline" {
		t.Errorf("offline camera: %d %q", code, body)
	}
	// A segment of a camera without a muxer: 404, nothing.
	if code, body := get(t, f.url("/g/cam-x/main/ts/abc_main_seg3.ts")); code != http.StatusNotFound || len(body) != 0 {
		t.Errorf("segment without a muxer: %d with %d bytes", code, len(body))
	}
}

// muxerOf returns the running muxer of a key, or nil.
func muxerOf(m *Manager, k muxerKey) *muxer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.muxers[k]
}

// stopped checks, for WaitFor, that x has stopped.
func stopped(x *muxer) func() error {
	return func() error {
		if !x.stopped() {
			return errors.New("still running")
		}
		return nil
	}
}

// TestIdleMuxerStops: a muxer with requests keeps running; one without
// requests for IdleTimeout stops, detaches from the hub and is forgotten,
// and the next request makes a new one.
func TestIdleMuxerStops(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Config{IdleTimeout: 400 * time.Millisecond})
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
	key := muxerKey{device: "cam-a", stream: access.StreamMain, variant: VariantTS}
	base := f.url("/g/cam-a/main/ts/index.m3u8")
	readers := f.h.Metrics().Readers.WithLabelValues("cam-a", "main")

	mustGet(t, base)
	muxers := f.m.cfg.Metrics.Muxers.WithLabelValues("ts")
	x := muxerOf(f.m, key)
	if x == nil || testutil.ToFloat64(readers) != 1 || testutil.ToFloat64(muxers) != 1 {
		t.Fatalf("muxer %v, hub readers %v, muxers %v: want one running", x, testutil.ToFloat64(readers), testutil.ToFloat64(muxers))
	}
	for end := time.Now().Add(1200 * time.Millisecond); time.Now().Before(end); time.Sleep(150 * time.Millisecond) {
		mustGet(t, base)
	}
	if muxerOf(f.m, key) != x || x.stopped() {
		t.Fatal("a muxer with requests every 150 ms stopped (idle timeout 400 ms)")
	}
	stoppedAt := time.Now()
	testkit.WaitFor(t, 3*time.Second, "stop of the idle muxer", func() error {
		if muxerOf(f.m, key) != nil {
			return errors.New("still running")
		}
		return nil
	})
	t.Logf("idle muxer stopped %v after the last request", time.Since(stoppedAt).Round(time.Millisecond))
	if !errors.Is(x.stopErr, ErrIdle) {
		t.Errorf("muxer stopped because %v, want ErrIdle", x.stopErr)
	}
	testkit.WaitFor(t, time.Second, "release of the hub reader and muxer gauges", func() error {
		if r, m := testutil.ToFloat64(readers), testutil.ToFloat64(muxers); r != 0 || m != 0 {
			return fmt.Errorf("readers %v, muxers %v", r, m)
		}
		return nil
	})
	mustGet(t, base)
	if y := muxerOf(f.m, key); y == nil || y == x {
		t.Errorf("after idling, a request got muxer %p, want a new one (old %p)", y, x)
	}
}

// TestPublisherChangeRestartsMuxer: when the camera reconnects, the muxer of
// the old session stops and the next request gets one of the new session;
// when it goes offline, requests get 503.
func TestPublisherChangeRestartsMuxer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
	key := muxerKey{device: "cam-a", stream: access.StreamMain, variant: VariantLL}
	base := f.url("/g/cam-a/main/ll/index.m3u8")
	old, err := parseMedia(mustGet(t, base))
	if err != nil {
		t.Fatal(err)
	}
	x := muxerOf(f.m, key)

	c := publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil) // the reconnect
	testkit.WaitFor(t, 2*time.Second, "stop of the old session's muxer", stopped(x))
	nw, err := parseMedia(mustGet(t, base))
	if err != nil {
		t.Fatal(err)
	}
	y := muxerOf(f.m, key)
	if y == nil || y == x || y.owner.Session == x.owner.Session || y.owner != c.Pub.Owner() {
		t.Fatalf("after the reconnect: muxer %+v, want one of session %+v", y, c.Pub.Owner())
	}
	if nw.mapURI == old.mapURI {
		t.Errorf("the new session's init section has the old name %s", nw.mapURI)
	}
	if code, body := get(t, resolve(base, old.mapURI)); code != http.StatusNotFound || len(body) != 0 {
		t.Errorf("old session's init section: %d with %d bytes", code, len(body))
	}
	c.Pub.Close()
	testkit.WaitFor(t, 2*time.Second, "stop of the offline camera's muxer", stopped(y))
	if code, body := get(t, base); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "offline") {
		t.Errorf("offline camera: %d %q", code, body)
	}
}

// TestMuxerOutlivesCreatorsGrant: the grant that made a muxer expires while
// another viewer with a valid grant watches; the muxer re-attaches with that
// grant and keeps going, and the expired grant reads nothing.
func TestMuxerOutlivesCreatorsGrant(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
	// Long enough for the first playlist, which waits for minSegments
	// segments of a camera that has just started.
	short := issuer.Mint("u1", "cam-a", access.AudienceWeb, 5*time.Second)
	long := issuer.Mint("u2", "cam-a", access.AudienceWeb, time.Hour)
	serve := func(g access.Grant) (*httptest.ResponseRecorder, *mediaPlaylist, error) {
		rec, err := f.serveRecorded(t, g, access.StreamMain, VariantTS, "index.m3u8")
		pl, _ := parseMedia(rec.Body.Bytes())
		return rec, pl, err
	}
	if rec, _, err := serve(short); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("short grant: %v %d", err, rec.Code)
	}
	x := muxerOf(f.m, muxerKey{device: "cam-a", stream: access.StreamMain, variant: VariantTS})
	var atExpiry int
	for time.Until(short.Expiry()) > 0 {
		_, pl, _ := serve(long)
		atExpiry = pl.segments[len(pl.segments)-1].seq
		time.Sleep(200 * time.Millisecond)
	}
	var last int
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		rec, pl, err := serve(long)
		if err != nil || rec.Code != http.StatusOK {
			t.Fatalf("long grant after the short one expired: %v %d", err, rec.Code)
		}
		last = pl.segments[len(pl.segments)-1].seq
	}
	if muxerOf(f.m, muxerKey{device: "cam-a", stream: access.StreamMain, variant: VariantTS}) != x || x.stopped() {
		t.Fatal("the muxer stopped when its creator's grant expired")
	}
	if last < atExpiry+2 {
		t.Errorf("segments stopped at %d (was %d when the first grant expired)", last, atExpiry)
	}
	if _, _, err := serve(short); !errors.Is(err, ErrRefused) {
		t.Errorf("expired grant: %v, want ErrRefused (403, nothing written)", err)
	}
}
