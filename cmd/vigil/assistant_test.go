package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	var out struct {
		Payload struct {
			Commands []struct {
				Status    string         `json:"status"`
				ErrorCode string         `json:"errorCode"`
				States    map[string]any `json:"states"`
			} `json:"commands"`
		} `json:"payload"`
	}
	if err := postJSON(ctx, p.Base()+"/google/fulfillment", map[string]string{"Authorization": "Bearer " + token}, body, &out); err != nil || len(out.Payload.Commands) != 1 {
		t.Fatalf("EXECUTE %s on %s: %d commands, %v", proto, p.Base(), len(out.Payload.Commands), err)
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
	var ans map[string]string
	if err := postJSON(ctx, url, map[string]string{"Authentication": "Bearer " + token, "Origin": "https://www.gstatic.com"}, b, &ans); err != nil || ans["action"] != "answer" || ans["sdp"] == "" {
		return "", fmt.Errorf("Google's signaling %s: %v %v", redactURL(url), ans, err)
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
	var ev alexaEvent
	if err := postJSON(ctx, p.Base()+"/alexa/directive", nil, b, &ev); err != nil {
		return alexaEvent{}, fmt.Errorf("InitiateSessionWithOffer on %s: %w", p.Base(), err)
	}
	return ev, nil
}

// postJSON posts body to url with header added, as an assistant's cloud
// does, and decodes the 200 answer into out.
func postJSON(ctx context.Context, url string, header map[string]string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return errors.New(res.Status)
	}
	return json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(out)
}
