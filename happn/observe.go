package happn

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/logging"
	"github.com/happner-go/happner/metrics"
	"github.com/happner-go/happner/store"
)

// Observability of the server: Prometheus metrics bound once per action,
// the gauges computed when metrics are scraped, and the logs of sessions,
// logins and refused requests.

// Action indexes of the request metrics: the protocol's actions, and one
// for the requests that name none of them.
const (
	actConfigureSession = iota
	actDescribe
	actLogin
	actSet
	actGet
	actCount
	actRemove
	actOn
	actOff
	actAck
	actRequestNonce
	actRevokeToken
	actChangePassword
	actDisconnectChildSessions
	actOther
	numActions
)

var actionNames = [numActions]string{
	"configure-session", "describe", "login", "set", "get", "count", "remove", "on", "off", "ack",
	"request-nonce", "revoke-token", "change-password", "disconnect-child-sessions", "other",
}

// actionIndex returns the metrics index of a request's action.
func actionIndex(action string) int {
	switch action {
	case "set":
		return actSet
	case "get":
		return actGet
	case "on":
		return actOn
	case "off":
		return actOff
	case "remove":
		return actRemove
	case "count":
		return actCount
	case "ack":
		return actAck
	case "login":
		return actLogin
	case "configure-session":
		return actConfigureSession
	case "describe":
		return actDescribe
	case "request-nonce":
		return actRequestNonce
	case "revoke-token":
		return actRevokeToken
	case "change-password":
		return actChangePassword
	case "disconnect-child-sessions":
		return actDisconnectChildSessions
	}
	return actOther
}

// serverMetrics are the server's instruments, bound when it is created;
// nil when metrics are off.
type serverMetrics struct {
	m       *metrics.Metrics
	actions [numActions]*metrics.Action
	// httpConns counts the HTTP connections open and not yet taken over
	// by a websocket (those are counted as sessions).
	httpConns atomic.Int64
}

func newServerMetrics(m *metrics.Metrics) *serverMetrics {
	if m == nil {
		return nil
	}
	sm := &serverMetrics{m: m}
	for i, name := range actionNames {
		sm.actions[i] = m.Action(name)
	}
	return sm
}

// DeniedHook is told about requests that security refused (see
// [Server.OnDenied]).
type DeniedHook func(action, path string)

// OnDenied installs h, called for every client request that security
// refuses while metrics are on, with the request's action and path (the
// mesh counts refused exchange calls with it). Call it before Start.
func (s *Server) OnDenied(h DeniedHook) { s.deniedHook = h }

// requestStatus classifies a request's outcome for the metrics.
func requestStatus(err error) metrics.Status {
	if err == nil {
		return metrics.StatusOK
	}
	var e *errs.Error
	if errors.As(err, &e) && e.Name == "AccessDenied" {
		return metrics.StatusDenied
	}
	return metrics.StatusError
}

// requestDone records a request of action a begun at start that ended
// with *errp, and logs a refused or failed one at debug level.
func (s *Server) requestDone(sess *Session, req *request, a *metrics.Action, start metrics.Stamp, errp *error) {
	err := *errp
	if err == nil {
		a.Done(start, metrics.StatusOK)
		return
	}
	st := requestStatus(err)
	a.Done(start, st)
	if st == metrics.StatusDenied && s.deniedHook != nil {
		s.deniedHook(req.Action, req.path)
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		msg := "happn: request failed"
		if st == metrics.StatusDenied {
			msg = "happn: request refused"
		}
		s.log.Debug(msg, "session", sess.id, "user", sess.username(), "remote", sessionRemote(sess),
			"action", req.Action, "path", req.path, "err", err)
	}
}

// sessionRemote is the client address logs show for a session.
func sessionRemote(sess *Session) string {
	if sess.local {
		return "intra-proc"
	}
	return sess.remoteAddr
}

// logSession logs a session event at debug level.
func (s *Server) logSession(t SessionEventType, sess *Session) {
	if !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	var msg string
	switch t {
	case SessionConnected:
		msg = "happn: session connected"
	case SessionAuthentic:
		msg = "happn: session logged in"
	case SessionDisconnected:
		msg = "happn: session disconnected"
	}
	s.log.Debug(msg, "session", sess.id, "user", sess.username(), "remote", sessionRemote(sess), "local", sess.local)
}

