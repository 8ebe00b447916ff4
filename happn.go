package happner

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
)

// Origin identifies the session (and user, on secure meshes) that caused a
// call: happner's $origin.
type Origin struct {
	// ID is the caller's session id.
	ID string `json:"id,omitempty"`
	// Username is the caller's user (secure meshes).
	Username string `json:"username,omitempty"`
	// Override marks an identity chosen with As (happner's override).
	Override bool `json:"override,omitempty"`

	// sess is the security session the origin came with (web and REST
	// requests), used to authorise it; nil for others.
	sess *security.Session
}

// Info is what a component knows about where it runs.
type Info struct {
	// Mesh holds the mesh name and domain.
	Mesh struct {
		Name   string `json:"name"`
		Domain string `json:"domain"`
	} `json:"mesh"`
	// Happn holds the exchange options and the listening address.
	Happn struct {
		Options SetOptions `json:"options"`
		Address string     `json:"address"`
	} `json:"happn"`
}

// Happn is a component's view of the mesh for one call: happner's $happn
// together with $origin and a context. Methods receive it by declaring a
// first parameter of type *Happn.
type Happn struct {
	// Ctx is the call's context (cancelled when the mesh stops).
	Ctx context.Context
	// Name is the component's name.
	Name string
	// Origin is the caller ($origin); nil for calls made by the mesh
	// itself (lifecycle methods, AsAdmin).
	Origin *Origin
	// Info describes the mesh.
	Info Info
	// Exchange calls components' methods.
	Exchange *Exchange
	// Event subscribes to components' events.
	Event *Events
	// Data is the component's data, rooted at /_data/<component>/.
	Data *Data
	// Log is the component's logger.
	Log *slog.Logger
	// Mesh is the mesh itself, for components with accessLevel "mesh" or
	// "root" (to create and destroy components at run time); else nil.
	Mesh *Mesh

	mesh *Mesh
	comp *component
}

// newHappn returns the $happn of component c for one call.
func (m *Mesh) newHappn(ctx context.Context, c *component, origin *Origin) *Happn {
	h := &Happn{
		Ctx: ctx, Name: c.name, Origin: origin, Info: m.info(),
		Log:  c.log,
		mesh: m, comp: c,
	}
	var v *happnViews
	if m.bindingNecessary(c, origin) {
		v = m.newViews(c, origin)
	} else if v = c.views.Load(); v == nil {
		v = m.newViews(c, nil)
		c.views.Store(v)
	}
	h.Exchange, h.Event, h.Data = &v.x, &v.e, &v.d
	if lvl := c.config.AccessLevel; lvl == "mesh" || lvl == "root" {
		h.Mesh = m
	}
	return h
}

// newViews returns c's exchange, event and data views acting as bind (nil:
// the mesh's own identity), in one allocation.
func (m *Mesh) newViews(c *component, bind *Origin) *happnViews {
	return &happnViews{
		x: Exchange{mesh: m, origin: bind, from: c},
		e: Events{mesh: m, origin: bind, from: c},
		d: Data{mesh: m, prefix: "/_data/" + c.name + "/", origin: bind},
	}
}

// bindingNecessary reports whether onward calls of c run as origin
// (authority delegation). Insecure meshes never bind.
func (m *Mesh) bindingNecessary(c *component, origin *Origin) bool {
	if !m.secure || origin == nil || origin.Username == "" || origin.Username == "_ADMIN" {
		return false
	}
	if origin.Override {
		return true
	}
	return m.delegationOn(c)
}

// As returns a copy of h whose exchange, events and data act as user.
func (h *Happn) As(user string) *Happn {
	o := &Origin{Username: user, Override: true}
	cp := *h
	cp.Origin = o
	cp.Exchange = &Exchange{mesh: h.mesh, origin: o, from: h.comp}
	cp.Event = &Events{mesh: h.mesh, origin: o, from: h.comp}
	cp.Data = &Data{mesh: h.mesh, prefix: h.Data.prefix, origin: o}
	return &cp
}

// AsAdmin returns a copy of h whose exchange, events and data run with the
// mesh's own identity, whatever the caller.
func (h *Happn) AsAdmin() *Happn {
	cp := *h
	cp.Exchange = &Exchange{mesh: h.mesh, from: h.comp}
	cp.Event = &Events{mesh: h.mesh, from: h.comp}
	cp.Data = &Data{mesh: h.mesh, prefix: h.Data.prefix}
	return &cp
}

// Emit publishes an event at /_events/<domain>/<component>/<key> with
// meta.componentVersion, not stored unless an option
// client.With("noStore", false) says so.
func (h *Happn) Emit(key string, data any, opts ...client.Option) error {
	return h.emit(key, data, false, opts)
}

// EmitLocal publishes an event like Emit that is never replicated to other
// cluster members (noCluster); clients of this node still receive it.
func (h *Happn) EmitLocal(key string, data any) error {
	return h.emit(key, data, true, nil)
}

func (h *Happn) emit(key string, data any, local bool, opts []client.Option) error {
	if key == "" {
		return fmt.Errorf("happner: emit: empty event key")
	}
	all := make([]client.Option, 0, len(opts)+3)
	all = append(all, client.NoStore())
	if local {
		all = append(all, client.With("noCluster", true))
	}
	all = append(all, opts...)
	all = append(all, client.Meta(map[string]any{"componentVersion": h.comp.version}))
	ctx := h.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if _, err := h.mesh.admin.Set(ctx, h.mesh.eventPath(h.comp.name, key), data, all...); err != nil {
		return fmt.Errorf("happner: emit %s/%s: %w", h.comp.name, key, err)
	}
	return nil
}

// Event is a published event as subscribers receive it; Meta.Fields holds
// "componentVersion".
type Event = client.Event
