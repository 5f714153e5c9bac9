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

type fakeCap struct{ held, max int }

func (c *fakeCap) Take(access.UserID) bool {
	if c.held >= c.max {
		return false
	}
	c.held++
	return true
}

func (c *fakeCap) Give(access.UserID) { c.held-- }

type fakeMedia struct{ open *int }

func (m fakeMedia) Close() { *m.open-- }

type fakeHistory struct{ err error }

func (h fakeHistory) StartAccess(context.Context, audit.Viewing) (int64, error) { return 1, h.err }
func (h fakeHistory) EndAccess(context.Context, int64, time.Time, int64) error  { return nil }

// TestViewOpensInOneCallAndUndoesOnRefusal: View refuses with the first
// step that fails — grant, cap, open, record — and leaves nothing taken
// or open when it does; a View that opened gives everything back on Close.
func TestViewOpensInOneCallAndUndoesOnRefusal(t *testing.T) {
	errOffline := errors.New("offline")
	cases := []struct {
		name                string
		grant, open, record error
		max                 int
		want                error
	}{
		{name: "opened", max: 1},
		{name: "not granted", grant: ErrForbidden, max: 1, want: ErrNotGranted},
		{name: "at the cap", max: 0, want: ErrTooManyViews},
		{name: "offline", open: errOffline, max: 1, want: errOffline},
		{name: "unrecorded", record: errors.New("disk full"), max: 1, want: audit.ErrUnrecorded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			open := 0
			cp := &fakeCap{max: c.max}
			vr := &Viewer[fakeMedia]{Auth: fakeGranter{c.grant}, Output: "mp4", PerUser: cp,
				Record: audit.New(fakeHistory{c.record}, slog.New(slog.DiscardHandler)),
				Open: func(access.Grant, access.StreamID) (fakeMedia, error) {
					if c.open != nil {
						return fakeMedia{}, c.open
					}
					open++
					return fakeMedia{&open}, nil
				}}
			caller := Caller{Principal: Principal{ID: "u-olga"}}
			v, err := vr.View(context.Background(), caller, Use{Device: "cam-1", Stream: access.StreamMain}, "127.0.0.1:1")
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("View: %v, want %v", err, c.want)
			}
			if err != nil {
				if v != nil || open != 0 || cp.held != 0 {
					t.Fatalf("a refused View left %d media open and %d places taken", open, cp.held)
				}
				return
			}
			if v.Grant.Device() != "cam-1" || open != 1 || cp.held != 1 || v.Record == nil {
				t.Fatalf("opened View: device %s, %d media open, %d places, record %v", v.Grant.Device(), open, cp.held, v.Record)
			}
			v.Close()
			if open != 0 || cp.held != 0 {
				t.Fatalf("after Close: %d media open, %d places taken", open, cp.held)
			}
		})
	}
}