// loginResult classifies a login's outcome for the metrics.
func loginResult(err error) metrics.LoginResult {
	if err == nil {
		return metrics.LoginOK
	}
	e := errs.From(err)
	switch {
	case security.LockedOut(err):
		return metrics.LoginLocked
	case e.Name == "SystemError":
		return metrics.LoginError
	case e.Code == 401 || e.Name != "AccessDenied":
		return metrics.LoginBadCredentials
	}
	return metrics.LoginDenied
}

// loginObserved counts a login of the security service and logs a failed
// one at warn level, with the user and the client address.
func (s *Server) loginObserved(a security.LoginAttempt) {
	r := loginResult(a.Err)
	if s.met != nil {
		s.met.m.Login(r)
	}
	if a.Err == nil {
		return
	}
	remote := a.SourceIP
	if a.Local {
		remote = "intra-proc"
	}
	s.log.Warn("happn: login failed", "user", a.Username, "remote", remote, "result", r.String(),
		"token", a.Token, "reason", errs.From(a.Err).Message)
}

// slowConsumer records a connection closed for falling behind.
func (s *Server) slowConsumer(sess *Session) {
	if s.met != nil {
		s.met.m.SlowConsumer()
	}
	s.log.Warn("happn: slow consumer disconnected", "session", sess.id, "user", sess.username(),
		"remote", sess.remoteAddr, "maxPending", s.cfg.MaxPending)
}

// published records one publication and its deliveries.
func (s *Server) published(delivered, toPeers int) {
	if s.met != nil {
		s.met.m.Published(delivered, toPeers)
	}
}

// state reports the server's gauges when metrics are scraped.
func (s *Server) state() metrics.ServerState {
	var st metrics.ServerState
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.local {
			st.LocalSessions++
			continue
		}
		st.WebsocketSessions++
		if c, ok := sess.out.(*wsConn); ok {
			st.PendingBytes += int64(c.heldBytes())
		}
	}
	st.Connections = st.WebsocketSessions + int(s.met.httpConns.Load())
	return st
}

// trackConn counts the HTTP connections (http.Server.ConnState).
func (s *Server) trackConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.met.httpConns.Add(1)
	case http.StateHijacked, http.StateClosed:
		s.met.httpConns.Add(-1)
	}
}

// InstrumentStore returns st reporting its operations to m under the
// datastore name: happner_store_operation_duration_seconds{store,op} and
// happner_store_errors_total{store}. With m nil it returns st. The server
// instruments the datastores it opens; a store passed in Config.Store is
// used as it is (the cluster instruments its shared store this way).
func InstrumentStore(m *metrics.Metrics, st store.Store, name string) store.Store {
	if m == nil {
		return st
	}
	return store.Instrument(st, func(op string) store.OpObserver { return m.StoreOp(name, op) })
}

// logConfig logs the effective configuration at start, secrets masked.
func (s *Server) logConfig() {
	if !s.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	cfg := s.cfg
	cfg.Name = s.name // a generated or stored name, not the empty one asked for
	s.log.Info("happn: configuration", "config", logging.Summary(cfg))
}

// denied counts a refusal by security outside the protocol ("http").
func (m *serverMetrics) denied(action string) {
	if m != nil {
		m.m.Denied(action)
	}
}

// SetReplicationPaths names the subscription paths through which other
// cluster members replicate this server's publications (the cluster sets
// them): the messages delivered on a member's subscription to one of them
// are counted as replicated out. Call it before Start.
func (s *Server) SetReplicationPaths(paths []string) {
	s.replication = append([]string(nil), paths...)
}

// replicates reports whether a subscription of sess to path is a cluster
// member's replication subscription.
func (s *Server) replicates(sess *Session, path string) bool {
	if !sess.isPeer() {
		return false
	}
	for _, p := range s.replication {
		if p == path {
			return true
		}
	}
	return false
}
