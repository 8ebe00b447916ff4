package happner

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/happner-go/happner/errs"
)

// Error is an error as happner carries it on the wire: a name, a message
// and the error's other own fields (code, reason, …). Callers receive an
// *Error for every failed remote or local call. A method may return an
// *Error to choose the name and fields clients see, or an error type of
// its own that implements [ErrorNamer] and [ErrorFielder].
//
// On the wire the error is {"name", "message", …fields}; in Go, Error()
// is the message alone and the name stays in Name.
type Error struct {
	// Name is the error's name ("Error", "AccessDenied", …).
	Name string
	// Message is the error's message.
	Message string
	// Fields are the error's other fields, sent beside name and message.
	Fields map[string]any
}

// NewError returns an *Error with the given name and message.
func NewError(name, message string) *Error { return &Error{Name: name, Message: message} }

// Error returns the message (the name when there is no message). The
// JavaScript clients print "Name: message"; in Go the name is e.Name.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Message
}

// ErrorName returns e.Name ("Error" when empty), so that an *Error is an
// [ErrorNamer] like the error types of components.
func (e *Error) ErrorName() string {
	if e.Name == "" {
		return "Error"
	}
	return e.Name
}

// ErrorFields returns e.Fields, so that an *Error is an [ErrorFielder].
func (e *Error) ErrorFields() map[string]any { return e.Fields }

// With returns e with field key set to value (for custom error fields).
func (e *Error) With(key string, value any) *Error {
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	e.Fields[key] = value
	return e
}

// MarshalJSON writes {"message", "name", …fields}.
func (e *Error) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(e.Fields)+2)
	for k, v := range e.Fields {
		m[k] = v
	}
	m["message"] = e.Message
	name := e.Name
	if name == "" {
		name = "Error"
	}
	m["name"] = name
	return json.Marshal(m)
}

// UnmarshalJSON reads an error object; a non-object becomes the message.
func (e *Error) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		var s any
		_ = json.Unmarshal(b, &s)
		*e = Error{Name: "Error", Message: fmt.Sprint(s)}
		return nil
	}
	*e = Error{Name: "Error"}
	if v, ok := m["message"].(string); ok {
		e.Message = v
	}
	if v, ok := m["name"].(string); ok && v != "" {
		e.Name = v
	}
	delete(m, "message")
	delete(m, "name")
	delete(m, "stack")
	if len(m) > 0 {
		e.Fields = m
	}
	return nil
}

// ErrorNamer is implemented by errors that choose the name callers see
// when a method returns them (the JavaScript error's name, e.g.
// "ValidationError"); errors without one are sent as "Error". It is found
// anywhere in the error's chain (errors.As).
type ErrorNamer interface {
	// ErrorName returns the name sent beside the message.
	ErrorName() string
}

// ErrorFielder is implemented by errors that add fields to the error
// callers see when a method returns them (the JavaScript error's own
// properties, e.g. code or reason). The fields must marshal to JSON; they
// are sent beside name and message, which they cannot replace. It is found
// anywhere in the error's chain (errors.As).
type ErrorFielder interface {
	// ErrorFields returns the fields sent beside name and message.
	ErrorFields() map[string]any
}

// toWireError converts any error into the form sent to callers.
func toWireError(err error) *Error {
	var he *Error
	if errors.As(err, &he) {
		return he
	}
	var ee *errs.Error
	if errors.As(err, &ee) {
		out := &Error{Name: ee.Name, Message: ee.Message}
		if ee.Code != 0 {
			out.With("code", ee.Code)
		}
		if ee.Reason != "" {
			out.With("reason", ee.Reason)
		}
		return out
	}
	out := &Error{Name: "Error", Message: err.Error()}
	var ne ErrorNamer
	if errors.As(err, &ne) {
		if name := ne.ErrorName(); name != "" {
			out.Name = name
		}
	}
	var fe ErrorFielder
	if errors.As(err, &fe) {
		for k, v := range fe.ErrorFields() {
			if k != "name" && k != "message" {
				out.With(k, v)
			}
		}
	}
	return out
}

// Errors with happner's exact wording.
func errUnconfiguredMethod(comp, method string) *Error {
	return NewError("Error", fmt.Sprintf("Call to unconfigured method [%s.%s()]", comp, method))
}

func errUnconfiguredComponent(comp, method string) *Error {
	return NewError("bad endpoint", fmt.Sprintf("Call to unconfigured component: [%s.%s]", comp, method))
}

func errVersionMismatch(comp, method, want, have string) *Error {
	return NewError("Error", fmt.Sprintf("Call to unconfigured method [%s.%s]: request version [%s] does not match component version [%s]", comp, method, want, have))
}

// ErrRequestTimedOut is the error of a call over the wire that got no reply
// within the mesh's setOptions.timeout.
var ErrRequestTimedOut = NewError("Error", "Request timed out")

// Is reports whether target is an *Error with the same name and message, so
// errors.Is(err, ErrRequestTimedOut) works on errors built from the wire.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Name == e.Name && t.Message == e.Message
}
