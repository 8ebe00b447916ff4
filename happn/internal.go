package happn

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/happner-go/happner/pathmatch"
)

// The layers above happn (the mesh, the cluster) subscribe and publish
// in-process through this API: subscribers receive publications as Go
// values, with no JSON framing, and publications made here reach websocket
// and in-process subscribers exactly as a client's set would.

// Origin identifies who caused a publication: happn's _meta.eventOrigin.
type Origin struct {
	Username string `json:"username"`
	ID       string `json:"id"`
}

// Publication is a change as an in-process subscriber receives it. Its
// byte slices are shared: read them, do not modify them.
type Publication struct {
	// Action is "set" or "remove".
	Action string
	// Path is the path written or removed.
	Path string
	// Data is what subscribers receive: the stored item, the published
	// value, or {"removed":n}.
	Data json.RawMessage
	// RawData is the request's data as sent (what merge subscribers get).
	RawData json.RawMessage
	// Created and Modified are the record's times (0 when not stored).
	Created, Modified int64
	// SessionID is the publishing session.
	SessionID string
	// Origin is the publishing user (nil on insecure servers, where
	// sessions have no user).
	Origin *Origin
	// Meta is the publisher's options.meta (custom _meta members).
	Meta json.RawMessage
	// Consistency is the publication's consistency level.
	Consistency int
	// Peer reports that the publisher is a cluster member's session.
	Peer bool
	// Inline reports that the publication comes from a request of a
	// client connection whose reader has nothing else to read: a
	// subscriber may do quick work right here, on that reader, and a reply
	// it publishes to the same client then leaves in the same write as the
	// request's own reply. A subscriber that did so calls Handled.
	Inline bool

	batch   Batch
	handled bool

	// what the id is made of, when asked for (see PublicationID)
	id      string
	eventID json.RawMessage
	seq     uint64
}

// Handled tells the server that the subscriber did its work during the
// call, on the publisher's goroutine (see Inline): the reader then writes
// at once instead of giving a worker a moment to answer first.
func (v *Publication) Handled() { v.handled = true }

// Batch is the batch of the client connection's reader the publication
// was made on (the zero Batch when it was not made on a reader): work the
// subscriber starts for it may wait for the batch's end (see
// [Batch.Defer]) so that a batch of requests costs one write.
func (v *Publication) Batch() Batch { return v.batch }

// PublicationID returns the publication's id, "<session id>-<event id>".
func (v *Publication) PublicationID() string {
	p := publication{id: v.id, eventID: v.eventID, seq: v.seq, publisherID: v.SessionID}
	return p.publicationID()
}

// SubscribeOptions refine [Server.Subscribe].
type SubscribeOptions struct {
	// Action is "ALL" (default), "SET" or "REMOVE".
	Action string
	// Depth bounds a trailing "/**" (default 5).
	Depth int
	// NoPeers skips publications made by cluster members' sessions.
	NoPeers bool
}

// Subscribe calls fn with every publication on a path matching pattern
// (subscription wildcards: segment "*", trailing "/**", "*" for all). fn
// runs on the publisher's goroutine, in publication order: it must return
// quickly and hand any real work to another goroutine. The *Publication is
// valid only during the call (it is reused): keep its fields, not the
// pointer; the byte slices and strings it holds are never changed, so they
// may be kept. cancel removes the subscription.
func (s *Server) Subscribe(pattern string, opts SubscribeOptions, fn func(*Publication)) (cancel func()) {
	s.internalOnce.Do(func() {
		s.internal = s.newSession(discardSink{})
		s.internal.local = true
		s.internal.loggedIn = true
	})
	action := parseAction(strings.ToUpper(opts.Action))
	sub := &subscription{
		ref:      s.refs.next(),
		session:  s.internal,
		action:   action,
		channel:  "/" + action.String() + "@" + pattern,
		path:     pattern,
		authPath: pattern,
		deliver:  fn,
		noPeers:  opts.NoPeers,
	}
	if strings.HasSuffix(pattern, "/**") || pattern == "**" {
		sub.depth = opts.Depth
		if sub.depth <= 0 {
			sub.depth = pathmatch.DefaultDepth
		}
	}
	s.subs.add(sub)
	return func() { s.subs.remove(s.internal, func(x *subscription) bool { return x == sub }) }
}

