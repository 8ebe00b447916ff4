// Package errs defines the errors that happner-go sends to clients: each
// carries the name, message and code that the npm clients read from a
// reply's _meta.error, and never a stack trace.
package errs

import (
	"errors"
	"fmt"
)

// Error is an error that is sent to clients in a reply's _meta.error. Only
// Name, Message, Code and Reason travel.
type Error struct {
	// Name is the error type clients see ("AccessDenied", "SystemError",
	// "Error", ...). The npm client renders errors as "Name: Message".
	Name string
	// Message is the human-readable text, matching happn-3's wording.
	Message string
	// Code is the HTTP-like status code (401, 403, 404, 500), 0 for none.
	Code int
	// Reason is an optional detail (happn's "reason" field).
	Reason string
	// Err is the underlying cause, kept for logs and errors.Is; never sent.
	Err error
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// AccessDenied returns the 403 error of a refused request.
func AccessDenied(message string) *Error {
	return &Error{Name: "AccessDenied", Message: message, Code: 403}
}

// InvalidCredentials returns the 401 error of a failed login; its name is
// "AccessDenied", as in happn-3, so clients stop retrying.
func InvalidCredentials(message string) *Error {
	return &Error{Name: "AccessDenied", Message: message, Code: 401}
}

// System wraps a failure of a service (data, subscription, security) as
// happn's SystemError with code 500; reason names the area.
func System(err error, reason string) *Error {
	return &Error{Name: "SystemError", Message: err.Error(), Code: 500, Reason: reason, Err: err}
}

// Plain returns the error of a malformed request (bad path, bad option): a
// JavaScript Error, name "Error", no code.
func Plain(format string, args ...any) *Error {
	return &Error{Name: "Error", Message: fmt.Sprintf(format, args...)}
}

// Validation returns happn's ValidationError (code 500).
func Validation(message string) *Error {
	return &Error{Name: "ValidationError", Message: message, Code: 500}
}

// From converts any error into the form sent to clients: an *Error in the
// chain is used as it is, anything else becomes a plain Error.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Name: "Error", Message: err.Error(), Err: err}
}
