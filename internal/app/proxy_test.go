package app

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"vigil/internal/config"
	"vigil/internal/household"
)

// TestForwardedForOnlyFromTrustedProxies: behind a trusted proxy each
// client is throttled and recorded under its own address (the rightmost
// X-Forwarded-For hop that is not a proxy); from anyone else the header is
// ignored, so a guesser cannot escape the throttle or pose as the owner.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} })
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	const pw = "olga's chosen passphrase"
	choosePassword(t, a, "olga", pw)
	proxy, stranger := from(t, "127.0.0.1"), from(t, "127.0.0.2")
	forwarded := func(req *http.Request, xff string) *http.Request {
		req.Header.Set("X-Forwarded-For", xff)
		return req
	}

	// The access history names the client behind the proxy, and the
	// stranger by its own address whatever its header says.
	needFFmpeg(t)
	still := func(c *http.Client, xff string) {
		t.Helper()
		req, _ := http.NewRequest("GET", a.url("/api/cameras/"+cam.ID+"/still.jpg"), nil)
		req.SetBasicAuth("olga", pw)
		if code, _, body := do(t, c, forwarded(req, xff)); code != 200 {
			t.Fatalf("still: %d %.100q", code, body)
		}
	}
	still(proxy, "198.51.100.9")
	still(stranger, "198.51.100.10")
	var h []household.AccessView
	code, body := a.call(t, "GET", "/api/cameras/"+cam.ID+"/access", "olga", pw, nil)
	if code != 200 || json.Unmarshal(body, &h) != nil || len(h) != 2 {
		t.Fatalf("history: %d %s", code, body)
	}
	if !strings.HasPrefix(h[1].Remote, "198.51.100.9:") || !strings.HasPrefix(h[0].Remote, "127.0.0.2:") {
		t.Fatalf("history names %q and %q, want 198.51.100.9 (behind the proxy) and 127.0.0.2 (the stranger)",
			h[1].Remote, h[0].Remote)
	}

	// Through the proxy: the guesser at 203.0.113.7 is throttled, the
	// owner at 198.51.100.9 is not, and a client cannot pick its address
	// by writing the owner's into the header itself.
	guessUntilThrottled(t, proxy, func(i int) *http.Request {
		return forwarded(loginRequest(t, a, "olga", "wrong guess "+strconv.Itoa(i)), "203.0.113.7")
	})
	if code, _, body := do(t, proxy, forwarded(loginRequest(t, a, "olga", pw), "198.51.100.9")); code != 200 {
		t.Fatalf("the owner behind the proxy: %d %q", code, body)
	}
	if code, _, _ := do(t, proxy, forwarded(loginRequest(t, a, "olga", pw), "198.51.100.9, 203.0.113.7")); code != 429 {
		t.Fatalf("the guesser writing the owner's address into X-Forwarded-For: %d, want 429", code)
	}

	// Not through the proxy: a fresh X-Forwarded-For on every guess does
	// not make a fresh client.
	guessUntilThrottled(t, stranger, func(i int) *http.Request {
		return forwarded(basicRequest(t, a, "olga", "wrong guess "+strconv.Itoa(i)), "192.0.2."+strconv.Itoa(i+1))
	})
	if code, _, _ := do(t, stranger, forwarded(loginRequest(t, a, "olga", pw), "198.51.100.9")); code != 429 {
		t.Fatalf("a stranger posing as the owner's address: %d, want 429", code)
	}
}
