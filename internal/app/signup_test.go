package app

import (
	"encoding/json"
	"testing"

	"vigil/internal/config"
)

func TestSignUpWithInvitationOrWhenOpen(t *testing.T) {
	a := startApp(t, "", nil)
	signup := func(body map[string]string) int {
		t.Helper()
		s, _ := a.call(t, "POST", "/api/signup", "", "", body)
		return s
	}
	if s := signup(map[string]string{"name": "nina", "password": "long enough password"}); s != 403 {
		t.Fatalf("sign-up without an invitation on a closed server: %d", s)
	}
	user := a.addUser(t, "plain")
	if s, _ := a.call(t, "POST", "/api/invitations", "plain", user, nil); s != 403 {
		t.Fatalf("a non-admin invited: %d", s)
	}
	s, b := a.call(t, "POST", "/api/invitations", AdminName, adminPassword, nil)
	var inv struct{ Invitation string }
	if s != 201 || json.Unmarshal(b, &inv) != nil || inv.Invitation == "" {
		t.Fatalf("invite: %d %s", s, b)
	}
	if s := signup(map[string]string{"name": "nina", "password": "short", "invitation": inv.Invitation}); s != 400 {
		t.Fatalf("short password: %d", s)
	}
	if s := signup(map[string]string{"name": "nina", "password": "long enough password", "invitation": inv.Invitation}); s != 201 {
		t.Fatalf("sign-up with the invitation: %d", s)
	}
	if s := signup(map[string]string{"name": "nino", "password": "long enough password", "invitation": inv.Invitation}); s != 403 {
		t.Fatalf("an invitation used twice: %d", s)
	}
	// The new account signs in with its chosen password.
	if s, _ := a.call(t, "GET", "/api/cameras", "nina", "long enough password", nil); s != 200 {
		t.Fatalf("nina's first request: %d", s)
	}

	open := startApp(t, "", func(c *config.Config) { c.Signup = true })
	if s, _ := open.call(t, "POST", "/api/signup", "", "", map[string]string{"name": "omar", "password": "long enough password"}); s != 201 {
		t.Fatalf("open sign-up: %d", s)
	}
	if s, _ := open.call(t, "POST", "/api/signup", "", "", map[string]string{"name": "omar", "password": "another long password"}); s != 409 {
		t.Fatalf("a taken name: %d", s)
	}
}
