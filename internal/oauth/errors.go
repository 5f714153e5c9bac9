package oauth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ory/fosite"
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

// reason describes a fosite error for the log — its name, hint, debug
// text and cause — without the stack trace its wrapping would print. None
// of these hold the token, code or secret of the request.
func reason(err error) string {
	e := fosite.ErrorToRFC6749Error(err)
	parts := []string{e.ErrorField}
	for _, p := range []string{e.HintField, e.DebugField} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if c := e.Cause(); c != nil && c != error(e) {
		parts = append(parts, "cause: "+c.Error())
	}
	return strings.Join(parts, "; ")
}
