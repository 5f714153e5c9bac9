package alexa

import (
	"errors"
	"fmt"
)

// Error types of Alexa.ErrorResponse (payload.type); only the type
// reaches the person, the message is for the skill's logs.
const (
	errInvalidCredential = "INVALID_AUTHORIZATION_CREDENTIAL"
	errExpiredCredential = "EXPIRED_AUTHORIZATION_CREDENTIAL"
	errNoSuchEndpoint    = "NO_SUCH_ENDPOINT"
	errUnreachable       = "ENDPOINT_UNREACHABLE"
	errNotInMode         = "NOT_SUPPORTED_IN_CURRENT_MODE"
	errInvalidDirective  = "INVALID_DIRECTIVE"
	errInvalidValue      = "INVALID_VALUE"
	errRateLimit         = "RATE_LIMIT_EXCEEDED"
	errInternal          = "INTERNAL_ERROR"
	errAcceptGrantFailed = "ACCEPT_GRANT_FAILED"
)

// Error is a directive's failure as Alexa is told it: Type and Msg are
// sent, Err is logged only.
type Error struct {
	Type, Msg string
	// Mode is currentDeviceMode, for NOT_SUPPORTED_IN_CURRENT_MODE.
	Mode string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Type, e.Msg, e.Err)
	}
	return e.Type + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func fail(typ, msg string, err error) *Error { return &Error{Type: typ, Msg: msg, Err: err} }

// noSuchEndpoint is the one answer for a camera that is not the link's to
// show, whether it belongs to someone else or does not exist.
func noSuchEndpoint(err error) *Error {
	return fail(errNoSuchEndpoint, "no such endpoint", err)
}

// errorResponse is the event for err: an *Error as it says, anything else
// INTERNAL_ERROR with a generic message.
func errorResponse(d *directive, err error) *response {
	var e *Error
	if !errors.As(err, &e) {
		e = fail(errInternal, "internal error", err)
	}
	namespace := "Alexa"
	if e.Type == errAcceptGrantFailed {
		namespace = "Alexa.Authorization"
	}
	p := map[string]string{"type": e.Type, "message": e.Msg}
	if e.Mode != "" {
		p["currentDeviceMode"] = e.Mode
	}
	return reply(d, namespace, "ErrorResponse", p)
}
