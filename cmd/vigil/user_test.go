package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"vigil/internal/auth"
	"vigil/internal/store/sqlite"
)

// TestUserCommands: add, list, disable and enable, and a password reset
// that ends the password the user chose and the user's sessions.
func TestUserCommands(t *testing.T) {
	cfg := testConfig(t)
	user := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runUser(t.Context(), cmdFor(cfg, &out), args); err != nil {
			t.Fatalf("user %q: %v", args, err)
		}
		return out.String()
	}
	var added struct{ ID, Password string }
	if err := json.Unmarshal([]byte(user("add", "--name", "olga", "--json")), &added); err != nil || added.Password == "" {
		t.Fatalf("add: %v %+v", err, added)
	}
	user("add", "--name", "root", "--admin")
	if out := user("list"); !strings.Contains(out, "olga") || !regexpMatch(`root\s+u-root\s+true\s+false`, out) {
		t.Fatalf("list:\n%s", out)
	}
	user("disable", "olga")
	if out := user("list"); !regexpMatch(`olga\s+u-olga\s+false\s+true`, out) {
		t.Fatalf("list after disable:\n%s", out)
	}
	user("enable", "olga")
	if out := user("quota", "olga"); out != "user olga: the server's record_quota\n" {
		t.Fatalf("a new household's quota: %q", out)
	}
	if out := user("quota", "olga", "200GiB"); out != "user olga: 214748364800 bytes\n" {
		t.Fatalf("quota set: %q", out)
	}
	if err := runUser(t.Context(), cmdFor(cfg, &bytes.Buffer{}), []string{"quota", "olga", "-5"}); err == nil {
		t.Error("a negative quota was taken")
	}

	st, err := sqlite.Open(t.Context(), cfg.DataDir+"/vigil.db")
	if err != nil {
		t.Fatal(err)
	}
	phc, _ := auth.HashPassword("olga's own long passphrase")
	if err := st.SetPassword(t.Context(), "u-olga", phc, ""); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var reset struct{ Password string }
	json.Unmarshal([]byte(user("add", "--name", "olga", "--json")), &reset)
	st, _ = sqlite.Open(t.Context(), cfg.DataDir+"/vigil.db")
	defer st.Close()
	u, _ := st.UserByName(t.Context(), "olga")
	if got, _ := st.PasswordHash(t.Context(), u.ID); got != "" || u.Disabled || !u.Credential.CheckPassword(reset.Password) {
		t.Fatalf("after a reset: chosen password %q kept, disabled %v, new password works %v", got, u.Disabled,
			u.Credential.CheckPassword(reset.Password))
	}
	var out bytes.Buffer
	if err := runUser(t.Context(), cmdFor(cfg, &out), []string{"disable", "nobody"}); err == nil {
		t.Error("disabling an unknown user succeeded")
	}
	if err := runUser(t.Context(), cmdFor(cfg, &out), []string{"add", "--name", "olga", "--admin"}); err == nil {
		t.Error("an existing user was made an admin by add")
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
