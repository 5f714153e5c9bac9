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
// outstanding token useless at once. A token also carries when it was
// minted: one minted before its holder's current epoch (a share revoked and
// granted again, a camera released and claimed again) stays dead.
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
	// Binding is what the token was minted in — a sign-in session, an API
	// token, the password, an account link — so that ending it ends the
	// token. Its ID never contains '|'.
	Binding Binding
	Expires time.Time
	// Issued is when the token was minted; Mint sets it.
	Issued time.Time
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

// Mint returns a token for tok, valid until tok.Expires, issued now.
func (t *Tokens) Mint(tok Token) string {
	now := t.now()
	index := uint64(now.Unix()) / uint64(tokenKeyPeriod/time.Second)
	body := strings.Join([]string{"v3", fmt.Sprint(index), tok.User, string(tok.Device), string(tok.Stream),
		string(tok.Audience), tok.Binding.String(), fmt.Sprint(tok.Expires.Unix()), fmt.Sprint(now.UnixNano())}, "|")
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
	if len(f) != 9 || f[0] != "v3" {
		return Token{}, ErrBadToken
	}
	var index uint64
	var expires, issued int64
	if _, err := fmt.Sscan(f[1], &index); err != nil {
		return Token{}, ErrBadToken
	}
	if _, err := fmt.Sscan(f[7], &expires); err != nil {
		return Token{}, ErrBadToken
	}
	if _, err := fmt.Sscan(f[8], &issued); err != nil {
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
	binding, ok := parseBinding(f[6])
	if !ok {
		return Token{}, ErrBadToken
	}
	tok := Token{User: f[2], Device: device, Stream: stream, Audience: access.Audience(f[5]),
		Binding: binding, Expires: time.Unix(expires, 0), Issued: time.Unix(0, issued)}
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

// PasswordFingerprint names a stored password hash without revealing it:
// when the password changes, tokens bound to the old one stop working.
func PasswordFingerprint(stored string) string {
	sum := sha256.Sum256([]byte("vigil password fingerprint|" + stored))
	return hex.EncodeToString(sum[:8])
}

// leaseBinding is what a grant is leased to besides its user and camera:
// the account link, whose end (RevokeBound) must stop its views and no
// others. Other bindings are checked on every request and share the user's
// lease, so that the lease table grows with links, not with every sign-in
// session that ever minted a token.
func leaseBinding(b Binding) Binding {
	if b.Via == ViaLink {
		return b
	}
	return Binding{}
}

// TokenCaller verifies a stream token and returns its holder: the token's
// user, active, while what the token was minted in stands. It returns
// ErrBadToken, ErrTokenExpired, ErrTokenRevoked or the user's lookup
// error. A token is a claim to ask for a grant, never a grant: Grant
// checks the camera, stream and kind of client it was minted for, and the
// store, on every use.
func (s *Service) TokenCaller(ctx context.Context, raw string) (Caller, error) {
	c, err := s.tokenCaller(ctx, raw)
	return c, s.Failures.count(err)
}

func (s *Service) tokenCaller(ctx context.Context, raw string) (Caller, error) {
	if s.tokens == nil {
		return Caller{}, ErrBadToken
	}
	tok, err := s.tokens.Verify(raw)
	if errors.Is(err, ErrTokenExpired) && tok.User != "" && s.renewals.recent(raw, s.now()) {
		err = nil // a view in progress: the token renews while it is used
	}
	if err != nil {
		return Caller{}, err
	}
	p, err := s.active(ctx, tok.User)
	if err != nil {
		return Caller{}, err
	}
	if err := s.bound(ctx, p, tok.Binding); err != nil {
		return Caller{}, fmt.Errorf("%w: %w", ErrTokenRevoked, err)
	}
	return Caller{Principal: p, Binding: tok.Binding, Token: &tok, raw: raw}, nil
}

// tokenGrant is Grant for a caller who presented a stream token: it
// returns ErrTokenMisused for another camera, stream or kind of client,
// and ErrTokenRevoked for a token minted before its holder's current epoch.
func (s *Service) tokenGrant(ctx context.Context, c Caller, use Use) (access.Grant, error) {
	g, err := s.tokenGrantOf(ctx, c, use)
	return g, s.Failures.count(err)
}

func (s *Service) tokenGrantOf(ctx context.Context, c Caller, use Use) (access.Grant, error) {
	tok := c.Token
	use.Device = tokenDevice(*tok, use.Device)
	if tok.Device != use.Device || !tok.Opens(use.Stream) ||
		!slices.Contains(use.Audiences, tok.Audience) {
		return access.Grant{}, ErrTokenMisused
	}
	g, err := s.grant(ctx, c, use.Device, tok.Audience, leaseBinding(tok.Binding))
	if err == nil && tok.Issued.Before(g.Epoch()) {
		// Minted under an earlier share or ownership of the holder, which
		// ended: re-sharing or re-claiming does not bring it back.
		return access.Grant{}, fmt.Errorf("%w: minted %s, before the holder's access began at %s",
			ErrTokenRevoked, tok.Issued.UTC().Format(time.RFC3339Nano), g.Epoch().UTC().Format(time.RFC3339Nano))
	}
	if err == nil {
		s.renewals.used(c.raw, s.now())
	}
	return g, err
}

// TokenGrant is TokenCaller then Grant, for a request that carries nothing
// but the token (an RTSP player, a smart display's signaling).
func (s *Service) TokenGrant(ctx context.Context, raw string, use Use) (access.Grant, Token, error) {
	c, err := s.TokenCaller(ctx, raw)
	if err != nil {
		return access.Grant{}, Token{}, err
	}
	g, err := s.Grant(ctx, c, use)
	if err != nil {
		return access.Grant{}, Token{}, err
	}
	return g, *c.Token, nil
}

// StreamToken mints a stream token for c to read device's stream through
// clients of audience aud, after a grant says c may: it lasts ttl at most,
// never past that grant, and dies with c's Binding. A stream token mints
// no other.
func (s *Service) StreamToken(ctx context.Context, c Caller, device access.DeviceID, stream access.StreamID,
	aud access.Audience, ttl time.Duration,
) (string, time.Time, error) {
	if s.tokens == nil || c.Token != nil {
		return "", time.Time{}, fmt.Errorf("%w: stream tokens are minted for a signed-in caller", ErrForbidden)
	}
	g, err := s.Grant(ctx, c, Use{Device: device, Audiences: []access.Audience{aud}})
	if err != nil {
		return "", time.Time{}, err
	}
	expires := s.now().Add(ttl)
	if g.Expiry().Before(expires) {
		expires = g.Expiry()
	}
	tok := s.tokens.Mint(Token{User: c.Name, Device: device, Stream: stream, Audience: aud,
		Binding: c.Binding, Expires: expires})
	return tok, expires, nil
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
