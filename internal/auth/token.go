package auth

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"vigil/internal/access"
)

// Stream tokens let clients that cannot send headers (Cast receivers, HLS
// and RTSP players) fetch one camera's media: short-lived, bound to user,
// device, stream and audience, signed with HMAC-SHA256 under a key that
// rotates every tokenKeyPeriod (the key's index travels in the token). A
// token is a claim to ask for a grant, never a grant: every request with
// one is checked against the store again, so a revoked share makes every
// outstanding token useless at once.
var (
	ErrBadToken     = errors.New("stream token malformed or forged")
	ErrTokenExpired = errors.New("stream token expired")
)

// tokenKeyPeriod is how long one signing key is used; a token is accepted
// under its own key while that key is no older than two periods.
const tokenKeyPeriod = time.Hour

// Token is what a stream token says.
type Token struct {
	User     string
	Device   access.DeviceID
	Stream   access.StreamID
	Audience access.Audience
	Expires  time.Time
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
	body := strings.Join([]string{"v1", fmt.Sprint(index), tok.User, string(tok.Device), string(tok.Stream),
		string(tok.Audience), fmt.Sprint(tok.Expires.Unix())}, "|")
	mac := hmac.New(sha256.New, t.key(index))
	mac.Write([]byte(body))
	return tokenEncoding.EncodeToString([]byte(body)) + "." + tokenEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a token's signature, key age and expiry, and returns what it says.
func (t *Tokens) Verify(s string) (Token, error) {
	b64body, b64mac, ok := strings.Cut(s, ".")
	body, err1 := tokenEncoding.DecodeString(b64body)
	sum, err2 := tokenEncoding.DecodeString(b64mac)
	if !ok || err1 != nil || err2 != nil || len(body) > 512 {
		return Token{}, ErrBadToken
	}
	f := strings.Split(string(body), "|")
	if len(f) != 7 || f[0] != "v1" {
		return Token{}, ErrBadToken
	}
	var index uint64
	var expires int64
	if _, err := fmt.Sscan(f[1], &index); err != nil {
		return Token{}, ErrBadToken
	}
	if _, err := fmt.Sscan(f[6], &expires); err != nil {
		return Token{}, ErrBadToken
	}
	now := t.now()
	current := uint64(now.Unix()) / uint64(tokenKeyPeriod/time.Second)
	if index > current || current-index > 1 {
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
	stream, err := access.ParseStreamID(f[4])
	if err != nil {
		return Token{}, ErrBadToken
	}
	tok := Token{User: f[2], Device: device, Stream: stream, Audience: access.Audience(f[5]), Expires: time.Unix(expires, 0)}
	if !now.Before(tok.Expires) {
		return Token{}, ErrTokenExpired
	}
	return tok, nil
}
