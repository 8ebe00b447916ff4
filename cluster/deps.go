package cluster

import (
	"encoding/json"
	"fmt"
	"sort"
)

// BrokerKey is the dependencies entry that lists brokered components
// (happner-cluster's $broker); the broker layer handles it.
const BrokerKey = "$broker"

// Dependency is one component a component uses from the cluster: an entry
// of its dependencies config (the counterpart of package.json
// happner.dependencies.<component>.<remote>, cluster.md §6.2).
type Dependency struct {
	// Component is the name of the component depended on.
	Component string `json:"-"`
	// Version is the semver range its version must satisfy (required).
	Version string `json:"version"`
	// Methods are the methods used (a static list); empty with
	// DiscoverMethods false means events only.
	Methods []string `json:"-"`
	// DiscoverMethods takes the methods from the descriptions of the
	// members that implement the component.
	DiscoverMethods bool `json:"discoverMethods,omitempty"`
}

// EventsOnly reports a dependency that uses only the component's events.
func (d Dependency) EventsOnly() bool { return len(d.Methods) == 0 && !d.DiscoverMethods }

// ParseDependencies reads a component's dependencies section: remote
// component name → {version, methods?, discoverMethods?}. The $broker entry
// is returned apart, parsed the same way. Dependencies are sorted by name.
func ParseDependencies(section map[string]any) (deps, brokered []Dependency, err error) {
	for name, v := range section {
		if name == BrokerKey {
			inner, ok := asMap(v)
			if !ok {
				return nil, nil, fmt.Errorf("cluster: dependencies.%s must be an object", BrokerKey)
			}
			for bn, bv := range inner {
				d, err := parseDependency(bn, bv)
				if err != nil {
					return nil, nil, err
				}
				brokered = append(brokered, d)
			}
			continue
		}
		d, err := parseDependency(name, v)
		if err != nil {
			return nil, nil, err
		}
		deps = append(deps, d)
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Component < deps[j].Component })
	sort.Slice(brokered, func(i, j int) bool { return brokered[i].Component < brokered[j].Component })
	return deps, brokered, nil
}

func parseDependency(name string, v any) (Dependency, error) {
	m, ok := asMap(v)
	if !ok {
		return Dependency{}, fmt.Errorf("cluster: dependency %s: must be an object", name)
	}
	d := Dependency{Component: name}
	ver, _ := m["version"].(string)
	if ver == "" {
		return Dependency{}, fmt.Errorf("cluster: dependency %s: Missing version", name)
	}
	d.Version = ver
	if b, ok := m["discoverMethods"].(bool); ok {
		d.DiscoverMethods = b
	}
	if raw, present := m["methods"]; present && raw != nil {
		methods, ok := asMap(raw)
		if !ok {
			if list, isList := raw.([]any); isList {
				// a list of names is accepted too
				for _, x := range list {
					s, isStr := x.(string)
					if !isStr {
						return Dependency{}, fmt.Errorf("cluster: dependency %s: Missing methods", name)
					}
					d.Methods = append(d.Methods, s)
				}
				sort.Strings(d.Methods)
				return d, nil
			}
			return Dependency{}, fmt.Errorf("cluster: dependency %s: Missing methods", name)
		}
		for mn := range methods {
			d.Methods = append(d.Methods, mn)
		}
		sort.Strings(d.Methods)
	}
	return d, nil
}

// asMap accepts a map or anything that marshals to a JSON object (structs
// given in Go configs).
func asMap(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case nil:
		return nil, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil, false
	}
	return m, true
}
