package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	fstorage "github.com/ory/fosite/storage"

	"vigil/internal/store"
)

// fositeStore adapts a Store to the storage interfaces of fosite's
// handlers. Records are keyed by the SHA-256 of the token's signature, and
// a request's id is its link's id, so revoking "the request" ends the link.
type fositeStore struct {
	st      Store
	clients map[string]*Client
	now     func() time.Time
	// revoke ends a link (marks it, deletes its tokens, runs OnUnlink
	// after the transaction on ctx, if any, commits).
	revoke func(ctx context.Context, link string) error
}

var (
	_ fosite.Storage                = (*fositeStore)(nil)
	_ oauth2.CoreStorage            = (*fositeStore)(nil)
	_ oauth2.TokenRevocationStorage = (*fositeStore)(nil)
	_ pkce.PKCERequestStorage       = (*fositeStore)(nil)
	_ fstorage.Transactional        = (*fositeStore)(nil)
)

func signatureHash(signature string) string {
	sum := sha256.Sum256([]byte(signature))
	return hex.EncodeToString(sum[:])
}

// GetClient returns a configured client.
func (f *fositeStore) GetClient(_ context.Context, id string) (fosite.Client, error) {
	c, ok := f.clients[id]
	if !ok {
		return nil, fmt.Errorf("client %q: %w", id, fosite.ErrNotFound)
	}
	return fositeClient{c}, nil
}

// ClientAssertionJWTValid and SetClientAssertionJWT belong to JWT client
// authentication (RFC 7523), which Vigil's clients do not use: refuse.
func (f *fositeStore) ClientAssertionJWTValid(context.Context, string) error {
	return fosite.ErrJTIKnown
}

func (f *fositeStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return errors.New("client assertions are not supported")
}

// create stores r under a token's signature; the record expires with the
// kind of token it is for (a PKCE challenge with its code).
func (f *fositeStore) create(ctx context.Context, kind TokenKind, signature string, r fosite.Requester) error {
	data, err := marshalRequest(r)
	if err != nil {
		return err
	}
	use := map[TokenKind]fosite.TokenType{KindCode: fosite.AuthorizeCode, KindPKCE: fosite.AuthorizeCode,
		KindAccess: fosite.AccessToken, KindRefresh: fosite.RefreshToken}[kind]
	return f.st.CreateToken(ctx, Token{Kind: kind, SignatureSHA256: signatureHash(signature), Link: r.GetID(),
		Active: true, Created: f.now(), Expires: r.GetSession().GetExpiresAt(use), Request: data})
}

// get loads the request stored under a signature. Inactive records come
// back with the request and inactive, as fosite's reuse detection needs.
func (f *fositeStore) get(ctx context.Context, kind TokenKind, signature string, into fosite.Session) (r fosite.Requester, active bool, err error) {
	if signature == "" {
		return nil, false, fosite.ErrNotFound // a malformed token has no signature
	}
	t, err := f.st.Token(ctx, kind, signatureHash(signature))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, fosite.ErrNotFound
	}
	if err != nil {
		return nil, false, err
	}
	req, err := unmarshalRequest(t.Request, func(id string) (fosite.Client, error) { return f.GetClient(ctx, id) }, into)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, false, err // the client left the configuration
	}
	if err != nil {
		return nil, false, err
	}
	return req, t.Active, nil
}

func (f *fositeStore) delete(ctx context.Context, kind TokenKind, signature string) error {
	err := f.st.DeleteToken(ctx, kind, signatureHash(signature))
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrNotFound
	}
	return err
}

func (f *fositeStore) CreateAuthorizeCodeSession(ctx context.Context, code string, r fosite.Requester) error {
	return f.create(ctx, KindCode, code, r)
}

// GetAuthorizeCodeSession returns a spent code's request with
// ErrInvalidatedAuthorizeCode, so fosite refuses the replay and revokes
// what the code gave (RFC 6749 §4.1.2).
func (f *fositeStore) GetAuthorizeCodeSession(ctx context.Context, code string, into fosite.Session) (fosite.Requester, error) {
	r, active, err := f.get(ctx, KindCode, code, into)
	if err == nil && !active {
		return r, fosite.ErrInvalidatedAuthorizeCode
	}
	return r, err
}

