package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"vigil/internal/oauth/oauthtest"
	"vigil/internal/vigilproc"
)

// The Google Home and Alexa clients TestCluster's nodes know
// (VIGIL_OAUTH_CLIENTS), with one secret.
const (
	googleClient   = "google"
	googleRedirect = "https://oauth-redirect.googleusercontent.com/r/vigil-cluster"
	alexaClient    = "alexa"
	alexaVendor    = "M2CLUSTER"
	alexaRedirect  = "https://layla.amazon.com/api/skill/link/" + alexaVendor
	assistSecret   = "assistant secret of the cluster tests"
)

var assistantClients = func() string {
	b, _ := json.Marshal([]map[string]any{{"id": googleClient, "name": "Google Home", "kind": "google",
		"secret": assistSecret, "redirect_uris": []string{googleRedirect}},
		{"id": alexaClient, "name": "Alexa", "kind": "alexa", "secret": assistSecret, "vendor_id": alexaVendor}})
	return string(b)
}()

// assistantLink links user's account to the client (googleClient with
// googleRedirect, or alexaClient with alexaRedirect) through p's pages,
// exposing cams, and returns the access token.
func assistantLink(t *testing.T, p *vigilproc.Proc, client, redirect, user, password string, cams ...string) string {
	t.Helper()
	g := oauthtest.New(t, p.Base(), client, assistSecret, redirect)
	code, verifier := g.Link(user, password, cams...)
	tok := g.Exchange(code, verifier)
	if tok.Status != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("%s's code exchange on %s: %+v", user, p.Base(), tok)
	}
	return tok.AccessToken
}

// googleExecute posts Google's EXECUTE GetCameraStream of camera, for
// proto only, to p with a link's access token; it returns the command's
// states and its error code ("" on success).
func googleExecute(t *testing.T, p *vigilproc.Proc, token, camera, proto string) (map[string]any, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"requestId": "cluster", "inputs": []any{map[string]any{
		"intent": "action.devices.EXECUTE", "payload": map[string]any{"commands": []any{map[string]any{
			"devices": []any{map[string]string{"id": camera}},
			"execution": []any{map[string]any{"command": "action.devices.commands.GetCameraStream",
				"params": map[string]any{"StreamToChromecast": true, "SupportedStreamProtocols": []string{proto}}}},
		}}}}}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", p.Base()+"/google/fulfillment", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Payload struct {
			Commands []struct {
				Status    string         `json:"status"`
				ErrorCode string         `json:"errorCode"`
				States    map[string]any `json:"states"`
			} `json:"commands"`
		} `json:"payload"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK || len(out.Payload.Commands) != 1 {
		t.Fatalf("EXECUTE %s on %s: %s, %v", proto, p.Base(), res.Status, err)
	}
	c := out.Payload.Commands[0]
	if c.Status != "SUCCESS" && c.ErrorCode == "" {
		c.ErrorCode = "status " + c.Status
	}
	return c.States, c.ErrorCode
}

// googleOffer sends a display's offer to Google's signaling URL with the
// stream token, as Google does, and returns the answer's SDP.
func googleOffer(ctx context.Context, url, token, camera, offer string) (string, error) {
	b, _ := json.Marshal(map[string]string{"action": "offer", "deviceId": camera, "sdp": offer})
	req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(b))
	req.Header.Set("Authentication", "Bearer "+token)
	req.Header.Set("Origin", "https://www.gstatic.com")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var ans map[string]string
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&ans); err != nil || res.StatusCode != http.StatusOK ||
		ans["action"] != "answer" || ans["sdp"] == "" {
		return "", fmt.Errorf("Google's signaling %s: %s %v %v", redactURL(url), res.Status, ans, err)
	}
	return ans["sdp"], nil
}

// alexaEvent is what Vigil answers a directive: an event, or an
// ErrorResponse whose payload has a type.
type alexaEvent struct {
	Event struct {
		Header struct {
			Name string `json:"name"`
		} `json:"header"`
		Payload struct {
			Type   string `json:"type"`
			Answer *struct {
				Value string `json:"value"`
			} `json:"answer"`
		} `json:"payload"`
	} `json:"event"`
}

// alexaOffer sends the InitiateSessionWithOffer directive an Echo Show's
// skill forwards, with the link's token inside, to p for camera.
func alexaOffer(ctx context.Context, p *vigilproc.Proc, token, camera, offer string) (alexaEvent, error) {
	b, _ := json.Marshal(map[string]any{"directive": map[string]any{
		"header": map[string]string{"namespace": "Alexa.RTCSessionController", "name": "InitiateSessionWithOffer",
			"payloadVersion": "3", "messageId": "cluster-message", "correlationToken": "cluster-correlation"},
		"endpoint": map[string]any{"scope": map[string]string{"type": "BearerToken", "token": token},
			"endpointId": camera, "cookie": map[string]string{}},
		"payload": map[string]any{"sessionId": "cluster-session", "offer": map[string]string{"format": "SDP", "value": offer}}}})
	req, _ := http.NewRequestWithContext(ctx, "POST", p.Base()+"/alexa/directive", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return alexaEvent{}, err
	}
	defer res.Body.Close()
	var ev alexaEvent
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&ev); err != nil || res.StatusCode != http.StatusOK {
		return alexaEvent{}, fmt.Errorf("InitiateSessionWithOffer on %s: %s, %v", p.Base(), res.Status, err)
	}
	return ev, nil
}
