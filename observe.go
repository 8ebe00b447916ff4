package happner

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/logging"
	"github.com/happner-go/happner/metrics"
)

// Observability of the mesh: the metrics of the exchange methods it runs,
// its part of /ready, and the summary of its configuration in the log.

// bindMethods binds the metrics of each exposed method of c, once, when
// the component joins the mesh.
func (m *Mesh) bindMethods(c *component) {
	if m.met == nil {
		return
	}
	for _, meth := range c.methods {
		if meth.stats == nil {
			meth.stats = m.met.Call(c.name, meth.name)
		}
	}
}

// callStatus classifies the outcome of a method that ran for took: a
// call that outlasted the exchange timeout has been given up by its
// caller (timeout), one refused by security further down is denied.
func (m *Mesh) callStatus(res callResult, took time.Duration) metrics.Status {
	err := res.failed
	if err == nil {
		err = res.err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || took > time.Duration(m.cfg.SetOptions.Timeout)*time.Millisecond:
		return metrics.StatusTimeout
	case err == nil:
		return metrics.StatusOK
	case isAccessDenied(err):
		return metrics.StatusDenied
	}
	return metrics.StatusError
}

// isAccessDenied reports an error of security's refusal.
func isAccessDenied(err error) bool {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Name == "AccessDenied"
	}
	var he *Error
	return errors.As(err, &he) && he.Name == "AccessDenied"
}

// callDenied counts a call of component.method that the mesh refused
// (authority delegation, "as", REST) when err is security's refusal.
func (m *Mesh) callDenied(component, method string, err error) {
	if m.met == nil || !isAccessDenied(err) {
		return
	}
	m.met.Denied("call")
	m.countDenied(component, method)
}

// countDenied counts a refused call of an existing method; names that are
// not methods of the mesh are not metric labels.
func (m *Mesh) countDenied(component, method string) {
	if c := m.component(component); c != nil {
		if meth := c.methods[method]; meth != nil {
			meth.stats.Count(metrics.StatusDenied)
		}
	}
}

// requestDenied is happn's report of a refused request: a set on an
// exchange request path, or a subscription to the replies of a method
// (clients subscribe before they call), is a refused call of that method
// (happn has counted the security denial itself).
func (m *Mesh) requestDenied(action, path string) {
	var prefix string
	switch action {
	case "set":
		prefix = "/_exchange/requests/" + m.domain + "/"
	case "on":
		prefix = "/_exchange/responses/" + m.domain + "/"
		if _, p, ok := strings.Cut(path, "@"); ok {
			path = p
		}
	default:
		return
	}
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return
	}
	if component, rest, ok := strings.Cut(rest, "/"); ok {
		method, _, _ := strings.Cut(rest, "/")
		m.countDenied(component, method)
	}
}

// restDenied counts a REST call refused at the edge.
func (m *Mesh) restDenied(methodURI string) {
	if m.met == nil {
		return
	}
	m.met.Denied("call")
	parts := strings.Split(strings.TrimPrefix(methodURI, "/"), "/")
	if n := len(parts); n >= 2 {
		m.countDenied(parts[n-2], parts[n-1])
	}
}

// setAwaiting marks a component whose start waits for its dependencies.
func (m *Mesh) setAwaiting(component string, waiting bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.awaiting == nil {
		m.awaiting = map[string]bool{}
	}
	if waiting {
		m.awaiting[component] = true
	} else {
		delete(m.awaiting, component)
	}
}

// meshMissing is what /ready shows while the mesh is not ready.
type meshMissing struct {
	// State is "initializing", "starting" or "stopping".
	State string `json:"state"`
	// AwaitingDependencies are the components whose start waits for
	// their dependencies in the cluster.
	AwaitingDependencies []string `json:"awaitingDependencies,omitempty"`
}

// ready is the mesh's readiness check: its components have started.
func (m *Mesh) ready() (bool, any) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	switch {
	case m.stopped:
		return false, meshMissing{State: "stopping"}
	case m.started:
		return true, nil
	case m.initializing || len(m.order) == 0:
		return false, meshMissing{State: "initializing"}
	}
	mm := meshMissing{State: "starting"}
	for c := range m.awaiting {
		mm.AwaitingDependencies = append(mm.AwaitingDependencies, c)
	}
	slices.Sort(mm.AwaitingDependencies)
	return false, mm
}

// meshSummary is the mesh's configuration as its start logs it.
type meshSummary struct {
	Name                        string     `json:"name"`
	Domain                      string     `json:"domain"`
	Secure                      bool       `json:"secure"`
	Address                     string     `json:"address"`
	Components                  []string   `json:"components"`
	SetOptions                  SetOptions `json:"setOptions"`
	AuthorityDelegationOn       bool       `json:"authorityDelegationOn,omitempty"`
	DirectResponses             bool       `json:"directResponses,omitempty"`
	IgnoreDependenciesOnStartup bool       `json:"ignoreDependenciesOnStartup,omitempty"`
	Clustered                   bool       `json:"clustered,omitempty"`
	Metrics                     bool       `json:"metrics"`
}

// logConfig logs the mesh's effective configuration (its happn server
// logs its own), once it has started.
func (m *Mesh) logConfig() {
	if !m.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	m.mu.RLock()
	s := meshSummary{
		Name: m.name, Domain: m.domain, Secure: m.secure, Address: m.srv.Addr(),
		Components: slices.Clone(m.order), SetOptions: m.cfg.SetOptions,
		AuthorityDelegationOn: m.cfg.AuthorityDelegationOn, DirectResponses: m.cfg.DirectResponses,
		IgnoreDependenciesOnStartup: m.cfg.IgnoreDependenciesOnStartup, Clustered: m.cfg.Remote != nil,
		Metrics: m.met != nil,
	}
	m.mu.RUnlock()
	m.log.Info("happner: configuration", "config", logging.Summary(s))
}
