package canary

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// eventFlow lists the camera's events (every event since the epoch's
// start: the server must keep earlier ones to itself) and fetches one's
// thumbnail, an upload the camera marked as an event: it must be that
// camera's, uploaded in the viewer's epoch. An event listed from before
// the viewer's claim or share is a violation. An attacker's listing must
// be refused.
func eventFlow(ctx context.Context, v *Visit) error {
	res, err := v.get(ctx, v.camPath("/events?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"), true)
	if res == nil {
		return err
	}
	var list struct {
		Events []struct {
			Start time.Time `json:"start"`
			Thumb string    `json:"thumb"`
		} `json:"events"`
	}
	err = json.NewDecoder(io.LimitReader(res.Body, maxTimeline)).Decode(&list)
	res.Body.Close()
	if err != nil {
		return err
	}
	var thumbs []string
	for _, e := range list.Events {
		if !v.c.inEpoch(v.output, v.User.Name, v.Camera.ID, e.Start, v.notBefore, "an event listed") {
			v.bad = true
			return nil
		}
		if e.Thumb != "" {
			thumbs = append(thumbs, e.Thumb)
		}
	}
	if len(thumbs) == 0 {
		return nil // no event yet: nothing more checked
	}
	res, err = v.get(ctx, thumbs[v.rng.IntN(len(thumbs))], true)
	if res == nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxTimeline))
	if err != nil {
		return ignoreEnd(err)
	}
	v.Upload(b)
	return nil
}
