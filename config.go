package happner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/happner-go/happner/configfile"
	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/gctune"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/logging"
	"github.com/happner-go/happner/metrics"
)

// Config configures a mesh, in the shape of a happner-2 config.
type Config struct {
	// Name is the mesh (and happn server) name.
	Name string
	// Domain is the name used in exchange and event paths; default Name.
	Domain string
	// Happn is the embedded happn server's configuration. Port 0 picks a
	// free port (ParseConfig applies happn's default 55000). Its Metrics,
	// MetricsOptions and Log hold the node's metrics and log settings (a
	// config file's top-level "metrics" and "log" keys): the mesh creates
	// the metrics registry its server and components share.
	Happn happn.Config
	// SetOptions are happn.setOptions, the exchange request options; a zero
	// Timeout means 10000 ms.
	SetOptions SetOptions
	// Modules are the module specs by module name.
	Modules map[string]ModuleConfig
	// Components are the component specs by component name.
	Components map[string]ComponentConfig
	// ComponentOrder is the order in which components are initialised and
	// started; ParseConfig fills it with the file's order. Components not
	// listed follow in name order.
	ComponentOrder []string
	// Web is the web section: routes ({"/mount": "component/route"}) and
	// middleware ([{"component", "methods"}]).
	Web json.RawMessage
	// WebFuncs are the Go functions of the web section: global middleware
	// and root routes, mounted before Web's entries and the components.
	WebFuncs WebFuncs
	// Authenticator backs REST logins, web origins and the REST
	// component's authorisation. Secure meshes default to one backed by
	// their happn security service.
	Authenticator Authenticator
	// ListenFirst listens as soon as the data layer is up, before the
	// components exist (clients then see initializing:true and wait).
	ListenFirst bool
	// DeferListen does not listen at the end of Create; call Mesh.Listen.
	DeferListen bool
	// StartTimeout bounds the init and start methods together (default 5m).
	StartTimeout time.Duration
	// AuthorityDelegationOn binds onward calls of a component to the
	// caller's identity, mesh-wide (secure meshes).
	AuthorityDelegationOn bool
	// DirectResponses publishes replies only to the calling session.
	DirectResponses bool
	// InlineCallBudget is how quick a method must have shown itself to be
	// for a call that arrives alone on its connection to run on that
	// connection's reader (its reply then shares the request's write, and
	// no other goroutine is woken); default 250µs. A method must stay under
	// it 16 calls in a row; a slower call sends it back to the worker
	// goroutines for the next 80. Negative: every call runs on a worker.
	InlineCallBudget time.Duration
	// Remote reaches components on other cluster members (set by the
	// cluster package); nil: only this mesh's components exist.
	Remote Remote
	// Brokered marks the description brokered: other cluster members
	// ignore this mesh's components. A mesh with a Remote marks itself so
	// as soon as one of its components brokers components ($broker).
	Brokered bool
	// IgnoreDependenciesOnStartup starts components without waiting for
	// their dependencies to exist in the cluster.
	IgnoreDependenciesOnStartup bool
	// BeforeStart runs after the components are created and before their
	// init and start methods (the cluster joins its peers there).
	BeforeStart func(ctx context.Context, m *Mesh) error
	// Registry resolves module paths to Go values and factories.
	Registry *Registry
	// Logger receives the mesh's logs; default slog.Default().
	Logger *slog.Logger
	// Dashboard configures the live page at /dashboard and the snapshots
	// the mesh publishes for it (a config file's top-level "dashboard"
	// key); on by default.
	Dashboard dashboard.Options
}

// ModuleConfig is one entry of config.modules.
type ModuleConfig struct {
	// Path names the registered module; default the module's name.
	Path string `json:"path,omitempty"`
	// Instance is a Go value used as the module as it is.
	Instance any `json:"-"`
	// Construct passes parameters to the registered factory.
	Construct *Construct `json:"construct,omitempty"`
	// Create is happner's factory form; its parameters are used like
	// Construct's.
	Create *Construct `json:"create,omitempty"`
	// Version is the module's version (default "1.0.0"); it stands for the
	// package.json version of a node module.
	Version string `json:"version,omitempty"`
}

// Construct is a module's construct (or create) section.
type Construct struct {
	// Name is informational (the JS constructor name).
	Name string `json:"name,omitempty"`
	// Type is "sync" or "async" for create; informational.
	Type string `json:"type,omitempty"`
	// Parameters are the literal values passed to the factory, in order.
	Parameters []Param `json:"parameters,omitempty"`
}

