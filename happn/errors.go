package happn

import (
	"github.com/happner-go/happner/errs"
)

// Error is the error type sent to clients; see package errs.
type Error = errs.Error

// SystemError wraps a failure of a service as happn's SystemError.
func SystemError(err error, reason string) *Error { return errs.System(err, reason) }

func plainError(format string, args ...any) *Error { return errs.Plain(format, args...) }

func asWireError(err error) *Error { return errs.From(err) }
