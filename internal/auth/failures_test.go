package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// newFailures counts into a counter vector with every kind at zero, as
// app's does.
func newFailures() (*Failures, *prometheus.CounterVec) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_auth_failures_total"}, []string{"kind"})
	for _, k := range FailureKinds() {
		vec.WithLabelValues(k)
	}
	return &Failures{Inc: func(k string) { vec.WithLabelValues(k).Inc() }}, vec
}

// TestFailureKinds: each refusal of a credential is counted under its
// kind, wrapped or not, and what is not a failed authentication (a camera
// the caller may not see, a busy hasher) is not counted at all.
func TestFailureKinds(t *testing.T) {
	f, vec := newFailures()
	cases := []struct {
		err  error
		kind string
	}{
		{fmt.Errorf("%w: no such user", ErrWrongPassword), FailWrongPassword},
		{&ThrottledError{Msg: "too many"}, FailThrottled},
		{ErrSessionEnded, FailSessionEnded},
		{ErrNotPassword, FailNotPassword},
		{ErrBadToken, FailBadToken},
		{ErrTokenExpired, FailTokenExpired},
		{fmt.Errorf("%w: the link ended", ErrTokenRevoked), FailTokenRevoked},
		{ErrTokenMisused, FailTokenMisused},
		{ErrForbidden, ""},
		{ErrHashBusy, ""},
		{context.Canceled, ""},
		{nil, ""},
	}
	for _, c := range cases {
		if got := FailureKind(c.err); got != c.kind {
			t.Errorf("FailureKind(%v) = %q, want %q", c.err, got, c.kind)
		}
		if err := f.count(c.err); !errors.Is(err, c.err) {
			t.Errorf("count(%v) returned %v", c.err, err)
		}
	}
	for _, c := range cases {
		if c.kind == "" {
			continue
		}
		if n := testutil.ToFloat64(vec.WithLabelValues(c.kind)); n != 1 {
			t.Errorf("vigil_auth_failures_total{kind=%q} = %v, want 1", c.kind, n)
		}
	}
	if n := testutil.CollectAndCount(vec); n != 8 {
		t.Errorf("%d series, want the 8 kinds", n)
	}
	var none *Failures
	none.count(ErrBadToken) // a nil Failures counts nothing and does not panic
}

// TestSignInCountsFailures: a wrong password over HTTP Basic, a session
// cookie with no session store and a forged stream token are each counted once,
// under their kind; a good password is not counted.
func TestSignInCountsFailures(t *testing.T) {
	f, vec := newFailures()
	dir := fakeDir{users: map[string]Principal{"owner": {ID: "u-owner"}}}
	si := &SignIn{Users: dir, Accounts: NewThrottle(AccountFailures), Addresses: NewThrottle(AddressFailures),
		Hasher: NewHasher(0, -1), Failures: f}
	if _, err := si.Password(t.Context(), "owner", "wrong", "192.0.2.1:1"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, _, err := si.SessionCaller(t.Context(), "no-such-cookie"); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("dead cookie: %v", err)
	}
	s := NewService(dir, nil, NewTokens([]byte("0123456789abcdef0123456789abcdef")), time.Hour)
	s.Failures = f
	if _, err := s.TokenCaller(t.Context(), "forged.token"); !errors.Is(err, ErrBadToken) {
		t.Fatalf("forged token: %v", err)
	}
	for kind, want := range map[string]float64{FailWrongPassword: 1, FailSessionEnded: 1, FailBadToken: 1, FailThrottled: 0} {
		if n := testutil.ToFloat64(vec.WithLabelValues(kind)); n != want {
			t.Errorf("%s: %v, want %v", kind, n, want)
		}
	}
}
