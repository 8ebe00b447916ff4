package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/logging"
	"github.com/happner-go/happner/metrics"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/datastore"
	"github.com/happner-go/happner/store/memory"
	"github.com/happner-go/happner/store/postgres"
)

// OwnSchemaPatterns are the paths kept in each member's own datastore
// rather than the shared one, so that members never overwrite each other's
// mesh description and server name.
var OwnSchemaPatterns = []string{"/mesh/schema/*", "/_SYSTEM/_NETWORK/_SETTINGS/NAME"}

// HealthPath is the member's health endpoint (JSON; 200 when stable, 503
// otherwise). On secure members it needs a token like other HTTP routes,
// unless it is listed in happn's HTTP exclusions.
const HealthPath = "/cluster/health"

// Member is a running cluster member: a happner mesh whose happn server
// shares its store with the other members, keeps its record in the
// membership registry, is connected to every other member and replicates
// events and security changes. Create it with [Create].
type Member struct {
	cfg  Config
	mc   MembershipConfig
	log  *slog.Logger
	mesh *happner.Mesh
	srv  *happn.Server
	met  *metrics.Metrics // nil when metrics are off
	// versions memoises version range checks (calls, events)
	versions satisfiesCache
	reg      *registry
	self     Record
	paths    []string // replicated event paths, as subscription paths
	secure   bool

	shared    store.Store
	ownShared bool
	own       store.Store
	local     *client.Client // in-process client: republishing, security batches

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stops  []func()

	mu         sync.Mutex
	status     Status
	peers      map[string]*peer // by member name
	inbound    map[string]string
	departed   map[string]time.Time // memberId -> when a connection was refused
	fresh      []Record             // the last scan's records, self excluded
	depsMet    bool
	changed    chan struct{} // closed and replaced on every state change
	rescan     chan struct{} // asks run for a scan before the next tick
	listeners  map[int]func(PeerEvent)
	nextLis    int
	clientAddr string
	errRun     int // consecutive pulse/scan errors
	lastErr    error
	stopped    bool

	pendingRemoved []Peer     // peers dropped, announced by the next state update
	emitMu         sync.Mutex // keeps peer events in order

	sec secSync

	remote *remote    // calls to components on other members
	broker *brokerage // components brokered with $broker; nil without
}

// Create starts a cluster member: the mesh listens on its internal port first, the member pulses
// its record, waits until the configured dependencies are present (failing
// after DiscoverTimeout), connects to every other member and waits until
// each is connected both ways, then opens the client port. It returns once
// the member is stable, or an error after stopping what it started.
func Create(ctx context.Context, cfg Config) (*Member, error) {
	m, err := newMember(cfg)
	if err != nil {
		return nil, err
	}
	if err := m.start(ctx); err != nil {
		m.log.Debug("cluster: member failed to start (returned to the caller)", "member", m.self.Name, "err", err)
		_ = m.Stop(context.Background())
		return nil, err
	}
	return m, nil
}

