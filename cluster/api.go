package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/client"
)

// Call is an exchange call made in the cluster (happner's $call), with
// the dependencies of the calling component deciding the version range and
// the methods on its api.
type Call struct {
	happner.CallOptions
	// Dependencies is the calling component's dependencies section (nil
	// for a component without, or the member itself), in any form
	// [happner.ParseDependencies] reads: its entry for Component gives the
	// version range when Version is empty, and its methods decide which
	// methods may be called on another member.
	Dependencies map[string]any
	// Origin is the caller ($origin); nil for the member itself.
	Origin *happner.Origin
	// OnBehalfOf makes the member that runs the call authorise it as this
	// user (authority delegation, As).
	OnBehalfOf string
}

// endpointError is $call's error for a name not on the api.
func endpointError(component, method string) *happner.Error {
	if method == "" {
		return happner.NewError("Error", fmt.Sprintf("invalid endpoint options: [%s] component does not exist on the api", component))
	}
	return happner.NewError("Error", fmt.Sprintf("invalid endpoint options: [%s.%s] method does not exist on the api", component, method))
}

// resolve decides the version range of a call to a component that is not
// used locally, and whether the method is on the caller's api.
func (r *remote) resolve(deps happner.Dependencies, component, method string) (string, error) {
	comp, meth := r.impl.discovered(component, method)
	if d, ok := deps.Lookup(component); ok {
		if d.EventsOnly() {
			return "", endpointError(component, method)
		}
		if d.HasMethod(method) {
			return d.Version, nil
		}
		if d.DiscoverMethods && meth {
			return d.Version, nil
		}
		return "", endpointError(component, method)
	}
	if !comp {
		return "", endpointError(component, "")
	}
	if !meth {
		return "", endpointError(component, method)
	}
	return "", nil
}

// exchange runs a call: a compatible local component is always preferred
// when local is set, otherwise another member runs it.
func (m *Member) exchange(ctx context.Context, c Call, deps happner.Dependencies, local bool) ([]any, error) {
	if m.remote == nil {
		return nil, fmt.Errorf("cluster: member not started")
	}
	rng := c.Version
	if rng == "" {
		rng = deps.Range(c.Component)
	}
	if c.Mesh != "" && c.Mesh != m.mesh.Name() && c.Mesh != m.mesh.Domain() {
		return nil, happner.NewError("Error", fmt.Sprintf("invalid endpoint options: [%s] mesh does not exist on the api", c.Mesh))
	}
	if v, ok := m.mesh.Exchange().Version(c.Component); local && ok && (rng == "" || m.versions.satisfies(v, rng)) {
		if c.As == "" {
			return m.mesh.Exchange().Results(ctx, c.Component, c.Method, c.Arguments...)
		}
		// as another user: the mesh checks that user's permissions
		o := c.CallOptions
		o.Version = ""
		var first json.RawMessage
		if err := m.mesh.Exchange().Do(ctx, o, &first); err != nil {
			return nil, err
		}
		return []any{first}, nil
	}
	drng, err := m.remote.resolve(deps, c.Component, c.Method)
	if err != nil {
		return nil, err
	}
	if rng == "" {
		rng = drng
	}
	behalf := c.OnBehalfOf
	if c.As != "" {
		behalf = c.As
	}
	return m.remote.call(ctx, remoteCall{
		component: c.Component, method: c.Method, rng: rng, args: c.Arguments,
		origin: c.Origin, onBehalfOf: behalf,
	})
}

// RemoteCall runs a mesh's call to a component it does not have in a
// compatible version (happner.Remote).
func (m *Member) RemoteCall(ctx context.Context, rc happner.RemoteCall) ([]any, error) {
	// the mesh has decided the local component (if any) does not do
	return m.exchange(ctx, Call{CallOptions: rc.CallOptions, Origin: rc.Origin, OnBehalfOf: rc.OnBehalfOf}, rc.Dependencies, false)
}

// RemoteReply publishes the reply to another member's request through
// that member's connection (happner.Remote).
func (m *Member) RemoteReply(ctx context.Context, callbackPeer, address string, payload json.RawMessage) error {
	if m.remote == nil {
		return fmt.Errorf("cluster: member not started")
	}
	return m.remote.reply(ctx, callbackPeer, address, payload)
}

