package auth

import "errors"

// The kinds of failed authentication, the label of vigil_auth_failures_total.
const (
	FailWrongPassword = "wrong_password" // a password, API token or RTSP digest that matches nothing
	FailThrottled     = "throttled"      // refused unchecked: too many failures from the address
	FailSessionEnded  = "session_ended"  // a session cookie of no live session
	FailNotPassword   = "not_password"   // an API token where only the password will do
	FailBadToken      = "bad_token"      // a stream token malformed or forged
	FailTokenExpired  = "token_expired"
	FailTokenRevoked  = "token_revoked"
	FailTokenMisused  = "token_misused" // a valid token for another camera, stream or client
)

// FailureKind names the kind of failed authentication err is, or "" when
// err is something else (a camera the caller may not see, the store).
func FailureKind(err error) string {
	var throttled *ThrottledError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &throttled):
		return FailThrottled
	case errors.Is(err, ErrWrongPassword):
		return FailWrongPassword
	case errors.Is(err, ErrSessionEnded):
		return FailSessionEnded
	case errors.Is(err, ErrNotPassword):
		return FailNotPassword
	case errors.Is(err, ErrBadToken):
		return FailBadToken
	case errors.Is(err, ErrTokenExpired):
		return FailTokenExpired
	case errors.Is(err, ErrTokenRevoked):
		return FailTokenRevoked
	case errors.Is(err, ErrTokenMisused):
		return FailTokenMisused
	}
	return ""
}

// FailureKinds lists every kind, so that a counter can start each at zero.
func FailureKinds() []string {
	return []string{FailWrongPassword, FailThrottled, FailSessionEnded, FailNotPassword,
		FailBadToken, FailTokenExpired, FailTokenRevoked, FailTokenMisused}
}

// Failures counts failed authentications by kind, whatever the protocol
// (HTTP Basic, the sign-in form, session cookies, RTSP Digest, stream
// tokens), through Inc (app backs it with vigil_auth_failures_total{kind}:
// auth itself knows no metrics library, which would reach net/http). A
// nil *Failures counts nothing.
type Failures struct {
	Inc func(kind string)
}

// count counts err if it is a failed authentication; it returns err.
func (f *Failures) count(err error) error {
	if f == nil || f.Inc == nil {
		return err
	}
	if k := FailureKind(err); k != "" {
		f.Inc(k)
	}
	return err
}
