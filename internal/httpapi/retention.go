package httpapi

import (
	"context"
	"net/http"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/record"
)

// retentionBody is a camera's rule as the API shows it: days of footage,
// days of footage an event touches, and bytes (plaintext), 0 for the
// server's default. InForce is the rule retention applies now (defaults
// filled in; while a lowered rule's grace period runs, what the rule
// before it kept), GraceUntil when that grace period ends.
type retentionBody struct {
	Days      int   `json:"days"`
	EventDays int   `json:"event_days"`
	Bytes     int64 `json:"bytes"`
	InForce   *struct {
		Days      int   `json:"days"`
		EventDays int   `json:"event_days"`
		Bytes     int64 `json:"bytes"`
	} `json:"in_force,omitempty"`
	GraceUntil time.Time `json:"grace_until,omitzero"`
}

// maxRetentionDays bounds a rule's days (ten years).
const maxRetentionDays = 3650

const day = 24 * time.Hour

// viewOfRetain is r as the API shows it at now.
func viewOfRetain(rules *record.Rules, r record.Retain, now time.Time) retentionBody {
	eff := rules.Effective(r, now)
	b := retentionBody{Days: int(r.Rule.Age / day), EventDays: int(r.Rule.EventAge / day), Bytes: r.Rule.Bytes,
		GraceUntil: rules.Until(r, now)}
	b.InForce = &struct {
		Days      int   `json:"days"`
		EventDays int   `json:"event_days"`
		Bytes     int64 `json:"bytes"`
	}{int(eff.Age / day), int(eff.EventAge / day), eff.Bytes}
	return b
}

// retention shows the owned camera's retention rule.
func (a *API) retention(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	rule, err := a.Retention.Get(r.Context(), device)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, viewOfRetain(a.Retention, rule, time.Now()))
}

// setRetention sets the owned camera's retention rule. A raised rule
// keeps more at once; a lowered one deletes nothing until the grace
// period is over (record.Rules.Set), so it can be undone.
func (a *API) setRetention(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	var body retentionBody
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Days < 0 || body.Days > maxRetentionDays || body.EventDays < 0 || body.EventDays > maxRetentionDays || body.Bytes < 0 {
		return httpError(http.StatusBadRequest, "days and event_days must be 0 (the server's default) to 3650, bytes 0 (the default) or more", nil)
	}
	rule := record.Rule{Age: time.Duration(body.Days) * day, EventAge: time.Duration(body.EventDays) * day, Bytes: body.Bytes}
	set, err := a.Retention.Set(r.Context(), device, rule)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, viewOfRetain(a.Retention, set, time.Now()))
}

// usageBody is the footage a camera keeps (plaintext bytes), pinned bytes
// counted in bytes.
type usageBody struct {
	ID          access.DeviceID `json:"id,omitempty"`
	Name        string          `json:"name,omitempty"`
	Bytes       int64           `json:"bytes"`
	PinnedBytes int64           `json:"pinned_bytes"`
}

// usage shows the footage the owned camera keeps.
func (a *API) usage(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	u, err := a.Usage(r.Context(), device)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, usageBody{ID: device, Bytes: u.Bytes, PinnedBytes: u.Pinned})
}

// householdUsage shows the footage the caller's household keeps: each
// camera it owns, the sum, and the household's quota (0: none).
func (a *API) householdUsage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	cams, err := a.Households.Cameras(r.Context(), c, time.Now())
	if err != nil {
		return err
	}
	out := struct {
		Bytes       int64       `json:"bytes"`
		PinnedBytes int64       `json:"pinned_bytes"`
		QuotaBytes  int64       `json:"quota_bytes"`
		Cameras     []usageBody `json:"cameras"`
	}{Cameras: []usageBody{}}
	for _, cam := range cams {
		if cam.Role != auth.RoleOwner {
			continue
		}
		u, err := a.Usage(r.Context(), cam.ID)
		if err != nil {
			return err
		}
		out.Bytes, out.PinnedBytes = out.Bytes+u.Bytes, out.PinnedBytes+u.Pinned
		out.Cameras = append(out.Cameras, usageBody{ID: cam.ID, Name: cam.Name, Bytes: u.Bytes, PinnedBytes: u.Pinned})
	}
	if out.QuotaBytes, err = a.Quota(r.Context(), c.ID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// Usage is what a camera's footage takes (record.Retention.Usage); Quota
// a household's quota in force.
type (
	Usage func(ctx context.Context, device access.DeviceID) (record.Usage, error)
	Quota func(ctx context.Context, household access.UserID) (int64, error)
)