// Call calls a method anywhere in the cluster as the member itself and
// stores the results into out like happner.Exchange.Call: a compatible
// local component is preferred, otherwise the member with the highest
// version satisfying c.Version (or the calling component's dependency),
// round-robin among members with that version.
func (m *Member) Call(ctx context.Context, c Call, out ...any) error {
	deps, err := happner.ParseDependencies(c.Dependencies)
	if err != nil {
		return err
	}
	results, err := m.exchange(ctx, c, deps, true)
	if err != nil {
		return err
	}
	for i, dst := range out {
		if i >= len(results) {
			break
		}
		if err := assign(dst, results[i]); err != nil {
			return err
		}
	}
	return nil
}

// Implementors returns the names of the other members that implement
// component in a version satisfying rng ("" any), in name order.
func (m *Member) Implementors(component, rng string) []string {
	if m.remote == nil {
		return nil
	}
	m.remote.impl.mu.Lock()
	defer m.remote.impl.mu.Unlock()
	var out []string
	for _, c := range m.remote.impl.candidatesLocked(component, displayRange(rng), "") {
		out = append(out, c.peer)
	}
	return out
}

// On subscribes handler to the events of component (on this member or,
// through replication, on any other) whose componentVersion satisfies
// rng ("" any): the server drops the other versions' events, and so does
// the handler's wrapper for events that reach it anyway.
func (m *Member) On(ctx context.Context, component, rng, key string, handler func(happner.Event)) (int, error) {
	opts := client.OnOptions{}
	if rng != "" && rng != "*" {
		opts.Meta = map[string]any{"componentVersion": rng}
	}
	return m.mesh.Event().OnWith(ctx, component, key, opts, func(ev happner.Event) {
		if eventVersionOK(&m.versions, ev.Meta.Fields, rng) {
			handler(ev)
		}
	})
}

// dependenciesMet reports whether every dependency has an implementation
// in the cluster, local or remote.
func (m *Member) dependenciesMet(deps map[string]Dependency) bool {
	for _, d := range deps {
		if v, ok := m.mesh.Exchange().Version(d.Component); ok && m.versions.satisfies(v, d.Version) {
			continue
		}
		if !m.remote.impl.has(d.Component, d.Version) {
			return false
		}
	}
	return true
}

// AwaitDependencies blocks until every dependency of component exists in
// the cluster, on this member or another, or ctx ends (happner.Remote). A
// component that brokers components waits for those, as happner-cluster's
// start gate does; otherwise for the components it uses.
func (m *Member) AwaitDependencies(ctx context.Context, component string, all happner.Dependencies) error {
	if m.remote == nil {
		return fmt.Errorf("cluster: member not started")
	}
	deps := all.Components
	if len(all.Brokered) > 0 {
		deps = all.Brokered
	}
	if len(deps) == 0 || m.dependenciesMet(deps) {
		return nil
	}
	m.log.Info("cluster: component awaiting its dependencies", "component", component)
	tick := time.NewTicker(100 * time.Millisecond) // local components appear without a peer event
	defer tick.Stop()
	for {
		m.remote.impl.mu.Lock()
		ch := m.remote.impl.changed
		m.remote.impl.mu.Unlock()
		if m.dependenciesMet(deps) {
			m.log.Info("cluster: component dependencies satisfied", "component", component)
			return nil
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("cluster: %s awaiting its dependencies: %w", component, ctx.Err())
		}
	}
}

// assign stores a result (a Go value or JSON) into out, a non-nil pointer.
func assign(out, r any) error {
	if out == nil {
		return nil
	}
	ov := reflect.ValueOf(out)
	if ov.Kind() != reflect.Pointer || ov.IsNil() {
		return fmt.Errorf("cluster: result destination must be a non-nil pointer, got %T", out)
	}
	if r == nil {
		ov.Elem().Set(reflect.Zero(ov.Elem().Type()))
		return nil
	}
	if rv := reflect.ValueOf(r); rv.Type().AssignableTo(ov.Elem().Type()) {
		ov.Elem().Set(rv)
		return nil
	}
	raw, ok := r.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("cluster: encode result: %w", err)
		}
		raw = b
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("cluster: decode result: %w", err)
	}
	return nil
}
