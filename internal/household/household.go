// Package household owns what the store says about people and cameras, as
// the callers of the API see it: the cameras a caller is shown, a camera's
// shares and its viewing history. What a caller may do with a camera is
// auth.RightsOf, from the facts the store holds (auth.Facts); this package
// lists what it allows. It changes nothing itself: claims, shares and
// releases go through auth, which revokes what they end (Directory is the
// store as auth changes it).
package household

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

// Store is the part of the store the views read.
type Store interface {
	Device(ctx context.Context, id access.DeviceID) (store.Device, error)
	Share(ctx context.Context, device access.DeviceID, viewer access.UserID) (store.Share, error)
	DevicesOwnedBy(ctx context.Context, owner access.UserID) ([]store.Device, error)
	SharesWith(ctx context.Context, viewer access.UserID) ([]store.Share, error)
	SharesOfDevice(ctx context.Context, device access.DeviceID) ([]store.Share, error)
	User(ctx context.Context, id access.UserID) (store.User, error)
	AccessOf(ctx context.Context, device access.DeviceID, since time.Time, limit int) ([]store.Access, error)
}

// Views reads households from the store.
type Views struct {
	Store Store
}

// Camera is a camera as a caller sees it in a listing.
type Camera struct {
	ID   access.DeviceID `json:"id"`
	Name string          `json:"name"`
	// Role is auth.RoleOwner, RoleViewer (a share) or RoleOperator
	// (unclaimed, admins).
	Role   string `json:"role"`
	Online bool   `json:"online"`
	// Sub says the camera's sub stream is live too (the live grid plays it).
	Sub bool `json:"sub,omitempty"`
	// LastSeen is when the camera last sent video since Vigil started
	// (zero: not since then); an offline card says how long ago.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Since is when the caller's view of the camera began (the claim, the
	// share): nothing from before it is shown them, last_seen included.
	Since time.Time `json:"-"`
	// Disabled marks a camera nobody may view (auth.RightsOf): listed so
	// that its owner can still manage it.
	Disabled bool      `json:"disabled,omitempty"`
	Until    time.Time `json:"share_until,omitzero"`
}

// ShareView is one share of a camera, for its owner.
type ShareView struct {
	User    string    `json:"user"`
	Until   time.Time `json:"until,omitzero"`
	Created time.Time `json:"created"`
}

// AccessView is one viewing session in a camera's history, for its owner.
type AccessView struct {
	User     string          `json:"user"`
	Output   string          `json:"output"`
	Audience access.Audience `json:"audience"`
	Remote   string          `json:"remote"`
	Started  time.Time       `json:"started"`
	Ended    time.Time       `json:"ended,omitzero"`
	Bytes    int64           `json:"bytes"`
	// Count is how many sessions the line stands for (Grouped); 0 or 1
	// for a single one.
	Count int `json:"count,omitempty"`
}

// standing is what dev and user's share of it (nil: none) say about user.
func standing(dev store.Device, sh *store.Share, user access.UserID) auth.Standing {
	return facts(dev, sh).StandingOf(user)
}

// facts is what auth decides a standing from.
func facts(dev store.Device, sh *store.Share) auth.Facts {
	f := auth.Facts{Owner: dev.Owner, Disabled: dev.Disabled, EpochStarted: dev.EpochStarted}
	if sh != nil {
		f.Shared, f.ShareUntil, f.ShareCreated = true, sh.Until, sh.CreatedAt
	}
	return f
}

// Cameras lists what auth.RightsOf lets c see at now: owned cameras, live
// shares and, for admins, unclaimed cameras; disabled ones marked.
func (v Views) Cameras(ctx context.Context, c auth.Caller, now time.Time) ([]Camera, error) {
	var out []Camera
	add := func(dev store.Device, sh *store.Share) {
		st := standing(dev, sh, c.ID)
		r := auth.RightsOf(c, st, now)
		if !r.Listed {
			return
		}
		cam := Camera{ID: dev.ID, Name: dev.Name, Role: r.Role, Disabled: !r.View, Since: st.Since}
		if sh != nil && r.Role == auth.RoleViewer {
			cam.Until = sh.Until
		}
		out = append(out, cam)
	}
	owned, err := v.Store.DevicesOwnedBy(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, dev := range owned {
		add(dev, nil)
	}
	shares, err := v.Store.SharesWith(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, sh := range shares {
		dev, err := v.Store.Device(ctx, sh.Device)
		if err != nil {
			return nil, err
		}
		add(dev, &sh)
	}
	if c.Admin {
		unclaimed, err := v.Store.DevicesOwnedBy(ctx, "")
		if err != nil {
			return nil, err
		}
		for _, dev := range unclaimed {
			add(dev, nil)
		}
	}
	return out, nil
}

// Household lists the cameras of user's household — owned and shared with
// them, as RightsOf lists them — never the unclaimed ones an admin may
// see: what an account link (its consent page, a smart display's SYNC)
// may expose.
func (v Views) Household(ctx context.Context, user access.UserID) ([]Camera, error) {
	return v.Cameras(ctx, auth.Caller{Principal: auth.Principal{ID: user}}, time.Now())
}

// Shares lists who device is shared with, by user name.
func (v Views) Shares(ctx context.Context, device access.DeviceID) ([]ShareView, error) {
	shares, err := v.Store.SharesOfDevice(ctx, device)
	if err != nil {
		return nil, err
	}
	out := make([]ShareView, 0, len(shares))
	for _, sh := range shares {
		u, err := v.Store.User(ctx, sh.Viewer)
		if err != nil {
			return nil, err
		}
		out = append(out, ShareView{User: u.Name, Until: sh.Until, Created: sh.CreatedAt})
	}
	return out, nil
}

// History lists a device's viewing sessions with user names: those of the
// current ownership epoch only, since an owner never sees who watched the
// camera before they claimed it (invariant 8) — nor who reads an earlier
// epoch's export (OutputExport).
func (v Views) History(ctx context.Context, device access.DeviceID, limit int) ([]AccessView, error) {
	dev, err := v.Store.Device(ctx, device)
	if err != nil {
		return nil, unknown(err)
	}
	rows, err := v.Store.AccessOf(ctx, device, dev.EpochStarted, limit)
	if err != nil {
		return nil, err
	}
	names := map[access.UserID]string{}
	out := make([]AccessView, 0, len(rows))
	for _, a := range rows {
		if a.Output == OutputExport {
			continue // the old household reading what it kept: the ended epoch's
		}
		name, ok := names[a.Viewer]
		if !ok {
			if u, err := v.Store.User(ctx, a.Viewer); err == nil {
				name = u.Name
			} else {
				name = string(a.Viewer) // a deleted user keeps its id in the history
			}
			names[a.Viewer] = name
		}
		out = append(out, AccessView{User: name, Output: a.Output, Audience: a.Audience, Remote: a.Remote,
			Started: a.Started, Ended: a.Ended, Bytes: a.Bytes})
	}
	return out, nil
}

// unknown maps the store's "not found" to auth's.
func unknown(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", auth.ErrUnknown, err)
	}
	return err
}

// OutputExport is the access history's output for reads of an export
// (record.Export): they belong to the ended epoch.
const OutputExport = "export"
