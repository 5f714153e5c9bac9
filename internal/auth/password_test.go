package auth

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("%v %q", err, h)
	}
	if strings.Contains(h, "horse") {
		t.Fatal("the hash contains the password")
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !CheckPasswordHash(h, "correct horse battery") || CheckPasswordHash(h, "correct horse batterY") {
		t.Fatal("check is wrong")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", h[:len(h)-5], "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA"} {
		if CheckPasswordHash(bad, "x") {
			t.Fatalf("accepted %q", bad)
		}
	}
	if _, err := HashPassword("short"); err != ErrWeakPassword {
		t.Fatalf("short password: %v", err)
	}
}

func TestThrottle(t *testing.T) {
	now := time.Unix(0, 0)
	th := NewThrottle(AccountFailures)
	th.now = func() time.Time { return now }
	for range AccountFailures {
		th.Fail("user:a", "ip:1")
	}
	if th.Wait("user:a") != 0 {
		t.Fatal("locked before the free failures ran out")
	}
	th.Fail("user:a", "ip:1")
	if w := th.Wait("user:a"); w != time.Second {
		t.Fatalf("wait %v after 6 failures", w)
	}
	th.Fail("user:a")
	if w := th.Wait("ip:2", "user:a"); w != 2*time.Second {
		t.Fatalf("wait %v after 7 failures", w)
	}
	for range 30 {
		th.Fail("user:a")
	}
	if w := th.Wait("user:a"); w != maxLockout {
		t.Fatalf("wait %v, want the cap", w)
	}
	th.Succeed("user:a")
	if th.Wait("user:a") != 0 || th.Wait("ip:1") == 0 {
		t.Fatal("success cleared the wrong keys")
	}
}
