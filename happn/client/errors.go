package client

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Sentinel errors returned (possibly wrapped) by client calls.
var (
	// ErrClosed is returned once Close or Logout has been called.
	ErrClosed = errors.New("happn client: closed")
	// ErrNotConnected is returned for a call made while the client has no
	// logged-in connection (for example while it is reconnecting).
	ErrNotConnected = errors.New("happn client: not connected")
	// ErrConnectionLost is returned for a request whose connection dropped
	// before the reply arrived.
	ErrConnectionLost = errors.New("happn client: connection lost")
	// ErrTimeout is returned when the server does not reply within CallTimeout.
	ErrTimeout = errors.New("happn client: request timed out")
	// ErrSessionEnded is returned after the server ended the session on
	// purpose (server-side-disconnect), when the client will not reconnect.
	ErrSessionEnded = errors.New("happn client: session ended by server")
)

// ServerError is an error reply from the server (a frame whose
// _meta.status is "error"). Fields holds every key of the server's error
// object, including name, message and code.
type ServerError struct {
	// Name is the error name, e.g. "AccessDenied".
	Name string
	// Message is the human readable message, e.g. "Invalid credentials".
	Message string
	// Code is the numeric code (401, 403, 404, 500) or 0 when absent.
	Code int
	// Fields holds every field of the server's error object.
	Fields map[string]any
}

// Error formats the error as "Name: message", as the JavaScript client does.
func (e *ServerError) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// parseServerError builds a ServerError from the raw _meta.error value.
// Like the JavaScript client, the name falls back to the message and then to
// the value itself when the error is not an object.
func parseServerError(raw json.RawMessage) *ServerError {
	se := &ServerError{Fields: map[string]any{}}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			se.Name, se.Message = s, s
			return se
		}
		se.Name = string(raw)
		if se.Name == "" {
			se.Name = "Error"
		}
		return se
	}
	se.Fields = obj
	if m, ok := obj["message"].(string); ok {
		se.Message = m
	}
	if n, ok := obj["name"].(string); ok && n != "" {
		se.Name = n
	} else if se.Message != "" {
		se.Name = se.Message
	} else {
		se.Name = "Error"
	}
	switch c := obj["code"].(type) {
	case float64:
		se.Code = int(c)
	case string:
		_, _ = fmt.Sscanf(c, "%d", &se.Code)
	}
	return se
}

// isAuthError reports whether err is a ServerError with code 401 or 403.
func isAuthError(err error) bool {
	var se *ServerError
	return errors.As(err, &se) && (se.Code == 401 || se.Code == 403)
}
