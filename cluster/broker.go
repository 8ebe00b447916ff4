package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/happner-go/happner"
)

// brokeredDep is one $broker entry and the component that declared it.
type brokeredDep struct {
	Dependency
	broker string
}

// brokerEntry is one injected instance of a brokered component: a member
// that implements it, or the placeholder (peer "") while none does.
type brokerEntry struct {
	peer    string
	url     string
	version string
	methods map[string]*happner.MethodDescription
	routes  []string
}

// BrokeredEntry describes one injected instance of a brokered component
// (happner-cluster's injected elements), for inspection.
type BrokeredEntry struct {
	// Component is the brokered component's name.
	Component string
	// MeshName is the member that implements it; "" for the placeholder
	// kept while no member does.
	MeshName string
	// URL is that member's internal url ("" for the placeholder).
	URL string
	// Version is the member's component version (the range for the
	// placeholder).
	Version string
}

// brokerage injects the components other members implement into this
// member's mesh: a placeholder per brokered name first,
// then a component with the methods of the members that implement it.
type brokerage struct {
	m    *Member
	deps []brokeredDep // sorted by component

	mu        sync.Mutex
	entries   map[string][]*brokerEntry // by component
	shapes    map[string]string         // version and methods the mesh's component has
	satisfied map[string]bool           // names a remote member has implemented
	started   bool                      // Create has finished
	opened    bool                      // the deferred client port was opened
	proxy     *webProxy
}

