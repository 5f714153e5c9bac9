package auth

import (
	"regexp"
	"testing"
)

func TestHashCredential(t *testing.T) {
	// Expected values computed independently, e.g.
	// printf %s cam-1:vigil:secret | md5sum
	tests := []struct {
		user, pass                    string
		ha1md5, ha1sha256, passSHA256 string
	}{
		{
			"cam-1", "secret",
			"046aaf6d950bd8c2133d71da862cbcdb",
			"6224a119e3abf40f959a0d1b288bb1588b515ef0d2f91b464f61717ee81d2e85",
			"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			c := HashCredential(tt.user, tt.pass)
			want := Credential{User: tt.user, HA1MD5: tt.ha1md5, HA1SHA256: tt.ha1sha256, PassSHA256: tt.passSHA256}
			if c != want {
				t.Errorf("HashCredential =\n%+v\nwant\n%+v", c, want)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	c := HashCredential("admin", "right")
	tests := []struct {
		name string
		cred Credential
		pass string
		want bool
	}{
		{"right", c, "right", true},
		{"wrong", c, "wrong", false},
		{"empty", c, "", false},
		{"zero credential", Credential{}, "", false},
		{"corrupt hash", Credential{PassSHA256: "zz"}, "right", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cred.CheckPassword(tt.pass); got != tt.want {
				t.Errorf("CheckPassword(%q) = %v, want %v", tt.pass, got, tt.want)
			}
		})
	}
}

func TestNewPassword(t *testing.T) {
	shape := regexp.MustCompile(`^[a-z2-7]{32}$`) // 160 bits
	seen := map[string]bool{}
	for range 100 {
		p, err := NewPassword()
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(p) {
			t.Fatalf("NewPassword() = %q, want 32 lowercase base32 characters", p)
		}
		if seen[p] {
			t.Fatalf("NewPassword() repeated %q", p)
		}
		seen[p] = true
	}
}

// TestEmptyCredentialMatchesNothing: the one check behind Digest, Basic
// and API tokens refuses a credential with an empty (or malformed) user or
// hash — what a password change leaves of a generated password — and a
// credential of another user.
func TestEmptyCredentialMatchesNothing(t *testing.T) {
	c := HashCredential("olga", "right")
	tests := []struct {
		name string
		cred Credential
		user string
		ok   bool
	}{
		{"whole", c, "olga", true},
		{"another user's", c, "vera", false},
		{"no user claimed", c, "", false},
		{"zero credential", Credential{}, "", false},
		{"cleared, user kept", Credential{User: "olga"}, "olga", false},
		{"no user", Credential{HA1MD5: c.HA1MD5, HA1SHA256: c.HA1SHA256, PassSHA256: c.PassSHA256}, "", false},
		{"no MD5 HA1", Credential{User: "olga", HA1SHA256: c.HA1SHA256, PassSHA256: c.PassSHA256}, "olga", false},
		{"no SHA-256 HA1", Credential{User: "olga", HA1MD5: c.HA1MD5, PassSHA256: c.PassSHA256}, "olga", false},
		{"no password hash", Credential{User: "olga", HA1MD5: c.HA1MD5, HA1SHA256: c.HA1SHA256}, "olga", false},
		{"short hash", Credential{User: "olga", HA1MD5: "00", HA1SHA256: c.HA1SHA256, PassSHA256: c.PassSHA256}, "olga", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, alg := range []DigestAlgorithm{DigestMD5, DigestSHA256} {
				ha1, ok := tt.cred.DigestHA1(tt.user, alg)
				if ok != tt.ok || (ok && ha1 == "") || (!ok && ha1 != "") {
					t.Errorf("DigestHA1(%q, %d) = %q, %v; want ok %v", tt.user, alg, ha1, ok, tt.ok)
				}
			}
			if tt.user == tt.cred.User && tt.cred.Usable() != tt.ok {
				t.Errorf("Usable() = %v, want %v", !tt.ok, tt.ok)
			}
		})
	}
	// An empty password against a cleared credential: the hash of "" is
	// what a careless compare would take an empty stored hash for.
	cleared := Credential{User: "olga"}
	_, _, matched := Principal{Credential: cleared}.Match("")
	if cleared.CheckPassword("") || matched {
		t.Error("a cleared credential matched the empty password")
	}
}
