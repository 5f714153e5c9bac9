package canary

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// OutExports is the footage a household kept when it released a camera:
// listed, its timeline read and a recording of it played, its events
// listed and a thumbnail of one fetched, by that household alone, after
// the camera changed hands.
const OutExports = "exports"

// kept is a release that kept its household's footage, as the canary
// made it: only user may read it, and only frames of camera captured in
// [from, until) (from: the user's epoch, until: the release's answer).
type kept struct {
	user, camera string
	from, until  time.Time
	id           int64  // 0 until the user's listing shows it
	thumb        string // a thumbnail's URL the user's listing showed, or ""
}

// keptExports remembers the releases that kept their footage.
type keptExports struct {
	mu   sync.Mutex
	list []*kept // guarded by mu
}

// add remembers a release that kept its footage.
func (k *keptExports) add(e kept) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.list = append(k.list, &e)
}

// claim matches an export the user's listing shows (id, camera, released
// at) to a release of theirs: the one already matched to the id, or the
// unmatched one of that camera whose answer came first at or after
// released. It returns nil when the listing shows an export the canary
// never made for the user.
func (k *keptExports) claim(user, camera string, id int64, released time.Time) *kept {
	k.mu.Lock()
	defer k.mu.Unlock()
	var best *kept
	for _, e := range k.list {
		if e.id == id {
			if e.user == user && e.camera == camera {
				return e
			}
			return nil
		}
		if e.id == 0 && e.user == user && e.camera == camera && !released.After(e.until) && (best == nil || e.until.Before(best.until)) {
			best = e
		}
	}
	if best != nil {
		best.id = id
	}
	return best
}

// sawThumb remembers a thumbnail's URL that export id's listing showed.
func (k *keptExports) sawThumb(id int64, url string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range k.list {
		if e.id == id {
			e.thumb = url
		}
	}
}

// pick picks, by n, any export.
func (k *keptExports) pick(n int) (kept, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.list) == 0 {
		return kept{}, false
	}
	return *k.list[n%len(k.list)], true
}

// other picks, by n, a listed export of a household other than user's.
func (k *keptExports) other(user string, n int) (kept, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var all []*kept
	for _, e := range k.list {
		if e.id != 0 && e.user != user {
			all = append(all, e)
		}
	}
	if len(all) == 0 {
		return kept{}, false
	}
	return *all[n%len(all)], true
}

// exportJSON is an export as GET /api/exports lists it.
type exportJSON struct {
	ID       int64     `json:"id"`
	Camera   string    `json:"camera"`
	Released time.Time `json:"released"`
}

// exportFlow is a household reading the footage it kept at a release: it
// lists its exports (each must be one the canary made for it), reads one's
// timeline (every span inside the release's epoch, before the release) and
// plays one recording of it from its start through a Range, checking
// every frame: the released camera's, captured in [the household's epoch,
// the release). Before, it lists the export's events (each started in
// that span) and, one time in three, fetches one's thumbnail, which must
// be an upload of the released camera's sent before the release and
// answered after the household's epoch began. Then it asks for another household's export,
// its events or a thumbnail of it, which must be refused, as it must be on
// an attacker's visit.
func exportFlow(ctx context.Context, v *Visit) error {
	if v.Attack { // whoever holds the camera now, another household's export is refused
		return probeExport(ctx, v)
	}
	if e, ok := v.c.exports.pick(v.rng.Int()); ok && e.user != v.User.Name && v.rng.IntN(2) == 0 {
		// People who kept footage come back for it: a household that has
		// some, signed in as itself.
		for i, u := range v.c.layout.Users {
			if u.Name == e.user {
				v.User = v.c.layout.user(i)
				v.Secret, v.Addr = v.User.Password, householdAddr(i)
			}
		}
	}
	var list struct {
		Exports []exportJSON `json:"exports"`
	}
	if ok, err := v.getJSON(ctx, "/api/exports", &list); !ok || err != nil {
		return err
	}
	var mine []*kept
	for _, x := range list.Exports {
		e := v.c.exports.claim(v.User.Name, x.Camera, x.ID, x.Released)
		if e == nil {
			v.bad = true
			v.c.violation(Violation{Kind: KindAttackServed, Output: v.output, User: v.User.Name, Requested: "", Got: x.Camera,
				Detail: fmt.Sprintf("export %d of %s listed, which this household never kept", x.ID, x.Camera)})
			return nil
		}
		mine = append(mine, e)
	}
	if err := probeExport(ctx, v); err != nil || v.bad || len(mine) == 0 {
		return err
	}
	e := *mine[v.rng.IntN(len(mine))]
	if err := v.exportEvents(ctx, e, v.rng.IntN(3) == 0); err != nil || v.bad {
		return err
	}
	return v.playExport(ctx, e)
}

