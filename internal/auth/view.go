package auth

import (
	"context"
	"errors"
	"fmt"

	"vigil/internal/access"
	"vigil/internal/audit"
)

// Errors of View.
var (
	// ErrNotGranted wraps Grant's refusal of a viewing, so that the
	// output can tell it from the refusals that come after the grant.
	ErrNotGranted = errors.New("viewing not granted")
	// ErrTooManyViews is a viewing refused because its user already has
	// as many of the output's viewings open as its Cap allows.
	ErrTooManyViews = errors.New("too many live views open for this user")
	// ErrUnauthenticated wraps the refusal of the credentials a viewing
	// was asked with (SignIn.Caller's errors).
	ErrUnauthenticated = errors.New("credentials refused")
)

// Media is what a viewing opens with its grant, such as a hub reader.
type Media interface{ Close() }

// Granter mints grants for callers (Service).
type Granter interface {
	Grant(ctx context.Context, c Caller, use Use) (access.Grant, error)
}

var _ Granter = (*Service)(nil)

// Callers resolves who presented a request's credentials (SignIn).
type Callers interface {
	Caller(ctx context.Context, pr Presented, need Scope) (Caller, error)
}

var _ Callers = (*SignIn)(nil)

// Viewer opens the viewing sessions of one output: the one call between
// what a request presents and the output's first byte. It is declared over
// M, what the output reads, so that auth opens media without knowing the
// hub.
type Viewer[M Media] struct {
	// Callers resolves the caller (SignIn).
	Callers Callers
	// Auth mints the grants (Service).
	Auth Granter
	// Output names the output in the access history: mp4, mjpeg, ...
	Output string
	// Open opens what the output reads with the grant (hub.Hub.Read).
	Open func(g access.Grant, stream access.StreamID) (M, error)
	// Record writes the access history; nil records nothing.
	Record *audit.Recorder
	// PerUser caps each user's open viewings; nil caps nothing.
	PerUser *Cap
}

// View is one open viewing session: its caller and grant, what it opened
// and its record (whose Add counts the bytes delivered).
type View[M Media] struct {
	Caller Caller
	Grant  access.Grant
	Media  M
	Record *audit.Session
	undo   []func()
}

// Close ends the viewing: its record, its media, its place under the cap.
func (v *View[M]) Close() {
	for i := len(v.undo) - 1; i >= 0; i-- {
		v.undo[i]()
	}
	v.undo = nil
}

// View resolves the caller who presented pr (Callers, with ScopeView),
// grants it the use (Grant: RightsOf, from the store), takes a place under
// the cap, opens the media with the grant and starts the session's record,
// in that order, so that a refusal says the first thing wrong: the
// credentials (ErrUnauthenticated wrapping the Caller's error), the camera
// (ErrNotGranted wrapping Grant's), ErrTooManyViews, Open's error, or
// audit.ErrUnrecorded — a viewing that cannot be recorded is not served.
// On an error nothing stays open; otherwise Close the View when it ends.
//
// The caller is resolved here, not before: resolving it, granting and
// recording are all auth's and audit's, and an edge that resolved it first
// would take control back to the output between two calls into auth for
// no decision of its own.
func (vr *Viewer[M]) View(ctx context.Context, pr Presented, use Use) (_ *View[M], err error) {
	c, err := vr.Callers.Caller(ctx, pr, ScopeView)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	g, err := vr.Auth.Grant(ctx, c, use)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotGranted, err)
	}
	v := &View[M]{Caller: c, Grant: g}
	defer func() {
		if err != nil {
			v.Close()
		}
	}()
	if vr.PerUser != nil {
		release, ok := vr.PerUser.Take(g.User())
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrTooManyViews, g.User())
		}
		v.undo = append(v.undo, release)
	}
	if v.Media, err = vr.Open(g, use.Stream); err != nil {
		return nil, err
	}
	v.undo = append(v.undo, v.Media.Close)
	if v.Record, err = vr.Record.Start(g, vr.Output, pr.Remote); err != nil {
		return nil, err
	}
	v.undo = append(v.undo, v.Record.End)
	return v, nil
}
