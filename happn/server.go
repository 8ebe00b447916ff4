// Package happn is the data, pub/sub and security server of happner-go,
// wire-compatible with the npm happn-3 client (protocol happn_4 over primus
// websockets at /primus).
//
// A [Server] keeps JSON documents at paths in a [store.Store], publishes
// every change to the sessions subscribed to matching paths, and answers
// the happn-3 actions: configure-session, describe, login, request-nonce,
// set, get, count, remove, on, off, ack, revoke-token, change-password and
// disconnect-child-sessions. With Config.Secure it enforces users and
// permissions (package happn/security) on every action and on its HTTP
// routes.
//
// Clients connect over websockets, or in-process through
// [Server.ConnectLocal] with the same semantics and no socket. The layers
// above (the mesh, the cluster) also use [Server.Subscribe] and
// [Server.Publish], which deliver and make publications as Go values.
//
// Every server serves GET /metrics (Prometheus, from Config.Metrics; a
// token is needed on a secure server unless the path is excluded), and
// GET /health and GET /ready without a token: the layers above add their
// part of readiness with [Server.AddReadyCheck]. With metrics on, requests
// are counted by action and status, logins by result, publications,
// deliveries, slow consumers and security denials, and the datastores the
// server opens report their operations; connections, sessions and pending
// bytes are computed when scraped.
package happn

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/metrics"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/webclient"
)

// Version is the happn version this server reports at /version and which
// it is compatible with.
const Version = "13.12.1"

// namePath is where the server's name is kept.
const namePath = "/_SYSTEM/_NETWORK/_SETTINGS/NAME"

// Server is a happn server. Create it with [New], then [Server.Start].
type Server struct {
	cfg   Config
	log   *slog.Logger
	store store.Store
	name  string

	ownStore bool
	subs     *subIndex
	refs     *refGenerator

	subscribeHook SubscribeHook
	// secChanges counts the security changes whose subscription checks
	// have started (see on and securityChanged).
	secChanges     atomic.Uint64
	deliveryFilter DeliveryFilter
	sec            *security.Service
	sessionEvents  sessionEvents
	met            *serverMetrics // nil when metrics are off
	deniedHook     DeniedHook
	replication    []string // the paths cluster members replicate through
	readiness      readiness
	serving        atomic.Bool // Start has finished

	internalOnce   sync.Once
	internal       *Session // the session of in-process subscriptions and publications
	internalEvents atomic.Uint64
	acks           *ackTracker
	unfinished     *byteBudget // bytes held in websocket messages not yet complete
	readBuffers    readBuffers // read buffers lent to connections with input waiting
	views          sync.Pool   // *Publication handed to in-process subscribers

	httpSrv *http.Server
	mux     *http.ServeMux
	addr    atomic.Pointer[string] // the main listener's address, once listening (read by any goroutine)
	obsSrv  *http.Server           // the separate metrics listener, if any
	obsAddr string
	proxies trustedProxies // Config.TrustedProxies, parsed

	mu       sync.Mutex
	sessions map[string]*Session
	stopped  bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

// New creates a server from cfg; it opens the data store but does not
// listen until [Server.Start].
func New(cfg Config) (*Server, error) {
	if err := cfg.Log.Validate(); err != nil {
		return nil, fmt.Errorf("happn: %w", err)
	}
	proxies, err := parseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("happn: %w", err)
	}
	cfg = cfg.withDefaults()
	if cfg.Metrics == nil && cfg.MetricsOptions.On() {
		cfg.Metrics = metrics.New(metrics.Info{})
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		subs:     newSubIndex(),
		refs:     newRefGenerator(),
		sessions: make(map[string]*Session),
		stop:     make(chan struct{}),
		mux:      http.NewServeMux(),
		met:      newServerMetrics(cfg.Metrics),
		proxies:  proxies,
	}
	s.acks = newAckTracker(s)
	s.unfinished = &byteBudget{limit: max(cfg.MaxUnfinished, 0)}
	s.views.New = func() any { return new(Publication) }
	if cfg.Store != nil {
		s.store = cfg.Store
	} else {
		st, err := openDatastores(cfg.Datastores, cfg.Filename, cfg.Metrics)
		if err != nil {
			return nil, fmt.Errorf("happn: opening datastores: %w", err)
		}
		s.store, s.ownStore = st, true
	}
	if s.met != nil {
		s.met.m.ReportServer(s.state)
	}
	if err := s.initName(context.Background()); err != nil {
		s.closeStore()
		return nil, err
	}
	secCfg := cfg.Security
	secCfg.Name = s.name
	if secCfg.AdminPassword == "" && (secCfg.AdminUser == nil || secCfg.AdminUser.Password == "") {
		secCfg.AdminPassword = cfg.AdminPassword
	}
	sec, err := security.New(context.Background(), s.store, secCfg)
	if err != nil {
		s.closeStore()
		return nil, fmt.Errorf("happn: starting security: %w", err)
	}
	s.sec = sec
	if cfg.Secure {
		if def, err := sec.AdminHasDefaultPassword(context.Background()); err == nil && def {
			s.log.Warn("happn: the admin user _ADMIN still has the default password: before the first start set it with HAPPNER_ADMIN_PASSWORD, --admin-password-file or services.security.config.adminUser.password (a stored password is kept), or change it")
		}
	}
	s.sec.OnChange(s.securityChanged)
	s.sec.OnLogin(s.loginObserved)
	s.routes()
	return s, nil
}

