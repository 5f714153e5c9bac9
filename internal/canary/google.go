package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/sync/errgroup"
)

// The Google Home and Alexa clients the canary configures in Vigil; its
// users link their accounts as Google's and Amazon's apps do, their
// "displays" ask for streams with EXECUTE and Alexa's directives.
const (
	googleClient   = "canary-google"
	googleRedirect = "https://oauth-redirect.googleusercontent.com/r/canary"
	alexaClient    = "canary-alexa"
	alexaVendor    = "M2CANARY"
	alexaRedirect  = "https://layla.amazon.com/api/skill/link/" + alexaVendor
)

// assistantClients is VIGIL_OAUTH_CLIENTS for a server whose clients'
// secret is secret.
func assistantClients(secret string) string {
	b, _ := json.Marshal([]map[string]any{{"id": googleClient, "name": "Google Home", "kind": "google",
		"secret": secret, "redirect_uris": []string{googleRedirect}},
		{"id": alexaClient, "name": "Alexa", "kind": "alexa", "secret": secret, "vendor_id": alexaVendor}})
	return string(b)
}

// linkAll links every user who may see a camera to Google and to Alexa,
// exposing every camera the user may see, and keeps each user's access
// tokens.
func linkAll(ctx context.Context, s *server, l *Layout) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range l.Users {
		var cams []string
		for _, c := range l.visible(l.Users[i].Name) {
			cams = append(cams, c.ID)
		}
		if len(cams) == 0 {
			continue
		}
		g.Go(func() error {
			base := "http://" + s.HTTP()
			tok, err := linkAccount(gctx, base, googleClient, googleRedirect, s.googleSecret, l.Users[i], cams)
			if err != nil {
				return err
			}
			l.Users[i].GoogleToken = tok
			l.Users[i].AlexaToken, err = linkAccount(gctx, base, alexaClient, alexaRedirect, s.googleSecret, l.Users[i], cams)
			for _, id := range cams {
				l.setLinked(l.Users[i].Name, id, err == nil)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("canary: account linking: %w", err)
	}
	return nil
}

var (
	formCSRF = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	formURL  = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// linkAccount goes through account linking as a person in Google's or
// Amazon's app does: the authorize page, sign-in, consent to cams, the
// redirect with the code, and the code exchange. It returns the access
// token.
func linkAccount(ctx context.Context, base, client, redirect, secret string, u User, cams []string) (string, error) {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "state": {"canary-" + randomHex(8)}, "response_type": {"code"}}
	page, loc, err := fetchPage(ctx, browser, http.MethodGet, base+"/oauth/authorize?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	if page == "" {
		return "", fmt.Errorf("link %s: the authorize page redirected to %v", u.Name, loc)
	}
	page, loc, err = submit(ctx, browser, base, page, url.Values{"step": {"login"}, "name": {u.Name}, "password": {u.Password}})
	if err != nil {
		return "", err
	}
	if page == "" {
		return "", fmt.Errorf("link %s: sign-in redirected to %v", u.Name, loc)
	}
	_, loc, err = submit(ctx, browser, base, page, url.Values{"step": {"consent"}, "decision": {"allow"}, "camera": cams})
	if err != nil {
		return "", err
	}
	if loc == nil {
		return "", fmt.Errorf("link %s: consent did not redirect", u.Name)
	}
	code := loc.Query().Get("code")
	if !strings.HasPrefix(loc.String(), redirect) || code == "" {
		return "", fmt.Errorf("link %s: no code in the redirect", u.Name)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {client}, "client_secret": {secret}}
	res, err := browser.PostForm(base+"/oauth/token", form)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("link %s: code exchange: %s", u.Name, res.Status)
	}
	return tok.AccessToken, nil
}

func fetchPage(ctx context.Context, c *http.Client, method, u string, form url.Values) (string, *url.URL, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return "", nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	loc, _ := res.Location()
	if res.StatusCode/100 != 2 && loc == nil {
		return "", nil, fmt.Errorf("%s %s: %s", method, u, res.Status)
	}
	return string(b), loc, nil
}

// submit posts a page's form with its CSRF field added to form.
func submit(ctx context.Context, c *http.Client, base, page string, form url.Values) (string, *url.URL, error) {
	action, csrf := formURL.FindStringSubmatch(page), formCSRF.FindStringSubmatch(page)
	if action == nil || csrf == nil {
		return "", nil, fmt.Errorf("linking page without its form: %.200s", page)
	}
	form.Set("csrf", html.UnescapeString(csrf[1]))
	return fetchPage(ctx, c, http.MethodPost, base+html.UnescapeString(action[1]), form)
}

// googleFlow is a smart display: EXECUTE GetCameraStream for the visit's
// camera with the user's link, then the returned URL played (HLS or
// progressive MP4, as the display asked). An attacker's EXECUTE must be
// deviceNotFound, with no stream.
func googleFlow(ctx context.Context, v *Visit) error {
	if v.User.GoogleToken == "" || !v.onLinked() {
		return nil
	}
	proto := [...]string{"hls", "progressive_mp4", "webrtc"}[v.rng.IntN(3)]
	cmd, err := v.execute(ctx, proto)
	if err != nil {
		return err
	}
	if v.Attack {
		if cmd.Status == "ERROR" && cmd.ErrorCode == "deviceNotFound" && cmd.States == nil {
			v.Refused()
		} else {
			v.Served(fmt.Sprintf("EXECUTE answered %s %s %v", cmd.Status, cmd.ErrorCode, cmd.States))
		}
		return nil
	}
	if cmd.Status != "SUCCESS" {
		return fmt.Errorf("EXECUTE: %s", cmd.ErrorCode) // offline during a storm or restart
	}
	if proto == "webrtc" {
		return googleRTC(ctx, v, cmd)
	}
	u, err := url.Parse(fmt.Sprint(cmd.States["cameraStreamAccessUrl"]))
	if err != nil {
		return err
	}
	if proto == "hls" {
		return playHLS(ctx, v, u.RequestURI(), "ll")
	}
	res, err := v.get(ctx, u.RequestURI(), false)
	if res == nil {
		return err
	}
	defer res.Body.Close()
	return readFMP4(v, res.Body)
}

type executeResult struct {
	Status    string         `json:"status"`
	ErrorCode string         `json:"errorCode"`
	States    map[string]any `json:"states"`
}

// execute posts Google's EXECUTE GetCameraStream for the visit's camera.
func (v *Visit) execute(ctx context.Context, proto string) (executeResult, error) {
	body, _ := json.Marshal(map[string]any{"requestId": randomHex(8), "inputs": []any{map[string]any{
		"intent": "action.devices.EXECUTE", "payload": map[string]any{"commands": []any{map[string]any{
			"devices": []any{map[string]string{"id": v.Camera.ID}},
			"execution": []any{map[string]any{"command": "action.devices.commands.GetCameraStream",
				"params": map[string]any{"StreamToChromecast": true, "SupportedStreamProtocols": []string{proto}}}},
		}}}}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.Base+"/google/fulfillment", bytes.NewReader(body))
	if err != nil {
		return executeResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+v.User.GoogleToken)
	v.forwarded(req)
	req.Header.Set("Content-Type", "application/json")
	res, err := v.HTTP.Do(req)
	if err != nil {
		return executeResult{}, err
	}
	defer res.Body.Close()
	var out struct {
		Payload struct {
			Commands []executeResult `json:"commands"`
		} `json:"payload"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&out); err != nil || len(out.Payload.Commands) != 1 {
		return executeResult{}, fmt.Errorf("EXECUTE: %s", res.Status)
	}
	return out.Payload.Commands[0], nil
}
