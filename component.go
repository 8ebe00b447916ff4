package happner

import (
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// component is a named, mesh-exposed instance of a module.
type component struct {
	name     string
	config   ComponentConfig
	instance any
	version  string
	// methods are the exposed methods by wire name and alias.
	methods map[string]*method
	// all holds every callable method by wire and Go name (lifecycle
	// methods need not be exposed).
	all map[string]*method
	// deps are the module's dependencies with the config's merged over.
	deps Dependencies
	desc *ComponentDescription
	log  *slog.Logger
	// ranges caches whether the version satisfies the ranges callers ask
	// for (a handful per component; bounded against hostile callers).
	rangesMu sync.RWMutex
	ranges   map[string]bool
	// views are the component's exchange, event and data views that act
	// as the mesh's own identity, shared by every call that binds no
	// caller (they hold no per-call state).
	views atomic.Pointer[happnViews]
}

// happnViews are the exchange, event and data views of one $happn.
type happnViews struct {
	x Exchange
	e Events
	d Data
}

// maxCachedRanges bounds a component's cache of version range answers.
const maxCachedRanges = 64

// satisfies reports whether the component's version satisfies rng
// (happner's coercedSatisfies), remembering the answer.
func (c *component) satisfies(rng string) bool {
	c.rangesMu.RLock()
	ok, known := c.ranges[rng]
	c.rangesMu.RUnlock()
	if known {
		return ok
	}
	ok = versionSatisfies(c.version, rng)
	c.rangesMu.Lock()
	if c.ranges == nil {
		c.ranges = map[string]bool{}
	}
	if len(c.ranges) < maxCachedRanges {
		c.ranges[strings.Clone(rng)] = ok
	}
	c.rangesMu.Unlock()
	return ok
}

// newComponent builds a component from a module instance.
func newComponent(name string, instance any, moduleVersion string, cc ComponentConfig) (*component, error) {
	if instance == nil {
		return nil, fmt.Errorf("happner: component %q: nil module instance", name)
	}
	c := &component{name: name, config: cc, instance: instance, methods: map[string]*method{}, all: map[string]*method{}}
	var schema Schema
	var moduleDeps map[string]map[string]any
	c.version = "1.0.0"
	if moduleVersion != "" {
		c.version = moduleVersion
	}
	if s, ok := instance.(Schemer); ok {
		ms := s.HappnerSchema()
		schema, moduleDeps = ms.Schema, ms.Dependencies
		if ms.Version != "" && moduleVersion == "" {
			c.version = ms.Version
		}
	}
	deps, err := componentDependencies(name, moduleDeps, cc.Dependencies)
	if err != nil {
		return nil, fmt.Errorf("happner: component %q: %w", name, err)
	}
	c.deps = deps
	if cc.Version != "" {
		c.version = cc.Version
	}
	// The component config's schema wins over the module's, per method.
	merged := map[string]MethodSchema{}
	for k, v := range schema.Methods {
		merged[k] = v
	}
	for k, v := range cc.Schema.Methods {
		merged[k] = v
	}
	// An exclusive component config exposes only its own list; an
	// exclusive module schema exposes its list plus the config's.
	exclusive := schema.Exclusive || cc.Schema.Exclusive
	exclusiveList := merged
	if cc.Schema.Exclusive {
		exclusiveList = cc.Schema.Methods
	}

	v := reflect.ValueOf(instance)
	t := v.Type()
	dm, dynamic := instance.(DynamicModule)
	if dynamic {
		for n, dmeth := range dynamicMethods(dm) {
			c.all[n] = dmeth
			c.methods[n] = dmeth
		}
	}
	for i := 0; i < t.NumMethod() && !dynamic; i++ {
		mt := t.Method(i)
		if !mt.IsExported() || mt.Name == "HappnerSchema" || mt.Name == "HappnerStatic" {
			continue
		}
		m, ok := newMethod(mt.Name, v.Method(i))
		if !ok {
			continue
		}
		c.all[m.name] = m
		c.all[m.goName] = m
		ms, listed := merged[m.name]
		if !listed {
			ms = merged[m.goName]
		}
		if exclusive && !exposedBy(exclusiveList, m) {
			continue
		}
		m.describe(ms)
		c.methods[m.name] = m
	}
	for k := range merged {
		if _, ok := c.all[k]; !ok {
			return nil, fmt.Errorf("happner: component %q: schema lists method %q that the module does not have (or cannot be called)", name, k)
		}
	}
	desc := &ComponentDescription{
		Name: name, Version: c.version, Methods: map[string]*MethodDescription{},
		Routes: map[string]any{}, Events: map[string]any{}, Data: map[string]any{},
	}
	names := make([]string, 0, len(c.methods))
	for n := range c.methods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := c.methods[n]
		desc.Methods[n] = m.desc
		if a := m.desc.Alias; a != "" {
			if _, taken := c.methods[a]; !taken {
				c.methods[a] = m
			}
		}
	}
	for k, v := range cc.Events {
		desc.Events[k] = v
	}
	for k, v := range cc.Data {
		desc.Data[k] = v
	}
	c.desc = desc
	// a stop or shutdown method that does not exist would only fail when
	// the mesh stops: refuse it now, as a bad start method is refused
	for _, lm := range []string{cc.StopMethod, cc.ShutdownMethod} {
		if _, err := c.lifecycle(lm); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// lifecycle returns the method named by a lifecycle config field.
func (c *component) lifecycle(name string) (*method, error) {
	if name == "" {
		return nil, nil
	}
	m, ok := c.all[name]
	if !ok {
		return nil, fmt.Errorf("happner: component %q has no method %q", c.name, name)
	}
	return m, nil
}

// lifecycleArgs returns the configured argument values of method m.
func (c *component) lifecycleArgs(m *method) []any {
	ms, ok := c.config.Schema.Methods[m.name]
	if !ok {
		ms = c.config.Schema.Methods[m.goName]
	}
	var args []any
	for _, p := range ms.Parameters {
		if len(p.Value) > 0 {
			args = append(args, p.Value)
		}
	}
	return args
}

func exposedBy(list map[string]MethodSchema, m *method) bool {
	if _, ok := list[m.name]; ok {
		return true
	}
	_, ok := list[m.goName]
	return ok
}
