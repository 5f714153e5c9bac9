package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// revokeTarget is the aim for a revocation to end live views on
// other nodes.
const revokeTarget = time.Second

// revocations shares camera d with a viewer through node via, has the
// viewer play it over RTSP on node on, unshares it through via, and times
// until on ends the session; n times. d must be unclaimed.
func revocations(ctx context.Context, via, on *vigil, d device, n int) ([]time.Duration, error) {
	var owner, viewer struct{ Password string }
	if err := via.CLI(ctx, &owner, "user", "add", "--name", "bench-owner", "--json"); err != nil {
		return nil, err
	}
	if err := via.CLI(ctx, &viewer, "user", "add", "--name", "bench-viewer", "--json"); err != nil {
		return nil, err
	}
	api := func(method, path string, in any) error {
		return apiCall(ctx, via, "bench-owner", owner.Password, method, path, in)
	}
	if err := api("POST", "/api/cameras/claim", map[string]string{"code": d.Claim}); err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "rtsp", Host: on.RTSP(), Path: "/" + d.ID, User: url.UserPassword("bench-viewer", viewer.Password)}
	share := "/api/cameras/" + d.ID + "/shares/bench-viewer"
	var times []time.Duration
	for range n {
		if err := api("PUT", share, nil); err != nil {
			return times, err
		}
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		r, err := dialReader(dctx, u.String(), nil)
		cancel()
		if err != nil {
			return times, err
		}
		for waited := time.Now(); r.frames.Load() == 0; time.Sleep(5 * time.Millisecond) {
			if r.ended.Load() || time.Since(waited) > 10*time.Second || ctx.Err() != nil {
				r.close()
				return times, fmt.Errorf("a shared view on %s got no frame (ended %v)", on.HTTP(), r.ended.Load())
			}
		}
		began := time.Now()
		if err := api("DELETE", share, nil); err != nil {
			r.close()
			return times, err
		}
		for !r.ended.Load() && time.Since(began) < 10*time.Second {
			time.Sleep(time.Millisecond)
		}
		ended := r.ended.Load()
		times = append(times, time.Since(began))
		r.close()
		if !ended {
			return times, fmt.Errorf("a view on %s outlived its revocation through %s by 10 s", on.HTTP(), via.HTTP())
		}
	}
	return times, nil
}

// apiCall calls Vigil's API on v as user with in, when not nil, as JSON;
// an answer other than 2xx is an error.
func apiCall(ctx context.Context, v *vigil, user, password, method, path string, in any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+v.HTTP()+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(user, password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 200))
		return fmt.Errorf("%s %s: %s %q", method, path, res.Status, b)
	}
	return nil
}