func newMember(cfg Config) (*Member, error) {
	mc := cfg.Membership.withDefaults()
	if err := mc.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil && cfg.Happn.Log != (logging.Options{}) {
		l, err := logging.New(os.Stderr, cfg.Happn.Log)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		cfg.Logger = l
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Happn.Metrics == nil && cfg.Happn.MetricsOptions.On() {
		// one registry for the member, its mesh and its happn server
		cfg.Happn.Metrics = metrics.New(metrics.Info{})
	}
	if cfg.Name == "" {
		cfg.Name = mc.ServiceName + "-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	}
	if strings.ContainsAny(cfg.Name, "/*") {
		return nil, fmt.Errorf("cluster: member name %q may not contain '/' or '*'", cfg.Name)
	}
	if cfg.Domain == "" {
		// every member of a cluster must use the same domain for events and
		// exchange paths; the mesh would otherwise default it to its name
		cfg.Domain = mc.ClusterName
		cfg.Logger.Warn("cluster: no domain configured, using the cluster name", "domain", cfg.Domain)
	}
	if cfg.Cluster.RequestTimeout <= 0 {
		cfg.Cluster.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Cluster.ResponseTimeout <= 0 {
		cfg.Cluster.ResponseTimeout = DefaultResponseTimeout
	}
	if mc.ClusterPassword == "" && mc.ClusterPrivateKey == "" {
		mc.ClusterPassword = adminPassword(cfg.Happn)
	}
	m := &Member{
		cfg: cfg, mc: mc, log: cfg.Logger.With("member", cfg.Name),
		secure:    cfg.Happn.Secure,
		met:       cfg.Happn.Metrics,
		peers:     map[string]*peer{},
		inbound:   map[string]string{},
		departed:  map[string]time.Time{},
		changed:   make(chan struct{}),
		rescan:    make(chan struct{}, 1),
		listeners: map[int]func(PeerEvent){},
	}
	m.paths = replicationSubscriptions(mc.ReplicationPaths, cfg.Domain)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// adminPassword is the password of _ADMIN a happn config sets.
func adminPassword(h happn.Config) string {
	if h.Security.AdminUser != nil && h.Security.AdminUser.Password != "" {
		return h.Security.AdminUser.Password
	}
	if h.Security.AdminPassword != "" {
		return h.Security.AdminPassword
	}
	if h.AdminPassword != "" {
		return h.AdminPassword
	}
	return "happn"
}

// replicationSubscriptions turns replicationPaths into the paths to
// subscribe to on peers: nil is everything, empty is nothing, a list gets
// the domain's event paths added.
func replicationSubscriptions(paths []string, domain string) []string {
	if paths == nil {
		// happner-cluster: no replicate setting means the domain's
		// component events only (/_data sets and the like stay local)
		return []string{"/_events/" + domain + "/**"}
	}
	if len(paths) == 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "*" || p == "**" || p == "/**" || p == "/*" {
			return []string{"*"}
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	ev := "/_events/" + domain + "/**"
	if !seen[ev] {
		out = append(out, ev)
	}
	return out
}

// openStores settles the shared store and the member's own store and
// returns the router the happn server uses.
func (m *Member) openStores() (store.Store, error) {
	switch {
	case m.cfg.SharedStore != nil:
		m.shared = m.cfg.SharedStore
	case len(m.cfg.Happn.Datastores) > 0:
		pg := postgres.Opener(postgres.Options{})
		r, err := datastore.Open(m.cfg.Happn.Datastores, datastore.Options{Providers: map[string]store.Opener{
			"postgres": pg, "postgresql": pg, "pg": pg, "happn-db-provider-postgres": pg,
		}})
		if err != nil {
			return nil, fmt.Errorf("cluster: opening the shared datastores: %w", err)
		}
		m.shared, m.ownShared = r, true
	default:
		m.log.Warn("cluster: no shared store configured, this member can only form a cluster of one")
		m.shared, m.ownShared = memory.New(), true
	}
	// the registry's pulses and scans are operations of the shared store
	// too: its errors are the ones an operator must see
	m.shared = happn.InstrumentStore(m.met, m.shared, "shared")
	m.own = memory.New()
	router, err := store.NewRouter([]store.Route{
		{Name: "shared", Store: m.shared},
		{Name: "own-schema", Store: happn.InstrumentStore(m.met, m.own, "own-schema"), Patterns: OwnSchemaPatterns},
	}, "shared")
	if err != nil {
		return nil, fmt.Errorf("cluster: datastores: %w", err)
	}
	return router, nil
}

func (m *Member) start(ctx context.Context) error {
	router, err := m.openStores()
	if err != nil {
		return err
	}
	meshCfg := m.cfg.Config
	meshCfg.Happn.Store = router
	meshCfg.Happn.Datastores = nil
	meshCfg.Happn.Filename = ""
	meshCfg.ListenFirst = true
	meshCfg.DeferListen = false
	meshCfg.Logger = m.log
	if meshCfg.Happn.Host == "" {
		meshCfg.Happn.Host = "0.0.0.0"
	}
	// The member joins the cluster once its components exist and before
	// they start, so that start methods can wait for their
	// dependencies on other members (§6.8).
	meshCfg.Remote = m
	userBefore := meshCfg.BeforeStart
	meshCfg.BeforeStart = func(ctx context.Context, mesh *happner.Mesh) error {
		if userBefore != nil {
			if err := userBefore(ctx, mesh); err != nil {
				return err
			}
		}
		m.mesh = mesh
		// the mesh knows each component's dependencies, its module's
		// included; it marks its description brokered itself
		brokered, err := collectBrokered(meshCfg, mesh)
		if err != nil {
			return err
		}
		if len(brokered) > 0 {
			m.broker = newBrokerage(m, brokered)
		}
		return m.join(ctx, meshCfg)
	}
	// m.mesh was set by BeforeStart, before any peer could use it
	if _, err := happner.Create(ctx, meshCfg); err != nil {
		return fmt.Errorf("cluster: starting the mesh: %w", err)
	}
	if m.cfg.Cluster.DependenciesSatisfiedDeferListen && m.broker != nil {
		// the port opens once every brokered component is implemented
		m.broker.markStarted(m.ctx)
	} else if err := m.OpenClientPort(ctx); err != nil {
		return err
	}
	m.log.Info("cluster: member stable", "url", m.self.URL, "clientAddr", m.ClientAddr(), "peers", len(m.Peers()))
	return nil
}

// join runs the membership: the record is pulsed, the dependencies are
// awaited, then the peers until the member is stable.
func (m *Member) join(ctx context.Context, meshCfg happner.Config) error {
	m.srv = m.mesh.Server()
	m.srv.SetDeliveryFilter(func(pub *happn.Publication, meta json.RawMessage) bool {
		return filterEventVersions(&m.versions, pub, meta)
	})
	m.srv.SetReplicationPaths(m.paths)
	m.stops = append(m.stops, m.srv.AddReadyCheck("cluster", m.ready), m.met.ReportCluster(m.state))
	m.remote = newRemote(m)
	if d := m.mesh.Dashboard(); d != nil {
		d.SetCluster(m.dashboardView)
	}
	m.stops = append(m.stops, m.remote.start())
	if m.broker != nil {
		if err := m.broker.inject(ctx); err != nil {
			return err
		}
		m.wg.Add(1)
		go m.broker.run()
	}
	port, err := addrPort(m.srv.Addr())
	if err != nil {
		return err
	}
	host := m.mc.Host
	if isWildcard(host) {
		host = meshCfg.Happn.Host
	}
	if isWildcard(host) {
		host = m.mc.AdvertiseHost
	}
	if isWildcard(host) {
		host = routableAddress()
	}
	scheme := "http"
	if meshCfg.Happn.Transport.Mode == "https" {
		scheme = "https"
	}
	m.self = Record{
		MemberID: uuid.NewString(), Name: m.mesh.Name(), ServiceName: m.mc.ServiceName,
		Host: host, Port: port, URL: scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)),
		Status: StatusDiscovering, ReplicationPaths: m.paths,
	}
	m.status = StatusDiscovering
	m.reg = newRegistry(m.shared, m.mc.DeploymentID, m.mc.ClusterName, m.mc.StaleMemberThreshold)

	lopts := client.Options{
		Dial:   func(context.Context) (client.Transport, error) { return m.srv.ConnectLocal() },
		Logger: m.log,
	}
	if m.secure {
		lopts.Username, lopts.Password = "_ADMIN", adminPassword(meshCfg.Happn)
	}
	if m.local, err = client.New(ctx, lopts); err != nil {
		return fmt.Errorf("cluster: local client: %w", err)
	}
	m.stops = append(m.stops, m.srv.OnSessionEvent(m.onSession))
	m.stops = append(m.stops, m.srv.Security().OnChange(m.onSecurityChange))
	m.srv.Handle(HealthPath, healthHandler(m))
	m.logConfig()

	if err := m.reg.pulse(ctx, m.self); err != nil {
		return err
	}
	m.wg.Add(3)
	go m.run()
	go m.runSecurity()
	go m.relayDashboards()

	if err := m.awaitDiscovery(ctx); err != nil {
		return err
	}
	m.setStatus(StatusConnecting)
	if err := m.awaitStable(ctx); err != nil {
		return err
	}
	// Members that started together may each have generated a token
	// secret; settle on the one in the shared store before serving clients.
	if err := m.srv.Security().ReloadSecret(ctx); err != nil {
		return fmt.Errorf("cluster: reading the shared token secret: %w", err)
	}
	return nil
}

// OpenClientPort opens the client port (once). Create does so itself unless
// Cluster.DependenciesSatisfiedDeferListen is set, in which case the layer
// that waits for the brokered dependencies calls it.
func (m *Member) OpenClientPort(ctx context.Context) error {
	m.mu.Lock()
	if m.clientAddr != "" {
		m.mu.Unlock()
		return nil
	}
	m.mu.Unlock()
	host := m.cfg.Proxy.Host
	if host == "" {
		host = m.cfg.Happn.Host
	}
	if host == "" {
		host = "0.0.0.0"
	}
	addr, err := m.srv.Listen(ctx, net.JoinHostPort(host, strconv.Itoa(m.cfg.Proxy.Port)))
	if err != nil {
		return fmt.Errorf("cluster: opening the client port: %w", err)
	}
	m.mu.Lock()
	m.clientAddr = addr
	m.mu.Unlock()
	return nil
}

// awaitDiscovery waits until every dependency is present in the registry.
func (m *Member) awaitDiscovery(ctx context.Context) error {
	deadline := time.NewTimer(m.mc.DiscoverTimeout)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		met, ch := m.depsMet, m.changed
		m.mu.Unlock()
		if met {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			m.mu.Lock()
			missing := m.missingDeps()
			m.mu.Unlock()
			m.setStatus(StatusFailedDiscoverTimeout)
			return fmt.Errorf("cluster: discover timeout: dependencies not met within %s (%s)", m.mc.DiscoverTimeout, missing)
		case <-ctx.Done():
			m.setStatus(StatusFailedDiscover)
			return fmt.Errorf("cluster: discovering members: %w", ctx.Err())
		}
	}
}

// awaitStable waits until every known member is a full peer.
func (m *Member) awaitStable(ctx context.Context) error {
	deadline := time.NewTimer(m.mc.StabiliseTimeout)
	defer deadline.Stop()
	for {
		// woken by every change of every peer: the description of what is
		// missing is built only when it is reported
		m.mu.Lock()
		stable, ch := m.stableLocked(), m.changed
		m.mu.Unlock()
		if stable {
			m.setStatus(StatusStable)
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			m.mu.Lock()
			waiting := m.unstableLocked()
			m.mu.Unlock()
			m.setStatus(StatusFailedConnecting)
			return fmt.Errorf("cluster: failed to stabilise in %s, waiting for %s", m.mc.StabiliseTimeout, waiting)
		case <-ctx.Done():
			m.setStatus(StatusFailedConnecting)
			return fmt.Errorf("cluster: connecting to members: %w", ctx.Err())
		}
	}
}

// missingDeps describes the unmet dependencies; m.mu held.
func (m *Member) missingDeps() string {
	var parts []string
	for _, d := range m.unmetDepsLocked() {
		parts = append(parts, fmt.Sprintf("%s: %d of %d", d.Service, d.Have, d.Need))
	}
	if len(parts) == 0 {
		return "none missing"
	}
	return strings.Join(parts, ", ")
}

// ServiceCount is a dependency on a service: how many of its members the
// registry has, and how many the member needs.
type ServiceCount struct {
	Service string `json:"service"`
	Have    int    `json:"have"`
	Need    int    `json:"need"`
}

// unmetDepsLocked returns the services with fewer members than the
// dependencies ask for, by name; m.mu held.
func (m *Member) unmetDepsLocked() []ServiceCount {
	count := map[string]int{}
	for _, r := range m.fresh {
		count[r.ServiceName]++
	}
	var out []ServiceCount
	for svc, want := range m.mc.Dependencies {
		if count[svc] < want {
			out = append(out, ServiceCount{Service: svc, Have: count[svc], Need: want})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// notifyLocked wakes everything waiting for a state change; m.mu held.
func (m *Member) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *Member) setStatus(s Status) {
	m.mu.Lock()
	m.setStatusLocked(s)
	m.mu.Unlock()
}

func (m *Member) setStatusLocked(s Status) {
	if m.status == s || m.stopped {
		return
	}
	m.log.Info("cluster: status", "from", m.status.String(), "to", s.String())
	m.status = s
	m.notifyLocked()
}

// run pulses and scans until the member stops. While discovering it scans
// on every pulse; a member it did not know of connecting to it makes it
// scan at once (see onSession).
func (m *Member) run() {
	defer m.wg.Done()
	m.scanOnce()
	pulse := time.NewTicker(m.mc.PulseInterval)
	defer pulse.Stop()
	scan := time.NewTicker(m.mc.MemberScanningInterval)
	defer scan.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-pulse.C:
			m.pulseOnce()
			m.mu.Lock()
			discovering := !m.depsMet
			m.mu.Unlock()
			if discovering {
				m.scanOnce()
			}
		case <-scan.C:
			m.scanOnce()
		case <-m.rescan:
			m.scanOnce()
		}
	}
}

func (m *Member) pulseOnce() {
	m.mu.Lock()
	rec := m.self
	rec.Status = m.status
	m.mu.Unlock()
	m.recordErr(m.reg.pulse(m.ctx, rec))
}

// recordErr counts consecutive pulse and scan errors and reports
// FAILED_PULSE past the threshold; the member keeps running and recovers
// when the store is back.
func (m *Member) recordErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		if m.errRun >= m.mc.MemberScanningErrorThreshold && m.status == StatusFailedPulse {
			m.log.Info("cluster: registry reachable again")
			m.setStatusLocked(m.stateStatusLocked())
		}
		m.errRun, m.lastErr = 0, nil
		return
	}
	if m.ctx.Err() != nil {
		return
	}
	m.errRun++
	m.lastErr = err
	m.log.Warn("cluster: registry error", "err", err, "inARow", m.errRun)
	if m.errRun >= m.mc.MemberScanningErrorThreshold && m.status != StatusFailedPulse {
		m.log.Error("cluster: registry error threshold reached", "err", err)
		m.setStatusLocked(StatusFailedPulse)
	}
}