func (s *Server) closeStore() {
	if s.ownStore {
		_ = s.store.Close()
	}
}

// initName settles the server's name: configured, else stored, else new.
func (s *Server) initName(ctx context.Context) error {
	name := s.cfg.Name
	if name == "" {
		rec, err := s.store.Get(ctx, namePath)
		if err != nil {
			return fmt.Errorf("happn: reading server name: %w", err)
		}
		if rec != nil {
			var v struct {
				Value string `json:"value"`
			}
			if json.Unmarshal(rec.Data, &v) == nil && v.Value != "" {
				s.name = v.Value
				return nil
			}
		}
		name = "happn_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	}
	s.name = name
	data, _ := json.Marshal(map[string]string{"value": name})
	if _, err := s.store.Set(ctx, namePath, data, store.SetOptions{}); err != nil {
		return fmt.Errorf("happn: storing server name: %w", err)
	}
	return nil
}

// Name returns the server's name.
func (s *Server) Name() string { return s.name }

// Store returns the server's data store.
func (s *Server) Store() store.Store { return s.store }

// Handle registers an HTTP handler on the server's HTTP listener, beside
// /primus, /ping, /version and /browser_client (for the layers above:
// auth, web routes).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

func (s *Server) routes() {
	s.mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("pong"))
	})
	s.mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"version":"` + Version + `"}`))
	})
	// the bundle is prepared (ETag, gzip copy) on its first request, not
	// at every node's start
	s.mux.HandleFunc(webclient.BrowserClientPath, func(w http.ResponseWriter, r *http.Request) {
		webclient.BrowserClient().ServeHTTP(w, r)
	})
	s.mux.HandleFunc("/primus/spec", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"pingInterval":%d,"pathname":"/primus","version":"8.0.9","parser":"json","transformer":"websockets"}`,
			s.cfg.PingInterval.Milliseconds())
	})
	s.observabilityRoutes(s.mux)
}

// ServeHTTP routes websocket upgrades on any path starting with /primus to
// the happn protocol and everything else to the HTTP routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/primus") && r.URL.Path != "/primus/spec" {
		if !isUpgrade(r) {
			http.Error(w, "Upgrade Required", http.StatusUpgradeRequired)
			return
		}
		s.serveWebsocket(w, r)
		return
	}
	if s.cfg.Secure {
		var done bool
		if r, done = s.serveSecureHTTP(w, r); done {
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// Start listens on the configured host and port and serves until Stop.
func (s *Server) Start(ctx context.Context) error {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("happn: listen on %s: %w", addr, err)
	}
	switch s.cfg.Transport.Mode {
	case "http":
	case "https":
		tcfg, err := s.cfg.Transport.tlsConfig()
		if err != nil {
			_ = ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tcfg)
	default:
		_ = ln.Close()
		return fmt.Errorf("happn: unknown transport mode: %s can only be http or https", s.cfg.Transport.Mode)
	}
	a := ln.Addr().String()
	s.addr.Store(&a)
	s.httpSrv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.HandshakeTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if s.met != nil {
		s.httpSrv.ConnState = s.trackConn
	}
	if err := s.startObservability(ctx); err != nil {
		_ = ln.Close()
		return err
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("happn: serve failed", "err", err)
		}
	}()
	go s.heartbeat()
	s.logConfig()
	s.log.Info("happn: listening", "addr", s.Addr(), "name", s.name, "secure", s.cfg.Secure)
	s.serving.Store(true)
	return nil
}

