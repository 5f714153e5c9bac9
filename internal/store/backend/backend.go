// Package backend is the store as the rest of Vigil holds it: the Store
// interface that both implementations (sqlite, postgres) satisfy, and Open,
// which picks one by configuration. The conformance suite
// (testkit/storetest) holds both to the same behaviour through Store.
//
// It holds no SQL: each implementation keeps its own.
package backend

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/auth"
	"vigil/internal/oauth"
	"vigil/internal/record"
	"vigil/internal/store"
	"vigil/internal/store/postgres"
	"vigil/internal/store/sqlite"
)

// Store is every record Vigil keeps. Methods return errors wrapping
// store.ErrNotFound and store.ErrExists where their names say so.
type Store interface {
	Devices
	Users
	Accounts
	oauth.Store
	audit.Store
	// auth.Records: the store answers auth's reads as rows in auth's
	// types; auth.StoreDirectory decides from them, for every store.
	auth.Records
	Revocations
	Recordings
	AccessOf(ctx context.Context, device access.DeviceID, since time.Time, limit int) ([]store.Access, error)
	LiveLinks(ctx context.Context, client string) ([]oauth.Link, error)
	// PutAlexaGrant and AlexaGrant keep an Alexa link's event tokens.
	PutAlexaGrant(ctx context.Context, g store.AlexaGrant) error
	AlexaGrant(ctx context.Context, link string) (store.AlexaGrant, error)
	// SeeAlexaLink notes that a live link was used at; AlexaLinkSeen says
	// when it last was (zero: never noted).
	SeeAlexaLink(ctx context.Context, link string, at time.Time) error
	AlexaLinkSeen(ctx context.Context, link string) (time.Time, error)
	Ping(ctx context.Context) error
	// TraceStatements calls f with every statement run from now on (nil:
	// stop); for tests.
	TraceStatements(f func(query string))
	Close() error
}

// Devices are cameras, their ownership epochs and shares.
type Devices interface {
	CreateDevice(ctx context.Context, d store.Device) error
	Device(ctx context.Context, id access.DeviceID) (store.Device, error)
	Devices(ctx context.Context) ([]store.Device, error)
	DevicesOwnedBy(ctx context.Context, owner access.UserID) ([]store.Device, error)
	DeleteDevice(ctx context.Context, id access.DeviceID) error
	SetDeviceCredential(ctx context.Context, id access.DeviceID, c auth.Credential) error
	SetDeviceName(ctx context.Context, id access.DeviceID, name string) error
	EpochSecret(ctx context.Context, id access.DeviceID) ([]byte, error)
	ClaimDevice(ctx context.Context, claimSHA256 string, owner access.UserID) (store.Device, error)
	ResetDevice(ctx context.Context, id access.DeviceID, claimSHA256 string) error
	// ResetDeviceKeeping is ResetDevice keeping the owner's footage of the
	// ended epoch, with its secret, in an export until deadline; it
	// returns the export's id.
	ResetDeviceKeeping(ctx context.Context, id access.DeviceID, claimSHA256 string, deadline time.Time) (int64, error)
	PutShare(ctx context.Context, sh store.Share) error
	DeleteShare(ctx context.Context, device access.DeviceID, viewer access.UserID) error
	Share(ctx context.Context, device access.DeviceID, viewer access.UserID) (store.Share, error)
	SharesOfDevice(ctx context.Context, device access.DeviceID) ([]store.Share, error)
	SharesWith(ctx context.Context, viewer access.UserID) ([]store.Share, error)
}

// Users are people and the admin, with their standing and credentials.
type Users interface {
	UpsertUser(ctx context.Context, u store.User) error
	User(ctx context.Context, id access.UserID) (store.User, error)
	UserByName(ctx context.Context, name string) (store.User, error)
	Users(ctx context.Context) ([]store.User, error)
	SetUserDisabled(ctx context.Context, user access.UserID, disabled bool) error
	ResetCredential(ctx context.Context, user access.UserID, c auth.Credential) error
}

// Accounts are what people change of their own: passwords, sessions,
// API tokens, invitations and sign-up.
type Accounts interface {
	SetPassword(ctx context.Context, user access.UserID, phc, keepSession string) error
	PasswordHash(ctx context.Context, user access.UserID) (string, error)
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, idSHA256 string, now time.Time) (store.Session, error)
	DeleteSession(ctx context.Context, idSHA256 string) error
	CreateAPIToken(ctx context.Context, t store.APIToken) error
	APITokens(ctx context.Context, user access.UserID, now time.Time) ([]store.APIToken, error)
	DeleteAPIToken(ctx context.Context, user access.UserID, id string) error
	CreateInvitation(ctx context.Context, codeSHA256 string, by access.UserID, expires time.Time) error
	Invitation(ctx context.Context, codeSHA256 string, now time.Time) error
	SignUp(ctx context.Context, u store.User, phc, invitationSHA256 string, now time.Time) error
}

// Recordings is the index of recorded segments (record.Index): what the
// recorder and playback ask, and what reconciliation after a crash and
// retention walk and delete; each camera's retention rule; and events
// with each camera's continuous-recording flags.
type Recordings interface {
	record.Index
	record.EventIndex
	record.PinIndex
	record.ExportIndex
	record.RuleStore
	OldestRecordingsAfter(ctx context.Context, device access.DeviceID, start time.Time, id int64, limit int) ([]record.Recording, error)
	// SetQuota and Quota keep a household's quota of footage (plaintext
	// bytes, 0: the server's default); a household is its owner's account.
	SetQuota(ctx context.Context, user access.UserID, bytes int64) error
	Quota(ctx context.Context, user access.UserID) (int64, error)
}

// Revocations is the log of changes that ended someone's right to view,
// written in each change's own transaction.
type Revocations interface {
	Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error)
	LastRevocation(ctx context.Context) (int64, error)
	PruneRevocations(ctx context.Context, t time.Time) error
	// Wakeups receives when another process may have committed a
	// revocation; nil when the store cannot tell, and the reader polls.
	Wakeups() <-chan struct{}
}

var (
	_ Store = (*sqlite.Store)(nil)
	_ Store = (*postgres.Store)(nil)
)

// Kind names an implementation.
type Kind string

// Kinds.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Open opens the store of kind: at path (SQLite's file) or dsn
// (Postgres), with secrets sealing what it keeps secret.
func Open(ctx context.Context, kind Kind, path, dsn string, secrets store.Secrets) (Store, error) {
	switch kind {
	case SQLite, "":
		return sqlite.Open(ctx, path, sqlite.WithSecrets(secrets))
	case Postgres:
		return postgres.Open(ctx, dsn, postgres.WithSecrets(secrets))
	}
	return nil, fmt.Errorf("open store: unknown kind %q: want sqlite or postgres", kind)
}
