package oauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"vigil/internal/access"
)

// Link is one account linking: an assistant user (one Google or Amazon
// account) allowed to see some of a Vigil user's cameras through a client.
// A Vigil user may have several links, also with one client (several
// people in a household each link their assistant). Every token belongs
// to exactly one link; its id is also the fosite request id the tokens
// share.
type Link struct {
	ID   string
	User access.UserID
	// UserName is the user's name when the link was read (auth.Service.Grant
	// takes names).
	UserName string
	// Client is the client_id of the linked service.
	Client string
	// Devices are the cameras the user chose to expose, sorted. The link
	// only narrows: each use still needs a Grant, so a camera the user can
	// no longer see stays invisible even if it is listed here.
	Devices []access.DeviceID
	// AgentUserID is the opaque, immutable id the assistant knows this link
	// by (Google's agentUserId): random, never the user's name.
	AgentUserID string
	Created     time.Time
	// Linked is when the authorization code was exchanged; zero while the
	// linking is still pending.
	Linked time.Time
	// Revoked is when the link was ended; zero while it is live.
	Revoked time.Time
}

// Live reports whether the link is complete and not revoked.
func (l Link) Live() bool { return !l.Linked.IsZero() && l.Revoked.IsZero() }

// Exposes reports whether the user chose to expose device through l.
func (l Link) Exposes(device access.DeviceID) bool {
	_, found := slices.BinarySearch(l.Devices, device)
	return found
}

// TokenKind is what a stored token record is for.
type TokenKind string

// Token kinds: fosite stores one request per authorization code, PKCE
// challenge (keyed by the code), access token and refresh token.
const (
	KindCode    TokenKind = "code"
	KindPKCE    TokenKind = "pkce"
	KindAccess  TokenKind = "access"
	KindRefresh TokenKind = "refresh"
)

// Token is a stored fosite request under one token signature. Only the
// SHA-256 of the signature is kept, so the database alone cannot be turned
// back into a usable token, and Request never holds a token, code,
// verifier or secret.
type Token struct {
	Kind            TokenKind
	SignatureSHA256 string // hex
	Link            string
	// Active is false for a spent code and for a refresh token retired by
	// rotation (kept so that its reuse can be detected).
	Active  bool
	Created time.Time
	// Expires is when the token stops working; zero: never.
	Expires time.Time
	// Request is the serialized fosite request (see request.go).
	Request []byte
}

// Store keeps links and token records. Lookups of missing entries return
// errors wrapping store.ErrNotFound. A method called with a context from
// BeginTx runs in that transaction; multi-statement methods called without
// one run in their own.
type Store interface {
	LinkStore
	TokenStore
	Transactor
}

// LinkStore keeps links.
type LinkStore interface {
	CreateLink(ctx context.Context, l Link) error
	// Link returns a link, live or not.
	Link(ctx context.Context, id string) (Link, error)
	// LinksOf returns the user's live links, oldest first.
	LinksOf(ctx context.Context, user access.UserID) ([]Link, error)
	SetLinkDevices(ctx context.Context, id string, devices []access.DeviceID) error
	// RevokeLink marks the link revoked and deletes all of its tokens, in
	// one transaction. It reports whether the link was live until now.
	RevokeLink(ctx context.Context, id string, at time.Time) (bool, error)
}

// TokenStore keeps token records.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	Token(ctx context.Context, kind TokenKind, signatureSHA256 string) (Token, error)
	DeleteToken(ctx context.Context, kind TokenKind, signatureSHA256 string) error
	// SpendCode deactivates an active authorization code and marks its
	// link linked. A code that is missing or already spent is an error
	// wrapping store.ErrNotFound, so of two racing exchanges one fails.
	SpendCode(ctx context.Context, signatureSHA256 string, at time.Time) error
	// RetireRefreshTokens deactivates every refresh token of the link but
	// the one with keepSHA256.
	RetireRefreshTokens(ctx context.Context, link, keepSHA256 string) error
	// PurgeOAuth deletes tokens that expired before expired, refresh
	// tokens retired by rotation that were issued before retired, and links
	// never completed that were created before expired.
	PurgeOAuth(ctx context.Context, expired, retired time.Time) (int64, error)
}

// Transactor runs several calls in one transaction: BeginTx returns a
// context the other methods use; Commit or Rollback ends it.
type Transactor interface {
	BeginTx(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// randomID returns n random bytes in hex, with a prefix.
func randomID(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}
