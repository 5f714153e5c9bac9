package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/oauth"
)

// testKillDuringLinking kills a process that links, exchanges codes,
// rotates refresh tokens and unlinks; every link it reported is there
// after, and nothing is half applied: no live link without its code, no
// linked one without its access token, no token of a revoked link.
func testKillDuringLinking(t *testing.T, b Backend) {
	if where := os.Getenv(childEnv); where != "" {
		linkChild(b, where)
		return
	}
	where := b.New(t)
	done := killAfter(t, where, "step", 40)
	s := b.openAt(t, where, nil)
	ctx := t.Context()
	for i := 0; ; i++ {
		id := fmt.Sprintf("lnk-%d", i)
		l, err := s.Link(ctx, id)
		if !found(t, err) {
			if i < done {
				t.Fatalf("reported link %d lost: %v", i, err)
			}
			break
		}
		if i < done && (l.Linked.IsZero() || (i%3 == 0) == l.Revoked.IsZero()) {
			t.Fatalf("reported link %d changed: %+v", i, l)
		}
		has := func(kind oauth.TokenKind, sig string) bool {
			_, err := s.Token(ctx, kind, sig)
			return found(t, err)
		}
		tokens := has(oauth.KindCode, "c-"+id) || has(oauth.KindAccess, "a-"+id) || has(oauth.KindRefresh, "r0-"+id) ||
			has(oauth.KindAccess, "a1-"+id) || has(oauth.KindRefresh, "r1-"+id)
		switch {
		case l.Revoked.IsZero() && !has(oauth.KindCode, "c-"+id):
			t.Errorf("live link %s without its code", id)
		case l.Revoked.IsZero() && !l.Linked.IsZero() && !has(oauth.KindAccess, "a-"+id) && !has(oauth.KindAccess, "a1-"+id):
			t.Errorf("linked link %s without an access token", id)
		case !l.Revoked.IsZero() && tokens:
			t.Errorf("revoked link %s kept a token", id)
		}
	}
}

// linkChild links, exchanges, rotates and (every third link) unlinks as
// the authorization server does, each step in the transactions it uses.
func linkChild(b Backend, where string) {
	ctx := context.Background()
	s, err := b.Open(ctx, where, nil)
	if err != nil {
		os.Exit(1)
	}
	if err := linkFixture(s); err != nil {
		os.Exit(4)
	}
	inTx := func(f func(ctx context.Context) error) {
		tctx, err := s.BeginTx(ctx)
		if err == nil {
			err = f(tctx)
		}
		if err == nil {
			err = s.Commit(tctx)
		}
		if err != nil {
			os.Exit(2)
		}
	}
	for i := 0; ; i++ {
		id := fmt.Sprintf("lnk-%d", i)
		inTx(func(ctx context.Context) error { // consent: link and code
			return errors.Join(s.CreateLink(ctx, oauth.Link{ID: id, User: "u-olga", Client: "google", AgentUserID: "agu-" + id,
				Created: time.Now(), Devices: []access.DeviceID{"cam-one"}}),
				s.CreateToken(ctx, token(oauth.KindCode, "c-"+id, id, time.Now().Add(time.Minute))))
		})
		inTx(func(ctx context.Context) error { // exchange: spend the code, tokens
			return errors.Join(s.SpendCode(ctx, "c-"+id, time.Now()),
				s.CreateToken(ctx, token(oauth.KindAccess, "a-"+id, id, time.Now().Add(time.Hour))),
				s.CreateToken(ctx, token(oauth.KindRefresh, "r0-"+id, id, time.Time{})))
		})
		inTx(func(ctx context.Context) error { // refresh: rotate
			return errors.Join(s.RetireRefreshTokens(ctx, id, "r0-"+id),
				s.CreateToken(ctx, token(oauth.KindAccess, "a1-"+id, id, time.Now().Add(time.Hour))),
				s.CreateToken(ctx, token(oauth.KindRefresh, "r1-"+id, id, time.Time{})))
		})
		inTx(func(ctx context.Context) error { // using the new token retires the old
			return s.RetireRefreshTokens(ctx, id, "r1-"+id)
		})
		if i%3 == 0 {
			if _, err := s.RevokeLink(ctx, id, time.Now()); err != nil {
				os.Exit(3)
			}
		}
		os.Stdout.WriteString("step\n")
	}
}
