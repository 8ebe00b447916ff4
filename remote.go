package happner

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/happner-go/happner/happn/client"
)

// Remote reaches components that live on other members of a cluster
// (happner-cluster). The cluster package provides it through
// Config.Remote; a mesh without one only has its own components.
type Remote interface {
	// RemoteCall runs a call this mesh cannot serve itself: no component
	// of that name, or one whose version does not satisfy the caller's
	// range (a compatible local component is always preferred).
	RemoteCall(ctx context.Context, c RemoteCall) ([]any, error)
	// RemoteReply publishes the reply to a request another member sent
	// (its callbackPeer) through that member's connection.
	RemoteReply(ctx context.Context, callbackPeer, address string, payload json.RawMessage) error
	// AwaitDependencies blocks until every dependency of component exists
	// in the cluster, here or on another member, or ctx ends.
	AwaitDependencies(ctx context.Context, component string, deps Dependencies) error
}

// RemoteCall is a call handed to [Remote].
type RemoteCall struct {
	CallOptions
	// From is the calling component ("" for the mesh itself).
	From string
	// Dependencies are the calling component's dependencies.
	Dependencies Dependencies
	// Origin is the caller's identity ($origin); nil for the mesh's own.
	Origin *Origin
	// OnBehalfOf is the user the call acts as on the other member
	// (authority delegation, As); "" runs it as the cluster user.
	OnBehalfOf string
}

// remoteCall hands a call to the cluster.
func (x *Exchange) remoteCall(ctx context.Context, o CallOptions, rng string) ([]any, error) {
	rc := RemoteCall{CallOptions: o, Origin: x.origin}
	rc.Version = rng
	if x.from != nil {
		rc.From, rc.Dependencies = x.from.name, x.from.deps
	}
	switch {
	case o.As != "":
		rc.OnBehalfOf = o.As
		rc.Origin = &Origin{Username: o.As, Override: true}
	case x.origin != nil && x.origin.Username != "":
		rc.OnBehalfOf = x.origin.Username
	}
	return x.mesh.cfg.Remote.RemoteCall(ctx, rc)
}

// wantsRemote reports whether a call to component c (nil when absent)
// within range rng goes to another member.
func (m *Mesh) wantsRemote(c *component, rng string) bool {
	if m.cfg.Remote == nil {
		return false
	}
	return c == nil || (rng != "" && !c.satisfies(rng))
}

// awaitDependencies is the start gate: a component's start waits until its
// dependencies exist in the cluster (unless IgnoreDependenciesOnStartup).
func (m *Mesh) awaitDependencies(ctx context.Context, c *component) error {
	if m.cfg.Remote == nil || m.cfg.IgnoreDependenciesOnStartup || c.deps.Empty() {
		return nil
	}
	m.setAwaiting(c.name, true)
	defer m.setAwaiting(c.name, false)
	if err := m.cfg.Remote.AwaitDependencies(ctx, c.name, c.deps); err != nil {
		return fmt.Errorf("happner: startMethod '%s' awaiting dependencies: %w", c.name, err)
	}
	return nil
}

// versionedEvents adds the version filter of the calling component's
// dependency on component to an event subscription: the server and the
// handler drop events whose componentVersion does not satisfy its range.
func versionedEvents(from *component, component string, opts client.OnOptions, handler func(Event)) (client.OnOptions, func(Event)) {
	if from == nil {
		return opts, handler
	}
	rng := from.deps.Range(component)
	if rng == "" || rng == "*" {
		return opts, handler
	}
	meta := map[string]any{"componentVersion": rng}
	for k, v := range opts.Meta {
		meta[k] = v
	}
	opts.Meta = meta
	return opts, func(ev Event) {
		var v string
		if raw, ok := ev.Meta.Fields["componentVersion"]; ok && json.Unmarshal(raw, &v) == nil && v != "" && v != rng && !versionSatisfies(v, rng) {
			return
		}
		handler(ev)
	}
}
