package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
)

func TestStreamTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tk := &Tokens{master: []byte("0123456789abcdef0123456789abcdef"), now: func() time.Time { return now }}
	want := Token{User: "vera", Device: "cam-abc", Stream: "main", Audience: "google", Expires: now.Add(10 * time.Minute)}
	s := tk.Mint(want)
	want.Issued = now // Mint stamps the token with when it was minted
	got, err := tk.Verify(s)
	if err != nil || got != want {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	other := &Tokens{master: []byte("another master key of 32 bytes!!"), now: tk.now}
	body, mac, _ := strings.Cut(s, ".")
	forged := tk.Mint(Token{User: "mallory", Device: "cam-abc", Stream: "main", Audience: "google", Expires: want.Expires})
	fBody, _, _ := strings.Cut(forged, ".")
	for name, bad := range map[string]string{
		"other key":     other.Mint(want),
		"swapped body":  fBody + "." + mac,
		"no mac":        body,
		"empty":         "",
		"not base64":    "!!!.???",
		"truncated mac": s[:len(s)-3],
	} {
		if _, err := tk.Verify(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: %v, want ErrBadToken", name, err)
		}
	}
	now = now.Add(11 * time.Minute)
	if _, err := tk.Verify(s); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("after expiry: %v", err)
	}
	// A key older than two periods is retired even if the token says otherwise.
	long := tk.Mint(Token{User: "vera", Device: "cam-abc", Stream: "main", Audience: "web", Expires: now.Add(24 * time.Hour)})
	now = now.Add(3 * tokenKeyPeriod)
	if _, err := tk.Verify(long); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("retired key: %v", err)
	}
}

// TestAdaptiveToken: a token minted for no one stream opens the camera's
// adaptive set (main and sub) and comes back from Verify as such; a token
// for one stream opens that stream alone.
func TestAdaptiveToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tk := &Tokens{master: []byte("0123456789abcdef0123456789abcdef"), now: func() time.Time { return now }}
	all := Token{User: "vera", Device: "cam-abc", Audience: "google", Expires: now.Add(time.Minute)}
	got, err := tk.Verify(tk.Mint(all))
	want := all
	want.Issued = now // token format v3 carries when it was minted
	if err != nil || got != want {
		t.Fatalf("adaptive round trip: %v %+v, want %+v", err, got, want)
	}
	for _, s := range []access.StreamID{access.StreamMain, access.StreamSub, ""} {
		if !got.Opens(s) {
			t.Errorf("an adaptive token does not open %q", s)
		}
	}
	sub := all
	sub.Stream = access.StreamSub
	if got, err = tk.Verify(tk.Mint(sub)); err != nil || got.Stream != access.StreamSub {
		t.Fatalf("sub round trip: %v %+v", err, got)
	}
	if got.Opens(access.StreamMain) || !got.Opens(access.StreamSub) {
		t.Errorf("a sub token: opens main %v, sub %v; want false, true", got.Opens(access.StreamMain), got.Opens(access.StreamSub))
	}
}
