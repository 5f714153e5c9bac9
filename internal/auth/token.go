package auth

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"vigil/internal/access"
)

// Stream tokens let clients that cannot send headers (Cast receivers, HLS
// and RTSP players) fetch one camera's media: short-lived, bound to user,
// device, stream (or the camera's adaptive set of streams), audience and the session they were minted in, signed with HMAC-SHA256 under a key that
// rotates every tokenKeyPeriod (the key's index travels in the token). A
// token is a claim to ask for a grant, never a grant: every request with
// one is checked against the store again, so a revoked share makes every
// outstanding token useless at once.
var (
	ErrBadToken     = errors.New("stream token malformed or forged")
	ErrTokenExpired = errors.New("stream token expired")
	// ErrTokenMisused: a valid token for another camera, stream or kind of client.
	ErrTokenMisused = errors.New("stream token is for another camera, stream or kind of client")
	// ErrTokenRevoked: what the token was minted in (a sign-in session, an
	// API token, the password, an account link) has ended.
	ErrTokenRevoked = errors.New("stream token revoked: what it was minted in has ended")
)

// tokenKeyPeriod is how long one signing key is used; a token is accepted
// under its own key while that key is no older than two periods.
const tokenKeyPeriod = time.Hour

// renewKeyPeriods bounds renewal: a token signed more than this many key
// periods ago is refused even to a viewing session in progress.
const renewKeyPeriods = 12

// renewGap is how recently a token must have been used for its expiry to
// be renewed: a player that keeps reloading its playlist keeps watching.
const renewGap = 30 * time.Second

// Token is what a stream token says.
type Token struct {
	User   string
	Device access.DeviceID
	// Stream is the one stream the token opens, or "" for every stream of
	// the camera (main and sub, its adaptive set): a player on a poor
	// network must be able to step down to the sub stream.
	Stream   access.StreamID
	Audience access.Audience
	// Session names what the token was minted in — a sign-in session, an
	// API token, the password, an account link — so that ending it ends
	// the token. The Directory's Bound checks it; it never contains '|'.
	Session string
	Expires time.Time
}

// Tokens signs and verifies stream tokens.
type Tokens struct {
	master []byte
	now    func() time.Time
}

// NewTokens returns a signer whose keys derive from the master key.
func NewTokens(master []byte) *Tokens { return &Tokens{master: master, now: time.Now} }

func (t *Tokens) key(index uint64) []byte {
	var info [8]byte
	binary.BigEndian.PutUint64(info[:], index)
	k, err := hkdf.Key(sha256.New, t.master, []byte("vigil stream token"), string(info[:]), 32)
	if err != nil {
		panic(err) // only for lengths hkdf cannot produce
	}
	return k
}

var tokenEncoding = base64.RawURLEncoding

// Mint returns a token for tok, valid until tok.Expires.
func (t *Tokens) Mint(tok Token) string {
	index := uint64(t.now().Unix()) / uint64(tokenKeyPeriod/time.Second)
	body := strings.Join([]string{"v2", fmt.Sprint(index), tok.User, string(tok.Device), string(tok.Stream),
		string(tok.Audience), tok.Session, fmt.Sprint(tok.Expires.Unix())}, "|")
	mac := hmac.New(sha256.New, t.key(index))
	mac.Write([]byte(body))
	return tokenEncoding.EncodeToString([]byte(body)) + "." + tokenEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a token's signature, key age and expiry, and returns what it
// says. A genuine token that has expired comes back with ErrTokenExpired, so
// that a viewing session in progress can renew it (Service.TokenGrant);
// anyone else must treat it as refused.
func (t *Tokens) Verify(s string) (Token, error) {
	b64body, b64mac, ok := strings.Cut(s, ".")
	body, err1 := tokenEncoding.DecodeString(b64body)
	sum, err2 := tokenEncoding.DecodeString(b64mac)
	if !ok || err1 != nil || err2 != nil || len(body) > 512 {
		return Token{}, ErrBadToken
	}
	f := strings.Split(string(body), "|")
	if len(f) != 8 || f[0] != "v2" {
		return Token{}, ErrBadToken
	}
	var index uint64
	var expires int64
	if _, err := fmt.Sscan(f[1], &index); err != nil {
		return Token{}, ErrBadToken
	}
	if _, err := fmt.Sscan(f[7], &expires); err != nil {
		return Token{}, ErrBadToken
	}
	now := t.now()
	current := uint64(now.Unix()) / uint64(tokenKeyPeriod/time.Second)
	if index > current || current-index > renewKeyPeriods {
		return Token{}, ErrTokenExpired
	}
	mac := hmac.New(sha256.New, t.key(index))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return Token{}, ErrBadToken
	}
	device, err := access.ParseDeviceID(f[3])
	if err != nil {
		return Token{}, ErrBadToken
	}
	stream, err := tokenStream(f[4])
	if err != nil {
		return Token{}, ErrBadToken
	}
	tok := Token{User: f[2], Device: device, Stream: stream, Audience: access.Audience(f[5]),
		Session: f[6], Expires: time.Unix(expires, 0)}
	if !now.Before(tok.Expires) || current-index > 1 {
		return tok, ErrTokenExpired
	}
	return tok, nil
}

