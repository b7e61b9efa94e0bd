package latchkey

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in the http transport; the
// command line prints the message and exits non-zero.
const (
	EINVALID      = "invalid"         // the input is wrong; the message says what to fix
	ENOTFOUND     = "not_found"       // the thing named does not exist
	ECONFLICT     = "conflict"        // the thing exists already, or changed meanwhile
	EUNAUTHORIZED = "unauthorized"    // who are you? (no or bad credentials)
	EFORBIDDEN    = "forbidden"       // known caller, not allowed
	ERATELIMITED  = "rate_limited"    // too many attempts; try later
	EUNAVAILABLE  = "unavailable"     // a dependency (the store) cannot be reached
	EUPSTREAM     = "bad_gateway"     // the upstream of a route failed to answer
	ETIMEOUT      = "gateway_timeout" // the upstream of a route did not answer in time
	EINTERNAL     = "internal"        // a bug or an unexpected failure
)

// Error is the error type of latchkey. Message is written for the client and
// never holds a secret; Err is the cause, for the log only.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error returns the message and, when present, the cause. It is what a log
// line shows; clients are shown ErrorMessage.
func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return e.Message
	case e.Message == "":
		return e.Err.Error()
	default:
		return e.Message + ": " + e.Err.Error()
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted client message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the code and client message that keeps err as
// its cause for the log.
func Wrap(err error, code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client message of the first *Error in err's chain.
// Any other error yields a generic message, so that causes (which may name
// files, hosts or SQL) never reach a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok && e.Message != "" {
		return e.Message
	}
	return "An internal error occurred."
}
