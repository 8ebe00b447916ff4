package happner

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
)

// BrokerKey is the dependencies entry that lists brokered components
// (happner-cluster's $broker): an edge member exposes them as if they were
// its own, forwarding every call to the members that implement them.
const BrokerKey = "$broker"

// Dependency is one component that a component uses from the cluster: an
// entry of its dependencies (the counterpart of package.json
// happner.dependencies.<component>.<used component>). It is the one form
// of a dependency; a section given as JSON, YAML or a map[string]any is
// read into it, and it writes itself back in happner's JSON shape:
//
//	{"version": "^1.0.0", "methods": {"price": {}}, "discoverMethods": false}
//
// Dependencies only act inside a cluster: they choose between a local
// component and one on another member, filter events by version, gate
// start methods, and decide which methods a component may call there.
type Dependency struct {
	// Component is the name of the component used. In a section it comes
	// from the entry's key; a typed value may leave it empty (a different
	// name is an error).
	Component string
	// Version is the semver range the used component's version must
	// satisfy (required). A local component in that range is always
	// preferred; otherwise a member with the highest satisfying version
	// runs the call, and events of other versions are dropped.
	Version string
	// Methods are the methods used. In JSON they are happner's map form
	// {"method": {…}} (the entries' contents are not used) or a list of
	// names. Empty, with DiscoverMethods false, means events only.
	Methods []string
	// DiscoverMethods takes the methods from the descriptions of the
	// members that implement the component, as they arrive.
	DiscoverMethods bool
}

// EventsOnly reports a dependency that uses only the component's events:
// no methods listed and none discovered.
func (d Dependency) EventsOnly() bool { return len(d.Methods) == 0 && !d.DiscoverMethods }

// HasMethod reports whether method is among the listed Methods.
func (d Dependency) HasMethod(method string) bool { return slices.Contains(d.Methods, method) }

// dependencyJSON is Dependency's JSON shape.
type dependencyJSON struct {
	Version         string              `json:"version"`
	Methods         map[string]struct{} `json:"methods,omitempty"`
	DiscoverMethods bool                `json:"discoverMethods,omitempty"`
}