// Listen opens one more listener on address ("host:port", port 0 for any)
// that serves exactly what the main one serves, and returns its address.
// A cluster member uses it to open its client port once it is ready, after
// peers have been connecting to the main port. Start must have been called.
func (s *Server) Listen(ctx context.Context, address string) (string, error) {
	if s.httpSrv == nil {
		return "", errors.New("happn: Listen before Start")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", address)
	if err != nil {
		return "", fmt.Errorf("happn: listen on %s: %w", address, err)
	}
	if s.cfg.Transport.Mode == "https" {
		tcfg, err := s.cfg.Transport.tlsConfig()
		if err != nil {
			_ = ln.Close()
			return "", err
		}
		ln = tls.NewListener(ln, tcfg)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("happn: serve failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Addr returns the address the server listens on ("127.0.0.1:55000"), or
// "" before Start.
func (s *Server) Addr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// StopOptions changes how [Server.Stop] ends client sessions.
type StopOptions struct {
	// NoReconnect tells clients not to reconnect: each session is sent
	// server-side-disconnect with reason "reconnect-false" and
	// "primus::server::close". By default sockets just close and clients
	// reconnect (to this server once it is back).
	NoReconnect bool
}

// Stop closes every session and the listener and releases the store.
func (s *Server) Stop(ctx context.Context, opts ...StopOptions) error {
	var o StopOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	close(s.stop)
	sessions := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		if o.NoReconnect {
			sess.disconnect("reconnect-false")
		} else {
			sess.drop()
		}
	}
	var err error
	if s.httpSrv != nil {
		err = s.httpSrv.Shutdown(ctx)
	}
	if s.obsSrv != nil {
		err = errors.Join(err, s.obsSrv.Shutdown(ctx))
	}
	s.acks.stop()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	if s.ownStore {
		err = errors.Join(err, s.store.Close())
	}
	return err
}

func (s *Server) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	if !s.originAllowed(r) {
		s.log.Warn("happn: websocket from a foreign origin with the session cookie refused",
			"origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	netConn, br, err := upgrade(w, r)
	if err != nil {
		return // upgrade has answered the client
	}
	lim := readLimits{maxLength: s.cfg.MaxLength, frameTimeout: max(s.cfg.FrameTimeout, 0), budget: s.unfinished, buffers: &s.readBuffers}
	conn := newWSConn(netConn, br, lim, s.cfg.MaxPending, 30*time.Second)
	sess := s.newSession(conn)
	conn.onPing = func() { sess.alive.Store(true) }
	conn.onSlowConsumer = func() { s.slowConsumer(sess) }
	sess.url = r.URL.RequestURI()
	sess.headers = map[string]string{}
	for _, h := range []string{"x-forwarded-proto", "x-forwarded-port", "x-forwarded-for", "sec-websocket-extensions", "sec-websocket-key", "sec-websocket-version"} {
		if v := r.Header.Get(h); v != "" {
			sess.headers[h] = v
		}
	}
	if h := r.Host; h != "" {
		sess.headers["host"] = h
	}
	sess.encrypted = r.TLS != nil
	sess.remoteAddr, sess.remotePort = s.proxies.clientAddr(r)
	if !s.register(sess) {
		conn.abort()
		return
	}
	// the connection lives on in a goroutine of its own, so that the HTTP
	// server's goroutine ends and lets go of what it held for the request
	// (its buffers, a stack grown by the handshake): an idle websocket
	// keeps only its own state
	go s.readLoop(sess, conn)
}

func (s *Server) newSession(out sink) *Session {
	sess := &Session{id: uuid.NewString(), server: s, out: out, protocol: "happn"}
	sess.alive.Store(true)
	sess.lastLegacy.Store(time.Now().UnixNano())
	return sess
}

func (s *Server) register(sess *Session) bool {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return false
	}
	s.sessions[sess.id] = sess
	s.mu.Unlock()
	s.emitSessionEvent(SessionConnected, sess)
	return true
}

// dropSession forgets a closed session and its subscriptions.
func (s *Server) dropSession(sess *Session) {
	s.mu.Lock()
	_, known := s.sessions[sess.id]
	delete(s.sessions, sess.id)
	s.mu.Unlock()
	if known {
		defer s.emitSessionEvent(SessionDisconnected, sess)
	}
	s.subs.removeSession(sess)
	s.acks.forget(sess)
	sess.mu.Lock()
	if sess.ttlTimer != nil {
		sess.ttlTimer.Stop()
	}
	sess.mu.Unlock()
	if s.sec != nil {
		s.sec.ForgetSession(sess.id)
	}
}

// readLoop reads and processes the session's frames. Replies are held
// while input is buffered and written together once the reader would
// block, so pipelined requests are answered with one system call.
func (s *Server) readLoop(sess *Session, conn *wsConn) {
	defer sess.drop()
	var buf []byte
	for {
		if conn.br.Buffered() == 0 || conn.heldBytes() > flushThreshold {
			conn.batch.run()
			if sess.handedOff {
				sess.handedOff = false
				runtime.Gosched()
			}
			conn.release()
		}
		err := conn.readMessage(&buf)
		if err != nil {
			conn.batch.run()
			conn.release()
			s.endReading(sess, conn, err)
			return
		}
		if !validFrame(buf) {
			conn.batch.run()
			conn.release()
			s.endReading(sess, conn, errBadUTF8)
			return
		}
		conn.hold()
		s.handleFrame(sess, buf)
		if cap(buf) > freeAllowance {
			buf = nil // do not keep a large buffer for an idle connection
		}
	}
}

// endReading closes a connection whose reader stopped with err: a
// protocol violation or a limit gets its close code, the peer's close has
// been answered already, and a broken socket is dropped.
func (s *Server) endReading(sess *Session, conn *wsConn, err error) {
	var ce *closeError
	switch {
	case errors.As(err, &ce):
		s.log.Warn("happn: closing socket", "session", sess.id, "reason", ce.reason, "code", ce.code,
			"remote", sess.remoteAddr)
		conn.closeWith(ce.code, ce.reason)
		sess.drop()
		conn.awaitPeerClose(time.Second)
	case errors.Is(err, errPeerClosed):
	default:
		conn.abort()
	}
}

// Sessions returns the number of connected sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Disconnect ends the session with the given id on purpose: the client is
// sent server-side-disconnect with reason and does not reconnect.
func (s *Server) Disconnect(sessionID, reason string) bool {
	s.mu.Lock()
	sess := s.sessions[sessionID]
	s.mu.Unlock()
	if sess == nil {
		return false
	}
	sess.disconnect(reason)
	return true
}

// heartbeat pings happn_4 sessions every PingInterval and ends those that
// stopped answering; it ends legacy sessions that stopped pinging.
func (s *Server) heartbeat() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mu.Lock()
			sessions := make([]*Session, 0, len(s.sessions))
			for _, sess := range s.sessions {
				sessions = append(sessions, sess)
			}
			s.mu.Unlock()
			ping := []byte(`"primus::ping::` + strconv.FormatInt(now.UnixMilli(), 10) + `"`)
			for _, sess := range sessions {
				if sess.local {
					continue
				}
				if protocolVersion(sess.Protocol()) < 4 {
					if now.UnixNano()-sess.lastLegacy.Load() > int64(s.cfg.LegacyPingTimeout) {
						sess.drop()
					}
					continue
				}
				if !sess.alive.Swap(false) {
					sess.missedPings++
					if sess.missedPings > 1 {
						s.log.Debug("happn: session unresponsive, closing", "session", sess.id)
						sess.drop()
						continue
					}
				} else {
					sess.missedPings = 0
				}
				sess.send(ping)
			}
		}
	}
}
