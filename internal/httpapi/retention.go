package httpapi

import (
	"context"
	"net/http"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
)

// RetentionRules keeps each camera's retention rule (the store).
type RetentionRules interface {
	SetRetention(ctx context.Context, id access.DeviceID, rule record.Rule) error
	Retention(ctx context.Context, id access.DeviceID) (record.Rule, error)
}

// retentionBody is a camera's rule as the API shows it: days of footage
// and bytes (plaintext), 0 for the server's default.
type retentionBody struct {
	Days  int   `json:"days"`
	Bytes int64 `json:"bytes"`
}

// maxRetentionDays bounds a rule's days (ten years).
const maxRetentionDays = 3650

const day = 24 * time.Hour

// retention shows the owned camera's retention rule.
func (a *API) retention(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	rule, err := a.Retention.Retention(r.Context(), device)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, retentionBody{Days: int(rule.Age / day), Bytes: rule.Bytes})
}

// setRetention sets the owned camera's retention rule; the next sweep
// deletes what it no longer keeps.
func (a *API) setRetention(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	var body retentionBody
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Days < 0 || body.Days > maxRetentionDays || body.Bytes < 0 {
		return httpError(http.StatusBadRequest, "days must be 0 (the server's default) to 3650, bytes 0 (the default) or more", nil)
	}
	if err := a.Retention.SetRetention(r.Context(), device, record.Rule{Age: time.Duration(body.Days) * day, Bytes: body.Bytes}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, body)
}
