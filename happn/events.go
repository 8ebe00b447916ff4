package happn

import (
	"encoding/json"
	"sync"
)

// SessionEventType names a session event.
type SessionEventType string

// Session events, as happn's session service emits them.
const (
	// SessionConnected: a connection opened (no login yet).
	SessionConnected SessionEventType = "connect"
	// SessionAuthentic: a session logged in.
	SessionAuthentic SessionEventType = "authentic"
	// SessionDisconnected: a session ended.
	SessionDisconnected SessionEventType = "disconnect"
)

// SessionEvent describes a session at one point of its life. It never
// carries a token or a password.
type SessionEvent struct {
	Type      SessionEventType
	ID        string
	Username  string          // "" on insecure servers
	Info      json.RawMessage // the client's login info
	Local     bool            // an in-process connection
	Peer      bool            // a cluster member's connection (info.clusterName)
	Address   string          // the client's IP address
	Protocol  string
	ParentID  string
	Timestamp int64
}

// sessionEvents fans session events out to listeners, in order.
type sessionEvents struct {
	mu        sync.Mutex
	listeners map[int]func(SessionEvent)
	next      int
}

// OnSessionEvent calls fn for every session event, synchronously and in
// order, until the returned cancel function is called. fn must not block.
func (s *Server) OnSessionEvent(fn func(SessionEvent)) (cancel func()) {
	e := &s.sessionEvents
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.listeners == nil {
		e.listeners = map[int]func(SessionEvent){}
	}
	id := e.next
	e.next++
	e.listeners[id] = fn
	return func() {
		e.mu.Lock()
		delete(e.listeners, id)
		e.mu.Unlock()
	}
}

func (s *Server) emitSessionEvent(t SessionEventType, sess *Session) {
	s.logSession(t, sess)
	e := &s.sessionEvents
	e.mu.Lock()
	if len(e.listeners) == 0 {
		e.mu.Unlock()
		return
	}
	fns := make([]func(SessionEvent), 0, len(e.listeners))
	for _, fn := range e.listeners {
		fns = append(fns, fn)
	}
	e.mu.Unlock()
	sess.mu.Lock()
	ev := SessionEvent{Type: t, ID: sess.id, Info: sess.info, Local: sess.local, Peer: sess.peer.Load(),
		Address: sess.remoteAddr, Protocol: sess.protocol, ParentID: sess.parentID, Timestamp: sess.timestamp}
	if sess.user != nil {
		ev.Username = sess.user.Username
	}
	sess.mu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
}

// ActiveSessions returns a description of every logged-in session (the
// counterpart of happn's listActiveSessions): ids, users, info, addresses;
// never tokens. Sessions of the server's own in-process subscriptions are
// not listed.
func (s *Server) ActiveSessions() []SessionEvent {
	live := s.sessionsWhere(func(*Session) bool { return true })
	out := make([]SessionEvent, 0, len(live))
	for _, sess := range live {
		sess.mu.Lock()
		ev := SessionEvent{Type: SessionAuthentic, ID: sess.id, Info: sess.info, Local: sess.local, Peer: sess.peer.Load(),
			Address: sess.remoteAddr, Protocol: sess.protocol, ParentID: sess.parentID, Timestamp: sess.timestamp}
		if sess.user != nil {
			ev.Username = sess.user.Username
		}
		sess.mu.Unlock()
		out = append(out, ev)
	}
	return out
}
