package happn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Paths of the observability endpoints every node serves. /health and
// /ready need no token, even on a secure server; /metrics needs one there
// unless it is listed in Config.HTTPExclusions (the separate listener of
// Config.MetricsOptions.Addr serves all three without authentication).
const (
	HealthPath  = "/health"
	ReadyPath   = "/ready"
	MetricsPath = "/metrics"
)

// ReadyCheck reports whether one part of a node is ready to serve and,
// when it is not, what it still waits for: missing is rendered as JSON in
// the body of /ready.
type ReadyCheck func() (ready bool, missing any)

// readiness holds the ready checks of the layers of a node.
type readiness struct {
	mu     sync.Mutex
	checks map[string]ReadyCheck
}

// AddReadyCheck adds a check that /ready consults under name ("mesh",
// "cluster"); a node is ready when every check is. The server's own check,
// "happn", waits for Start. The returned function removes the check.
func (s *Server) AddReadyCheck(name string, check ReadyCheck) (remove func()) {
	r := &s.readiness
	r.mu.Lock()
	if r.checks == nil {
		r.checks = map[string]ReadyCheck{}
	}
	r.checks[name] = check
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.checks, name)
		r.mu.Unlock()
	}
}

// Ready reports whether the node is ready and, when it is not, what each
// check that failed misses, by check name.
func (s *Server) Ready() (bool, map[string]any) {
	missing := map[string]any{}
	if ok, why := s.happnReady(); !ok {
		missing["happn"] = why
	}
	r := &s.readiness
	r.mu.Lock()
	names := make([]string, 0, len(r.checks))
	for n := range r.checks {
		names = append(names, n)
	}
	checks := make([]ReadyCheck, 0, len(names))
	sort.Strings(names)
	for _, n := range names {
		checks = append(checks, r.checks[n])
	}
	r.mu.Unlock()
	for i, check := range checks {
		if ok, why := check(); !ok {
			missing[names[i]] = why
		}
	}
	return len(missing) == 0, missing
}

// happnReady is the server's own check: listening and not stopping.
func (s *Server) happnReady() (bool, any) {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	switch {
	case stopped:
		return false, "stopping"
	case !s.serving.Load():
		return false, "not listening yet"
	}
	return true, nil
}

// serveHealth answers /health: 200 while the server runs, 503 once it is
// stopping.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stopping"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyBody is the body of /ready.
type readyBody struct {
	Ready   bool           `json:"ready"`
	Missing map[string]any `json:"missing,omitempty"`
}

// serveReady answers /ready: 200 when every check passes, otherwise 503
// with what each failing check misses.
func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	ok, missing := s.Ready()
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, readyBody{Ready: ok, Missing: missing})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// observabilityRoutes mounts /health, /ready and /metrics on mux.
func (s *Server) observabilityRoutes(mux *http.ServeMux) {
	mux.HandleFunc(HealthPath, s.serveHealth)
	mux.HandleFunc(ReadyPath, s.serveReady)
	if s.met != nil {
		mux.Handle(MetricsPath, s.met.m.Handler())
	}
}

// startObservability opens the separate listener of
// Config.MetricsOptions.Addr, when set.
func (s *Server) startObservability(ctx context.Context) error {
	addr := s.cfg.MetricsOptions.Addr
	if addr == "" {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("happn: metrics listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	s.observabilityRoutes(mux)
	s.obsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: s.cfg.HandshakeTimeout, IdleTimeout: 2 * time.Minute}
	s.obsAddr = ln.Addr().String()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.obsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("happn: metrics listener failed", "addr", s.obsAddr, "err", err)
		}
	}()
	s.log.Info("happn: metrics, health and readiness listening", "addr", s.obsAddr)
	return nil
}

// MetricsAddr returns the address of the separate metrics listener, ""
// when there is none.
func (s *Server) MetricsAddr() string { return s.obsAddr }