// stateStatusLocked is the status the peers' state implies after startup.
func (m *Member) stateStatusLocked() Status {
	if !m.depsMet {
		return StatusDiscovering
	}
	if m.stableLocked() {
		return StatusStable
	}
	return StatusUnstable
}

// scanOnce reads the registry and reconciles the peers with it.
func (m *Member) scanOnce() {
	recs, err := m.reg.scan(m.ctx)
	m.recordErr(err)
	if err != nil {
		return
	}
	var fresh []Record
	for _, r := range recs {
		if r.MemberID == m.self.MemberID || r.Name == m.self.Name || !r.Status.live() {
			continue
		}
		fresh = append(fresh, r)
	}
	m.reconcile(fresh)
}

// Stop leaves the cluster: the record is removed, peer connections are
// closed, pending security changes are sent, and the mesh stops.
func (m *Member) Stop(ctx context.Context) error {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return nil
	}
	m.status = StatusStopped
	m.stopped = true
	m.notifyLocked()
	m.mu.Unlock()
	m.flushSecurity(ctx)
	m.announceLeaving(ctx)
	m.cancel()
	m.wg.Wait()
	for _, stop := range m.stops {
		stop()
	}
	var errs []error
	if m.reg != nil {
		if err := m.reg.remove(ctx, m.self); err != nil {
			errs = append(errs, err)
		}
	}
	m.mu.Lock()
	peers := m.peers
	m.peers = map[string]*peer{}
	m.mu.Unlock()
	for _, p := range peers {
		p.close()
	}
	if m.local != nil {
		_ = m.local.Close()
	}
	if m.mesh != nil {
		if err := m.mesh.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if m.own != nil {
		_ = m.own.Close()
	}
	if m.ownShared && m.shared != nil {
		if err := m.shared.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cluster: closing the shared store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Mesh returns the member's mesh.
func (m *Member) Mesh() *happner.Mesh { return m.mesh }

// Name returns the member's name.
func (m *Member) Name() string { return m.self.Name }

// MemberID returns the member's id (new on every start).
func (m *Member) MemberID() string { return m.self.MemberID }

// Config returns the member's configuration with defaults applied.
func (m *Member) Config() Config {
	c := m.cfg
	c.Membership = m.mc
	return c
}

// URL returns the member's internal url, where other members connect.
func (m *Member) URL() string { return m.self.URL }

// ClientAddr returns the client port's address, "" while it is closed.
func (m *Member) ClientAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.clientAddr
}

// Status returns the member's registry status.
func (m *Member) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Members returns the records of the other members found by the last
// registry scan (fresh records only).
func (m *Member) Members() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.fresh...)
}

// addrPort returns the port of "host:port".
func addrPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("cluster: listening address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("cluster: listening address %q: %w", addr, err)
	}
	return port, nil
}

// isWildcard reports whether host is an address that listens everywhere.
func isWildcard(host string) bool {
	switch host {
	case "0.0.0.0", "::", "[::]", "":
		return true
	}
	return false
}

// routableAddress is the host's first non-loopback address, IPv4 first
// (127.0.0.1 when there is none): what other members can reach a member
// that listens on a wildcard address at.
func routableAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "127.0.0.1"
	}
	var v6 string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsUnspecified() {
			continue
		}
		if ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
		if v6 == "" {
			v6 = ipn.IP.String()
		}
	}
	if v6 != "" {
		return v6
	}
	return "127.0.0.1"
}
