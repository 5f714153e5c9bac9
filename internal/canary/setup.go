package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// provision adds the layout's cameras and users with the CLI, before Vigil
// starts (a few in parallel: each is a process on the same SQLite file).
func provision(ctx context.Context, s *server, l *Layout) error {
	add := func(ctx context.Context, c *Camera) error {
		var d struct {
			ID       string `json:"id"`
			Password string `json:"password"`
			Claim    string `json:"claim_code"`
		}
		if err := s.cli(ctx, &d, "device", "add", "--name", fmt.Sprintf("canary-cam-%03d", c.Index+1), "--json"); err != nil {
			return err
		}
		c.ID, c.Password, c.Claim = d.ID, d.Password, d.Claim
		return nil
	}
	// The first one alone: it creates the database.
	if err := add(ctx, l.Cameras[0]); err != nil {
		return fmt.Errorf("canary: provision: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, c := range l.Cameras[1:] {
		g.Go(func() error { return add(gctx, c) })
	}
	for i := range l.Users {
		g.Go(func() error {
			var u struct{ Password string }
			if err := s.cli(gctx, &u, "user", "add", "--name", l.Users[i].Name, "--json"); err != nil {
				return err
			}
			l.Users[i].Password = u.Password
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("canary: provision: %w", err)
	}
	l.index()
	return nil
}

// household has every owner claim their cameras and share them, through
// the JSON API as a person would.
func household(ctx context.Context, s *server, l *Layout) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, c := range l.Cameras {
		g.Go(func() error {
			owner := l.Users[c.Owner]
			body := fmt.Sprintf(`{"code":%q}`, c.Claim)
			if err := apiCall(gctx, s, owner, http.MethodPost, "/api/cameras/claim", body); err != nil {
				return fmt.Errorf("claim %s: %w", c.ID, err)
			}
			for _, v := range c.Shares {
				path := "/api/cameras/" + c.ID + "/shares/" + l.Users[v].Name
				if err := apiCall(gctx, s, owner, http.MethodPut, path, ""); err != nil {
					return fmt.Errorf("share %s with %s: %w", c.ID, l.Users[v].Name, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("canary: household: %w", err)
	}
	return nil
}

// apiCall makes one JSON API call as u, straight to Vigil (setup does not
// go through the proxies).
func apiCall(ctx context.Context, s *server, u User, method, path, body string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.http+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(u.Name, u.Password)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(b))
	}
	return nil
}

// tokenURLs mints a stream token for camera as u and returns its URLs
// (paths with ?token=), keyed hls, mp4 and still.
func tokenURLs(ctx context.Context, httpc *http.Client, base string, u User, camera string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/cameras/"+camera+"/tokens",
		bytes.NewBufferString(`{"audience":"google","ttl_seconds":300}`))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(u.Name, u.Password)
	req.Header.Set("Content-Type", "application/json")
	res, err := httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token for %s: %s", camera, res.Status)
	}
	var out struct {
		URLs map[string]string `json:"urls"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&out); err != nil {
		return nil, fmt.Errorf("token for %s: %w", camera, err)
	}
	return out.URLs, nil
}