// MarshalJSON writes the dependency in happner's shape, methods as the map
// {"method": {}}; the component name is the key it is stored under.
func (d Dependency) MarshalJSON() ([]byte, error) {
	out := dependencyJSON{Version: d.Version, DiscoverMethods: d.DiscoverMethods}
	if len(d.Methods) > 0 {
		out.Methods = make(map[string]struct{}, len(d.Methods))
		for _, m := range d.Methods {
			out.Methods[m] = struct{}{}
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a dependency in happner's shape, methods as a map or
// a list of names. Component is left as it was.
func (d *Dependency) UnmarshalJSON(b []byte) error {
	what := "happner: dependency"
	if d.Component != "" {
		what += " " + d.Component
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return fmt.Errorf("%s: must be an object", what)
	}
	parsed, err := dependencyFromMap(d.Component, m)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	*d = parsed
	return nil
}

// Dependencies are a component's dependencies read from its section:
// the components it uses and the components it brokers ($broker).
type Dependencies struct {
	// Components are the components used, by name.
	Components map[string]Dependency
	// Brokered are the components brokered under [BrokerKey], by name.
	Brokered map[string]Dependency
}

// ParseDependencies reads a dependencies section: used component name →
// dependency, and under [BrokerKey] the same for brokered components. An
// entry may be a [Dependency] (or *Dependency), a map[string]any as JSON
// and YAML give it, or any value that marshals to such a JSON object; the
// BrokerKey entry may be any map of those. Every form means the same; a
// missing version, methods that are neither a map nor a list of names, or
// an entry that is not an object is an error naming the entry.
func ParseDependencies(section map[string]any) (Dependencies, error) {
	deps, err := parseSection(section)
	if err != nil {
		return Dependencies{}, fmt.Errorf("happner: %w", err)
	}
	return deps, nil
}

// parseSection is ParseDependencies without the package's prefix on errors.
func parseSection(section map[string]any) (Dependencies, error) {
	var out Dependencies
	for name, v := range section {
		if name == BrokerKey {
			inner, err := brokerSection(v)
			if err != nil {
				return Dependencies{}, err
			}
			for bn, bv := range inner {
				d, err := dependencyFrom(bn, bv)
				if err != nil {
					return Dependencies{}, fmt.Errorf("dependency %s.%s: %w", BrokerKey, bn, err)
				}
				if out.Brokered == nil {
					out.Brokered = map[string]Dependency{}
				}
				out.Brokered[bn] = d
			}
			continue
		}
		d, err := dependencyFrom(name, v)
		if err != nil {
			return Dependencies{}, fmt.Errorf("dependency %s: %w", name, err)
		}
		if out.Components == nil {
			out.Components = map[string]Dependency{}
		}
		out.Components[name] = d
	}
	return out, nil
}

// Empty reports dependencies with no entries.
func (d Dependencies) Empty() bool { return len(d.Components) == 0 && len(d.Brokered) == 0 }

// Lookup returns the dependency on component: a used component, else a
// brokered one.
func (d Dependencies) Lookup(component string) (Dependency, bool) {
	if dep, ok := d.Components[component]; ok {
		return dep, true
	}
	dep, ok := d.Brokered[component]
	return dep, ok
}

// Range is the version range the dependencies give component ("" when
// they do not list it).
func (d Dependencies) Range(component string) string {
	dep, _ := d.Lookup(component)
	return dep.Version
}

// List returns the used components' dependencies, sorted by name.
func (d Dependencies) List() []Dependency { return sortedDeps(d.Components) }

// BrokeredList returns the brokered components' dependencies, sorted by
// name.
func (d Dependencies) BrokeredList() []Dependency { return sortedDeps(d.Brokered) }

func sortedDeps(m map[string]Dependency) []Dependency {
	out := make([]Dependency, 0, len(m))
	for _, n := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[n])
	}
	return out
}

// Over returns d with each entry of over replacing d's entry of the same
// name (used and brokered apart); entries only one side has are kept.
func (d Dependencies) Over(over Dependencies) Dependencies {
	merge := func(a, b map[string]Dependency) map[string]Dependency {
		if len(a) == 0 && len(b) == 0 {
			return nil
		}
		out := make(map[string]Dependency, len(a)+len(b))
		maps.Copy(out, a)
		maps.Copy(out, b)
		return out
	}
	return Dependencies{Components: merge(d.Components, over.Components), Brokered: merge(d.Brokered, over.Brokered)}
}

// brokerSection reads the value of a section's BrokerKey entry.
func brokerSection(v any) (map[string]any, error) {
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	var m map[string]any
	if b, err := json.Marshal(v); err != nil || json.Unmarshal(b, &m) != nil || m == nil {
		return nil, fmt.Errorf("dependencies.%s must be an object", BrokerKey)
	}
	return m, nil
}

// dependencyFrom reads the entry name of a section.
func dependencyFrom(name string, v any) (Dependency, error) {
	switch t := v.(type) {
	case Dependency:
		return t.named(name)
	case *Dependency:
		if t == nil {
			return Dependency{}, fmt.Errorf("must be an object")
		}
		return t.named(name)
	case map[string]any:
		return dependencyFromMap(name, t)
	}
	var m map[string]any
	if b, err := json.Marshal(v); err != nil || json.Unmarshal(b, &m) != nil || m == nil {
		return Dependency{}, fmt.Errorf("must be an object")
	}
	return dependencyFromMap(name, m)
}

// named checks a typed dependency and gives it the name of its entry.
func (d Dependency) named(name string) (Dependency, error) {
	if d.Component != "" && d.Component != name {
		return Dependency{}, fmt.Errorf("Component %q differs from the entry's name", d.Component)
	}
	if d.Version == "" {
		return Dependency{}, fmt.Errorf("Missing version")
	}
	methods, err := methodNames(d.Methods)
	if err != nil {
		return Dependency{}, err
	}
	d.Component, d.Methods = name, methods
	return d, nil
}

// dependencyFromMap reads a dependency in happner's JSON shape.
func dependencyFromMap(name string, m map[string]any) (Dependency, error) {
	d := Dependency{Component: name}
	d.Version, _ = m["version"].(string)
	if d.Version == "" {
		return Dependency{}, fmt.Errorf("Missing version")
	}
	switch v := m["discoverMethods"].(type) {
	case nil:
	case bool:
		d.DiscoverMethods = v
	default:
		return Dependency{}, fmt.Errorf("discoverMethods must be true or false")
	}
	methods, err := methodNames(m["methods"])
	if err != nil {
		return Dependency{}, err
	}
	d.Methods = methods
	return d, nil
}

// methodNames reads a dependency's methods: happner's map form (the
// entries' contents are not used), a list of names, or a Go value that
// marshals to either; sorted, without repeats.
func methodNames(v any) ([]string, error) {
	var names []string
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []string:
		names = slices.Clone(t)
	case map[string]any:
		names = slices.Collect(maps.Keys(t))
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("Missing methods: a list of methods holds names only")
			}
			names = append(names, s)
		}
	default:
		var generic any
		b, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(b, &generic)
		}
		switch generic.(type) {
		case map[string]any, []any:
		default:
			err = fmt.Errorf("not an object or a list")
		}
		if err != nil {
			return nil, fmt.Errorf("Missing methods: methods must be an object or a list of names")
		}
		return methodNames(generic)
	}
	if slices.Contains(names, "") {
		return nil, fmt.Errorf("Missing methods: a method name is empty")
	}
	sort.Strings(names)
	return slices.Compact(names), nil
}

// componentDependencies are the dependencies of component name: the
// module's entry for it and the module's brokered components, with the
// component config's section merged over them.
func componentDependencies(name string, module map[string]map[string]any, config map[string]any) (Dependencies, error) {
	var deps Dependencies
	if len(module) > 0 {
		own, err := parseSection(module[name])
		if err != nil {
			return Dependencies{}, fmt.Errorf("module dependencies: %w", err)
		}
		if brokered, ok := module[BrokerKey]; ok {
			b, err := parseSection(map[string]any{BrokerKey: brokered})
			if err != nil {
				return Dependencies{}, fmt.Errorf("module dependencies: %w", err)
			}
			own = own.Over(b)
		}
		deps = own
	}
	over, err := parseSection(config)
	if err != nil {
		return Dependencies{}, err
	}
	return deps.Over(over), nil
}
