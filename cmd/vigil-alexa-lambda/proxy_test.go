package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

const secret = "proxy-secret-0123456789"

func directive(t testing.TB, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../../internal/smarthome/alexa/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("{{token}}", "Atza|the-link-token", "{{camera}}", "cam-porch", "{{session}}", "s-1",
		"{{sdp}}", `"v=0"`, "{{code}}", "lwa-code")
	return json.RawMessage(r.Replace(string(b)))
}

// TestForwardsUnchanged: the directive reaches Vigil byte for byte with
// the token from inside it as the bearer and the secret header, and
// Vigil's event comes back unchanged; no token reaches the log.
func TestForwardsUnchanged(t *testing.T) {
	var got []byte
	var bearer, sec, region string
	vigil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		bearer, sec, region = r.Header.Get("Authorization"), r.Header.Get(SecretHeader), r.Header.Get(RegionHeader)
		w.Write([]byte(`{"event":{"header":{"name":"StateReport"}}}`))
	}))
	defer vigil.Close()
	var logs bytes.Buffer
	p, err := newProxy(vigil.URL+"/alexa/directive", secret, "eu-west-1", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report_state.json", "discover.json", "accept_grant.json"} {
		in := directive(t, name)
		out, err := p.handle(context.Background(), in)
		if err != nil || string(out) != `{"event":{"header":{"name":"StateReport"}}}` {
			t.Fatalf("%s: %s %v", name, out, err)
		}
		if !bytes.Equal(got, in) || bearer != "Bearer Atza|the-link-token" || sec != secret || region != "EU" {
			t.Fatalf("%s: forwarded %q with %q, %q, %q", name, got, bearer, sec, region)
		}
	}
	if strings.Contains(logs.String(), "Atza") || strings.Contains(logs.String(), secret) {
		t.Fatalf("the log holds a token: %s", logs.String())
	}
}

// TestMapsFailures: a refusal is INVALID_AUTHORIZATION_CREDENTIAL, a
// failure or a Vigil slower than the timeout BRIDGE_UNREACHABLE, and
// AcceptGrant's failures ACCEPT_GRANT_FAILED; the correlation token and
// endpoint are echoed.
func TestMapsFailures(t *testing.T) {
	cases := []struct {
		status  int
		slow    bool
		fixture string
		want    string
	}{
		{401, false, "report_state.json", "Alexa INVALID_AUTHORIZATION_CREDENTIAL"},
		{403, false, "report_state.json", "Alexa INVALID_AUTHORIZATION_CREDENTIAL"},
		{502, false, "report_state.json", "Alexa BRIDGE_UNREACHABLE"},
		{200, true, "report_state.json", "Alexa BRIDGE_UNREACHABLE"},
		{500, false, "accept_grant.json", "Alexa.Authorization ACCEPT_GRANT_FAILED"},
	}
	for _, c := range cases {
		vigil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.slow {
				time.Sleep(timeout + 500*time.Millisecond)
			}
			w.WriteHeader(c.status)
			w.Write([]byte(`{}`))
		}))
		p, _ := newProxy(vigil.URL, secret, "us-east-1", slog.New(slog.DiscardHandler))
		out, err := p.handle(context.Background(), directive(t, c.fixture))
		vigil.Close()
		var ev struct {
			Event struct {
				Header   map[string]string
				Endpoint map[string]string
				Payload  map[string]string
			}
		}
		if err != nil || json.Unmarshal(out, &ev) != nil {
			t.Fatalf("%d: %s %v", c.status, out, err)
		}
		h := ev.Event.Header
		if got := h["namespace"] + " " + ev.Event.Payload["type"]; got != c.want || h["name"] != "ErrorResponse" || len(h["messageId"]) != 36 {
			t.Errorf("%d %s: %s, want %s", c.status, c.fixture, out, c.want)
		}
		if c.fixture == "report_state.json" && (h["correlationToken"] == "" || ev.Event.Endpoint["endpointId"] != "cam-porch") {
			t.Errorf("not echoed: %s", out)
		}
	}
}

func TestConfiguration(t *testing.T) {
	for _, c := range [][2]string{{"", secret}, {"ftp://x/", secret}, {"https://vigil.example/alexa/directive", "short"}} {
		if _, err := newProxy(c[0], c[1], "", slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%q accepted", c)
		}
	}
}

// FuzzHandle: whatever Lambda hands the proxy, it answers JSON (Vigil's
// answer or an error event) and never panics.
func FuzzHandle(f *testing.F) {
	for _, name := range []string{"report_state.json", "discover.json", "accept_grant.json", "initiate_session.json"} {
		f.Add([]byte(directive(f, name)))
	}
	vigil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusForbidden)
	}))
	defer vigil.Close()
	p, _ := newProxy(vigil.URL, secret, "", slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := p.handle(context.Background(), in)
		if err != nil || !json.Valid(out) {
			t.Fatalf("%q: %s %v", in, out, err)
		}
	})
}
