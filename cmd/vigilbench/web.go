package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// webClient is an HTTP client for Vigil's media outputs that logs in as the
// admin. conns bounds its keep-alive connections; a fresh client has none
// open, so its first request includes the TCP connection.
type webClient struct {
	hc       *http.Client
	user, pw string
}

func (v *vigil) webClient(conns int) *webClient {
	tr := insecureTLS(&http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: time.Minute, DisableCompression: true})
	return &webClient{hc: &http.Client{Transport: tr, Timeout: 15 * time.Second}, user: "admin", pw: v.AdminPassword()}
}

func (c *webClient) close() { c.hc.CloseIdleConnections() }

// open starts a GET of rawURL and returns the response if its status is 200.
func (c *webClient) open(ctx context.Context, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.user, c.pw)
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 200))
		res.Body.Close()
		return nil, fmt.Errorf("GET %s: %s %q", req.URL.Path, res.Status, b)
	}
	return res, nil
}

// get fetches rawURL's whole body.
func (c *webClient) get(ctx context.Context, rawURL string) ([]byte, http.Header, error) {
	res, err := c.open(ctx, rawURL)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return b, res.Header, err
}

// resolve resolves ref against base, as a player follows playlist URIs.
func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}
