package canary

import (
	"context"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// eventFlow lists the camera's events (every event since the epoch's
// start: the server must keep earlier ones to itself) and fetches one's
// thumbnail, an upload the camera marked as an event: it must be that
// camera's, uploaded in the viewer's epoch. An event listed from before
// the viewer's claim or share is a violation. Now and then it plays an
// event's clip (clip.mp4 over its pre- to post-roll: every frame the
// camera's, in the viewer's epoch and in that window) instead, and asks
// for thumbnails it must not get (see probeRecorded). An attacker's
// listing, and a thumbnail of the camera that a viewer was shown, must be
// refused.
func eventFlow(ctx context.Context, v *Visit) error {
	const listing = "/events?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
	if v.Attack {
		return attackRecorded(ctx, v, listing, kindEvent)
	}
	events, err := v.events(ctx, v.camPath(listing))
	if events == nil {
		return err
	}
	var thumbs, clips []string
	for _, e := range events {
		if !v.c.inEpoch(v.output, v.User.Name, v.Camera.ID, e.Start, v.notBefore, "an event listed") {
			v.bad = true
			return nil
		}
		if e.Thumb != "" {
			thumbs = append(thumbs, e.Thumb)
			v.c.recorded.add(recItem{camera: v.Camera.ID, kind: kindEvent, id: e.ID, start: e.Start})
		}
		if e.Clip != "" {
			clips = append(clips, e.Clip)
		}
	}
	if err := probeRecorded(ctx, v, kindEvent); err != nil || v.bad {
		return err
	}
	if len(clips) > 0 && v.rng.IntN(3) == 0 {
		return playEventClip(ctx, v, clips[v.rng.IntN(len(clips))])
	}
	if len(thumbs) == 0 {
		return nil // no event yet: nothing more checked
	}
	b, err := v.thumb(ctx, thumbs[v.rng.IntN(len(thumbs))])
	if b == nil {
		return err
	}
	v.Upload(b)
	return nil
}

// eventJSON is an event as a listing shows it.
type eventJSON struct {
	ID    int64     `json:"id"`
	Start time.Time `json:"start"`
	Thumb string    `json:"thumb"`
	Clip  string    `json:"clip"`
}

// events reads the event listing at path; nil, with the error if any,
// when it did not come.
func (v *Visit) events(ctx context.Context, path string) ([]eventJSON, error) {
	var list struct {
		Events []eventJSON `json:"events"`
	}
	if ok, err := v.getJSON(ctx, path, &list); !ok || err != nil {
		return nil, err
	}
	if list.Events == nil {
		list.Events = []eventJSON{}
	}
	return list.Events, nil
}

// thumb reads the thumbnail at path; nil, with the error if any, when it
// did not come.
func (v *Visit) thumb(ctx context.Context, path string) ([]byte, error) {
	res, err := v.get(ctx, path, true)
	if res == nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxTimeline))
	if err != nil {
		return nil, ignoreEnd(err)
	}
	return b, nil
}

// playEventClip plays an event's clip.mp4, whose window (?from, ?to) the
// listing set: every frame must lie in it.
func playEventClip(ctx context.Context, v *Visit, clip string) error {
	_, query, _ := strings.Cut(clip, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return err
	}
	from, err1 := time.Parse(time.RFC3339Nano, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339Nano, q.Get("to"))
	if err1 != nil || err2 != nil || !strings.HasPrefix(clip, v.camPath("/")) {
		v.bad = true
		v.c.violation(Violation{Kind: KindWrongCamera, Output: v.output, User: v.User.Name, Requested: v.Camera.ID,
			Detail: "an event's clip URL that is not a window of this camera: " + strconv.Quote(redactToken(clip))})
		return nil
	}
	return v.playRecording(ctx, clip, 8<<20, from, to)
}