// exportEvents lists e's events, every one started in e's span, and with
// fetch fetches one's thumbnail: an upload of e's camera taken in it.
func (v *Visit) exportEvents(ctx context.Context, e kept, fetch bool) error {
	events, err := v.events(ctx, fmt.Sprintf("/api/exports/%d/events", e.id))
	if events == nil {
		return err
	}
	var thumbs []string
	for _, x := range events {
		if x.Start.Before(e.from) || !x.Start.Before(e.until) {
			return v.outOfExport(e, fmt.Sprintf("event %d started %s", x.ID, x.Start.UTC().Format(time.RFC3339Nano)))
		}
		if x.Thumb != "" {
			thumbs = append(thumbs, x.Thumb)
		}
	}
	if len(thumbs) == 0 || !fetch {
		return nil
	}
	thumb := thumbs[v.rng.IntN(len(thumbs))]
	v.c.exports.sawThumb(e.id, thumb)
	b, err := v.thumb(ctx, thumb)
	if b == nil {
		return err
	}
	cam := v.c.layout.byID[e.camera]
	if cam == nil {
		return fmt.Errorf("export %d: camera %q", e.id, e.camera)
	}
	u, ok := cam.upload(sha256Of(b))
	switch {
	case !ok:
		v.c.uploadBytes(v.output, v.User.Name, e.camera, e.from, b) // reports it: another camera's, or nobody's
		v.bad = true
	case !u.sent.Before(e.until) || !u.done.IsZero() && u.done.Before(e.from):
		return v.outOfExport(e, fmt.Sprintf("a thumbnail sent %s, answered %s", u.sent.UTC().Format(time.RFC3339Nano),
			u.done.UTC().Format(time.RFC3339Nano)))
	default:
		v.c.out(v.output).stills.Add(1)
	}
	return nil
}

// outOfExport reports what e served from outside its span.
func (v *Visit) outOfExport(e kept, what string) error {
	v.bad = true
	v.c.violation(Violation{Kind: KindOutOfSpan, Output: v.output, User: v.User.Name, Requested: e.camera, Got: e.camera,
		Detail: fmt.Sprintf("export %d: %s, outside the released epoch %s to %s", e.id, what,
			e.from.UTC().Format(time.RFC3339Nano), e.until.UTC().Format(time.RFC3339Nano))})
	return nil
}

// playExport reads e's timeline and plays one of its recordings.
func (v *Visit) playExport(ctx context.Context, e kept) error {
	var tl struct {
		Spans []timelineSpan `json:"spans"`
	}
	if ok, err := v.getJSON(ctx, fmt.Sprintf("/api/exports/%d/recordings?stream=main", e.id), &tl); !ok || err != nil || len(tl.Spans) == 0 {
		return err
	}
	for _, s := range tl.Spans {
		if s.Start.Before(e.from) || s.End.After(e.until) {
			return v.outOfExport(e, fmt.Sprintf("span %d from %s to %s", s.ID, s.Start.UTC().Format(time.RFC3339Nano),
				s.End.UTC().Format(time.RFC3339Nano)))
		}
	}
	sp := tl.Spans[v.rng.IntN(len(tl.Spans))]
	cam := v.c.layout.byID[e.camera]
	if cam == nil || sp.Size <= 0 {
		return fmt.Errorf("export %d: camera %q, a span of %d bytes", e.id, e.camera, sp.Size)
	}
	// The frames are judged as the released camera's, in the export's
	// span exactly: no slack (nothing of the next owner's is the export's).
	v.Camera, v.notBefore = cam, e.from
	v.spanFrom, v.spanTo = e.from, e.until
	defer func() { v.spanFrom, v.spanTo = time.Time{}, time.Time{} }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Base+sp.URL, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(v.User.Name, v.Secret)
	req.Header.Set("Range", fmt.Sprintf("bytes=0-%d", v.rng.Int64N(sp.Size)))
	v.forwarded(req)
	res, err := v.HTTP.Do(req)
	if err != nil {
		return ignoreEnd(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusPartialContent && res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return newErrStatus(res, "GET "+sp.URL, b)
	}
	return readFMP4(v, res.Body)
}

// probeExport asks for another household's export: its recordings'
// listing, its events' or a thumbnail its household was shown. It must be
// refused with nothing in it.
func probeExport(ctx context.Context, v *Visit) error {
	e, ok := v.c.exports.other(v.User.Name, v.rng.Int())
	if !ok {
		return nil
	}
	path := fmt.Sprintf("/api/exports/%d/recordings?stream=main", e.id)
	switch n := v.rng.IntN(3); {
	case n == 1:
		path = fmt.Sprintf("/api/exports/%d/events", e.id)
	case n == 2 && e.thumb != "":
		path = e.thumb
	}
	return v.mustRefuse(ctx, http.MethodGet, path, "", e.camera, e.camera, fmt.Sprintf("export %d of %s's", e.id, e.user))
}
