package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ErrUnknownProvider is returned for a datastore provider name that no
// implementation serves; its message reads "unknown datastore provider: <name>".
var ErrUnknownProvider = errors.New("unknown datastore provider")

// Provider kinds that a [DatastoreConfig] resolves to.
const (
	// ProviderMemory is the in-memory store (store/memory).
	ProviderMemory = "memory"
	// ProviderBolt is the embedded file store (store/bolt).
	ProviderBolt = "bolt"
)

// DatastoreConfig is one entry of happn's services.data.config.datastores:
//
//	{"name": "persisted", "provider": "happn-db-provider-loki", "isDefault": true,
//	 "settings": {"filename": "/var/db/happn.db"}, "patterns": ["/persist/*"]}
type DatastoreConfig struct {
	// Name identifies the datastore.
	Name string `json:"name" yaml:"name"`
	// Provider names the implementation: "memory"/"mem"/"" (in memory),
	// "bolt" (file), or a happn npm provider name (see [ResolveProvider]).
	Provider string `json:"provider,omitempty" yaml:"provider,omitempty"`
	// IsDefault marks the datastore that serves unmatched paths.
	IsDefault bool `json:"isDefault,omitempty" yaml:"isDefault,omitempty"`
	// Settings are provider settings; "filename" selects the file.
	Settings map[string]any `json:"settings,omitempty" yaml:"settings,omitempty"`
	// Patterns are the glob patterns of the paths routed here.
	Patterns []string `json:"patterns,omitempty" yaml:"patterns,omitempty"`
}

// Filename returns settings.filename when it is a non-empty string.
func (c DatastoreConfig) Filename() string {
	f, _ := c.Settings["filename"].(string)
	return f
}

// fileProviders are happn's npm providers whose settings.filename selects a
// file: they map to bolt with a filename and to memory without one.
var fileProviders = map[string]bool{
	"loki":                     true,
	"happn-db-provider-loki":   true,
	"nedb":                     true,
	"happn-db-provider-nedb":   true,
	"happn-service-nedb":       true,
	"sqlite":                   true,
	"happn-db-provider-sqlite": true,
}

// ResolveProvider maps a datastore's provider name to [ProviderMemory] or
// [ProviderBolt]:
//   - "memory", "mem" and "" are memory (happn gives them no file, even when
//     settings.filename is set);
//   - "bolt" and "bbolt" are bolt and need settings.filename;
//   - happn's embedded npm providers (happn-db-provider-loki, -nedb,
//     -sqlite, and their short names) are bolt with settings.filename and
//     memory without.
//
// Any other name is an error wrapping [ErrUnknownProvider]. (The shared
// databases, PostgreSQL and MongoDB, are opened by package store/datastore
// before it asks here.)
func ResolveProvider(c DatastoreConfig) (string, error) {
	p := strings.ToLower(strings.TrimSpace(c.Provider))
	switch {
	case p == "" || p == "memory" || p == "mem":
		return ProviderMemory, nil
	case p == "bolt" || p == "bbolt":
		if c.Filename() == "" {
			return "", fmt.Errorf("store: datastore %q: provider %s needs settings.filename", c.Name, c.Provider)
		}
		return ProviderBolt, nil
	case fileProviders[p]:
		if c.Filename() != "" {
			return ProviderBolt, nil
		}
		return ProviderMemory, nil
	}
	return "", fmt.Errorf("%w: %s", ErrUnknownProvider, c.Provider)
}

// DefaultDatastores is the configuration happn uses when none is given: one
// default datastore named "default", kept in filename when it is not empty
// and in memory otherwise.
func DefaultDatastores(filename string) []DatastoreConfig {
	c := DatastoreConfig{Name: "default", Provider: "happn-db-provider-loki", IsDefault: true}
	if filename != "" {
		c.Settings = map[string]any{"filename": filename}
	}
	return []DatastoreConfig{c}
}

// Opener opens the store of one datastore configuration.
type Opener func(c DatastoreConfig) (Store, error)

// OpenRouter opens every configured datastore with open and returns a
// [Router] over them. The default datastore is the first flagged isDefault,
// else the first. When a datastore fails to open, the ones already opened
// are closed. An empty cfgs means [DefaultDatastores]("").
func OpenRouter(cfgs []DatastoreConfig, open Opener) (*Router, error) {
	if open == nil {
		return nil, errors.New("store: OpenRouter needs an Opener")
	}
	if len(cfgs) == 0 {
		cfgs = DefaultDatastores("")
	}
	routes := make([]Route, 0, len(cfgs))
	def := ""
	closeAll := func() {
		for _, rt := range routes {
			_ = rt.Store.Close()
		}
	}
	seen := map[string]bool{}
	for i, c := range cfgs {
		if c.Name == "" {
			closeAll()
			return nil, fmt.Errorf("store: datastore %d has no name", i)
		}
		if seen[c.Name] {
			closeAll()
			return nil, fmt.Errorf("store: duplicate datastore name %q", c.Name)
		}
		seen[c.Name] = true
		s, err := open(c)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("store: opening datastore %q: %w", c.Name, err)
		}
		if s == nil {
			closeAll()
			return nil, fmt.Errorf("store: opening datastore %q: opener returned no store", c.Name)
		}
		routes = append(routes, Route{Name: c.Name, Store: s, Patterns: c.Patterns})
		if c.IsDefault && def == "" {
			def = c.Name
		}
	}
	r, err := NewRouter(routes, def)
	if err != nil {
		closeAll()
		return nil, err
	}
	return r, nil
}

// PoolSizeSetting reads settings.poolSize of a shared-database datastore: 0
// when it is absent or null, else a positive integer (JSON numbers arrive
// as float64).
func PoolSizeSetting(settings map[string]any) (int, error) {
	v, ok := settings["poolSize"]
	if !ok || v == nil {
		return 0, nil
	}
	var n float64
	switch x := v.(type) {
	case float64:
		n = x
	case int:
		n = float64(x)
	case int64:
		n = float64(x)
	default:
		return 0, fmt.Errorf("settings.poolSize must be a number, got %T", v)
	}
	if n < 1 || n != math.Trunc(n) || n > math.MaxInt32 {
		return 0, fmt.Errorf("settings.poolSize must be a positive integer, got %v", v)
	}
	return int(n), nil
}

// SettingsOpener returns an [Opener] for a shared-database provider: each
// datastore's settings are read by fromSettings over defaults, and the store
// is opened by open within timeout. Errors name the datastore.
func SettingsOpener[O any, S Store](defaults O, fromSettings func(map[string]any, O) (O, error),
	open func(context.Context, O) (S, error), timeout time.Duration) Opener {
	return func(c DatastoreConfig) (Store, error) {
		opts, err := fromSettings(c.Settings, defaults)
		if err != nil {
			return nil, fmt.Errorf("datastore %q: %w", c.Name, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		s, err := open(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("datastore %q: %w", c.Name, err)
		}
		return s, nil
	}
}
