package client

import (
	"encoding/json"
	"fmt"
	"time"
)

// ItemMeta is the _meta of a stored item as the server returns it.
type ItemMeta struct {
	// Path is the item's path.
	Path string `json:"path"`
	// Created is the creation time in Unix milliseconds (0 when absent).
	Created int64 `json:"created,omitempty"`
	// Modified is the last modification time in Unix milliseconds.
	Modified int64 `json:"modified,omitempty"`
	// ModifiedBy is the user that last wrote the item, when the server says.
	ModifiedBy string `json:"modifiedBy,omitempty"`
	// Published is true on a set or remove reply once subscribers were notified.
	Published bool `json:"published,omitempty"`
}

// Item is one stored value: the document (without _meta) and its meta data.
type Item struct {
	// Data is the JSON document, without its _meta member.
	Data json.RawMessage
	// Meta is the item's _meta.
	Meta ItemMeta
}

// Decode unmarshals the item's document into v.
func (i Item) Decode(v any) error {
	if len(i.Data) == 0 {
		return fmt.Errorf("happn client: item %q has no data", i.Meta.Path)
	}
	if err := json.Unmarshal(i.Data, v); err != nil {
		return fmt.Errorf("happn client: decode item %q: %w", i.Meta.Path, err)
	}
	return nil
}

// GetResult is the answer to Get. A path without '*' yields at most one item
// and List false; a wildcard path (or a path_only query) yields a list.
type GetResult struct {
	// List is true when the server answered with the array form.
	List bool
	// Items are the items found, in the server's order.
	Items []Item
}

// One returns the first item, or nil when nothing was found.
func (r *GetResult) One() *Item {
	if r == nil || len(r.Items) == 0 {
		return nil
	}
	return &r.Items[0]
}

// Origin identifies the session that caused a publication.
type Origin struct {
	// ID is the publisher's session id.
	ID string `json:"id"`
	// Username is the publisher's user (secure servers).
	Username string `json:"username,omitempty"`
}

// EventMeta is the _meta of a publication.
type EventMeta struct {
	// Channel is the subscription channel the event was routed by, e.g. "/ALL@/test/*".
	Channel string `json:"channel"`
	// Action is the operation, "/SET@<path>" or "/REMOVE@<path>".
	Action string `json:"action"`
	// Path is the concrete path written or removed.
	Path string `json:"path"`
	// Type is "data" for publications.
	Type string `json:"type"`
	// SessionID is the publisher's session id.
	SessionID string `json:"sessionId"`
	// PublicationID is "<publisher session>-<eventId>".
	PublicationID string `json:"publicationId"`
	// Consistency is the publication's consistency (1 deferred, 2 transactional, 3 acknowledged).
	Consistency int `json:"consistency"`
	// Created and Modified are Unix milliseconds (absent for noStore and removes).
	Created int64 `json:"created,omitempty"`
	// Modified is the modification time in Unix milliseconds.
	Modified int64 `json:"modified,omitempty"`
	// Depth is the variable depth of the subscription, when it has one.
	Depth int `json:"depth,omitempty"`
	// EventOrigin is the publisher, on secure servers.
	EventOrigin *Origin `json:"eventOrigin,omitempty"`
	// Acknowledged is set by the client for consistency-3 publications once
	// the ack was accepted by the server.
	Acknowledged bool `json:"-"`
	// Fields holds every _meta member, including custom keys from the
	// publisher's meta option.
	Fields map[string]json.RawMessage `json:"-"`
}

// Event is a publication delivered to an On handler (or an initial value
// emitted because of InitialEmit, whose Meta then only has Path, Created and
// Modified).
type Event struct {
	// Data is the published document (null for removes seen by merge subscribers).
	Data json.RawMessage
	// Meta is the publication's meta data.
	Meta EventMeta
}

// Decode unmarshals the event's data into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("happn client: decode event on %q: %w", e.Meta.Path, err)
	}
	return nil
}

// User is the user part of a session on a secure server.
type User struct {
	// Username is the login name.
	Username string `json:"username"`
	// UserID is the server's id for the user.
	UserID string `json:"userid,omitempty"`
	// Custom is the user's custom data, if any.
	Custom json.RawMessage `json:"custom_data,omitempty"`
}

// ServerInfo is what the server said about itself.
type ServerInfo struct {
	// Name is the server (mesh) name.
	Name string `json:"name"`
	// Secure is true when the server requires credentials.
	Secure bool `json:"secure"`
}

// Session is the session record returned by login.
type Session struct {
	// ID is the session id; it changes on every reconnect.
	ID string `json:"id"`
	// Token is the session token (secure servers).
	Token string `json:"token,omitempty"`
	// User is the logged-in user (secure servers).
	User *User `json:"user,omitempty"`
	// Happn describes the server.
	Happn ServerInfo `json:"happn"`
	// Protocol is the negotiated protocol, "happn_4".
	Protocol string `json:"protocol,omitempty"`
	// ParentID is the session the token was first issued to.
	ParentID string `json:"parentId,omitempty"`
	// Info echoes the login info.
	Info map[string]any `json:"info,omitempty"`
	// Raw is the whole session record as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// PublishResult is the body of a publication-ack message, delivered to the
// OnPublished callback of a deferred or acknowledged set.
type PublishResult struct {
	// Successful is the number of recipients the publication reached.
	Successful int `json:"successful"`
	// Failed is the number of recipients it failed for.
	Failed int `json:"failed"`
	// Skipped is the number of recipients skipped.
	Skipped int `json:"skipped"`
	// Queued is the number of recipients queued.
	Queued int `json:"queued"`
	// Acknowledged is the number of acks received (consistency 3).
	Acknowledged int `json:"acknowledged"`
}

// ConnectionEventType names a connection event, with the same strings as
// the JavaScript client's events.
type ConnectionEventType string

// Connection event types.
const (
	// EventConnectionEnded: the socket closed (for whatever reason).
	EventConnectionEnded ConnectionEventType = "connection-ended"
	// EventReconnectScheduled: a reconnect attempt is scheduled after Delay.
	EventReconnectScheduled ConnectionEventType = "reconnect-scheduled"
	// EventReconnectSuccessful: a new socket is open, logged in and re-subscribed.
	EventReconnectSuccessful ConnectionEventType = "reconnect-successful"
	// EventReconnectError: a reconnect attempt failed (Err says why).
	EventReconnectError ConnectionEventType = "reconnect-error"
	// EventSessionEnded: the server ended the session on purpose (Reason).
	EventSessionEnded ConnectionEventType = "session-ended"
	// EventSystemMessage: any other system message (Key, Data).
	EventSystemMessage ConnectionEventType = "system-message"
)

// ConnectionEvent reports a change of the client's connection.
type ConnectionEvent struct {
	// Type is the kind of event.
	Type ConnectionEventType
	// SessionID is the session the event concerns.
	SessionID string
	// Reason is the server's reason for session-ended (e.g. "token-revoked").
	Reason string
	// Attempt is the reconnect attempt number (1-based).
	Attempt int
	// Delay is the wait before a scheduled reconnect attempt.
	Delay time.Duration
	// Err is the failure of a reconnect attempt.
	Err error
	// Key is the eventKey of a system message.
	Key string
	// Data is the data of a system message or session-ended.
	Data json.RawMessage
}
