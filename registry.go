package happner

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Factory builds a module instance from the literal parameters of the
// module's construct (or create) section, in order.
type Factory func(params []json.RawMessage) (any, error)

// Registry maps module paths (the "path" of a module config) to Go values
// and factories: the Go counterpart of require(path). It is safe for
// concurrent use.
type Registry struct {
	mu        sync.RWMutex
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Register makes factory available under name.
func (r *Registry) Register(name string, factory Factory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.factories[name] = factory
}

// RegisterValue makes v available under name; every module using it gets v.
func (r *Registry) RegisterValue(name string, v any) {
	r.Register(name, func([]json.RawMessage) (any, error) { return v, nil })
}

// lookup returns the factory registered under name.
func (r *Registry) lookup(name string) (Factory, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.factories[name]
	return f, ok
}

// buildModule instantiates the module name from its spec.
func buildModule(reg *Registry, name string, mc ModuleConfig) (any, error) {
	if mc.Instance != nil {
		return mc.Instance, nil
	}
	path := mc.Path
	if path == "" {
		path = name
	}
	f, ok := reg.lookup(path)
	if !ok {
		return nil, fmt.Errorf("happner: module %q: nothing registered under path %q", name, path)
	}
	var params []Param
	if mc.Construct != nil {
		params = mc.Construct.Parameters
	} else if mc.Create != nil {
		params = mc.Create.Parameters
	}
	vals := make([]json.RawMessage, len(params))
	for i, p := range params {
		vals[i] = p.Value
		if len(p.Value) == 0 {
			vals[i] = json.RawMessage("null")
		}
	}
	inst, err := f(vals)
	if err != nil {
		return nil, fmt.Errorf("happner: Failed to construct module: %s: %w", name, err)
	}
	if inst == nil {
		return nil, fmt.Errorf("happner: missing or null module %q", name)
	}
	return inst, nil
}
