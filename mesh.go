package happner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"

	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/internal/jsonscan"
	"github.com/happner-go/happner/internal/version"
	"github.com/happner-go/happner/logging"
	"github.com/happner-go/happner/metrics"
	"github.com/happner-go/happner/webclient"
)

// Paths of the mesh description records.
const (
	DescriptionPath = "/mesh/schema/description"
	ConfigPath      = "/mesh/schema/config"
)

// Defaults.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultStartTimeout = 5 * time.Minute
)

// Mesh is a running mesh node. Create it with [Create]; stop it with
// [Mesh.Stop].
type Mesh struct {
	cfg    Config
	log    *slog.Logger
	name   string
	domain string
	secure bool

	srv     *happn.Server
	met     *metrics.Metrics // nil when metrics are off
	web     *web
	auth    Authenticator
	admin   *client.Client
	adminID string
	// cancelRequests ends the in-process subscription to exchange requests.
	cancelRequests func()
	// workers run exchange requests.
	workers *workers
	// infoCache is what components are told about the mesh, once known.
	infoCache atomic.Pointer[Info]
	// sec is the happn security service of a secure mesh (nil when
	// insecure); adminSess is the mesh's own _ADMIN identity for
	// delegated authorisation.
	sec       *security.Service
	adminSess *security.Session

	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc

	mu           sync.RWMutex
	components   map[string]*component
	order        []string
	initializing bool
	started      bool
	listening    bool
	stopped      bool
	// noSchemaPublish stores descriptions without publishing them.
	noSchemaPublish bool
	// brokering is set once a component of a cluster member brokers
	// components ($broker): the description is then brokered.
	brokering bool
	// dash publishes the dashboard's snapshots (nil when it is off);
	// dashWG waits for it to stop.
	dash   *dashboard.Publisher
	dashWG sync.WaitGroup
	// awaiting are the components whose start waits for dependencies.
	awaiting map[string]bool

	descMu   sync.Mutex // serialises description writes
	calls    sync.WaitGroup
	elemMu   sync.Mutex // serialises create/destroy of components
	modules  map[string]any
	modulesV map[string]string
}

// Create builds and starts a mesh: the data layer, the
// components, their init and start methods, then it listens (unless
// DeferListen). On failure everything started is stopped again.
func Create(ctx context.Context, cfg Config) (*Mesh, error) {
	m, err := newMesh(cfg)
	if err != nil {
		return nil, err
	}
	if err := m.initialize(ctx); err != nil {
		m.log.Debug("happner: failure starting up (returned to the caller)", "err", err)
		_ = m.Stop(context.Background())
		return nil, err
	}
	if m.cfg.BeforeStart != nil {
		if err := m.cfg.BeforeStart(ctx, m); err != nil {
			m.log.Debug("happner: failure starting up (returned to the caller)", "err", err)
			_ = m.Stop(context.Background())
			return nil, err
		}
	}
	if err := m.start(ctx); err != nil {
		m.log.Debug("happner: failure starting up (returned to the caller)", "err", err)
		_ = m.Stop(context.Background())
		return nil, err
	}
	m.runDashboard()
	return m, nil
}