// PublishRequest is a publication made in-process (see [Server.Publish]).
type PublishRequest struct {
	// Action is "set" (default) or "remove".
	Action string
	// Path is the path the publication is about (no wildcard for sets).
	Path string
	// Data is the value subscribers receive (a JSON object for sets).
	Data json.RawMessage
	// Created and Modified are sent as the record's times when non-zero.
	Created, Modified int64
	// Meta adds custom members to the publication's _meta.
	Meta json.RawMessage
	// Origin is sent as _meta.eventOrigin (nil: none).
	Origin *Origin
	// TargetClients restricts delivery to these session ids.
	TargetClients []string
	// NoCluster skips cluster members' sessions (replicated events are
	// published with it, so they make only one hop).
	NoCluster bool
	// SessionID is reported as the publisher (default: the server's
	// internal session).
	SessionID string
	// WriteInline makes the calling goroutine write the frames to idle
	// connections itself rather than handing them to a flusher: cheaper
	// for a reply to one caller, and the caller may wait on that socket.
	WriteInline bool
}

// Publish delivers a publication to the subscribers of its path without
// storing anything, and returns how many messages were delivered.
func (s *Server) Publish(ctx context.Context, r PublishRequest) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.internalOnce.Do(func() {
		s.internal = s.newSession(discardSink{})
		s.internal.local = true
		s.internal.loggedIn = true
	})
	op := actionSet
	if r.Action == "remove" {
		op = actionRemove
	}
	data := r.Data
	if op == actionSet {
		var err error
		if data, err = wrapValue(data); err != nil {
			return 0, plainError("invalid data: %v", err)
		}
	}
	publisher := s.internal
	sid := publisher.id
	if r.SessionID != "" {
		sid = r.SessionID
	}
	p := &publication{
		seq:         s.internalEvents.Add(1),
		publisher:   publisher,
		publisherID: sid,
		op:          op,
		path:        r.Path,
		data:        data,
		rawData:     r.Data,
		created:     r.Created,
		modified:    r.Modified,
		consistency: consistencyTransactional,
		meta:        r.Meta,
		targets:     r.TargetClients,
		noCluster:   r.NoCluster,
		origin:      r.Origin,
		inline:      r.WriteInline,
	}
	res := s.publish(p)
	return res.successful, nil
}

// discardSink is the sink of the server's internal session: its
// subscriptions deliver to Go functions, never to frames.
type discardSink struct{}

func (discardSink) send([]byte)           {}
func (discardSink) sendNow([]byte)        {}
func (discardSink) closeWith(int, string) {}

// publicationView renders p for in-process subscribers into v (from the
// server's pool: see releaseView).
func publicationView(v *Publication, p *publication) *Publication {
	*v = Publication{
		Action:      "set",
		Path:        p.path,
		Data:        p.data,
		RawData:     p.rawData,
		Created:     p.created,
		Modified:    p.modified,
		SessionID:   p.publisherSessionID(),
		Meta:        p.meta,
		Consistency: p.consistency,
		Origin:      p.eventOrigin(),
		Peer:        p.publisher.isPeer(),
		Inline:      p.readerIdle,
		batch:       p.batch,
		id:          p.id,
		eventID:     p.eventID,
		seq:         p.seq,
	}
	if p.op == actionRemove {
		v.Action = "remove"
	}
	return v
}

// Watched reports whether a set at path would reach a client's
// subscription: a websocket or local client session, not an in-process
// subscriber of [Server.Subscribe]. With peers false, the sessions of
// other cluster members do not count. Publishers of data that only
// matters while somebody looks (the dashboard's snapshots) ask it before
// they build and send.
func (s *Server) Watched(path string, peers bool) bool {
	listp := matchPool.Get().(*[]*subscription)
	list := s.subs.match((*listp)[:0], actionSet, path)
	watched := false
	for _, sub := range list {
		if sub.deliver == nil && (peers || !sub.session.isPeer()) {
			watched = true
			break
		}
	}
	clear(list)
	*listp = list[:0]
	matchPool.Put(listp)
	return watched
}
