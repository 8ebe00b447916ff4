package happner

import (
	"context"
	"fmt"
	"sort"
)

// DynamicModule is a module whose exposed methods are not Go methods but a
// list known at run time: a cluster broker's component forwarding calls to
// the members that implement it (happner-cluster's Broker). newComponent
// exposes the listed methods, described as given, and calls HappnerCall.
type DynamicModule interface {
	// HappnerMethods returns the methods to expose by wire name, with
	// their descriptions (nil: no parameters).
	HappnerMethods() map[string]*MethodDescription
	// HappnerCall runs method with args (JSON values or Go values) for the
	// call described by h (its Origin is the caller).
	HappnerCall(ctx context.Context, h *Happn, method string, args []any) ([]any, error)
}

// AsyncDynamicModule is a DynamicModule whose calls complete later, without
// a goroutine waiting for them: a cluster broker's component, whose calls
// wait for another member. The mesh starts such a call on the goroutine
// its request arrived on and publishes the reply when done is called.
type AsyncDynamicModule interface {
	DynamicModule
	// HappnerCallAsync starts method with args for the call described by
	// h and returns at once; done is called exactly once, from any
	// goroutine (or before HappnerCallAsync returns), with the results.
	// args are valid only until HappnerCallAsync returns.
	HappnerCallAsync(ctx context.Context, h *Happn, method string, args []any, done func([]any, error))
}

// dynamicMethods builds the exposed methods of a DynamicModule.
func dynamicMethods(dm DynamicModule) map[string]*method {
	list := dm.HappnerMethods()
	names := make([]string, 0, len(list))
	for n := range list {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[string]*method, len(names))
	for _, n := range names {
		name := n
		d := &MethodDescription{IsAsyncMethod: true, Parameters: []Param{}}
		if src := list[n]; src != nil {
			cp := *src
			if cp.Parameters == nil {
				cp.Parameters = []Param{}
			}
			d = &cp
		}
		meth := &method{name: name, goName: name, desc: d, dyn: func(ctx context.Context, h *Happn, args []any) ([]any, error) {
			return dm.HappnerCall(ctx, h, name, args)
		}}
		if adm, ok := dm.(AsyncDynamicModule); ok {
			meth.dynAsync = func(ctx context.Context, h *Happn, args []any, done func([]any, error)) {
				adm.HappnerCallAsync(ctx, h, name, args, done)
			}
		}
		out[name] = meth
	}
	return out
}

// ReplaceComponent swaps a component for a new one built from mc and cc in
// one step (happner's _updateElement): calls never see the name missing.
// The old component's stopMethod and the new one's init and start methods
// run when the mesh has started; the description is republished.
func (m *Mesh) ReplaceComponent(ctx context.Context, name string, mc ModuleConfig, cc ComponentConfig) error {
	m.elemMu.Lock()
	defer m.elemMu.Unlock()
	if name == "" {
		return fmt.Errorf("happner: bad component name %q", name)
	}
	inst, err := buildModule(m.cfg.Registry, name, mc)
	if err != nil {
		return err
	}
	c, layers, err := m.prepareComponent(name, inst, mc.Version, cc)
	if err != nil {
		return err
	}
	m.mu.Lock()
	old := m.components[name]
	started := m.started
	m.components[name] = c
	if old == nil {
		m.order = append(m.order, name)
	} else if m.web != nil {
		m.web.detach(name)
	}
	m.modules[name], m.modulesV[name] = inst, c.version
	m.mu.Unlock()
	m.web.attach(layers)
	if started {
		if old != nil {
			if err := m.runLifecycle(ctx, old, "stopMethod"); err != nil {
				m.log.Warn("happner: stopping a replaced component failed", "component", name, "err", err)
			}
		}
		for _, which := range []string{"initMethod", "startMethod"} {
			if err := m.runLifecycle(ctx, c, which); err != nil {
				return err
			}
		}
	}
	return m.writeDescription(ctx, false)
}

// DisableSchemaPublish makes later description writes store without
// publishing (happner's disableSchemaPublish): clients connected from then
// on read the description once and see no further changes.
func (m *Mesh) DisableSchemaPublish() {
	m.mu.Lock()
	m.noSchemaPublish = true
	m.mu.Unlock()
}