func newMesh(cfg Config) (*Mesh, error) {
	if cfg.Logger == nil && cfg.Happn.Log != (logging.Options{}) {
		l, err := logging.New(os.Stderr, cfg.Happn.Log)
		if err != nil {
			return nil, fmt.Errorf("happner: %w", err)
		}
		cfg.Logger = l
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SetOptions.Timeout <= 0 {
		cfg.SetOptions.Timeout = int(DefaultTimeout / time.Millisecond)
	}
	cfg.SetOptions.NoStore = true
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.InlineCallBudget == 0 {
		cfg.InlineCallBudget = defaultInlineBudget
	}
	for name := range cfg.Components {
		if name == "" || strings.ContainsAny(name, "/*@") {
			return nil, fmt.Errorf("happner: bad component name %q", name)
		}
	}
	if cfg.Happn.Metrics == nil && cfg.Happn.MetricsOptions.On() {
		cfg.Happn.Metrics = metrics.New(metrics.Info{})
	}
	m := &Mesh{
		cfg: cfg, log: cfg.Logger, secure: cfg.Happn.Secure, met: cfg.Happn.Metrics,
		components: map[string]*component{}, modules: map[string]any{}, modulesV: map[string]string{},
		workers: newWorkers(64),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// initialize runs happner-2's startup steps up to the components' start:
// data layer, system components, modules, components, description.
func (m *Mesh) initialize(ctx context.Context) error {
	hc := m.cfg.Happn
	hc.Name = m.cfg.Name
	// REST does its own authorisation; the client bundle is public.
	hc.HTTPExclusions = append(slices.Clone(hc.HTTPExclusions), "/api/client", "/primus/*", "/rest/login", "/rest/method/*")
	if m.cfg.Dashboard.On() {
		// the page is public, its data needs a login
		hc.HTTPExclusions = append(hc.HTTPExclusions, dashboard.PagePath, dashboard.PagePath+"/*")
	}
	if hc.Logger == nil {
		hc.Logger = m.log
	}
	srv, err := happn.New(hc)
	if err != nil {
		return fmt.Errorf("happner: data layer: %w", err)
	}
	m.srv = srv
	srv.SetSubscribeHook(exchangeResponseHook)
	srv.AddReadyCheck("mesh", m.ready)
	if m.met != nil {
		srv.OnDenied(m.requestDenied)
	}
	m.name = srv.Name()
	m.domain = m.cfg.Domain
	if m.domain == "" {
		m.domain = m.name
	}
	m.auth = m.cfg.Authenticator
	if m.secure {
		m.sec = srv.Security()
		m.adminSess = &security.Session{ID: "happner:" + m.name, Type: security.Stateful, Username: security.AdminUser, Origin: m.name}
		if m.auth == nil {
			m.auth = happnAuth{m: m}
		}
	}
	if m.web, err = newWeb(m); err != nil {
		return err
	}
	srv.Handle("/", m.web)
	m.mountDashboard()
	if m.cfg.ListenFirst {
		if err := m.listen(ctx); err != nil {
			return err
		}
	}
	adminOpts := client.Options{
		Dial:   func(context.Context) (client.Transport, error) { return srv.ConnectLocal() },
		Logger: m.log,
	}
	if m.secure {
		// In-process, so disableDefaultAdminNetworkConnections allows it.
		adminOpts.Username, adminOpts.Password = security.AdminUser, m.secureAdminPassword()
	}
	m.admin, err = client.New(ctx, adminOpts)
	if err != nil {
		return fmt.Errorf("happner: data layer client: %w", err)
	}
	m.adminID = m.admin.Session().ID
	if _, err := m.admin.Set(ctx, "/test/write", map[string]string{"can": "can"}); err != nil {
		return fmt.Errorf("happner: Happn test failed: %w", err)
	}
	if m.secure {
		if err := m.setupSecurity(ctx); err != nil {
			return err
		}
	}
	m.mu.Lock()
	m.initializing = true
	m.mu.Unlock()
	if err := m.writeDescription(ctx, true); err != nil {
		return err
	}
	if err := m.writeConfigRecord(ctx); err != nil {
		return err
	}
	// Requests arrive as in-process publications: no frame to encode and
	// decode again, and the request's authorisation has already been done
	// by happn for the session that set it.
	m.cancelRequests = m.srv.Subscribe("/_exchange/requests/"+m.domain+"/*/*", happn.SubscribeOptions{Action: "SET"}, m.onRequest)
	if err := m.addElement(ctx, "security", ModuleConfig{Instance: &securityModule{}, Version: Version}, ComponentConfig{AccessLevel: "mesh"}); err != nil {
		return err
	}
	if err := m.addElement(ctx, "api", ModuleConfig{Instance: &apiModule{}, Version: Version}, apiComponentConfig()); err != nil {
		return err
	}
	if err := m.addElement(ctx, "rest", ModuleConfig{Instance: restModule{}, Version: Version}, restComponentConfig()); err != nil {
		return err
	}
	for _, name := range m.cfg.componentOrder() {
		if name == "api" || name == "rest" || name == "security" {
			continue
		}
		cc := m.cfg.Components[name]
		modName := cc.Module
		if modName == "" {
			modName = cc.ModuleName
		}
		if modName == "" {
			modName = name
		}
		mc := m.cfg.Modules[modName]
		if name == "data" {
			// The shared data component is always the system module.
			modName, mc = "data", ModuleConfig{Instance: dataModule{}, Version: Version}
		}
		if err := m.addElement(ctx, name, mc, cc, modName); err != nil {
			return err
		}
	}
	m.mu.Lock()
	m.initializing = false
	m.mu.Unlock()
	return m.writeDescription(ctx, false)
}

// start runs the init and start methods in component order, then listens.
func (m *Mesh) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StartTimeout)
	defer cancel()
	m.mu.RLock()
	order := append([]string(nil), m.order...)
	m.mu.RUnlock()
	for _, which := range []string{"initMethod", "startMethod"} {
		for _, name := range order {
			c := m.component(name)
			if c == nil {
				continue
			}
			if err := m.runLifecycle(ctx, c, which); err != nil {
				return err
			}
		}
	}
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
	if !m.cfg.DeferListen && !m.cfg.ListenFirst {
		if err := m.listen(ctx); err != nil {
			return err
		}
	}
	m.logConfig()
	m.log.Info(fmt.Sprintf("mesh with name %s started, with happner version: %s", m.name, Version))
	return nil
}

// runLifecycle calls c's init, start, stop or shutdown method, bounded by ctx.
func (m *Mesh) runLifecycle(ctx context.Context, c *component, which string) error {
	var name string
	switch which {
	case "initMethod":
		name = c.config.InitMethod
	case "startMethod":
		name = c.config.StartMethod
	case "stopMethod":
		name = c.config.StopMethod
	case "shutdownMethod":
		name = c.config.ShutdownMethod
	}
	if which == "startMethod" {
		if err := m.awaitDependencies(ctx, c); err != nil {
			return err
		}
	}
	meth, err := c.lifecycle(name)
	if err != nil || meth == nil {
		return err
	}
	done := make(chan callResult, 1)
	go func() {
		done <- meth.invoke(ctx, m.newHappn(ctx, c, nil), c.log, goArgs(c.lifecycleArgs(meth)))
	}()
	select {
	case res := <-done:
		if res.failed != nil {
			return fmt.Errorf("happner: %s %s.%s: %w", which, c.name, name, res.failed)
		}
		if res.err != nil {
			return fmt.Errorf("happner: %s %s.%s: %w", which, c.name, name, res.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("happner: %s '%s' did not respond: %w", which, c.name+"."+name, ctx.Err())
	}
}

// Listen starts accepting client connections; for meshes created with
// DeferListen.
func (m *Mesh) Listen(ctx context.Context) error {
	if !m.cfg.DeferListen {
		return errors.New("happner: attempt to listen when deferListen is not enabled")
	}
	return m.listen(ctx)
}

func (m *Mesh) listen(ctx context.Context) error {
	m.mu.Lock()
	if m.listening {
		m.mu.Unlock()
		return nil
	}
	m.listening = true
	m.mu.Unlock()
	if err := m.srv.Start(ctx); err != nil {
		return fmt.Errorf("happner: listen: %w", err)
	}
	// The config record carries the port, known only now.
	if m.admin != nil {
		return m.writeConfigRecord(ctx)
	}
	return nil
}

// Stop runs the stop and shutdown methods of the components (errors are
// logged and returned joined, as happner's stopEventLog), then stops the
// data layer.
func (m *Mesh) Stop(ctx context.Context) error {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return nil
	}
	m.stopped = true
	started := m.started
	order := append([]string(nil), m.order...)
	m.mu.Unlock()
	var errs []error
	if started {
		for _, which := range []string{"stopMethod", "shutdownMethod"} {
			for _, name := range order {
				if c := m.component(name); c != nil {
					if err := m.runLifecycle(ctx, c, which); err != nil {
						m.log.Error("happner: failure to stop components", "err", err)
						errs = append(errs, err)
						break
					}
				}
			}
		}
	}
	if m.cancelRequests != nil {
		m.cancelRequests()
	}
	m.cancel()
	m.dashWG.Wait()
	waited := make(chan struct{})
	go func() { m.calls.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
	}
	m.workers.close()
	if m.admin != nil {
		_ = m.admin.Close()
	}
	if m.srv != nil {
		if err := m.srv.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("happner: stopping data layer: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Name returns the mesh name.
func (m *Mesh) Name() string { return m.name }

// Domain returns the mesh domain (the name used in paths).
func (m *Mesh) Domain() string { return m.domain }

// Addr returns the listening address, "" before listening.
func (m *Mesh) Addr() string { return m.srv.Addr() }

// Server returns the embedded happn server (for extra HTTP routes).
func (m *Mesh) Server() *happn.Server { return m.srv }

// Exchange returns the mesh's exchange, calling as the mesh itself.
func (m *Mesh) Exchange() *Exchange { return &Exchange{mesh: m} }

// Event returns the mesh's event API.
func (m *Mesh) Event() *Events { return &Events{mesh: m} }

// Describe returns the current mesh description.
func (m *Mesh) Describe() *Description {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := &Description{
		Name: m.domain, Initializing: m.initializing, Brokered: m.cfg.Brokered || m.brokering, SetOptions: m.cfg.SetOptions,
		Components: make(map[string]*ComponentDescription, len(m.components)),
	}
	if !m.initializing {
		for n, c := range m.components {
			d.Components[n] = c.desc
		}
	}
	return d
}

// Dependencies returns the dependencies of component: its module's
// ([ModuleSchema].Dependencies) with its config's merged over them, entry
// by entry. ok is false when the mesh has no such component.
func (m *Mesh) Dependencies(component string) (deps Dependencies, ok bool) {
	c := m.component(component)
	if c == nil {
		return Dependencies{}, false
	}
	return c.deps, true
}

func (m *Mesh) component(name string) *component {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.components[name]
}

func (m *Mesh) info() Info {
	if i := m.infoCache.Load(); i != nil {
		return *i
	}
	var i Info
	i.Mesh.Name, i.Mesh.Domain = m.name, m.domain
	i.Happn.Options = m.cfg.SetOptions
	i.Happn.Address = m.srv.Addr()
	if i.Happn.Address != "" {
		m.infoCache.Store(&i) // the address is known once listening
	}
	return i
}

// adminOrigin is the origin of calls the mesh makes itself.
func (m *Mesh) adminOrigin() *Origin {
	o := &Origin{ID: m.adminID}
	if m.secure {
		o.Username = "_ADMIN"
	}
	return o
}

// writeDescription stores and publishes the description; while the mesh
// initializes only the initial (initializing) record is written.
func (m *Mesh) writeDescription(ctx context.Context, initial bool) error {
	m.mu.RLock()
	suppressed := m.initializing && !initial
	var opts []client.Option
	if m.noSchemaPublish {
		opts = append(opts, client.NoPublish())
	}
	m.mu.RUnlock()
	if suppressed {
		return nil
	}
	m.descMu.Lock()
	defer m.descMu.Unlock()
	if _, err := m.admin.Set(ctx, DescriptionPath, m.Describe(), opts...); err != nil {
		return fmt.Errorf("happner: writing the description: %w", err)
	}
	return nil
}

func (m *Mesh) writeConfigRecord(ctx context.Context) error {
	port := 0
	if _, p, err := net.SplitHostPort(m.srv.Addr()); err == nil {
		port, _ = strconv.Atoi(p)
	}
	if port == 0 {
		port = m.cfg.Happn.Port
	}
	hi := HappnInfo{Port: port, Secure: m.secure, SetOptions: m.cfg.SetOptions}
	rec := MeshConfigRecord{Name: m.domain, Version: Version, Happn: hi, Datalayer: hi}
	if _, err := m.admin.Set(ctx, ConfigPath, rec); err != nil {
		return fmt.Errorf("happner: writing the mesh config: %w", err)
	}
	return nil
}

// addElement creates a component from its module and component specs.
// moduleName names the module (default the component name); a module used
// by several components is instantiated once.
func (m *Mesh) addElement(ctx context.Context, name string, mc ModuleConfig, cc ComponentConfig, moduleName ...string) error {
	modName := name
	if len(moduleName) > 0 && moduleName[0] != "" {
		modName = moduleName[0]
	}
	m.mu.Lock()
	if _, exists := m.components[name]; exists {
		m.mu.Unlock()
		return fmt.Errorf("happner: component %q already exists", name)
	}
	inst, have := m.modules[modName]
	version := m.modulesV[modName]
	m.mu.Unlock()
	if !have || mc.Instance != nil || mc.Construct != nil || mc.Create != nil {
		var err error
		if inst, err = buildModule(m.cfg.Registry, modName, mc); err != nil {
			return err
		}
		version = mc.Version
	}
	c, layers, err := m.prepareComponent(name, inst, version, cc)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if _, exists := m.components[name]; exists {
		m.mu.Unlock()
		return fmt.Errorf("happner: component %q already exists", name)
	}
	m.modules[modName], m.modulesV[modName] = inst, version
	m.components[name] = c
	if m.cfg.Remote != nil && len(c.deps.Brokered) > 0 {
		// other members ignore a broker's components, as happner-cluster's
		// brokered mesh config makes them
		m.brokering = true
	}
	m.order = append(m.order, name)
	m.mu.Unlock()
	m.web.attach(layers)
	return nil
}

// CreateComponent adds a component at run time (happner's _createElement):
// the module is built, its init and start methods run when the mesh has
// started, and the new description is published so clients see it.
func (m *Mesh) CreateComponent(ctx context.Context, name string, mc ModuleConfig, cc ComponentConfig) error {
	m.elemMu.Lock()
	defer m.elemMu.Unlock()
	if name == "" || strings.ContainsAny(name, "/*@") {
		return fmt.Errorf("happner: bad component name %q", name)
	}
	modName := cc.Module
	if modName == "" {
		modName = cc.ModuleName
	}
	if err := m.addElement(ctx, name, mc, cc, modName); err != nil {
		return err
	}
	c := m.component(name)
	m.mu.RLock()
	started := m.started
	m.mu.RUnlock()
	if started {
		for _, which := range []string{"initMethod", "startMethod"} {
			if err := m.runLifecycle(ctx, c, which); err != nil {
				m.removeComponent(name)
				return err
			}
		}
	}
	return m.writeDescription(ctx, false)
}

// DestroyComponent removes a component at run time (happner's
// _destroyElement): the description is republished without it, then its
// stop method runs. Destroying an unknown component does nothing.
func (m *Mesh) DestroyComponent(ctx context.Context, name string) error {
	m.elemMu.Lock()
	defer m.elemMu.Unlock()
	c := m.removeComponent(name)
	if c == nil {
		return nil
	}
	err := m.writeDescription(ctx, false)
	m.mu.RLock()
	started := m.started
	m.mu.RUnlock()
	if started {
		err = errors.Join(err, m.runLifecycle(ctx, c, "stopMethod"))
	}
	return err
}

func (m *Mesh) removeComponent(name string) *component {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.components[name]
	if c == nil {
		return nil
	}
	delete(m.components, name)
	if m.web != nil {
		m.web.detach(name)
	}
	for i, n := range m.order {
		if n == name {
			m.order = append(m.order[:i:i], m.order[i+1:]...)
			break
		}
	}
	return c
}

// prepareComponent makes the component of a module instance, with its web
// routes and data routes, before it joins the mesh.
func (m *Mesh) prepareComponent(name string, inst any, version string, cc ComponentConfig) (*component, []webLayer, error) {
	c, err := newComponent(name, inst, version, cc)
	if err != nil {
		return nil, nil, err
	}
	c.log = m.log.With("component", name)
	m.bindMethods(c)
	layers, err := m.web.componentRoutes(c)
	if err != nil {
		return nil, nil, err
	}
	if err := m.applyDataRoutes(c); err != nil {
		return nil, nil, err
	}
	return c, layers, nil
}

// request is an exchange request message.
type request struct {
	CallbackAddress string          `json:"callbackAddress"`
	RawArgs         json.RawMessage `json:"args"`
	Origin          Origin          `json:"origin"`
	Version         string          `json:"version"`
	CallbackPeer    string          `json:"callbackPeer"`

	hasOrigin bool
	args      []json.RawMessage
	badArgs   bool
}

// decode reads an exchange request in one pass (the hot path of every
// call); the publication's bytes were validated by happn.
//
// The strings share data's memory: a publication's data is never written to
// after it is delivered.
func (r *request) decode(data []byte) error {
	return jsonscan.EachMember(data, func(key, value []byte) error {
		switch {
		case jsonscan.KeyIs(key, "callbackAddress"):
			r.CallbackAddress, _ = jsonscan.UnquoteView(value)
		case jsonscan.KeyIs(key, "args"):
			r.RawArgs = value
		case jsonscan.KeyIs(key, "origin"):
			if len(value) > 0 && value[0] == '{' {
				o := &r.Origin
				r.hasOrigin = true
				return jsonscan.EachMember(value, func(k, v []byte) error {
					switch {
					case jsonscan.KeyIs(k, "id"):
						o.ID, _ = jsonscan.UnquoteView(v)
					case jsonscan.KeyIs(k, "username"):
						o.Username, _ = jsonscan.UnquoteView(v)
					}
					return nil
				})
			}
		case jsonscan.KeyIs(key, "version"):
			r.Version, _ = jsonscan.UnquoteView(value)
		case jsonscan.KeyIs(key, "callbackPeer"):
			r.CallbackPeer, _ = jsonscan.UnquoteView(value)
		}
		return nil
	})
}

// onRequest receives every exchange request publication for this domain.
// It runs on the publisher's goroutine: it decodes and hands the call to a
// goroutine of its own.
func (m *Mesh) onRequest(p *happn.Publication) {
	call := &exchangeCall{mesh: m, fromPeer: p.Peer, batch: p.Batch()}
	req := &call.req
	if err := req.decode(p.Data); err != nil || req.CallbackAddress == "" {
		m.log.Debug("happner: message discarded", "path", p.Path, "reason", "No callback address")
		return
	}
	if len(req.RawArgs) > 0 && string(req.RawArgs) != "null" {
		req.args = call.argsBuf[:0]
		if err := jsonscan.EachElement(req.RawArgs, func(v []byte) error {
			req.args = append(req.args, v)
			return nil
		}); err != nil {
			req.badArgs = true
		}
	}
	rest := strings.TrimPrefix(p.Path, "/_exchange/requests/"+m.domain+"/")
	var ok bool
	if call.component, call.method, ok = strings.Cut(rest, "/"); !ok {
		return
	}
	switch {
	case p.Origin != nil:
		call.origin = &Origin{ID: p.Origin.ID, Username: p.Origin.Username}
	case req.hasOrigin:
		call.origin = &req.Origin
	}
	m.calls.Add(1)
	if m.startAsync(call) {
		return
	}
	if p.Inline && m.cfg.InlineCallBudget > 0 && m.inlineable(call.component, call.method) {
		// the request came alone on its connection and the method is
		// quick: run it here, so that its reply shares the request's write
		call.run()
		p.Handled()
		return
	}
	m.workers.run(call)
}

// inlineable reports whether a method has been quick enough to run on the
// reader of the connection its request came on (see method.inlineable).
func (m *Mesh) inlineable(component, method string) bool {
	c := m.component(component)
	if c == nil {
		return false
	}
	meth := c.methods[method]
	return meth != nil && meth.inlineable()
}

// exchangeCall is one exchange request on its way to a worker: everything
// the call needs in one allocation.
type exchangeCall struct {
	mesh              *Mesh
	req               request
	component, method string
	origin            *Origin
	fromPeer          bool // the request came from another cluster member
	// batch is the batch of the reader the request came on: an async
	// method's own requests may leave at its end (see happn.Batch)
	batch   happn.Batch
	argsBuf [4]json.RawMessage
}

func (c *exchangeCall) run() {
	defer c.mesh.calls.Done()
	c.mesh.serve(c.component, c.method, &c.req, c.origin, c.fromPeer)
}

// serve runs one remote request and publishes the reply.
func (m *Mesh) serve(compName, methodName string, req *request, origin *Origin, fromPeer bool) {
	ctx := m.ctx
	c := m.component(compName)
	var payload []byte
	var targets []string
	if c == nil {
		eb, _ := json.Marshal(errUnconfiguredComponent(compName, methodName))
		payload = append(append([]byte(`{"args":[`), eb...), "]}"...)
	} else {
		var res callResult
		if req.badArgs {
			res.failed = NewError("Error", "Invalid request: args must be an array")
		} else {
			res = m.operate(ctx, c, methodName, callArgs{raw: req.args}, origin, req.Version)
		}
		payload = encodeReply(res)
		if res.failed == nil {
			targets = m.directTargets(c, fromPeer, origin)
		}
	}
	m.sendReply(ctx, req.CallbackPeer, req.CallbackAddress, payload, targets)
}

// directTargets are the sessions a reply of c goes to with direct
// responses on: the caller's alone. A member's request is answered on its
// own connection, whatever its origin says.
func (m *Mesh) directTargets(c *component, fromPeer bool, origin *Origin) []string {
	if (m.cfg.DirectResponses || c.config.DirectResponses) && !fromPeer && origin != nil && origin.ID != "" {
		return []string{origin.ID}
	}
	return nil
}

// sendReply delivers a call's reply: through the calling member's
// connection for a request from another cluster member (callbackPeer),
// else published on the callback address (to targets only, when set).
func (m *Mesh) sendReply(ctx context.Context, callbackPeer, address string, payload []byte, targets []string) {
	if callbackPeer != "" && m.cfg.Remote != nil {
		// a request from another cluster member: the reply goes back
		// through that member's connection
		if err := m.cfg.Remote.RemoteReply(ctx, callbackPeer, address, payload); err != nil {
			m.log.Warn("happner: publishing reply failed", "address", address, "peer", callbackPeer, "err", err)
		}
		return
	}
	// the reply is published by the mesh's own session, as happner does,
	// straight into happn: no request frame and no reply to wait for
	admin := m.adminOrigin()
	reply := happn.PublishRequest{Path: address, Data: payload, TargetClients: targets, SessionID: admin.ID, WriteInline: true}
	if m.secure {
		reply.Origin = &happn.Origin{Username: admin.Username, ID: admin.ID}
	}
	if _, err := m.srv.Publish(ctx, reply); err != nil {
		m.log.Warn("happner: publishing reply failed", "address", address, "err", err)
	}
}

// startAsync starts a call of an AsyncDynamicModule's method (a brokered
// component, whose calls wait for another member) on the goroutine the
// request arrived on, and reports whether it did: no worker waits for the
// reply, which is published when the call completes. Anything the call
// cannot start with (an unknown component or method, bad arguments, a
// version mismatch) is left to serve, which answers it.
func (m *Mesh) startAsync(call *exchangeCall) bool {
	c := m.component(call.component)
	if c == nil {
		return false
	}
	meth := c.methods[call.method]
	req := &call.req
	if meth == nil || meth.dynAsync == nil || req.badArgs || (req.Version != "" && !c.satisfies(req.Version)) {
		return false
	}
	// what the reply needs outlives the request's bytes
	peer, address := strings.Clone(req.CallbackPeer), strings.Clone(req.CallbackAddress)
	var origin *Origin
	if call.origin != nil {
		origin = &Origin{ID: strings.Clone(call.origin.ID), Username: strings.Clone(call.origin.Username), Override: call.origin.Override}
	}
	targets := m.directTargets(c, call.fromPeer, origin)
	ctx := happn.ContextWithBatch(m.ctx, call.batch)
	start := time.Now()
	meth.dynAsync(ctx, m.newHappn(ctx, c, origin), callArgs{raw: req.args}.any(), func(results []any, err error) {
		defer m.calls.Done()
		res := callResult{results: results, err: err}
		if meth.stats != nil {
			took := time.Since(start)
			meth.stats.Done(took, m.callStatus(res, took))
		}
		m.sendReply(ctx, peer, address, encodeReply(res), targets)
	})
	return true
}

// operate checks and runs one call of component c (happner's operate):
// an unknown method or a version mismatch fails the call.
func (m *Mesh) operate(ctx context.Context, c *component, methodName string, args callArgs, origin *Origin, version string) callResult {
	meth, ok := c.methods[methodName]
	if !ok {
		return callResult{failed: errUnconfiguredMethod(c.name, methodName)}
	}
	if version != "" && !c.satisfies(version) {
		meth.stats.Count(metrics.StatusError)
		return callResult{failed: errVersionMismatch(c.name, methodName, version, c.version)}
	}
	var h *Happn
	if meth.wantsHappn() {
		h = m.newHappn(ctx, c, origin)
	}
	start := time.Now()
	res := meth.invoke(ctx, h, c.log, args)
	took := time.Since(start)
	meth.record(took, m.cfg.InlineCallBudget)
	if meth.stats != nil {
		meth.stats.Done(took, m.callStatus(res, took))
	}
	return res
}

// versionSatisfies is happner's coercedSatisfies: the component version,
// coerced to semver, satisfies the range.
func versionSatisfies(ver, rng string) bool { return version.Satisfies(ver, rng) }

// exchangeResponseHook keeps exchange replies private: a subscription to
// another session's responses is refused (with a success reply), and happner-
// client's insecure 6-segment subscription /_exchange/responses/<SID>/* is
// widened to the 8-segment callback addresses, keeping the channel the client
// sent.
func exchangeResponseHook(sessionID, channel, path string) (string, bool) {
	if !strings.Contains(path, "/_exchange/responses") {
		return path, false
	}
	if !strings.Contains(path, sessionID) {
		return path, true
	}
	if strings.Count(channel, "/") == 5 && strings.HasSuffix(path, "/*") {
		return path + "/*/*/*", false
	}
	return path, false
}

// apiModule is the system api component: api.test, the browser client at
// /api/client and the catch-all answer to requests for unknown components
// (in Mesh.serve).
type apiModule struct{}

// apiComponentConfig mounts the api component's web route: /api/client.
func apiComponentConfig() ComponentConfig {
	return ComponentConfig{AccessLevel: "mesh", Web: json.RawMessage(`{"routes":{"client":"client"}}`)}
}

// Client serves the browser bundle (window.MeshClient, window.Happner);
// HTTP security leaves /api/client open.
func (apiModule) Client(w http.ResponseWriter, r *http.Request) {
	webclient.APIClient().ServeHTTP(w, r)
}

// Test answers "<message> tested ok".
func (apiModule) Test(message string) (string, error) { return message + " tested ok", nil }

// HappnerSchema names Test's parameter.
func (apiModule) HappnerSchema() ModuleSchema {
	return ModuleSchema{Version: Version, Schema: Schema{Methods: map[string]MethodSchema{"test": {Parameters: []Param{{Name: "message"}}}}}}
}
