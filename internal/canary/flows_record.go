package canary

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxTimeline bounds a timeline read by a viewer.
const maxTimeline = 4 << 20

// recordingFlow lists the camera's recorded spans (every span since the
// epoch's start: the server must keep earlier footage to itself) and reads
// one span's MP4 from its start through a Range, checking every sample's
// stamp and capture time: a frame recorded before the viewer's claim or
// share is a violation. An attacker's listing must be refused.
func recordingFlow(ctx context.Context, v *Visit) error {
	res, err := v.get(ctx, v.camPath("/recordings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"), true)
	if res == nil {
		return err
	}
	var tl struct {
		Spans []struct {
			Size int64  `json:"size"`
			URL  string `json:"url"`
		} `json:"spans"`
	}
	err = json.NewDecoder(io.LimitReader(res.Body, maxTimeline)).Decode(&tl)
	res.Body.Close()
	if err != nil || len(tl.Spans) == 0 {
		return err // nothing recorded yet: nothing checked
	}
	sp := tl.Spans[v.rng.IntN(len(tl.Spans))]
	if sp.Size <= 0 {
		return fmt.Errorf("recording span of %d bytes", sp.Size)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Base+sp.URL, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(v.User.Name, v.Secret)
	req.Header.Set("Range", fmt.Sprintf("bytes=0-%d", v.rng.Int64N(sp.Size)))
	v.forwarded(req)
	res, err = v.HTTP.Do(req)
	if err != nil {
		return ignoreEnd(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusPartialContent && res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
		return fmt.Errorf("GET %s: %s", sp.URL, res.Status)
	}
	return readFMP4(v, res.Body)
}
