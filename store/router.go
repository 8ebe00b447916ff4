package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/happner-go/happner/pathmatch"
	"github.com/happner-go/happner/query"
)

// Route is one named datastore of a [Router] and the path patterns sent to
// it.
type Route struct {
	// Name identifies the datastore (happn's datastore "name").
	Name string
	// Store serves the paths routed here.
	Store Store
	// Patterns are glob patterns ('*' crosses '/') of the paths this
	// datastore serves.
	Patterns []string
}

// Router is a [Store] that sends every request to one of several named
// datastores, as happn's data service does: the patterns of
// all datastores are tried longest first and the first whose glob matches
// the request path wins; a path no pattern matches goes to the default
// datastore.
//
// Routing is by the literal request path, wildcards included: Find("/a/*")
// is served by the one datastore that "/a/*" routes to, and results are
// never merged across datastores.
type Router struct {
	mu      sync.RWMutex
	names   []string // in configuration order
	stores  map[string]Store
	def     string
	filters []routeFilter // longest pattern first; equal lengths keep insertion order
}

type routeFilter struct {
	pattern, name string
}

var (
	_ Store      = (*Router)(nil)
	_ Aggregator = (*Router)(nil)
)

// NewRouter returns a router over routes. defaultName names the default
// datastore; "" means the first route.
func NewRouter(routes []Route, defaultName string) (*Router, error) {
	if len(routes) == 0 {
		return nil, errors.New("store: router needs at least one datastore")
	}
	r := &Router{stores: make(map[string]Store, len(routes))}
	for i, rt := range routes {
		switch {
		case rt.Name == "":
			return nil, fmt.Errorf("store: datastore %d has no name", i)
		case rt.Store == nil:
			return nil, fmt.Errorf("store: datastore %q has no store", rt.Name)
		case r.stores[rt.Name] != nil:
			return nil, fmt.Errorf("store: duplicate datastore name %q", rt.Name)
		}
		r.names = append(r.names, rt.Name)
		r.stores[rt.Name] = rt.Store
	}
	if defaultName == "" {
		defaultName = routes[0].Name
	}
	if r.stores[defaultName] == nil {
		return nil, fmt.Errorf("store: missing datastore with the key [%s]", defaultName)
	}
	r.def = defaultName
	for _, rt := range routes {
		for _, p := range rt.Patterns {
			r.addFilter(p, rt.Name)
		}
	}
	return r, nil
}

// addFilter routes pattern to name, replacing an earlier route of the same
// pattern. The caller holds the write lock (or owns r).
func (r *Router) addFilter(pattern, name string) {
	r.filters = slices.DeleteFunc(r.filters, func(f routeFilter) bool { return f.pattern == pattern })
	r.filters = append(r.filters, routeFilter{pattern: pattern, name: name})
	slices.SortStableFunc(r.filters, func(a, b routeFilter) int { return len(b.pattern) - len(a.pattern) })
}

// AddFilter routes paths matching pattern to the datastore called name
// (happn's addDataStoreFilter).
func (r *Router) AddFilter(pattern, name string) error {
	if name == "" {
		return errors.New("store: missing datastoreKey parameter")
	}
	if pattern == "" {
		return errors.New("store: missing pattern parameter")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stores[name] == nil {
		return fmt.Errorf("store: missing datastore with the key [%s]", name)
	}
	r.addFilter(pattern, name)
	return nil
}

// RemoveFilter drops the route of pattern (happn's removeDataStoreFilter);
// an unknown pattern is ignored.
func (r *Router) RemoveFilter(pattern string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.filters = slices.DeleteFunc(r.filters, func(f routeFilter) bool { return f.pattern == pattern })
}

// Route returns the name and store of the datastore that serves path.
func (r *Router) Route(path string) (string, Store) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, f := range r.filters {
		if pathmatch.Glob(f.pattern, path) {
			return f.name, r.stores[f.name]
		}
	}
	return r.def, r.stores[r.def]
}

// Datastore returns the datastore called name, or nil.
func (r *Router) Datastore(name string) Store {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.stores[name]
}

// DefaultName returns the name of the default datastore.
func (r *Router) DefaultName() string { return r.def }

// Names returns the datastore names in configuration order.
func (r *Router) Names() []string { return slices.Clone(r.names) }

func (r *Router) route(path string) Store {
	_, s := r.Route(path)
	return s
}

// Get reads path from the datastore it routes to.
func (r *Router) Get(ctx context.Context, path string) (*Record, error) {
	return r.route(path).Get(ctx, path)
}

// Find searches the datastore that pattern routes to.
func (r *Router) Find(ctx context.Context, pattern string, q *query.Query) ([]*Record, error) {
	return r.route(pattern).Find(ctx, pattern, q)
}

// Count counts in the datastore that pattern routes to.
func (r *Router) Count(ctx context.Context, pattern string, q *query.Query) (int, error) {
	return r.route(pattern).Count(ctx, pattern, q)
}

// Aggregate runs q's pipeline in the datastore that pattern routes to, or
// fails with an error wrapping query.ErrAggregate when that datastore
// cannot.
func (r *Router) Aggregate(ctx context.Context, pattern string, q *query.Query) (json.RawMessage, error) {
	return Aggregate(ctx, r.route(pattern), pattern, q)
}

// Set writes to the datastore that path routes to.
func (r *Router) Set(ctx context.Context, path string, data json.RawMessage, opts SetOptions) (*Record, error) {
	return r.route(path).Set(ctx, path, data, opts)
}

// Increment increments a gauge in the datastore that path routes to.
func (r *Router) Increment(ctx context.Context, path, gauge string, by float64) (float64, error) {
	return r.route(path).Increment(ctx, path, gauge, by)
}

// Remove removes from the datastore that pattern routes to.
func (r *Router) Remove(ctx context.Context, pattern string, q *query.Query) (int, error) {
	return r.route(pattern).Remove(ctx, pattern, q)
}

// Close closes every datastore once (a store registered under two names is
// closed once) and joins their errors.
func (r *Router) Close() error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var errs []error
	var closed []Store
	for _, name := range r.names {
		s := r.stores[name]
		if slices.ContainsFunc(closed, func(c Store) bool { return sameStore(c, s) }) {
			continue
		}
		closed = append(closed, s)
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: closing datastore %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// sameStore reports whether a and b are the same store value, without
// panicking on store types that are not comparable.
func sameStore(a, b Store) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}
