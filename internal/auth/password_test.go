package auth

import (
	"strconv"
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

// TestThrottleCountsBeforeChecking: Try counts the attempt at once, so a
// burst of concurrent guesses is cut off after the free ones even before
// any of them has failed; Refund and Succeed take attempts back.
func TestThrottleCountsBeforeChecking(t *testing.T) {
	now := time.Unix(0, 0)
	th := NewThrottle(3)
	th.now = func() time.Time { return now }
	for i := range 4 {
		if w := th.Try("k"); w != 0 {
			t.Fatalf("attempt %d refused (%v) within the free ones", i+1, w)
		}
	}
	if w := th.Try("k"); w != time.Second {
		t.Fatalf("fifth attempt in flight: wait %v, want 1s", w)
	}
	th.Refund("k")
	if w := th.Try("k"); w != 0 {
		t.Fatalf("after a refund: wait %v", w)
	}
	th.Succeed("k")
	if w := th.Wait("k"); w != 0 {
		t.Fatalf("after success: wait %v", w)
	}
	th.Refund("never-seen") // harmless
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5000":              "192.0.2.1",
		"192.0.2.1":                   "192.0.2.1",
		"[::ffff:192.0.2.1]:80":       "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":        "2001:db8:1:2::/64",
		"[fe80::1%eth0]:1":            "fe80::/64",
		"not an address":              "not an address",
		"[2001:db8:1:3:3:4:5:6]:443 ": "[2001:db8:1:3:3:4:5:6]:443 ",
	} {
		if got := AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGenerated(t *testing.T) {
	pw, err := NewPassword()
	if err != nil || !Generated(pw) {
		t.Fatalf("%q (%v) not recognised as generated", pw, err)
	}
	for _, s := range []string{"", "correct horse battery staple", strings.ToUpper(pw), pw + "a", pw[1:], pw[:31] + "1"} {
		if Generated(s) {
			t.Errorf("%q taken for a generated secret", s)
		}
	}
}

// TestThrottleStaysBounded: quiet keys are dropped once there are many;
// past maxKeys, keys that are not waiting go too, and waiting ones stay.
func TestThrottleStaysBounded(t *testing.T) {
	now := time.Unix(0, 0)
	th := NewThrottle(1)
	th.now = func() time.Time { return now }
	th.Fail("locked", "locked") // two failures: waiting
	for i := range keepKeys {
		th.Fail("quiet-" + strconv.Itoa(i))
	}
	now = now.Add(forgetAfter + time.Second)
	th.Fail("locked", "locked", "fresh")
	if len(th.keys) != 2 || th.Wait("locked") == 0 {
		t.Fatalf("after a quiet hour: %d keys, locked waits %v; want only locked and fresh", len(th.keys), th.Wait("locked"))
	}
	// Sweeps wait for the map to double, so it never holds 2×maxKeys.
	for i := range 2 * maxKeys {
		th.Fail("spray-" + strconv.Itoa(i))
	}
	if len(th.keys) >= 2*maxKeys || th.Wait("locked") == 0 {
		t.Fatalf("past maxKeys: %d keys, locked waits %v; want the waiting key kept and the rest dropped",
			len(th.keys), th.Wait("locked"))
	}
}