// InvalidateAuthorizeCodeSession spends the code and completes its link.
func (f *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	err := f.st.SpendCode(ctx, signatureHash(code), f.now())
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrInvalidatedAuthorizeCode // a racing exchange spent it first
	}
	return err
}

func (f *fositeStore) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return f.create(ctx, KindAccess, signature, r)
}

func (f *fositeStore) GetAccessTokenSession(ctx context.Context, signature string, into fosite.Session) (fosite.Requester, error) {
	r, active, err := f.get(ctx, KindAccess, signature, into)
	if err == nil && !active {
		return r, fosite.ErrInactiveToken
	}
	return r, err
}

func (f *fositeStore) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return f.delete(ctx, KindAccess, signature)
}

func (f *fositeStore) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	return f.create(ctx, KindRefresh, signature, r)
}

// GetRefreshTokenSession returns a retired refresh token's request with
// ErrInactiveToken: fosite then treats the call as token reuse and
// revokes the whole grant (RFC 6819 §5.2.2.3), which ends the link.
func (f *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, into fosite.Session) (fosite.Requester, error) {
	r, active, err := f.get(ctx, KindRefresh, signature, into)
	if err == nil && !active {
		return r, fosite.ErrInactiveToken
	}
	return r, err
}

func (f *fositeStore) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return f.delete(ctx, KindRefresh, signature)
}

// RotateRefreshToken is called when refreshToken is used, before its
// successor is stored. It retires every other refresh token of the link
// but keeps the one used: the previous token keeps working until its
// successor has been used once (what Google asks of rotating servers),
// and a token older than that counts as reuse.
func (f *fositeStore) RotateRefreshToken(ctx context.Context, requestID, refreshSignature string) error {
	return f.st.RetireRefreshTokens(ctx, requestID, signatureHash(refreshSignature))
}

// RevokeRefreshToken and RevokeAccessToken end the whole grant — every
// token of the link — and with it the link: RFC 7009 §2.1 lets a
// revocation of either kind take the other with it, and it is what a
// replayed code and a reused refresh token call for.
func (f *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return f.revoke(ctx, requestID)
}

func (f *fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	return f.revoke(ctx, requestID)
}

func (f *fositeStore) CreatePKCERequestSession(ctx context.Context, code string, r fosite.Requester) error {
	return f.create(ctx, KindPKCE, code, r)
}

func (f *fositeStore) GetPKCERequestSession(ctx context.Context, code string, into fosite.Session) (fosite.Requester, error) {
	r, _, err := f.get(ctx, KindPKCE, code, into)
	return r, err
}

// DeletePKCERequestSession keeps the challenge. fosite deletes it before
// comparing the verifier, outside any transaction, so deleting would let
// a second attempt without a verifier pass as a flow that never offered
// PKCE. The challenge expires with its code and goes with its link.
func (f *fositeStore) DeletePKCERequestSession(context.Context, string) error { return nil }

type afterCommitKey struct{}

// BeginTX opens a transaction; work registered with afterCommit runs once
// it commits.
func (f *fositeStore) BeginTX(ctx context.Context) (context.Context, error) {
	ctx, err := f.st.BeginTx(ctx)
	if err != nil {
		return nil, err
	}
	return context.WithValue(ctx, afterCommitKey{}, new([]func())), nil
}

func (f *fositeStore) Commit(ctx context.Context) error {
	if err := f.st.Commit(ctx); err != nil {
		return err
	}
	if later, ok := ctx.Value(afterCommitKey{}).(*[]func()); ok {
		for _, fn := range *later {
			fn()
		}
		*later = nil
	}
	return nil
}

func (f *fositeStore) Rollback(ctx context.Context) error { return f.st.Rollback(ctx) }

// afterCommit runs fn once the transaction on ctx commits, or now when
// there is none: hooks must not announce what a rollback could undo.
func afterCommit(ctx context.Context, fn func()) {
	if later, ok := ctx.Value(afterCommitKey{}).(*[]func()); ok {
		*later = append(*later, fn)
		return
	}
	fn()
}
