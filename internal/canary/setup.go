package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
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
		if err := s.CLI(ctx, &d, "device", "add", "--name", fmt.Sprintf("canary-cam-%03d", c.Index+1), "--json"); err != nil {
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
			if err := s.CLI(gctx, &u, "user", "add", "--name", l.Users[i].Name, "--json"); err != nil {
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
// the JSON API as a person would, and gives every user an API token (a
// player's password). Each grant starts the viewer's epoch for the camera.
func household(ctx context.Context, s *server, l *Layout) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, c := range l.Cameras {
		g.Go(func() error {
			owner := l.user(c.Owner)
			if err := grant(gctx, s, l, owner, c, -1, c.Claim); err != nil {
				return err
			}
			for _, v := range c.Shares {
				if err := grant(gctx, s, l, owner, c, v, ""); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for i := range l.Users {
		g.Go(func() error {
			id, secret, err := newAPIToken(gctx, "http://"+s.HTTP(), l.Users[i])
			l.setToken(i, id, secret)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("canary: household: %w", err)
	}
	return nil
}

// grant has owner claim camera c with claim (sharee -1) or share it with
// user sharee, recording the viewer's epoch when the request is sent. An
// answer with a status settles the pair; no answer (a timeout) leaves it
// in flight, never to be judged, since Vigil may have granted it.
func grant(ctx context.Context, s *server, l *Layout, owner User, c *Camera, sharee int, claim string) error {
	name, method, path, body := owner.Name, http.MethodPost, "/api/cameras/claim", fmt.Sprintf(`{"code":%q}`, claim)
	if sharee >= 0 {
		name, method, path, body = l.Users[sharee].Name, http.MethodPut, "/api/cameras/"+c.ID+"/shares/"+l.Users[sharee].Name, ""
	}
	l.beginGrant(name, c.ID, sharee >= 0)
	err := apiCall(ctx, s, owner, method, path, body, nil)
	if err == nil || statusOf(err) != 0 {
		l.endGrant(name, c.ID, err == nil)
	}
	if err != nil {
		return fmt.Errorf("grant %s to %s: %w", c.ID, name, err)
	}
	return nil
}

// newAPIToken makes an API token for u (scope view) and returns its id and secret.
func newAPIToken(ctx context.Context, base string, u User) (id, secret string, err error) {
	var out struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := apiCallTo(ctx, base, u.Name, u.Password, householdAddr(u.Index), http.MethodPost, "/api/tokens", `{"name":"canary player"}`, &out); err != nil {
		return "", "", fmt.Errorf("API token for %s: %w", u.Name, err)
	}
	return out.ID, out.Token, nil
}

// apiCall makes one JSON API call as u, straight to Vigil (setup and the
// world's moves do not go through the proxies), and decodes the answer
// into out if it is not nil.
func apiCall(ctx context.Context, s *server, u User, method, path, body string, out any) error {
	return apiCallTo(ctx, "http://"+s.HTTP(), u.Name, u.Password, householdAddr(u.Index), method, path, body, out)
}

// errStatus is an API call answered with a status other than 2xx.
type errStatus struct {
	code         int
	msg          string
	status, body string        // the status line's text and the start of the body
	retryAfter   time.Duration // Retry-After, if the answer had one
}

func (e *errStatus) Error() string { return e.msg }

// statusOf returns the HTTP status of an API call's error, 0 if it got none.
func statusOf(err error) int {
	var e *errStatus
	if errors.As(err, &e) {
		return e.code
	}
	return 0
}

// newErrStatus is the error of res, answered to what with body b.
func newErrStatus(res *http.Response, what string, b []byte) *errStatus {
	body := string(bytes.TrimSpace(b))
	e := &errStatus{code: res.StatusCode, msg: fmt.Sprintf("%s: %s: %s", what, res.Status, body), status: res.Status, body: body}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
		e.retryAfter = time.Duration(s) * time.Second
	}
	return e
}

// busyTries is how many times an API call answered 503 with Retry-After
// (every argon2id slot busy: nothing was done) is made, as a client that
// heeds Retry-After does; a 200-camera run left a hundred moves of the
// world unmade on such answers.
const busyTries = 4

func apiCallTo(ctx context.Context, base, user, password, addr, method, path, body string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for try := 1; ; try++ {
		err := apiCallOnce(ctx, base, user, password, addr, method, path, body, out)
		var se *errStatus
		if try == busyTries || !errors.As(err, &se) || se.code != http.StatusServiceUnavailable || se.retryAfter <= 0 {
			return err
		}
		sleep(ctx, min(se.retryAfter, 2*time.Second))
	}
}

func apiCallOnce(ctx context.Context, base, user, password, addr, method, path, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, password)
	req.Header.Set(forwardedFor, addr)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if res.StatusCode/100 != 2 {
		return newErrStatus(res, method+" "+path, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
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
	req.Header.Set(forwardedFor, householdAddr(u.Index))
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