// collectBrokered returns the $broker entries of the mesh's components
// (config and module dependencies alike), in component order, failing on
// a name brokered twice.
func collectBrokered(cfg happner.Config, mesh *happner.Mesh) ([]brokeredDep, error) {
	names := make([]string, 0, len(cfg.Components))
	seen := map[string]bool{}
	for _, n := range cfg.ComponentOrder {
		if _, ok := cfg.Components[n]; ok && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	rest := slices.Sorted(maps.Keys(cfg.Components))
	for _, n := range rest {
		if !seen[n] {
			names = append(names, n)
		}
	}
	brokers := map[string][]string{}
	var out []brokeredDep
	for _, n := range names {
		deps, _ := mesh.Dependencies(n)
		for _, d := range deps.BrokeredList() {
			brokers[d.Component] = append(brokers[d.Component], n)
			out = append(out, brokeredDep{Dependency: d, broker: n})
		}
	}
	for _, d := range out {
		if by := brokers[d.Component]; len(by) > 1 {
			return nil, fmt.Errorf("Duplicate attempts to broker the %s component by %s", d.Component, strings.Join(by, " & "))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Component < out[j].Component })
	return out, nil
}

func newBrokerage(m *Member, deps []brokeredDep) *brokerage {
	return &brokerage{
		m: m, deps: deps,
		entries: map[string][]*brokerEntry{}, shapes: map[string]string{}, satisfied: map[string]bool{},
		proxy: newWebProxy(m),
	}
}

// brokerModule is the module of an injected component: every call goes
// to a member that implements the component, within the brokered range.
type brokerModule struct {
	m         *Member
	component string
	rng       string
	methods   map[string]*happner.MethodDescription
}

// HappnerMethods lists the brokered methods.
func (b *brokerModule) HappnerMethods() map[string]*happner.MethodDescription { return b.methods }

// HappnerCall forwards the call to the cluster; the caller is sent as the
// request's origin and, when it has a user, as onBehalfOf, so the member
// that runs it sees and authorises the edge's caller.
func (b *brokerModule) HappnerCall(ctx context.Context, h *happner.Happn, method string, args []any) ([]any, error) {
	if b.m.remote == nil {
		return nil, fmt.Errorf("cluster: member not started")
	}
	return b.m.remote.call(ctx, b.remoteCall(h, method, args))
}

// HappnerCallAsync is HappnerCall without a goroutine waiting for the
// other member's reply (happner.AsyncDynamicModule).
func (b *brokerModule) HappnerCallAsync(ctx context.Context, h *happner.Happn, method string, args []any, done func([]any, error)) {
	if b.m.remote == nil {
		done(nil, fmt.Errorf("cluster: member not started"))
		return
	}
	b.m.remote.callAsync(ctx, b.remoteCall(h, method, args), done)
}

// remoteCall describes a call of method for the caller of h.
func (b *brokerModule) remoteCall(h *happner.Happn, method string, args []any) remoteCall {
	rc := remoteCall{component: b.component, method: method, rng: b.rng, args: args}
	if h != nil && h.Origin != nil {
		rc.origin = h.Origin
		if b.m.secure {
			rc.onBehalfOf = h.Origin.Username
		}
	}
	return rc
}

// inject creates the placeholders: declared methods, version = range.
func (b *brokerage) inject(ctx context.Context) error {
	for _, d := range b.deps {
		methods := map[string]*happner.MethodDescription{}
		for _, mn := range d.Methods {
			methods[mn] = nil
		}
		mod := &brokerModule{m: b.m, component: d.Component, rng: d.Version, methods: methods}
		if err := b.m.mesh.CreateComponent(ctx, d.Component, happner.ModuleConfig{Instance: mod, Version: d.Version}, happner.ComponentConfig{Version: d.Version}); err != nil {
			return fmt.Errorf("cluster: injecting brokered component %s: %w", d.Component, err)
		}
		b.mu.Lock()
		b.entries[d.Component] = []*brokerEntry{{version: d.Version, methods: methods}}
		b.shapes[d.Component] = shape(d.Version, methods)
		b.mu.Unlock()
	}
	return nil
}

// shape identifies a component's version and method set.
func shape(version string, methods map[string]*happner.MethodDescription) string {
	return version + "|" + strings.Join(slices.Sorted(maps.Keys(methods)), ",")
}

// run follows the peers' descriptions until the member stops.
func (b *brokerage) run() {
	defer b.m.wg.Done()
	impl := b.m.remote.impl
	for {
		impl.mu.Lock()
		ch := impl.changed
		impl.mu.Unlock()
		b.reconcile(b.m.ctx)
		select {
		case <-ch:
		case <-b.m.ctx.Done():
			return
		}
	}
}

// implementing returns the members that implement d now, by name.
func (b *brokerage) implementing(d brokeredDep) map[string]*brokerEntry {
	impl := b.m.remote.impl
	impl.mu.Lock()
	defer impl.mu.Unlock()
	out := map[string]*brokerEntry{}
	for _, pd := range impl.peers {
		if pd.desc == nil || pd.brokered {
			continue
		}
		cd := pd.desc.Components[d.Component]
		if cd == nil || !impl.semver.satisfies(cd.Version, d.Version) {
			continue
		}
		e := &brokerEntry{peer: pd.peer.Name, url: pd.peer.URL, version: cd.Version, methods: map[string]*happner.MethodDescription{}}
		for mn, md := range cd.Methods {
			e.methods[mn] = md
		}
		for r := range cd.Routes {
			e.routes = append(e.routes, r)
		}
		sort.Strings(e.routes)
		out[pd.peer.Name] = e
	}
	return out
}

// reconcile brings the injected components in line with the members that
// implement them: arrivals add an entry and their methods, departures drop
// theirs (the last one leaves a placeholder with the methods as they were).
func (b *brokerage) reconcile(ctx context.Context) {
	for _, d := range b.deps {
		now := b.implementing(d)
		b.mu.Lock()
		old := b.entries[d.Component]
		var kept []*brokerEntry
		var arrived []*brokerEntry
		had := map[string]bool{}
		for _, e := range old {
			if e.peer == "" {
				continue
			}
			had[e.peer] = true
			if n := now[e.peer]; n != nil {
				kept = append(kept, n)
			} else {
				b.m.log.Info("cluster: brokered member departed", "component", d.Component, "member", e.peer)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(now)) {
			if !had[name] {
				arrived = append(arrived, now[name])
				b.m.log.Info("cluster: brokered member arrived", "component", d.Component, "member", name)
			}
		}
		entries := append(kept, arrived...)
		if len(entries) == 0 {
			// a placeholder keeps the version and methods the component has:
			// describe still lists them
			placeholder := &brokerEntry{version: d.Version}
			if len(old) > 0 {
				last := old[len(old)-1]
				placeholder = &brokerEntry{version: last.version, methods: last.methods}
			}
			entries = []*brokerEntry{placeholder}
		}
		curShape := b.shapes[d.Component]
		b.mu.Unlock()

		// entries are committed once the mesh has the component that serves
		// them: whoever sees a member's entry can call its methods
		newShape := curShape
		if len(arrived) > 0 {
			// the component gets the declared methods and every implementing
			// member's; the version is the latest arrival's
			methods := map[string]*happner.MethodDescription{}
			for _, mn := range d.Methods {
				methods[mn] = nil
			}
			for _, e := range entries {
				for mn, md := range e.methods {
					if methods[mn] == nil {
						methods[mn] = md
					}
				}
			}
			version := arrived[len(arrived)-1].version
			if sh := shape(version, methods); sh != curShape {
				mod := &brokerModule{m: b.m, component: d.Component, rng: d.Version, methods: methods}
				if err := b.m.mesh.ReplaceComponent(ctx, d.Component, happner.ModuleConfig{Instance: mod, Version: version}, happner.ComponentConfig{Version: version}); err != nil {
					if ctx.Err() == nil {
						b.m.log.Error("element re-injection failed: "+d.Component, "err", err)
					}
					continue // tried again on the next change
				}
				newShape = sh
			}
		}
		b.mu.Lock()
		b.entries[d.Component] = entries
		b.shapes[d.Component] = newShape
		if len(arrived) > 0 {
			b.satisfied[d.Component] = true
		}
		b.mu.Unlock()
		b.proxy.update(d.Component, entries)
	}
	b.checkSatisfied(ctx)
}

// markStarted records that Create has finished, so the deferred client
// port may open from now on.
func (b *brokerage) markStarted(ctx context.Context) {
	b.mu.Lock()
	b.started = true
	b.mu.Unlock()
	b.checkSatisfied(ctx)
}

// checkSatisfied opens the deferred client port once every brokered name
// has been implemented by another member, and stops description
// publications from then on.
func (b *brokerage) checkSatisfied(ctx context.Context) {
	if !b.m.cfg.Cluster.DependenciesSatisfiedDeferListen {
		return
	}
	b.mu.Lock()
	if b.opened || !b.started {
		b.mu.Unlock()
		return
	}
	for _, d := range b.deps {
		if !b.satisfied[d.Component] {
			b.mu.Unlock()
			return
		}
	}
	b.opened = true
	b.mu.Unlock()
	b.m.mesh.DisableSchemaPublish()
	if err := b.m.OpenClientPort(ctx); err != nil {
		b.m.log.Error("cluster: opening the deferred client port failed", "err", err)
		return
	}
	b.m.log.Info("cluster: dependencies satisfied, switched off schema publish and started proxy", "clientAddr", b.m.ClientAddr())
}

// entriesList returns the injected entries, by component then position.
func (b *brokerage) entriesList() []BrokeredEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []BrokeredEntry
	for _, name := range slices.Sorted(maps.Keys(b.entries)) {
		for _, e := range b.entries[name] {
			out = append(out, BrokeredEntry{Component: name, MeshName: e.peer, URL: e.url, Version: e.version})
		}
	}
	return out
}

// BrokeredEntries returns the injected instances of the components this
// member brokers: one per member implementing each, or a placeholder
// (MeshName "") while none does. Nil when the member brokers nothing.
func (m *Member) BrokeredEntries() []BrokeredEntry {
	if m.broker == nil {
		return nil
	}
	return m.broker.entriesList()
}
