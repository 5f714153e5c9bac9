// Package sqlrow turns the rows of the store's tables into store values,
// and into the records auth reads (auth.Records), for both implementations
// (sqlite, postgres): their drivers differ, their tables and column orders
// do not. Times are Unix nanoseconds, UTC, with 0
// for "not yet" where a column allows it.
//
// It runs no SQL: each implementation queries, then scans here.
package sqlrow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/oauth"
	"vigil/internal/store"
)

// Scanner is one row: database/sql's Row and Rows, pgx's Row and Rows.
type Scanner interface{ Scan(dest ...any) error }

// Rows is a result of several rows, closed by the caller.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect scans every row of rows with scan.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// FromNanos is the time a nanosecond column holds.
func FromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// Nanos is what a nanosecond column holds for t; the zero time is now.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UnixNano()
}

// OptionalTime maps the 0 that stands for "not yet" to the zero time.
func OptionalTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return FromNanos(n)
}

// OptionalNanos is what a column holds for a time that may not be yet:
// 0 for the zero time.
func OptionalNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// DeviceColumns are the columns Device scans, in order.
const DeviceColumns = `id, name, source, cred_user, ha1_md5, ha1_sha256, pass_sha256, created_at, owner, claim_sha256, enabled, epoch_started`

// Device scans DeviceColumns, opening the source with secrets.
func Device(r Scanner, secrets store.Secrets) (store.Device, error) {
	var (
		d              store.Device
		id, src, owner string
		created, epoch int64
		enabled        bool
	)
	c := &d.Credential
	if err := r.Scan(&id, &d.Name, &src, &c.User, &c.HA1MD5, &c.HA1SHA256, &c.PassSHA256, &created,
		&owner, &d.ClaimSHA256, &enabled, &epoch); err != nil {
		return store.Device{}, err
	}
	d.ID, d.CreatedAt, d.EpochStarted = access.DeviceID(id), FromNanos(created), FromNanos(epoch)
	d.Owner, d.Disabled = access.UserID(owner), !enabled
	var err error
	d.Source, err = store.OpenSource(secrets, d.ID, src)
	return d, err
}

// ShareColumns are the columns Share scans, in order.
const ShareColumns = `device, viewer, until, created_at`

// Share scans ShareColumns.
func Share(r Scanner) (store.Share, error) {
	var (
		sh             store.Share
		device, viewer string
		until, created int64
	)
	if err := r.Scan(&device, &viewer, &until, &created); err != nil {
		return store.Share{}, err
	}
	sh.Device, sh.Viewer, sh.CreatedAt = access.DeviceID(device), access.UserID(viewer), FromNanos(created)
	sh.Until = OptionalTime(until)
	return sh, nil
}

// FactsColumns are the columns Facts scans, in order: a device d and the
// share s of one user, left-joined (no share: s's columns are null).
const FactsColumns = `d.owner, d.enabled, d.epoch_started, COALESCE(s.viewer, ''), COALESCE(s.until, 0), COALESCE(s.created_at, 0)`

// Facts scans FactsColumns.
func Facts(r Scanner) (auth.Facts, error) {
	var (
		f                     auth.Facts
		owner, viewer         string
		enabled               bool
		epoch, until, created int64
	)
	if err := r.Scan(&owner, &enabled, &epoch, &viewer, &until, &created); err != nil {
		return auth.Facts{}, err
	}
	f.Owner, f.Disabled, f.EpochStarted = access.UserID(owner), !enabled, FromNanos(epoch)
	if f.Shared = viewer != ""; f.Shared {
		f.ShareUntil, f.ShareCreated = OptionalTime(until), FromNanos(created)
	}
	return f, nil
}

// Principal is a user as auth reads it of a store (auth.Records): without
// tokens, which auth adds, and a missing one told as auth.ErrUnknown.
func Principal(u store.User, err error) (auth.Principal, error) {
	return auth.Principal{ID: u.ID, Name: u.Name, Admin: u.Admin, Disabled: u.Disabled, Credential: u.Credential}, Unknown(err)
}

// Unknown is err with a missing entry (store.ErrNotFound) told as
// auth.ErrUnknown, as auth reads it.
func Unknown(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", auth.ErrUnknown, err)
	}
	return err
}

// AccessColumns are the columns Access scans, in order.
const AccessColumns = `id, viewer, device, output, audience, remote, started, ended, bytes`

// Access scans AccessColumns.
func Access(r Scanner) (store.Access, error) {
	var (
		a                    store.Access
		viewer, dev, aud     string
		started, ended, byts int64
	)
	if err := r.Scan(&a.ID, &viewer, &dev, &a.Output, &aud, &a.Remote, &started, &ended, &byts); err != nil {
		return store.Access{}, err
	}
	a.Viewer, a.Device, a.Audience = access.UserID(viewer), access.DeviceID(dev), access.Audience(aud)
	a.Started, a.Ended, a.Bytes = FromNanos(started), OptionalTime(ended), byts
	return a, nil
}

// Revocation scans id, user, device and created_at.
func Revocation(r Scanner) (store.Revocation, error) {
	var (
		rv           store.Revocation
		user, device string
		at           int64
	)
	if err := r.Scan(&rv.ID, &user, &device, &at); err != nil {
		return store.Revocation{}, err
	}
	rv.User, rv.Device, rv.At = access.UserID(user), access.DeviceID(device), FromNanos(at)
	return rv, nil
}

// APITokenColumns are the columns APIToken scans, in order.
const APITokenColumns = `id, name, ha1_md5, ha1_sha256, pass_sha256, created_at, expires_at, scope`

// APIToken returns a scanner of APITokenColumns for user's tokens.
func APIToken(user access.UserID) func(Scanner) (store.APIToken, error) {
	return func(r Scanner) (store.APIToken, error) {
		t := store.APIToken{User: user}
		var created, expires int64
		c := &t.Credential
		if err := r.Scan(&t.ID, &t.Name, &c.HA1MD5, &c.HA1SHA256, &c.PassSHA256, &created, &expires, &t.Scope); err != nil {
			return store.APIToken{}, err
		}
		t.Created, t.Expires = FromNanos(created), FromNanos(expires)
		return t, nil
	}
}

// Link scans a link's id, user, user name, client, agent user id,
// created_at, linked_at, revoked_at and its devices joined by spaces.
func Link(r Scanner) (oauth.Link, error) {
	var (
		l                        oauth.Link
		user, devices            string
		created, linked, revoked int64
	)
	if err := r.Scan(&l.ID, &user, &l.UserName, &l.Client, &l.AgentUserID, &created, &linked, &revoked, &devices); err != nil {
		return oauth.Link{}, fmt.Errorf("link: %w", err)
	}
	l.User, l.Created = access.UserID(user), FromNanos(created)
	l.Linked, l.Revoked = OptionalTime(linked), OptionalTime(revoked)
	for d := range strings.FieldsSeq(devices) {
		l.Devices = append(l.Devices, access.DeviceID(d))
	}
	slices.Sort(l.Devices)
	return l, nil
}