// ComponentConfig is one entry of config.components.
type ComponentConfig struct {
	// Module is the module the component instantiates; default its name.
	Module string `json:"module,omitempty"`
	// ModuleName is happner's alias of Module.
	ModuleName string `json:"moduleName,omitempty"`
	// Version overrides the module's version.
	Version string `json:"version,omitempty"`
	// InitMethod, StartMethod, StopMethod and ShutdownMethod name
	// lifecycle methods (by wire or Go name); their arguments are
	// schema.methods[m].parameters[].value.
	InitMethod     string `json:"initMethod,omitempty"`
	StartMethod    string `json:"startMethod,omitempty"`
	StopMethod     string `json:"stopMethod,omitempty"`
	ShutdownMethod string `json:"shutdownMethod,omitempty"`
	// AccessLevel "mesh" or "root" gives the component Happn.Mesh.
	AccessLevel string `json:"accessLevel,omitempty"`
	// Schema restricts and describes the methods.
	Schema Schema `json:"schema"`
	// Events is copied into the description.
	Events map[string]any `json:"events,omitempty"`
	// Data is copied into the description; data.routes select datastores.
	Data map[string]any `json:"data,omitempty"`
	// Web holds {"routes": {route: "method" | ["mw1", "mw2"]}}: methods of
	// the module with a web signature (see [Middleware]) or "static"
	// ([StaticFS]), mounted at /<mesh>/<component>/<route> and
	// /<component>/<route>.
	Web json.RawMessage `json:"web,omitempty"`
	// Dependencies are the components this component uses from the
	// cluster, by name, and under BrokerKey ("$broker") the components it
	// brokers. An entry is a [Dependency] or its JSON shape as a
	// map[string]any; see [ParseDependencies]. They are merged over the
	// module's ([ModuleSchema].Dependencies): an entry here replaces the
	// module's entry of the same name.
	Dependencies map[string]any `json:"dependencies,omitempty"`
	// Security holds security.authorityDelegationOn.
	Security struct {
		AuthorityDelegationOn *bool `json:"authorityDelegationOn,omitempty"`
	} `json:"security"`
	// DirectResponses publishes this component's replies only to callers.
	DirectResponses bool `json:"directResponses,omitempty"`
}

// Schema is a component's schema: which methods are exposed and how they
// are described. A module may also supply one by implementing [Schemer];
// the component config's entries win.
type Schema struct {
	// Exclusive exposes only the methods listed in Methods.
	Exclusive bool `json:"exclusive,omitempty"`
	// Methods describes methods by wire name (or Go name).
	Methods map[string]MethodSchema `json:"methods,omitempty"`
}

// MethodSchema describes one method.
type MethodSchema struct {
	// Type is happner's method type ("async", "sync", "sync-promise").
	Type string `json:"type,omitempty"`
	// Alias is a second wire name for the method.
	Alias string `json:"alias,omitempty"`
	// Parameters name the method's parameters (after *Happn) for the
	// description; Value gives lifecycle method arguments.
	Parameters []Param `json:"parameters,omitempty"`
}

// Schemer is implemented by modules that describe themselves: their
// version, parameter names, aliases and exclusivity.
type Schemer interface {
	HappnerSchema() ModuleSchema
}

// ModuleSchema is what a module says about itself through [Schemer].
type ModuleSchema struct {
	// Version is the module's version.
	Version string
	// Schema is merged under the component config's schema.
	Schema Schema
	// Dependencies are the module's dependencies by component name, as
	// package.json keeps them in happner.dependencies: each value is a
	// dependencies section of that component (as in
	// [ComponentConfig].Dependencies), and the BrokerKey ("$broker")
	// value lists components brokered by every component of the module.
	// The component config's section is merged over them, entry by entry.
	Dependencies map[string]map[string]any
}

// fileConfig is the file form of Config; its json tags are the keys a
// happner config file may have besides "happn".
type fileConfig struct {
	Name                  string                     `json:"name"`
	Domain                string                     `json:"domain"`
	Port                  *int                       `json:"port"`
	Secure                bool                       `json:"secure"`
	Modules               map[string]ModuleConfig    `json:"modules"`
	Components            map[string]ComponentConfig `json:"components"`
	Web                   json.RawMessage            `json:"web"`
	ListenFirst           bool                       `json:"listenFirst"`
	DeferListen           bool                       `json:"deferListen"`
	StartTimeout          *int64                     `json:"startTimeout"`
	AuthorityDelegationOn bool                       `json:"authorityDelegationOn"`
	DirectResponses       bool                       `json:"directResponses"`
	IgnoreDeps            bool                       `json:"ignoreDependenciesOnStartup"`
	// Metrics (enabled, addr) and Log (format, level) may also be given
	// in the happn section; these top-level keys win.
	Metrics *metrics.Options `json:"metrics" yaml:"metrics"`
	Log     *logging.Options `json:"log" yaml:"log"`
	// GC (percent, memoryLimit): the process's garbage collector, as in a
	// happn file's gc section; this top-level key wins.
	GC *gctune.Options `json:"gc" yaml:"gc"`
	// Dashboard (enabled, intervalMs): the page at /dashboard.
	Dashboard *dashboard.Options `json:"dashboard" yaml:"dashboard"`

	Endpoints configfile.Unsupported `json:"endpoints" unsupported:"mesh-to-mesh endpoints are not implemented"`
	Plugins   configfile.Unsupported `json:"plugins" unsupported:"plugins are not implemented"`
}

