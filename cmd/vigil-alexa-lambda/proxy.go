package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// SecretHeader carries the deployment's secret to Vigil; RegionHeader
// the skill region the Lambda serves (its events go to that region's
// gateway).
const (
	SecretHeader = "X-Vigil-Proxy-Secret"
	RegionHeader = "X-Vigil-Alexa-Region"
)

// regionOf is the skill region of the AWS region a Lambda runs in: Amazon
// calls a skill's North American endpoint in us-east-1, its European one
// in eu-west-1 and its Far East one in us-west-2.
func regionOf(aws string) string {
	switch aws {
	case "eu-west-1":
		return "EU"
	case "us-west-2":
		return "FE"
	}
	return "NA"
}

// timeout bounds one forward: Alexa waits about 8 s for the Lambda, and
// an answer to a WebRTC offer is due within 6 s.
const timeout = 5 * time.Second

// maxEvent bounds Vigil's answer; an answer SDP is a few KiB.
const maxEvent = 256 << 10

type proxy struct {
	target *url.URL
	secret string
	region string // NA, EU or FE
	client *http.Client
	log    *slog.Logger
}

func newProxy(target, secret, awsRegion string, log *slog.Logger) (*proxy, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("VIGIL_DIRECTIVE_URL %q: want https://vigil.example.com/alexa/directive", target)
	}
	if len(secret) < 16 {
		return nil, errors.New("VIGIL_PROXY_SECRET: want the server's alexa_proxy_secret (16 characters or more)")
	}
	return &proxy{target: u, secret: secret, region: regionOf(awsRegion), client: &http.Client{Timeout: timeout}, log: log}, nil
}

// envelope is what the proxy reads of a directive: where its token is and
// what an error event must echo.
type envelope struct {
	Directive struct {
		Header struct {
			Namespace        string `json:"namespace"`
			Name             string `json:"name"`
			CorrelationToken string `json:"correlationToken,omitempty"`
		} `json:"header"`
		Endpoint *struct {
			Scope      struct{ Token string } `json:"scope"`
			EndpointID string                 `json:"endpointId"`
		} `json:"endpoint"`
		Payload struct {
			Scope   *struct{ Token string } `json:"scope"`
			Grantee *struct{ Token string } `json:"grantee"`
		} `json:"payload"`
	} `json:"directive"`
}

// token is the access token inside the directive (Alexa's places for it).
func (e *envelope) token() string {
	d := e.Directive
	switch {
	case d.Payload.Scope != nil:
		return d.Payload.Scope.Token
	case d.Payload.Grantee != nil:
		return d.Payload.Grantee.Token
	case d.Endpoint != nil:
		return d.Endpoint.Scope.Token
	}
	return ""
}

// handle forwards one directive and returns Vigil's event, or an Alexa
// error event when Vigil cannot be reached or refuses the proxy.
func (p *proxy) handle(ctx context.Context, directive json.RawMessage) (json.RawMessage, error) {
	var env envelope
	if err := json.Unmarshal(directive, &env); err != nil {
		return p.failure(env, "INVALID_DIRECTIVE", "not a directive"), nil
	}
	what := env.Directive.Header.Namespace + "/" + env.Directive.Header.Name
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.target.String(), bytes.NewReader(directive))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+env.token())
	req.Header.Set(SecretHeader, p.secret)
	req.Header.Set(RegionHeader, p.region)
	res, err := p.client.Do(req)
	if err != nil {
		p.log.Warn("vigil unreachable", "directive", what, "error", errors.Unwrap(err)) // the URL error names no token
		return p.failure(env, "BRIDGE_UNREACHABLE", "Vigil did not answer"), nil
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxEvent+1))
	switch {
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		p.log.Warn("vigil refused the proxy", "directive", what, "status", res.StatusCode)
		return p.failure(env, "INVALID_AUTHORIZATION_CREDENTIAL", "Vigil refused the request"), nil
	case err != nil || res.StatusCode != http.StatusOK || len(body) > maxEvent || !json.Valid(body):
		p.log.Warn("vigil failed", "directive", what, "status", res.StatusCode)
		return p.failure(env, "BRIDGE_UNREACHABLE", "Vigil failed"), nil
	}
	p.log.Info("forwarded", "directive", what, "status", res.StatusCode)
	return body, nil
}

// failure is an ErrorResponse for the directive (AcceptGrant's own for it).
func (p *proxy) failure(env envelope, typ, msg string) json.RawMessage {
	d := env.Directive
	namespace := "Alexa"
	if d.Header.Namespace == "Alexa.Authorization" {
		namespace, typ = "Alexa.Authorization", "ACCEPT_GRANT_FAILED"
	}
	h := map[string]string{"namespace": namespace, "name": "ErrorResponse", "payloadVersion": "3", "messageId": uuid()}
	if d.Header.CorrelationToken != "" {
		h["correlationToken"] = d.Header.CorrelationToken
	}
	ev := map[string]any{"header": h, "payload": map[string]string{"type": typ, "message": msg}}
	if d.Endpoint != nil {
		ev["endpoint"] = map[string]string{"endpointId": d.Endpoint.EndpointID}
	}
	b, _ := json.Marshal(map[string]any{"event": ev})
	return b
}

// uuid is a random (version 4) UUID, an event's messageId. It repeats
// smarthome/alexa's on purpose: the Lambda links none of the server.
func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
