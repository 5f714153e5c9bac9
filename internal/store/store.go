// Package store owns Vigil's persistent records — devices and users with
// their credentials — as plain values, and the errors every store returns.
//
// It holds no database code: implementations live in subpackages (sqlite,
// later postgres) and keep their SQL and driver details to themselves.
// Stores never hold plain-text passwords, only auth.Credential hashes.
package store

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
)

// Device is a provisioned camera.
type Device struct {
	ID   access.DeviceID
	Name string
	// Source is the pull URL, credentials included, for cameras Vigil
	// connects to; it is empty for cameras that push.
	Source config.Secret
	// Credential is what the camera authenticates with when it pushes; its
	// User is the device id.
	Credential auth.Credential
	CreatedAt  time.Time
	// Owner is the user who claimed the device; empty while unclaimed.
	Owner access.UserID
	// ClaimSHA256 is the hex SHA-256 of the claim code printed when the
	// device was provisioned; empty once claimed.
	ClaimSHA256 string
	// Disabled devices stream to nobody.
	Disabled bool
	// EpochStarted is when the current ownership began: the claim, or the
	// release or reset for an unclaimed device (invariant 8). Every claim,
	// release and reset starts a new epoch, with a new epoch secret (read
	// with the store's EpochSecret, never kept in this value).
	EpochStarted time.Time
}

// Share lets Viewer see Device until Until (zero: until revoked).
type Share struct {
	Device    access.DeviceID
	Viewer    access.UserID
	Until     time.Time
	CreatedAt time.Time
}

// Live reports whether the share allows viewing at now.
func (s Share) Live(now time.Time) bool { return s.Until.IsZero() || now.Before(s.Until) }

// User is a person, or the admin, who can sign in.
type User struct {
	ID         access.UserID
	Name       string // unique among users
	Credential auth.Credential
	Admin      bool
	CreatedAt  time.Time
	// Disabled users can neither sign in nor view.
	Disabled bool
}

// deviceIDChars is the number of random base32 characters in a device id:
// 50 bits, enough that collisions (which CreateDevice reports) are rare.
const deviceIDChars = 10

var deviceID32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewDeviceID returns a random device id: "cam-" and 10 lowercase base32
// characters from crypto/rand.
func NewDeviceID() (access.DeviceID, error) {
	b := make([]byte, 7) // 56 bits, encoded to 12 characters, cut to 10
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new device id: %w", err)
	}
	s := "cam-" + strings.ToLower(deviceID32.EncodeToString(b))[:deviceIDChars]
	return access.ParseDeviceID(s)
}

// Access is one viewing session in a camera's access history.
type Access struct {
	ID       int64
	Viewer   access.UserID
	Device   access.DeviceID
	Output   string // rtsp, mp4, hls, still, mjpeg
	Audience access.Audience
	Remote   string // client address
	Started  time.Time
	Ended    time.Time // zero while ongoing
	Bytes    int64
}

// Session is a signed-in browser (auth owns what one is).
type Session = auth.Session

// APIToken is a user's long-lived secret (auth owns what one is).
type APIToken = auth.APIToken

// Revocation records a change that ended someone's right to view: a user's
// (Device empty), a device's for everyone (User empty), or one user's for
// one device (a share).
type Revocation struct {
	ID     int64
	User   access.UserID
	Device access.DeviceID
	// At is when the change was committed (to the millisecond).
	At time.Time
}

// AlexaGrant is an Alexa account link's Login with Amazon tokens for the
// event gateway (from AcceptGrant); stores keep both tokens sealed.
type AlexaGrant struct {
	Link            string
	Access, Refresh config.Secret
	Expires         time.Time
	// Region is the event gateway's region: NA, EU or FE.
	Region string
	// Relink is when the gateway refused the event token even after a
	// refresh (zero: it has not): the link waits to be relinked.
	Relink time.Time
}

// AlexaGrantLabel is what a grant's column is sealed under: the column
// and the link, so a token cannot be moved to another link or column.
func AlexaGrantLabel(column, link string) string { return "alexa_grants." + column + "/" + link }
