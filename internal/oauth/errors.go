package oauth

import (
	"errors"
	"fmt"
)

// Errors returned by the Server, to be tested with errors.Is.
var (
	// ErrNotFound is a link that does not exist, is not the caller's, or
	// has ended.
	ErrNotFound = errors.New("oauth: no such link")
	// ErrTokenExpired is an access token past its expiry: the client
	// should refresh (Google's authExpired).
	ErrTokenExpired = errors.New("oauth: access token expired")
	// ErrTokenInvalid is an access token that is unknown, forged, revoked,
	// or whose link or user has ended (Google's authFailure).
	ErrTokenInvalid = errors.New("oauth: access token invalid or revoked")
	// ErrUnknownDevice is a camera the user cannot see, offered to a link.
	ErrUnknownDevice = errors.New("oauth: no such camera for this user")
)

// RefusedError is a sign-in refused for a reason the person may be told
// (wrong password, too many attempts, account disabled). Code is the HTTP
// status of the page, Msg is shown on it; Err is only logged.
type RefusedError struct {
	Code int
	Msg  string
	Err  error
}

func (e *RefusedError) Error() string { return fmt.Sprintf("sign-in refused: %s: %v", e.Msg, e.Err) }

func (e *RefusedError) Unwrap() error { return e.Err }
