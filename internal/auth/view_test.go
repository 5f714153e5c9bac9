package auth

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/audit"
)

type fakeGranter struct{ err error }

func (f fakeGranter) Grant(_ context.Context, c Caller, use Use) (access.Grant, error) {
	if f.err != nil {
		return access.Grant{}, f.err
	}
	return access.NewIssuer().Mint(c.ID, use.Device, access.AudienceWeb, time.Hour), nil
}

// fakeCallers resolves every presented credential to olga, or refuses it.
type fakeCallers struct{ err error }

func (f fakeCallers) Caller(context.Context, Presented, Scope) (Caller, error) {
	return Caller{Principal: Principal{ID: "u-olga"}}, f.err
}

type fakeMedia struct{ open *int }

func (m fakeMedia) Close() { *m.open-- }

type fakeHistory struct{ err error }

func (h fakeHistory) StartAccess(context.Context, audit.Viewing) (int64, error) { return 1, h.err }
func (h fakeHistory) EndAccess(context.Context, int64, time.Time, int64) error  { return nil }

// TestViewOpensInOneCallAndUndoesOnRefusal: View refuses with the first
// step that fails — credentials, grant, cap, open, record — and leaves
// nothing taken or open when it does; a View that opened gives everything
// back on Close.
func TestViewOpensInOneCallAndUndoesOnRefusal(t *testing.T) {
	errOffline := errors.New("offline")
	cases := []struct {
		name                        string
		caller, grant, open, record error
		full                        bool // olga already holds the cap's one place
		want                        error
	}{
		{name: "opened"},
		{name: "unauthenticated", caller: ErrSessionEnded, want: ErrUnauthenticated},
		{name: "not granted", grant: ErrForbidden, want: ErrNotGranted},
		{name: "at the cap", full: true, want: ErrTooManyViews},
		{name: "offline", open: errOffline, want: errOffline},
		{name: "unrecorded", record: errors.New("disk full"), want: audit.ErrUnrecorded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			open, held := 0, 0
			cp := NewCap(1)
			if c.full {
				cp.Take("u-olga")
				held = 1
			}
			vr := &Viewer[fakeMedia]{Callers: fakeCallers{c.caller}, Auth: fakeGranter{c.grant}, Output: "mp4", PerUser: cp,
				Record: audit.New(fakeHistory{c.record}, slog.New(slog.DiscardHandler)),
				Open: func(access.Grant, access.StreamID) (fakeMedia, error) {
					if c.open != nil {
						return fakeMedia{}, c.open
					}
					open++
					return fakeMedia{&open}, nil
				}}
			pr := Presented{Cookie: "c", Safe: true, Remote: "127.0.0.1:1"}
			v, err := vr.View(context.Background(), pr, Use{Device: "cam-1", Stream: access.StreamMain})
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("View: %v, want %v", err, c.want)
			}
			if err != nil {
				if v != nil || open != 0 || cp.held("u-olga") != held {
					t.Fatalf("a refused View left %d media open and %d places taken", open, cp.held("u-olga")-held)
				}
				return
			}
			if v.Grant.Device() != "cam-1" || v.Caller.ID != "u-olga" || open != 1 || cp.held("u-olga") != 1 || v.Record == nil {
				t.Fatalf("opened View: device %s, %d media open, %d places, record %v", v.Grant.Device(), open, cp.held("u-olga"), v.Record)
			}
			v.Close()
			v.Close()
			if open != 0 || cp.held("u-olga") != 0 {
				t.Fatalf("after Close: %d media open, %d places taken", open, cp.held("u-olga"))
			}
		})
	}
}
