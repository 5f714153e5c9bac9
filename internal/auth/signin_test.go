package auth

import (
	"context"
	"errors"
	"sync"
	"testing"

	"vigil/internal/access"
)

// slowUsers answers Principal only once release is closed, so that the
// attempts of a burst overlap.
type slowUsers struct {
	release chan struct{}
	p       Principal
}

func (u slowUsers) Principal(ctx context.Context, name string) (Principal, error) {
	select {
	case <-u.release:
	case <-ctx.Done():
		return Principal{}, ctx.Err()
	}
	if name != u.p.Name {
		return Principal{}, errors.New("no such user")
	}
	return u.p, nil
}

// hashOnly keeps one chosen password; SignIn.Password needs nothing else.
type hashOnly struct {
	SessionStore
	phc string
}

func (h hashOnly) PasswordHash(context.Context, access.UserID) (string, error) { return h.phc, nil }

// TestConcurrentRightPasswordsAreOneAttempt: sixteen requests with the
// right password at once (a player's parallel fetches) all get in, where
// counting each before its check locked the account out from the sixth
// on; sixteen wrong ones at once still count as a guess and lock it.
func TestConcurrentRightPasswordsAreOneAttempt(t *testing.T) {
	phc, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	users := slowUsers{release: make(chan struct{}), p: Principal{ID: "u-ann", Name: "ann"}}
	si := &SignIn{Users: users, Sessions: hashOnly{phc: phc}, Accounts: NewThrottle(AccountFailures),
		Addresses: NewThrottle(AddressFailures), Hasher: NewHasher(2, 32)}
	burst := func(pass string) (ok, throttled int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				c, err := si.Password(context.Background(), "ann", pass, "192.0.2.7:5000")
				var te *ThrottledError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && c.ID == "u-ann":
					ok++
				case errors.As(err, &te):
					throttled++
				}
			})
		}
		close(users.release)
		wg.Wait()
		users.release = make(chan struct{})
		si.Users = users
		return ok, throttled
	}
	if ok, throttled := burst("correct horse battery"); ok != 16 || throttled != 0 {
		t.Fatalf("right password ×16 at once: %d signed in, %d throttled; want 16, 0", ok, throttled)
	}
	for _, pass := range []string{"wrong 1", "wrong 2", "wrong 3", "wrong 4", "wrong 5", "wrong 6"} {
		burst(pass)
	}
	if si.Accounts.Wait("ann\x00"+AddressKey("192.0.2.7:5000")) == 0 {
		t.Fatal("six different wrong passwords did not lock the account from this address")
	}
}
