package auth

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestHasherBound: with every slot and queue place taken, Hash and Check
// fail at once with ErrHashBusy instead of piling up argon2id's memory; a
// queued caller runs when a slot frees, or leaves with its context.
func TestHasherBound(t *testing.T) {
	h := NewHasher(1, 1)
	ctx := context.Background()
	if err := h.acquire(ctx); err != nil { // the one slot
		t.Fatal(err)
	}
	queued := make(chan error, 1)
	go func() {
		phc, err := h.Hash(ctx, "a long enough password")
		if err == nil && !CheckPasswordHash(phc, "a long enough password") {
			err = errors.New("queued hash is wrong")
		}
		queued <- err
	}()
	// The queue place is taken once the goroutine is admitted.
	for len(h.admitted) < 2 {
		runtime.Gosched()
	}
	if _, err := h.Hash(ctx, "another long password"); !errors.Is(err, ErrHashBusy) {
		t.Fatalf("Hash beyond the bound: %v, want ErrHashBusy", err)
	}
	if _, err := h.Check(ctx, "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "x"); !errors.Is(err, ErrHashBusy) {
		t.Fatalf("Check beyond the bound: %v, want ErrHashBusy", err)
	}
	if ok, err := h.Check(ctx, "", "x"); ok || err != nil {
		t.Fatalf("Check of no password: %v %v, want false without hashing", ok, err)
	}
	h.release()
	if err := <-queued; err != nil {
		t.Fatalf("queued Hash: %v", err)
	}
	// A queued caller whose context ends leaves the queue.
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	left := make(chan error, 1)
	go func() { _, err := h.Hash(cctx, "a long enough password"); left <- err }()
	for len(h.admitted) < 2 {
		runtime.Gosched()
	}
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: %v", err)
	}
	if len(h.admitted) != 1 {
		t.Fatalf("the cancelled caller kept its queue place: %d admitted", len(h.admitted))
	}
	h.release()
}

// TestHasherRemembersSuccesses: a password checked right recently is not
// hashed again (a Basic client sending it with every request), even when
// every slot is taken; a wrong one always is, and the memory expires.
func TestHasherRemembersSuccesses(t *testing.T) {
	h := NewHasher(1, 0)
	now := time.Unix(0, 0)
	h.now = func() time.Time { return now }
	ctx := context.Background()
	phc, err := HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Check(ctx, phc, "a long enough password"); !ok || err != nil {
		t.Fatalf("first check: %v %v", ok, err)
	}
	if err := h.acquire(ctx); err != nil { // every slot taken from here on
		t.Fatal(err)
	}
	defer h.release()
	if ok, err := h.Check(ctx, phc, "a long enough password"); !ok || err != nil {
		t.Fatalf("repeated check with no slot free: %v %v, want remembered", ok, err)
	}
	if _, err := h.Check(ctx, phc, "a long enough passwore"); !errors.Is(err, ErrHashBusy) {
		t.Fatalf("a wrong password: %v, want it hashed (busy)", err)
	}
	other, _ := HashPassword("a long enough password") // same password, another salt
	if _, err := h.Check(ctx, other, "a long enough password"); !errors.Is(err, ErrHashBusy) {
		t.Fatalf("another hash of the same password: %v, want it hashed (busy)", err)
	}
	now = now.Add(verifiedTTL)
	if _, err := h.Check(ctx, phc, "a long enough password"); !errors.Is(err, ErrHashBusy) {
		t.Fatalf("after verifiedTTL: %v, want it hashed again (busy)", err)
	}
}
