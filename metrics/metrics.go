// Package metrics holds the Prometheus metrics of one happner-go node: a
// registry of its own (never the process-wide default, so that several
// nodes can run in one process), every collector the node's layers report
// to, the Go runtime and process collectors, and happner_build_info.
//
// Each layer of a node is handed the same [*Metrics] through its
// configuration and binds its instruments once: the happn server one
// [Action] per protocol action, the mesh one [Call] per exchange method
// when the component is registered, a store one [StoreOp] per operation.
// The hot paths then only touch pre-bound counters and histograms: no map
// lookup and no allocation per request.
//
// A nil *Metrics is a node with metrics off: every method is a no-op and
// returns nil instruments, whose methods are no-ops too, so a disabled node
// pays nothing but a nil check.
//
// [Metrics.Handler] serves the registry in the Prometheus text format; the
// happn server mounts it at /metrics.
package metrics

import (
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/happner-go/happner/internal/version"
)

// Options are the metrics settings of a node's configuration (the
// "metrics" section of a config file).
type Options struct {
	// Enabled turns metrics off when false; absent (nil) means on.
	Enabled *bool `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	// Addr, when set, is a separate listener ("127.0.0.1:9100") that
	// serves /metrics, /health and /ready without authentication, beside
	// the node's own port.
	Addr string `json:"addr,omitempty" yaml:"addr,omitempty"`
}

// On reports whether metrics are enabled.
func (o Options) On() bool { return o.Enabled == nil || *o.Enabled }

// Info describes the running program for happner_build_info.
type Info struct {
	// Version is the happner-go version; default the module version from
	// the binary's build information ("(devel)" in a source build).
	Version string
}

// Metrics is the metrics registry of one node and its instruments. Create
// it with [New]; a nil *Metrics records nothing.
type Metrics struct {
	reg   *prometheus.Registry
	own   *prometheus.Registry // the node's instruments only (Families)
	epoch time.Time            // the origin of Stamps

	logins      [numLoginResults]prometheus.Counter
	requests    *prometheus.CounterVec
	reqDuration *prometheus.HistogramVec
	denials     *prometheus.CounterVec

	publications  prometheus.Counter
	deliveries    prometheus.Counter
	slowConsumers prometheus.Counter

	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec

	remoteCalls    *prometheus.CounterVec
	remoteDuration *prometheus.HistogramVec
	remoteBound    sync.Map // callKey -> *Call
	replicated     [2]prometheus.Counter
	securitySync   [2]prometheus.Counter

	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec

	mu      sync.Mutex
	servers map[int]func() ServerState
	nextSrv int
	cluster func() ClusterState
}

// Buckets of the duration histograms, in seconds. happn requests and store
// operations take microseconds in memory and milliseconds on a database;
// exchange calls run user code and may take seconds.
var (
	requestBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	callBuckets    = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	storeBuckets   = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
)

// New returns the metrics of a new node, with every collector registered.
func New(info Info) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), own: prometheus.NewRegistry(), epoch: time.Now(), servers: map[int]func() ServerState{}}
	if info.Version == "" {
		info.Version = moduleVersion()
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "happner_build_info",
		Help:        "Always 1; the labels give the happner-go version and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": info.Version, "goversion": runtime.Version()},
	})
	build.Set(1)

	loginVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "happner_logins_total",
		Help: "Logins by result: ok, bad_credentials, locked, denied, error.",
	}, []string{"result"})
	for i := range m.logins {
		m.logins[i] = loginVec.WithLabelValues(LoginResult(i).String())
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "happner_requests_total",
		Help: "happn requests by action and status (ok, error, denied).",
	}, []string{"action", "status"})
	m.reqDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "happner_request_duration_seconds",
		Help:    "Time to process a happn request, from decoding to the reply queued.",
		Buckets: requestBuckets,
	}, []string{"action"})
	m.denials = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "happner_security_denials_total",
		Help: "Requests refused by security, by action (a happn action, http or call).",
	}, []string{"action"})
	m.publications = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "happner_publications_total",
		Help: "Publications made (sets and removes that publish, and in-process publications).",
	})
	m.deliveries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "happner_deliveries_total",
		Help: "Publication messages delivered to subscribed sessions and in-process subscribers.",
	})
	m.slowConsumers = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "happner_slow_consumer_disconnects_total",
		Help: "Connections closed because more than maxPending bytes waited to be written to them.",
	})
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "happner_exchange_calls_total",
		Help: "Exchange method calls run on this node, by component, method and status (ok, error, timeout, denied).",
	}, []string{"component", "method", "status"})
	m.callDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "happner_exchange_call_duration_seconds",
		Help:    "Time exchange methods run on this node took.",
		Buckets: callBuckets,
	}, []string{"component", "method"})
	m.remoteCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "happner_cluster_remote_calls_total",
		Help: "Exchange calls this member sent to other members, by component, method and status (ok, error, timeout, denied).",
	}, []string{"component", "method", "status"})
	m.remoteDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "happner_cluster_remote_call_duration_seconds",
		Help:    "Time from sending a call to another member to its reply.",
		Buckets: callBuckets,
	}, []string{"component", "method"})
	replicated := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "happner_cluster_replicated_events_total",
		Help: "Publications replicated between members: in (received from a peer and published here), out (delivered to a peer).",
	}, []string{"direction"})
	securitySync := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "happner_cluster_security_changes_total",
		Help: "Security directory changes sent to (out) and applied from (in) other members.",
	}, []string{"direction"})
	for d := In; d <= Out; d++ {
		m.replicated[d] = replicated.WithLabelValues(d.String())
		m.securitySync[d] = securitySync.WithLabelValues(d.String())
	}
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "happner_store_operation_duration_seconds",
		Help:    "Time data store operations took, by datastore and operation.",
		Buckets: storeBuckets,
	}, []string{"store", "op"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "happner_store_errors_total",
		Help: "Failed data store operations, by datastore.",
	}, []string{"store"})

	// the refusals outside the happn protocol start at zero too, so that
	// a rate over them has a series before the first refusal
	for _, action := range []string{"http", "call"} {
		m.denials.WithLabelValues(action)
	}

	own := []prometheus.Collector{
		loginVec, m.requests, m.reqDuration, m.denials,
		m.publications, m.deliveries, m.slowConsumers,
		m.calls, m.callDuration, m.remoteCalls, m.remoteDuration, replicated, securitySync,
		m.storeDuration, m.storeErrors,
		&stateCollector{m: m},
	}
	m.own.MustRegister(own...)
	m.reg.MustRegister(append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
	}, own...)...)
	return m
}

// moduleVersion is this module's version in the binary's build info.
func moduleVersion() string { return version.OfModule() }

// Registry returns the node's registry (nil when m is nil), to add
// collectors of one's own or to gather in tests.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Families gathers the node's own instruments — what Registry gathers
// without the Go runtime and process collectors and happner_build_info —
// for readers inside the process that poll them often (the dashboard); nil
// when m is.
func (m *Metrics) Families() ([]*dto.MetricFamily, error) {
	if m == nil {
		return nil, nil
	}
	fams, err := m.own.Gather()
	if err != nil {
		return fams, fmt.Errorf("metrics: gathering: %w", err)
	}
	return fams, nil
}

// Handler serves the registry in the Prometheus exposition format; a nil
// m answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Direction is the direction of cluster traffic: [In] or [Out].
type Direction int

// Directions of replicated events and security changes.
const (
	In Direction = iota
	Out
)

// String returns "in" or "out".
func (d Direction) String() string {
	if d == In {
		return "in"
	}
	return "out"
}

// LoginResult is the outcome of a login.
type LoginResult int

// Login results, the values of happner_logins_total's result label.
const (
	LoginOK LoginResult = iota
	LoginBadCredentials
	LoginLocked
	LoginDenied
	LoginError
	numLoginResults
)

var loginNames = [numLoginResults]string{"ok", "bad_credentials", "locked", "denied", "error"}

// String returns the label value ("bad_credentials").
func (r LoginResult) String() string {
	if r >= 0 && r < numLoginResults {
		return loginNames[r]
	}
	return "error"
}

// Login counts one login with result r.
func (m *Metrics) Login(r LoginResult) {
	if m == nil {
		return
	}
	if r < 0 || r >= numLoginResults {
		r = LoginError
	}
	m.logins[r].Inc()
}

// Status is the outcome of a request or a call.
type Status int

// Statuses, the values of the status labels. Requests are ok, error or
// denied; calls may also time out.
const (
	StatusOK Status = iota
	StatusError
	StatusDenied
	StatusTimeout
	numStatuses
)

var statusNames = [numStatuses]string{"ok", "error", "denied", "timeout"}

// String returns the label value ("denied").
func (s Status) String() string {
	if s >= 0 && s < numStatuses {
		return statusNames[s]
	}
	return "error"
}

// SampleEvery is how often requests and store operations are timed: the
// first request of each action in each session and every SampleEvery-th
// of that action after it (so that no pattern of actions hides one), and
// the first of every SampleEvery operations of each datastore operation;
// the others are only counted. Reading the clock twice costs more than
// the rest of the metrics of a request on a virtual machine, so timing
// each one would make metrics cost more than 3 % of an in-memory get; the
// durations of a sample give the same mean and quantiles. Exchange calls
// are all timed.
const SampleEvery = 16

// A Stamp is a moment on a node's monotonic clock (nanoseconds since its
// metrics were created), or [NotTimed].
type Stamp int64

// NotTimed is the Stamp of a request left out of the timing sample.
const NotTimed Stamp = -1

// sampler picks the operations to time and reads the clock for them.
type sampler struct {
	epoch time.Time
	n     atomic.Uint64
}

// now is the current Stamp.
func (t *sampler) now() Stamp { return Stamp(time.Since(t.epoch)) }

// elapsed returns the seconds since start.
func (t *sampler) elapsed(start Stamp) float64 {
	return (time.Since(t.epoch) - time.Duration(start)).Seconds()
}

// Action holds the instruments of one happn action, bound once.
type Action struct {
	sampler
	status   [StatusDenied + 1]prometheus.Counter
	duration prometheus.Observer
	denied   prometheus.Counter
}

// Action binds the instruments of a happn action ("set"); nil when m is.
func (m *Metrics) Action(name string) *Action {
	if m == nil {
		return nil
	}
	a := &Action{sampler: sampler{epoch: m.epoch}, duration: m.reqDuration.WithLabelValues(name), denied: m.denials.WithLabelValues(name)}
	for s := StatusOK; s <= StatusDenied; s++ {
		a.status[s] = m.requests.WithLabelValues(name, s.String())
	}
	return a
}

// Start begins a request of the action, the seq-th request of this action
// in its session (from 1; it may wrap at a multiple of SampleEvery): it
// returns the Stamp to give to Done, which is NotTimed unless the request
// is part of the timing sample.
func (a *Action) Start(seq int64) Stamp {
	if a == nil || seq%SampleEvery != 1 {
		return NotTimed
	}
	return a.now()
}

// Done records one request of the action begun with Start. A denied
// request also counts as a security denial.
func (a *Action) Done(start Stamp, s Status) {
	if a == nil {
		return
	}
	if start != NotTimed {
		a.duration.Observe(a.elapsed(start))
	}
	if s < 0 || s > StatusDenied {
		s = StatusError
	}
	a.status[s].Inc()
	if s == StatusDenied {
		a.denied.Inc()
	}
}

// Denied counts a refusal by security outside the happn protocol: action
// is "http" for an HTTP route, "call" for an exchange call.
func (m *Metrics) Denied(action string) {
	if m == nil {
		return
	}
	m.denials.WithLabelValues(action).Inc()
}

// Published counts one publication and the messages it delivered, of which
// toPeers went to other cluster members' sessions (replicated out).
func (m *Metrics) Published(delivered, toPeers int) {
	if m == nil {
		return
	}
	m.publications.Inc()
	if delivered > 0 {
		m.deliveries.Add(float64(delivered))
	}
	if toPeers > 0 {
		m.replicated[Out].Add(float64(toPeers))
	}
}

// SlowConsumer counts a connection closed for falling behind.
func (m *Metrics) SlowConsumer() {
	if m == nil {
		return
	}
	m.slowConsumers.Inc()
}

// Call holds the instruments of one exchange method, bound once.
type Call struct {
	status   [numStatuses]prometheus.Counter
	duration prometheus.Observer
}

// Call binds the instruments of an exchange method that runs on this node;
// nil when m is.
func (m *Metrics) Call(component, method string) *Call {
	if m == nil {
		return nil
	}
	return bindCall(m.calls, m.callDuration, component, method)
}

func bindCall(counts *prometheus.CounterVec, durations *prometheus.HistogramVec, component, method string) *Call {
	c := &Call{duration: durations.WithLabelValues(component, method)}
	for s := range c.status {
		c.status[s] = counts.WithLabelValues(component, method, Status(s).String())
	}
	return c
}

// Done records one call that took took and ended with s.
func (c *Call) Done(took time.Duration, s Status) {
	if c == nil {
		return
	}
	c.duration.Observe(took.Seconds())
	c.Count(s)
}

// Count counts a call that ended with s without running (a denied call),
// so its duration is not observed.
func (c *Call) Count(s Status) {
	if c == nil {
		return
	}
	if s < 0 || s >= numStatuses {
		s = StatusError
	}
	c.status[s].Inc()
}

type callKey struct{ component, method string }

// RemoteCall returns the instruments of calls to component.method on other
// members, bound on first use; nil when m is.
func (m *Metrics) RemoteCall(component, method string) *Call {
	if m == nil {
		return nil
	}
	k := callKey{component, method}
	if c, ok := m.remoteBound.Load(k); ok {
		return c.(*Call)
	}
	c, _ := m.remoteBound.LoadOrStore(k, bindCall(m.remoteCalls, m.remoteDuration, component, method))
	return c.(*Call)
}

// Replicated counts n publications replicated in direction d.
func (m *Metrics) Replicated(d Direction, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.replicated[d&1].Add(float64(n))
}

// SecurityChanges counts n security changes sent to (Out) or applied from
// (In) other members.
func (m *Metrics) SecurityChanges(d Direction, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.securitySync[d&1].Add(float64(n))
}

// StoreOp holds the instruments of one operation of one datastore.
type StoreOp struct {
	sampler
	duration prometheus.Observer
	errors   prometheus.Counter
}

// StoreOp binds the instruments of operation op ("get") of the datastore
// called store; nil when m is.
func (m *Metrics) StoreOp(store, op string) *StoreOp {
	if m == nil {
		return nil
	}
	return &StoreOp{sampler: sampler{epoch: m.epoch}, duration: m.storeDuration.WithLabelValues(store, op), errors: m.storeErrors.WithLabelValues(store)}
}

// Start begins an operation: it returns the Stamp to give to Done, as a
// number (NotTimed unless the operation is part of the timing sample).
func (o *StoreOp) Start() int64 {
	if o == nil || o.n.Add(1)%SampleEvery != 1 {
		return int64(NotTimed)
	}
	return int64(o.now())
}

// Done records one operation begun with Start; a non-nil err counts as a
// store error (every error is counted, timed or not).
func (o *StoreOp) Done(start int64, err error) {
	if o == nil {
		return
	}
	if Stamp(start) != NotTimed {
		o.duration.Observe(o.elapsed(Stamp(start)))
	}
	if err != nil {
		o.errors.Inc()
	}
}