// tokenStream reads a token's stream field: "" is the adaptive set, not
// (as access.ParseStreamID has it) the main stream.
func tokenStream(s string) (access.StreamID, error) {
	if s == "" {
		return "", nil
	}
	return access.ParseStreamID(s)
}

// Opens reports whether the token opens stream ("" where the output
// serves no one stream).
func (t Token) Opens(stream access.StreamID) bool {
	return t.Stream == "" || stream == "" || stream == t.Stream
}

// What a stream token can be bound to: the prefixes of Token.Session.
const (
	BoundSession  = "s:" // a sign-in session, by the SHA-256 of its cookie
	BoundAPIKey   = "k:" // an API token, by its id
	BoundPassword = "p:" // the password, by PasswordFingerprint of its stored hash
	BoundLink     = "l:" // an account link (Google, Alexa), by its id
)

// PasswordFingerprint names a stored password hash without revealing it:
// when the password changes, tokens bound to the old one stop working.
func PasswordFingerprint(stored string) string {
	sum := sha256.Sum256([]byte("vigil password fingerprint|" + stored))
	return hex.EncodeToString(sum[:8])
}

// leaseBinding is what a token's grant is leased to besides its user and
// camera: the account link, whose end (RevokeBound) must stop its views and
// no others. Other bindings are checked on every request and share the
// user's lease, so that the lease table grows with links, not with every
// sign-in session that ever minted a token.
func leaseBinding(session string) string {
	if strings.HasPrefix(session, BoundLink) {
		return session
	}
	return ""
}

// bound checks that what a token was minted in still stands: an API key
// among p's live ones here, the rest in the store.
func (s *Service) bound(ctx context.Context, p Principal, session string) error {
	if id, ok := strings.CutPrefix(session, BoundAPIKey); ok {
		if !slices.ContainsFunc(p.Tokens, func(k APIKey) bool { return k.ID == id }) {
			return errors.New("API token deleted or expired")
		}
		return nil
	}
	return s.dir.Bound(ctx, p, session)
}

// TokenUse is what a request with a stream token asks for.
type TokenUse struct {
	Device access.DeviceID
	// Stream is the stream the output will serve, which the token must
	// open (Token.Opens); "" only where the output serves no one stream (a
	// multivariant playlist, which then lists the streams the token opens).
	Stream access.StreamID
	// Audiences are the kinds of client the output serves.
	Audiences []access.Audience
}

// TokenGrant verifies a stream token for use and mints a grant from the
// store, as for any viewer: a token is a claim to ask, never a grant. It
// returns ErrBadToken, ErrTokenExpired, ErrTokenMisused, ErrTokenRevoked or
// the errors of Grant.
func (s *Service) TokenGrant(ctx context.Context, raw string, use TokenUse) (access.Grant, Token, error) {
	if s.tokens == nil {
		return access.Grant{}, Token{}, ErrBadToken
	}
	tok, err := s.tokens.Verify(raw)
	if errors.Is(err, ErrTokenExpired) && tok.User != "" && s.renewals.recent(raw, s.now()) {
		err = nil // a view in progress: the token renews while it is used
	}
	if err != nil {
		return access.Grant{}, Token{}, err
	}
	use.Device = tokenDevice(tok, use.Device)
	if tok.Device != use.Device || !tok.Opens(use.Stream) ||
		!slices.Contains(use.Audiences, tok.Audience) {
		return access.Grant{}, Token{}, ErrTokenMisused
	}
	p, err := s.active(ctx, tok.User)
	if err != nil {
		return access.Grant{}, Token{}, err
	}
	if err := s.bound(ctx, p, tok.Session); err != nil {
		return access.Grant{}, Token{}, fmt.Errorf("%w: %w", ErrTokenRevoked, err)
	}
	g, err := s.grant(ctx, p, use.Device, tok.Audience, leaseBinding(tok.Session))
	if err == nil {
		s.renewals.used(raw, s.now())
	}
	return g, tok, err
}

// renewals remembers when each stream token was last accepted, so that a
// player that keeps using its token (an HLS player reloads the same
// playlist URL for as long as it plays, and cannot be handed a new one)
// keeps watching past the token's expiry. A token unused for renewGap
// expires for good. The grant and the binding are checked on every use,
// so revocation still ends the view at once.
type renewals struct {
	mu   sync.Mutex
	last map[[32]byte]time.Time // guarded by mu; by SHA-256 of the token
}

// maxRenewals bounds the table; stale entries are dropped when it is full,
// and a token that finds it full of live ones cannot renew (fail closed).
const maxRenewals = 100_000

func (r *renewals) recent(raw string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.last[sha256.Sum256([]byte(raw))]
	return ok && now.Sub(t) < renewGap
}

func (r *renewals) used(raw string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[[32]byte]time.Time{}
	}
	if len(r.last) >= maxRenewals {
		for k, t := range r.last {
			if now.Sub(t) >= renewGap {
				delete(r.last, k)
			}
		}
	}
	if len(r.last) < maxRenewals {
		r.last[sha256.Sum256([]byte(raw))] = now
	}
}
