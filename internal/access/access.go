// Package access owns the typed identities of Vigil (users, devices, streams)
// and the Grant: the only value that lets code read a camera's media.
//
// A Grant is minted only through an Issuer. The application builds one Issuer
// and hands it to the auth package alone, which mints a Grant after checking
// the store. Nothing in this package reads the store or knows HTTP.
//
// Grant.Check is the egress check of the isolation invariants (DESIGN.md):
// invariant 3 compares an object's device with the grant's and, since a
// camera can change hands, its capture time with the grant's epoch — the
// instant from which the holder may see the camera (the current owner's
// claim, a share's creation). Invariant 8, time is part of ownership: what
// a camera captured before an epoch belongs to whoever held it then, and a
// grant never reaches it, even while a cache still holds it.
package access

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// UserID identifies a person or the admin principal.
type UserID string

// DeviceID identifies a camera. It is assigned by Vigil when the device is
// provisioned and never taken from a request without validation.
type DeviceID string

// StreamID names one of a camera's streams.
type StreamID string

// The streams a camera may offer.
const (
	StreamMain StreamID = "main"
	StreamSub  StreamID = "sub"
)

// Audience names the kind of client a Grant or token was made for.
type Audience string

// Audiences.
const (
	AudienceWeb    Audience = "web"
	AudienceRTSP   Audience = "rtsp"
	AudienceGoogle Audience = "google"
	AudienceAlexa  Audience = "alexa"
)

var deviceIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,63}$`)

// ParseDeviceID validates s as a device id.
func ParseDeviceID(s string) (DeviceID, error) {
	if !deviceIDPattern.MatchString(s) {
		return "", fmt.Errorf("%w: %q", ErrBadDeviceID, s)
	}
	return DeviceID(s), nil
}

// ParseStreamID validates s as a stream id; an empty string means the main stream.
func ParseStreamID(s string) (StreamID, error) {
	switch StreamID(s) {
	case "", StreamMain:
		return StreamMain, nil
	case StreamSub:
		return StreamSub, nil
	}
	return "", fmt.Errorf("%w: %q", ErrBadStreamID, s)
}

// Grant says that a user may read one device's media until an expiry, for one
// audience. Its fields are unexported: only an Issuer can make a valid one, and
// the zero Grant allows nothing.
type Grant struct {
	user     UserID
	device   DeviceID
	audience Audience
	expiry   time.Time
	lease    *Lease // nil: ends only at expiry
	// epoch is the instant from which the holder may see the device's
	// media: objects captured before it are refused (zero: none are).
	epoch time.Time
	// until, when not zero, is the instant from which the holder may no
	// longer see the device's media: objects captured at or after it are
	// refused (an export: the release that ended its household's epoch).
	until  time.Time
	minted bool
}

// Lease ties grants to what they were minted from (an ownership, a share,
// an account): revoking it ends every grant minted under it at once, and
// outputs that watch Done end their sessions.
type Lease struct {
	// ctx is cancelled by Revoke: its Done is the lease's, and AfterRevoke
	// hangs functions on it without a goroutine waiting.
	ctx    context.Context
	revoke context.CancelFunc
}

// NewLease returns a live lease.
func NewLease() *Lease {
	ctx, revoke := context.WithCancel(context.Background())
	return &Lease{ctx: ctx, revoke: revoke}
}

// Revoke ends the lease; it is safe to call more than once.
func (l *Lease) Revoke() { l.revoke() }

// Revoked reports whether Revoke was called.
func (l *Lease) Revoked() bool { return l.ctx.Err() != nil }

// AfterRevoke arranges for f to run, on a goroutine of its own, once the
// grant's lease is revoked (at once if it is already); nothing waits
// meanwhile. stop cancels that and reports whether it did (false once f
// has started). A grant without a lease is never revoked: f never runs.
func (g Grant) AfterRevoke(f func()) (stop func() bool) {
	if g.lease == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(g.lease.ctx, f)
}

// Done is closed when the grant's lease is revoked; it is nil (never ready)
// for a grant without a lease.
func (g Grant) Done() <-chan struct{} {
	if g.lease == nil {
		return nil
	}
	return g.lease.ctx.Done()
}

// User is the user the grant was minted for.
func (g Grant) User() UserID { return g.user }

// Device is the only device whose media the grant allows.
func (g Grant) Device() DeviceID { return g.device }

// Audience is the kind of client the grant was minted for.
func (g Grant) Audience() Audience { return g.audience }

// Expiry is when the grant stops allowing reads.
func (g Grant) Expiry() time.Time { return g.expiry }

// Epoch is the instant from which the grant's holder may see the device:
// the current owner's claim (or the last release, for an operator), or the
// share's creation for a sharee. Media captured before it is not theirs.
func (g Grant) Epoch() time.Time {
	if !epochChecked() {
		return time.Time{}
	}
	return g.epoch
}

// Check reports whether the grant allows reading, at now, an object owned by
// device and captured at captured. It is the egress check of invariant 3:
// callers run it right before bytes leave the process, with the device and
// capture time recorded on the object itself. A *MismatchError (another
// device) and an error wrapping ErrBeforeEpoch (captured before the
// grant's epoch) are isolation violations; ErrGrantExpired and
// ErrGrantRevoked only say that the grant ended.
func (g Grant) Check(device DeviceID, captured, now time.Time) error {
	if g.minted && g.device != "" && g.device != device {
		return &MismatchError{Grant: g.device, Object: device}
	}
	if err := g.Live(now); err != nil {
		return err
	}
	if captured.Before(g.Epoch()) {
		return &EpochError{Device: device, Epoch: g.epoch, Captured: captured}
	}
	if !g.until.IsZero() && !captured.Before(g.until) {
		return &EndError{Device: device, Until: g.until, Captured: captured}
	}
	return nil
}

// Until is the instant from which the grant allows no media (zero: none
// such): an export's grant ends at the release of its epoch.
func (g Grant) Until() time.Time { return g.until }

// Live reports whether the grant still allows anything at now: it was
// minted, has not expired and was not revoked. It is the part of Check
// that needs no object, for callers that have none yet (opening a reader).
func (g Grant) Live(now time.Time) error {
	switch {
	case !g.minted || g.device == "":
		return ErrNoGrant
	case !now.Before(g.expiry):
		return ErrGrantExpired
	case g.lease != nil && g.lease.Revoked():
		return ErrGrantRevoked
	}
	return nil
}

// String describes the grant for logs.
func (g Grant) String() string {
	s := fmt.Sprintf("grant(user=%s device=%s audience=%s epoch=%s", g.user, g.device, g.audience,
		g.epoch.UTC().Format(time.RFC3339Nano))
	if !g.until.IsZero() {
		s += " until=" + g.until.UTC().Format(time.RFC3339Nano)
	}
	return s + ")"
}

// Issuer mints Grants. The application makes exactly one and gives it to the
// auth package, which mints only after checking the store.
type Issuer struct {
	now func() time.Time
}

// NewIssuer returns the process's Issuer. Only internal/app may call it; a test
// in app checks that no other package does.
func NewIssuer() *Issuer { return &Issuer{now: time.Now} }

// Mint returns a grant for user to read device for ttl, for audience, with
// no lease and no epoch (everything the device captured). Vigil's viewers
// get MintLeased grants from auth; Mint is for tests and tools.
func (i *Issuer) Mint(user UserID, device DeviceID, aud Audience, ttl time.Duration) Grant {
	return i.MintLeased(user, device, aud, ttl, nil, time.Time{})
}

// MintLeased is Mint for a grant that also ends when lease is revoked and
// allows only media captured at or after epoch (see Grant.Epoch).
func (i *Issuer) MintLeased(user UserID, device DeviceID, aud Audience, ttl time.Duration, lease *Lease, epoch time.Time) Grant {
	return Grant{user: user, device: device, audience: aud, expiry: i.now().Add(ttl), lease: lease, epoch: epoch, minted: true}
}

// MintSpan is MintLeased for a grant that allows only media captured in
// [epoch, until): a household's export of footage from an ownership epoch
// that has ended (until is the release).
func (i *Issuer) MintSpan(user UserID, device DeviceID, aud Audience, ttl time.Duration, lease *Lease, epoch, until time.Time) Grant {
	g := i.MintLeased(user, device, aud, ttl, lease, epoch)
	g.until = until
	return g
}
