package domain

import (
	"errors"
	"fmt"
)

// Error codes. They are the values of Error.Code and the "code" of every error
// answer the HTTP API writes; httpapi alone maps them to statuses, the CLI
// alone to exit codes.
const (
	EINVALID      = "invalid"      // the request is malformed; nothing was changed
	ENOTFOUND     = "not_found"    // the thing asked for does not exist
	ECONFLICT     = "conflict"     // an expected revision is stale
	EUNAUTHORIZED = "unauthorized" // no or unknown credentials
	EFORBIDDEN    = "forbidden"    // known credentials, out of scope
	ETOOLARGE     = "too_large"    // the request body is larger than allowed
	ETOOMANY      = "too_many"     // a limit of the token or namespace is reached; retry after a while
	EUNAVAILABLE  = "unavailable"  // a dependency (Valkey) cannot be reached, is loading or read-only, or did not answer in time; retry
	ECORRUPT      = "corrupt"      // stored data fails its own checksum; an operator runs flowhist verify
	ECANCELED     = "canceled"     // the caller went away before the answer; nobody's failure
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is the one error type users see. Message is safe to show to a user:
// it never contains credentials, tokens or settings secrets.
type Error struct {
	Code    string
	Message string
	// CurrentRevision is set with ECONFLICT: the aggregate revision the
	// caller should have expected.
	CurrentRevision Revision
	// Err is the cause, for logs only: it may say more than a user should
	// see.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ConflictError returns the ECONFLICT error for a stale expectation of the
// named aggregate, carrying the revision it is at now.
func ConflictError(aggregate string, expected Expected, current Revision) *Error {
	return &Error{
		Code:            ECONFLICT,
		Message:         fmt.Sprintf("%s changed since it was read: it is at revision %d, the request expected %s", aggregate, current, expected),
		CurrentRevision: current,
	}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the Message of an
// *Error, "internal error" for any other error, and "" for nil.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
