package hub

import (
	"context"
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
)

// idle calls Next with nothing queued, as a caught-up reader's goroutine
// does; it returns when Next would have waited.
func idle(t *testing.T, r *Reader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if u, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next of an idle reader: %v %v, want nothing", u, err)
	}
}

// TestDeliverTakesUnitsWhileTheReaderIsIdle: a deliverer gets the live
// units, in order and without a wake-up of the reader's goroutine, only
// while that goroutine waits in Next with nothing queued; the replayed GOP
// and the units that follow a unit it left unfinished go through Next, in
// order, and it gets units again once the reader has caught up.
func TestDeliverTakesUnitsWhileTheReaderIsIdle(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, tracks())
	frame(t, p, 0, 10)
	r, _ := h.Read(grant("cam-a"), access.StreamMain)
	var got []*media.Unit
	answer := Delivered
	r.Deliver(func(u *media.Unit) Delivery {
		got = append(got, u)
		return answer
	})
	frame(t, p, 1, 10) // queued behind the replay
	for want := range 4 {
		if u := next(t, r); u.Seq != uint64(want+1) {
			t.Fatalf("unit %d through Next is seq %d", want+1, u.Seq)
		}
	}
	if len(got) != 0 {
		t.Fatalf("the deliverer got %d units while units were queued", len(got))
	}
	idle(t, r)
	for n := 2; n < 5; n++ {
		frame(t, p, n, 10)
	}
	if len(got) != 6 || len(r.notify) != 0 {
		t.Fatalf("an idle reader: %d units delivered (want 6), %d wake-ups (want 0)", len(got), len(r.notify))
	}
	for i, u := range got {
		if u.Seq != uint64(5+i) {
			t.Fatalf("delivered out of order: seq %d at %d", u.Seq, i)
		}
	}

	// A unit left unfinished: the reader's goroutine is woken to finish it,
	// and what follows is queued for it until it has caught up.
	answer, got = Unfinished, nil
	frame(t, p, 5, 10) // video unfinished; audio queued
	answer = Delivered
	frame(t, p, 6, 10)
	if len(got) != 1 {
		t.Fatalf("%d units delivered after one was left unfinished, want 1", len(got))
	}
	if u, err := r.Next(context.Background()); u != nil || err != nil {
		t.Fatalf("Next after an unfinished delivery: %v %v, want nil and no error", u, err)
	}
	for want := uint64(12); want <= 14; want++ {
		if u := next(t, r); u.Seq != want {
			t.Fatalf("queued unit seq %d, want %d", u.Seq, want)
		}
	}
	idle(t, r)
	frame(t, p, 7, 10)
	if len(got) != 3 {
		t.Fatalf("%d units delivered after the reader caught up, want 3", len(got))
	}

	// Declined: the unit is queued as without a deliverer.
	answer = Declined
	frame(t, p, 8, 10)
	if u := next(t, r); u.Seq != 17 {
		t.Fatalf("declined unit: seq %d, want 17", u.Seq)
	}
}

// TestDeliverChecksEgressFirst: a unit the reader's grant no longer allows
// never reaches the deliverer; it is queued, and the reader's own Egress
// refuses it.
func TestDeliverChecksEgressFirst(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, tracks())
	lease := access.NewLease()
	r, err := h.Read(issuer.MintLeased("u1", "cam-a", access.AudienceRTSP, time.Hour, lease, time.Time{}), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	r.Deliver(func(*media.Unit) Delivery { delivered++; return Delivered })
	frame(t, p, 0, 10)
	if delivered != 2 {
		t.Fatalf("%d units delivered before the revocation, want 2", delivered)
	}
	lease.Revoke()
	frame(t, p, 1, 10)
	if delivered != 2 {
		t.Fatal("a unit was delivered after the grant's lease was revoked")
	}
	u := next(t, r)
	if err := r.Egress(u); !errors.Is(err, access.ErrGrantRevoked) {
		t.Fatalf("Egress of the unit after the revocation: %v", err)
	}
}

// TestOnReadyWakesOnlyWhenSomethingIsLeft: a reader woken on demand
// (OnReady) is woken for the GOP it starts from, not while its deliverer
// keeps up, once for a unit left unfinished and what queued behind it,
// and once when its grant's lease is revoked, which ends it with no
// goroutine waiting on the lease; Drain returns each of those, then
// nothing.
func TestOnReadyWakesOnlyWhenSomethingIsLeft(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, tracks())
	frame(t, p, 0, 10)
	lease := access.NewLease()
	r, err := h.Read(issuer.MintLeased("u1", "cam-a", access.AudienceRTSP, time.Hour, lease, time.Time{}), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	answer, delivered := Delivered, 0
	r.Deliver(func(*media.Unit) Delivery { delivered++; return answer })
	wakes := make(chan struct{}, 10)
	r.OnReady(func() { wakes <- struct{}{} })
	woken := func(want int) {
		t.Helper()
		if len(wakes) != want {
			t.Fatalf("%d wakes, want %d", len(wakes), want)
		}
		for range want {
			<-wakes
		}
	}
	drain := func(wantSeqs ...uint64) {
		t.Helper()
		for _, want := range wantSeqs {
			u, ok, err := r.Drain()
			if !ok || err != nil || want == 0 && u != nil || want != 0 && (u == nil || u.Seq != want) {
				t.Fatalf("Drain: %v %v %v, want seq %d (0: the unfinished unit)", u, ok, err, want)
			}
		}
		if u, ok, err := r.Drain(); ok {
			t.Fatalf("Drain of a drained reader: %v %v", u, err)
		}
	}

	woken(1) // the cached GOP
	drain(1, 2)
	for n := 1; n < 4; n++ {
		frame(t, p, n, 10)
	}
	woken(0)
	if delivered != 6 {
		t.Fatalf("%d units delivered to a caught-up reader, want 6", delivered)
	}

	answer = Unfinished
	frame(t, p, 4, 10) // video unfinished, audio queued behind it
	woken(1)
	drain(0, 10)
	answer = Delivered
	frame(t, p, 5, 10)
	woken(0)

	lease.Revoke()
	select {
	case <-wakes:
	case <-time.After(5 * time.Second):
		t.Fatal("a revoked reader was not woken")
	}
	for range 2 {
		if u, ok, err := r.Drain(); !ok || u != nil || !errors.Is(err, access.ErrGrantRevoked) {
			t.Fatalf("Drain of a revoked reader: %v %v %v, want ErrGrantRevoked", u, ok, err)
		}
	}
	frame(t, p, 6, 10)
	r.Close()
	woken(0)
}
