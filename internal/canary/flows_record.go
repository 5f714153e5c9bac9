package canary

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// maxTimeline bounds a timeline read by a viewer.
const maxTimeline = 4 << 20

// spanSlack is how far a recorded frame's capture time may lie outside
// the span a clip was asked for: a joined file starts at the keyframe at
// or before its start and ends with the fragment (a GOP: 4 s at the
// cameras' rates) that holds its end.
const spanSlack = 8 * time.Second

// timelineSpan is a recorded span as the timeline lists it.
type timelineSpan struct {
	ID    int64     `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Size  int64     `json:"size"`
	URL   string    `json:"url"`
}

// recordingFlow (one visit in two to the camera the user was let see
// last, see freshest) lists the camera's recorded spans (every span since the
// epoch's start: the server must keep earlier footage to itself) and plays
// some of it, checking every sample's stamp and capture time: one span's
// MP4 from its start through a Range, or clip.mp4 over a stretch that
// starts up to ten minutes before a listed span, or up to two before the
// viewer's epoch (across segments; from before the claim or share, which
// the server must leave out),
// whose frames must also lie in the stretch asked for. A frame recorded
// before the viewer's claim or share is a violation. Then it asks for
// recordings it must not get (see probeRecorded). An attacker's listing,
// and a recording of the camera that a viewer was shown, must be refused.
func recordingFlow(ctx context.Context, v *Visit) error {
	if v.Attack {
		return attackRecorded(ctx, v, "/recordings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", kindRecording)
	}
	if v.rng.IntN(2) == 0 {
		v.freshest()
	}
	var tl struct {
		Spans []timelineSpan `json:"spans"`
	}
	if ok, err := v.getJSON(ctx, v.camPath("/recordings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"), &tl); !ok || err != nil || len(tl.Spans) == 0 {
		return err // nothing recorded yet: nothing checked
	}
	for _, s := range tl.Spans {
		v.c.recorded.add(recItem{camera: v.Camera.ID, kind: kindRecording, id: s.ID, start: s.Start})
	}
	if err := probeRecorded(ctx, v, kindRecording); err != nil || v.bad {
		return err
	}
	sp := tl.Spans[v.rng.IntN(len(tl.Spans))]
	if sp.Size <= 0 {
		return fmt.Errorf("recording span of %d bytes", sp.Size)
	}
	if v.rng.IntN(2) == 0 {
		return v.playRecording(ctx, sp.URL, sp.Size, time.Time{}, time.Time{})
	}
	from := sp.Start.Add(-time.Duration(v.rng.Int64N(int64(10 * time.Minute))))
	to := sp.Start.Add(30*time.Second + time.Duration(v.rng.Int64N(int64(3*time.Minute))))
	if recent := time.Since(v.notBefore) < 10*time.Minute; !v.notBefore.IsZero() && (recent || v.rng.IntN(2) == 0) {
		// Scrolled back to where the timeline begins (a new claim or share
		// always), and a little past.
		from = v.notBefore.Add(-time.Duration(v.rng.Int64N(int64(2 * time.Minute))))
		to = from.Add(time.Minute + time.Duration(v.rng.Int64N(int64(3*time.Minute))))
	}
	q := url.Values{"stream": {"main"}, "from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	return v.playRecording(ctx, v.camPath("/recordings/clip.mp4?"+q.Encode()), 8<<20, from, to)
}

// playRecording reads a recorded MP4 at path from its start through a
// Range of up to size bytes and checks every sample; a frame captured
// outside [from, to) (less spanSlack; zero: unbounded) is a violation. A
// clip with nothing in it for the viewer (404) checks nothing.
func (v *Visit) playRecording(ctx context.Context, path string, size int64, from, to time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Base+path, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(v.User.Name, v.Secret)
	req.Header.Set("Range", fmt.Sprintf("bytes=0-%d", v.rng.Int64N(size)))
	v.forwarded(req)
	res, err := v.HTTP.Do(req)
	if err != nil {
		return ignoreEnd(err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusPartialContent, http.StatusOK:
	case http.StatusNotFound:
		if !from.IsZero() {
			return nil // the stretch holds nothing the viewer may see
		}
		fallthrough
	default:
		io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
		return fmt.Errorf("GET %s: %s", redactToken(path), res.Status)
	}
	if !from.IsZero() {
		v.spanFrom, v.spanTo = from.Add(-spanSlack), to.Add(spanSlack)
		defer func() { v.spanFrom, v.spanTo = time.Time{}, time.Time{} }()
	}
	return readFMP4(v, res.Body)
}

// freshest retargets the visit to the camera the user was let see last
// (a claim or share just made: people look at what was just shared with
// them), whose timeline begins at the newest epoch: footage from just
// before it is what a lookup that forgets the epoch would add.
func (v *Visit) freshest() {
	var best *Camera
	var at time.Time
	for _, c := range v.c.layout.visible(v.User.Name) {
		if nb := v.c.layout.notBefore(v.User.Name, c.ID); !c.StillOnly && nb.After(at) {
			best, at = c, nb
		}
	}
	if best != nil && best != v.Camera {
		v.retarget(best)
	}
}
