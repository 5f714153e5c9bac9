package auth

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
)

// households is a Households that does what it is asked.
type households struct{}

func (households) ClaimDevice(context.Context, string, access.UserID) (access.DeviceID, error) {
	return "cam-a", nil
}
func (households) PutShare(context.Context, access.DeviceID, access.UserID, time.Time) error {
	return nil
}
func (households) DeleteShare(context.Context, access.DeviceID, access.UserID) error     { return nil }
func (households) ResetDevice(context.Context, access.DeviceID, string, time.Time) error { return nil }
func (households) Handover(context.Context, access.DeviceID)                             {}

// TestAuditLines: claiming, sharing, unsharing and releasing a camera, and
// starting and ending a session, each write one audit line naming the
// event, the user and the camera (and viewer); a refused change writes none.
func TestAuditLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	dir := fakeDir{users: map[string]Principal{"owner": {ID: "u-owner"}, "vera": {ID: "u-vera"}},
		standing: map[access.UserID]Standing{"u-owner": {Claimed: true, Owner: true}}}
	s := NewService(dir, access.NewIssuer(), nil, time.Hour)
	s.Audit = log
	owner := callerOf(dir.users["owner"], ScopeAccount, Binding{ViaPassword, "x"})
	ctx := t.Context()
	if _, err := s.Claim(ctx, owner, "code", households{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Share(ctx, owner, "cam-a", "vera", time.Time{}, households{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Share(ctx, owner, "cam-a", "owner", time.Time{}, households{}); err == nil {
		t.Fatal("sharing with oneself was allowed")
	}
	if err := s.Unshare(ctx, owner, "cam-a", "vera", households{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Release(ctx, owner, "cam-a", 0, households{}); err != nil {
		t.Fatal(err)
	}
	sessions := &memSessions{}
	si := &SignIn{Users: dir, Sessions: sessions, Audit: log}
	cookie, _, err := si.StartSession(ctx, "u-owner")
	if err != nil {
		t.Fatal(err)
	}
	if err := si.EndSession(ctx, cookie); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"event=claim user=u-owner camera=cam-a",
		"event=share user=u-owner camera=cam-a viewer=u-vera",
		"event=unshare user=u-owner camera=cam-a viewer=u-vera",
		"event=release user=u-owner camera=cam-a",
		"event=sign_in user=u-owner session=",
		"event=sign_out user=u-owner session=",
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d audit lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], "msg=audit "+w) {
			t.Errorf("line %d: %s\nwant it to contain %q", i, lines[i], w)
		}
		if strings.Contains(lines[i], cookie) {
			t.Errorf("line %d carries the session cookie", i)
		}
	}
}

// memSessions keeps sessions in memory.
type memSessions struct{ m map[string]Session }

func (s *memSessions) CreateSession(_ context.Context, sess Session) error {
	if s.m == nil {
		s.m = map[string]Session{}
	}
	s.m[sess.IDSHA256] = sess
	return nil
}

func (s *memSessions) Session(_ context.Context, id string, _ time.Time) (Session, error) {
	sess, ok := s.m[id]
	if !ok {
		return sess, ErrUnknown
	}
	return sess, nil
}

func (s *memSessions) DeleteSession(_ context.Context, id string) error {
	delete(s.m, id)
	return nil
}

func (s *memSessions) PrincipalOf(context.Context, access.UserID) (Principal, error) {
	return Principal{}, ErrUnknown
}

func (s *memSessions) PasswordHash(context.Context, access.UserID) (string, error) { return "", nil }
