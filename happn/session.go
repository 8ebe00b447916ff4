package happn

import (
	"encoding/json"

	"github.com/happner-go/happner/happn/security"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sink is where a session's outgoing frames go: a websocket, or the
// channel of an in-process client.
type sink interface {
	send(frame []byte)
	// sendNow is send, but when nothing is being written to the
	// connection the calling goroutine writes the frame itself instead of
	// starting a flusher (for callers that may block on this connection).
	sendNow(frame []byte)
	// closeWith ends the connection after flushing queued frames.
	closeWith(code int, reason string)
}

// Session is one client connection (a websocket or an in-process client)
// and what it has told the server: protocol, login, info.
type Session struct {
	id     string
	server *Server
	out    sink

	// Connection facts captured when the socket opened.
	remoteAddr string
	remotePort int
	url        string
	headers    map[string]string
	encrypted  bool
	local      bool

	mu       sync.Mutex
	protocol string // "happn" until configure-session
	version  string
	browser  bool // configure-session said the client runs in a browser
	info     json.RawMessage
	loggedIn bool
	user     *SessionUser
	sec      *security.Session // the security session once logged in (secure servers)
	ttlTimer *time.Timer       // ends the session when its policy's ttl runs out
	token    string
	parentID string
	msgCount int64
	// actionSeq counts the session's requests of each action (wrapping),
	// to time the first of each and every metrics.SampleEvery-th after it
	actionSeq [numActions]uint8
	timestamp int64

	alive       atomic.Bool  // a pong (or any legacy ping) arrived since the last ping
	lastLegacy  atomic.Int64 // unix ns of the last legacy client ping
	missedPings int
	closed      atomic.Bool
	// handedOff is set (by this session's reader only) when a frame of
	// the session has just given work to an in-process subscriber: the
	// reader then yields once before writing its replies, so that a quick
	// answer (a mesh method's reply) shares their system call.
	handedOff bool
	peer      atomic.Bool
}

// SessionUser is the identity of a logged-in session on a secure server.
type SessionUser struct {
	Username string `json:"username"`
	UserID   string `json:"userid,omitempty"`
}

// ID returns the session id (a UUID).
func (s *Session) ID() string { return s.id }

// Protocol returns the protocol the session configured ("happn_4"), or
// "happn" when it never sent configure-session.
func (s *Session) Protocol() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.protocol
}

// protocolVersion returns the number of a "happn_N" protocol, 1 for
// "happn" and unknown names (happn falls back to happn_1).
func protocolVersion(p string) int {
	if n, ok := strings.CutPrefix(p, "happn_"); ok && len(n) == 1 && n[0] >= '1' && n[0] <= '9' {
		return int(n[0] - '0')
	}
	return 1
}

func (s *Session) send(frame []byte) {
	if s.closed.Load() {
		return
	}
	s.out.send(frame)
}

// readerState reports, on the session's reader, whether its connection
// has nothing more buffered (the request being handled came alone), and
// the batch the reader is handling; both are zero for connections without
// a reader of their own.
func (s *Session) readerState() (idle bool, batch Batch) {
	c, ok := s.out.(*wsConn)
	if !ok {
		return false, Batch{}
	}
	return c.br.Buffered() == 0, Batch{b: &c.batch, epoch: c.batch.epoch.Load()}
}

func (s *Session) sendNow(frame []byte) {
	if s.closed.Load() {
		return
	}
	s.out.sendNow(frame)
}

// disconnect sends the server-side-disconnect system message with reason,
// then "primus::server::close", then closes: the client does not reconnect.
func (s *Session) disconnect(reason string) {
	if s.closed.Swap(true) {
		return
	}
	var b []byte
	b = append(b, `{"_meta":{"type":"system"},"data":{"reason":`...)
	b = appendString(b, reason)
	b = append(b, `},"eventKey":"server-side-disconnect"}`...)
	s.out.send(b)
	s.out.send([]byte(`"primus::server::close"`))
	s.out.closeWith(closeNormal, "")
	s.server.dropSession(s)
}

// drop closes the connection without telling the client to stay away, so
// it reconnects (heartbeat failure, server restart).
func (s *Session) drop() {
	if s.closed.Swap(true) {
		return
	}
	s.out.closeWith(closeGoingAway, "")
	s.server.dropSession(s)
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// securitySession returns the security session, nil before login.
func (s *Session) securitySession() *security.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sec
}

// username returns the logged-in user's name, "" on insecure servers.
func (s *Session) username() string {
	if u := s.sessionUser(); u != nil {
		return u.Username
	}
	return ""
}

// sessionUser returns the logged-in user, nil when there is none.
func (s *Session) sessionUser() *SessionUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// isPeer reports whether the session is another cluster member's (its
// login info carries a clusterName); noCluster publications skip peers.
func (s *Session) isPeer() bool { return s.peer.Load() }
