package access

import (
	"errors"
	"fmt"
)

// Errors returned by this package.
var (
	ErrBadDeviceID  = errors.New("device id must be 3-64 characters of a-z, 0-9 and '-'")
	ErrBadStreamID  = errors.New("stream must be main or sub")
	ErrNoGrant      = errors.New("no grant: media can only be read with a grant minted by auth")
	ErrGrantExpired = errors.New("grant expired")
	ErrGrantRevoked = errors.New("grant revoked: the share, ownership or account it came from ended")
)

// MismatchError is an isolation violation: an object owned by one device was
// about to be delivered under a grant for another.
type MismatchError struct {
	Grant  DeviceID
	Object DeviceID
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("isolation violation: grant for device %s, object of device %s", e.Grant, e.Object)
}