// happnExtras are happner's own keys in the happn section.
type happnExtras struct {
	SetOptions *struct {
		Timeout *int `json:"timeout"`
	} `json:"setOptions"`
	AdminPassword string `json:"adminPassword"`
	Filename      string `json:"filename"`
	DBFile        string `json:"dbfile"`
}

// ParseConfig reads a mesh config from JSON, or YAML when format is "yaml"
// or "yml" (a leading dot is ignored) or the data does not start with '{'.
// Modules and components keep their file order in ComponentOrder. Keys it
// does not use are logged as warnings on slog's default logger; read the
// file with [configfile] and [DecodeConfig] to handle them yourself.
func ParseConfig(data []byte, format string) (Config, error) {
	return configfile.ParseWith(data, format, DecodeConfig)
}

// LoadConfigFile reads a JSON or YAML config file (by extension), with
// ${NAME} references replaced from the environment.
func LoadConfigFile(path string) (Config, error) {
	return configfile.LoadWith(path, DecodeConfig)
}

// DecodeConfig reads a happner config from section s of a config file
// (normally the whole file): the mesh keys, and the happn section with
// [happn.DecodeConfig].
func DecodeConfig(s configfile.Section) (Config, error) {
	var fc fileConfig
	if err := s.Decode(&fc); err != nil {
		return Config{}, fmt.Errorf("happner: reading config: %w", err)
	}
	cfg := Config{
		Name: fc.Name, Domain: fc.Domain, Modules: fc.Modules, Components: fc.Components,
		Web: fc.Web, ListenFirst: fc.ListenFirst, DeferListen: fc.DeferListen,
		AuthorityDelegationOn: fc.AuthorityDelegationOn, DirectResponses: fc.DirectResponses,
		IgnoreDependenciesOnStartup: fc.IgnoreDeps,
	}
	if fc.StartTimeout != nil {
		cfg.StartTimeout = time.Duration(*fc.StartTimeout) * time.Millisecond
	}
	hs := s.Child("happn")
	hc, err := happn.DecodeConfig(hs)
	if err != nil {
		return Config{}, fmt.Errorf("happner: %w", err)
	}
	hs.Child("name").Unused("the mesh (and its happn server) is named by the top-level name")
	var ex happnExtras
	if err := hs.Decode(&ex); err != nil {
		return Config{}, fmt.Errorf("happner: reading config: %w", err)
	}
	if ex.DBFile != "" {
		return Config{}, errors.New("happner: dbfile is no longer a valid config setting, please use filename")
	}
	if hc.AdminPassword == "" {
		hc.AdminPassword = ex.AdminPassword
	}
	if hc.Filename == "" {
		hc.Filename = ex.Filename
	}
	if fc.Port != nil {
		hc.Port = *fc.Port
	}
	if fc.Secure {
		hc.Secure = true
	}
	if ex.SetOptions != nil && ex.SetOptions.Timeout != nil {
		cfg.SetOptions.Timeout = *ex.SetOptions.Timeout
	}
	if fc.Metrics != nil {
		hc.MetricsOptions = *fc.Metrics
	}
	if fc.GC != nil {
		hc.GC = *fc.GC
	}
	if fc.Dashboard != nil {
		cfg.Dashboard = *fc.Dashboard
	}
	if fc.Log != nil {
		if err := fc.Log.Validate(); err != nil {
			return Config{}, fmt.Errorf("happner: reading config: %w", err)
		}
		hc.Log = *fc.Log
	}
	cfg.Happn = hc
	cfg.ComponentOrder = s.Child("components").Keys()
	return cfg, nil
}

// componentOrder returns the components in initialisation order.
func (c *Config) componentOrder() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range c.ComponentOrder {
		if _, ok := c.Components[n]; ok && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	var rest []string
	for n := range c.Components {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
