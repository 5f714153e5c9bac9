package household

import (
	"context"
	"time"

	"vigil/internal/access"
	"vigil/internal/store"
)

// Directory is the store as auth changes it when a camera changes hands or
// is shared (auth.Households), with the store's errors mapped to auth's,
// and the views of the household. What auth reads to decide (users,
// sessions, standings: auth.Directory) the store answers itself.
type Directory struct {
	Views
	Store DirectoryStore
}

// DirectoryStore is the part of the store that Directory is made of.
type DirectoryStore interface {
	Store
	ClaimDevice(ctx context.Context, claimSHA256 string, owner access.UserID) (store.Device, error)
	PutShare(ctx context.Context, sh store.Share) error
	DeleteShare(ctx context.Context, device access.DeviceID, viewer access.UserID) error
	ResetDevice(ctx context.Context, id access.DeviceID, claimSHA256 string) error
	ResetDeviceKeeping(ctx context.Context, id access.DeviceID, claimSHA256 string, deadline time.Time) (int64, error)
	SetDeviceName(ctx context.Context, id access.DeviceID, name string) error
	CreateDevice(ctx context.Context, d store.Device) error
}

// NewDirectory returns the directory of st.
func NewDirectory(st DirectoryStore) Directory { return Directory{Views: Views{Store: st}, Store: st} }

// ClaimDevice gives the unclaimed device with the code's hash to owner.
func (d Directory) ClaimDevice(ctx context.Context, claimSHA256 string, owner access.UserID) (access.DeviceID, error) {
	dev, err := d.Store.ClaimDevice(ctx, claimSHA256, owner)
	return dev.ID, unknown(err)
}

// PutShare shares device with viewer until until (zero: until revoked).
func (d Directory) PutShare(ctx context.Context, device access.DeviceID, viewer access.UserID, until time.Time) error {
	return unknown(d.Store.PutShare(ctx, store.Share{Device: device, Viewer: viewer, Until: until}))
}

// DeleteShare ends viewer's share of device.
func (d Directory) DeleteShare(ctx context.Context, device access.DeviceID, viewer access.UserID) error {
	return unknown(d.Store.DeleteShare(ctx, device, viewer))
}

// ResetDevice drops the device's owner and shares under a new claim code;
// with keepUntil not zero the ended epoch's footage is kept for its owner
// until then (an export).
func (d Directory) ResetDevice(ctx context.Context, device access.DeviceID, claimSHA256 string, keepUntil time.Time) error {
	if keepUntil.IsZero() {
		return unknown(d.Store.ResetDevice(ctx, device, claimSHA256))
	}
	_, err := d.Store.ResetDeviceKeeping(ctx, device, claimSHA256, keepUntil)
	return unknown(err)
}

// Rename gives device a new name, shown wherever it is listed.
func (d Directory) Rename(ctx context.Context, device access.DeviceID, name string) error {
	return unknown(d.Store.SetDeviceName(ctx, device, name))
}
