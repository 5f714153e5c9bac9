package household

import (
	"context"
	"errors"
	"fmt"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/store"
)

// MaxOwnedCameras bounds the cameras one person may add: each is a row,
// and a pull camera a connection the server keeps trying.
const MaxOwnedCameras = 100

// ErrTooManyCameras refuses an added camera beyond MaxOwnedCameras.
var ErrTooManyCameras = fmt.Errorf("at most %d cameras per person: release one first", MaxOwnedCameras)

// AddedCamera is a camera just added, with the password it pushes with:
// shown once, only its hash is kept.
type AddedCamera struct {
	ID       access.DeviceID
	Name     string
	Password string
}

// AddCamera provisions a camera owned by owner from now on (its first
// epoch starts now): it pushes with its id and the returned password, or,
// with a source, Vigil pulls it from there.
func (d Directory) AddCamera(ctx context.Context, owner access.UserID, name string, source config.Secret) (AddedCamera, error) {
	owned, err := d.Store.DevicesOwnedBy(ctx, owner)
	if err != nil {
		return AddedCamera{}, err
	}
	if len(owned) >= MaxOwnedCameras {
		return AddedCamera{}, ErrTooManyCameras
	}
	password, err := auth.NewPassword()
	if err != nil {
		return AddedCamera{}, err
	}
	for range 3 { // ids are random: a rare collision is tried again
		id, err := store.NewDeviceID()
		if err != nil {
			return AddedCamera{}, err
		}
		dev := store.Device{ID: id, Name: name, Source: source, Credential: auth.HashCredential(string(id), password), Owner: owner}
		if err := d.Store.CreateDevice(ctx, dev); !errors.Is(err, store.ErrExists) {
			return AddedCamera{ID: id, Name: name, Password: password}, err
		}
	}
	return AddedCamera{}, errors.New("add camera: no free device id after 3 tries; try again")
}
