package access

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by this package.
var (
	ErrBadDeviceID  = errors.New("device id must be 3-64 characters of a-z, 0-9 and '-'")
	ErrBadStreamID  = errors.New("stream must be main or sub")
	ErrNoGrant      = errors.New("no grant: media can only be read with a grant minted by auth")
	ErrGrantExpired = errors.New("grant expired")
	ErrGrantRevoked = errors.New("grant revoked: the share, ownership or account it came from ended")
	// ErrBeforeEpoch: an object captured before the grant's epoch (before
	// the holder's claim or share began) reached egress. An isolation
	// violation, as a device mismatch is.
	ErrBeforeEpoch = errors.New("isolation violation: object captured before the grant's epoch")
	// ErrAfterEnd: an object captured at or after the grant's end (an
	// export's release: the next owner's footage) reached egress.
	ErrAfterEnd = errors.New("isolation violation: object captured after the grant's end")
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

// EpochError is an isolation violation in time: an object of the right
// device, captured before the grant's epoch (another ownership's or a
// time before the share), was about to be delivered. It wraps ErrBeforeEpoch.
type EpochError struct {
	Device   DeviceID
	Epoch    time.Time
	Captured time.Time
}

func (e *EpochError) Error() string {
	return fmt.Sprintf("%v: device %s, captured %s, grant's epoch %s", ErrBeforeEpoch, e.Device,
		e.Captured.UTC().Format(time.RFC3339Nano), e.Epoch.UTC().Format(time.RFC3339Nano))
}

func (e *EpochError) Unwrap() error { return ErrBeforeEpoch }

// EndError is an isolation violation in time: an object of the right
// device captured at or after the grant's end (Grant.Until) was about to
// be delivered. It wraps ErrAfterEnd.
type EndError struct {
	Device   DeviceID
	Until    time.Time
	Captured time.Time
}

func (e *EndError) Error() string {
	return fmt.Sprintf("%v: device %s, captured %s, grant's end %s", ErrAfterEnd, e.Device,
		e.Captured.UTC().Format(time.RFC3339Nano), e.Until.UTC().Format(time.RFC3339Nano))
}

func (e *EndError) Unwrap() error { return ErrAfterEnd }
