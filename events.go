package happner

import (
	"context"
	"fmt"
	"strings"

	"github.com/happner-go/happner/happn/client"
)

// Events subscribes to components' events (happner's $happn.event and the
// $on family).
type Events struct {
	mesh   *Mesh
	origin *Origin
	from   *component // the subscribing component; nil: the mesh itself
}

// eventPath returns /_events/<domain>/<component>/<key>.
func (m *Mesh) eventPath(component, key string) string {
	return "/_events/" + m.domain + "/" + component + "/" + strings.TrimPrefix(key, "/")
}

// eventKey rewrites a subscription key as happner does: "*" → "**".
func eventKey(key string) string {
	if key == "*" || key == "" {
		return "**"
	}
	return key
}

// On calls handler for every event of component whose key matches key
// ('*' matches any key at any depth) and returns a handle for Off.
func (e *Events) On(ctx context.Context, component, key string, handler func(Event)) (int, error) {
	return e.subscribe(ctx, component, key, client.OnOptions{}, handler)
}

// Once is On for a single event.
func (e *Events) Once(ctx context.Context, component, key string, handler func(Event)) (int, error) {
	return e.subscribe(ctx, component, key, client.OnOptions{Count: 1}, handler)
}

// OnWith is On with happn subscription options (Count, Depth, Meta, …).
func (e *Events) OnWith(ctx context.Context, component, key string, opts client.OnOptions, handler func(Event)) (int, error) {
	return e.subscribe(ctx, component, key, opts, handler)
}

func (e *Events) subscribe(ctx context.Context, component, key string, opts client.OnOptions, handler func(Event)) (int, error) {
	if component == "" {
		return 0, fmt.Errorf("happner: event on: empty component name")
	}
	opts.EventType = "set"
	opts, handler = versionedEvents(e.from, component, opts, handler)
	path := e.mesh.eventPath(component, eventKey(key))
	// A bound subscription (delegation or As) is authorised for its user,
	// as happn authorises onBehalfOf.
	if err := e.mesh.authorize(ctx, e.origin, path, "on"); err != nil {
		return 0, toWireError(err)
	}
	id, err := e.mesh.admin.On(ctx, path, opts, handler)
	if err != nil {
		return 0, fmt.Errorf("happner: event on %s/%s: %w", component, key, err)
	}
	return id, nil
}

// Off removes the subscription with handle id.
func (e *Events) Off(ctx context.Context, id int) error {
	if err := e.mesh.admin.Off(ctx, id); err != nil {
		return fmt.Errorf("happner: event off: %w", err)
	}
	return nil
}

// OffPath removes every subscription of the mesh to component's key.
func (e *Events) OffPath(ctx context.Context, component, key string) error {
	if err := e.mesh.admin.OffPath(ctx, e.mesh.eventPath(component, eventKey(key))); err != nil {
		return fmt.Errorf("happner: event offPath: %w", err)
	}
	return nil
}
