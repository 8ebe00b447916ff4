package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/memory"
)

// closeCounter is a memory store that counts its Close calls.
type closeCounter struct {
	*memory.Store
	closes int
}

func (c *closeCounter) Close() error { c.closes++; return c.Store.Close() }

func mustSet(t *testing.T, s store.Store, path string) {
	t.Helper()
	if _, err := s.Set(context.Background(), path, json.RawMessage(`{"p":"`+path+`"}`), store.SetOptions{Now: 1}); err != nil {
		t.Fatalf("Set(%s): %v", path, err)
	}
}

func pathsIn(t *testing.T, s store.Store, pattern string) []string {
	t.Helper()
	recs, err := s.Find(context.Background(), pattern, nil)
	if err != nil {
		t.Fatalf("Find(%s): %v", pattern, err)
	}
	out := []string{}
	for _, r := range recs {
		out = append(out, r.Path)
	}
	return out
}

func TestRouterRoutesByLongestPattern(t *testing.T) {
	def, persist, deep, exact := memory.New(), memory.New(), memory.New(), memory.New()
	r, err := store.NewRouter([]store.Route{
		{Name: "mem", Store: def},
		{Name: "persist", Store: persist, Patterns: []string{"/persist/*"}},
		{Name: "deep", Store: deep, Patterns: []string{"/persist/deep/*"}},
		{Name: "exact", Store: exact, Patterns: []string{"/exact", "/x*y"}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.DefaultName() != "mem" {
		t.Errorf("DefaultName = %q, want mem (the first)", r.DefaultName())
	}
	if got := r.Names(); !slices.Equal(got, []string{"mem", "persist", "deep", "exact"}) {
		t.Errorf("Names = %q", got)
	}
	cases := map[string]string{
		"/persist/a":        "persist",
		"/persist/":         "persist",
		"/persist":          "mem",
		"/persist/deep/x/y": "deep",
		"/persist/deeper":   "persist",
		"/exact":            "exact",
		"/exact/x":          "mem",
		"/x/a/b/y":          "exact",
		"/other":            "mem",
		"persist/a":         "mem",
		"/persist/*":        "persist",
		"/persist/deep/*":   "deep",
		"*":                 "mem",
	}
	for path, want := range cases {
		if got, s := r.Route(path); got != want || s != r.Datastore(want) {
			t.Errorf("Route(%q) = %q, want %q", path, got, want)
		}
	}

	for _, p := range []string{"/persist/a", "/persist/deep/b", "/exact", "/other"} {
		mustSet(t, r, p)
	}
	for _, c := range []struct {
		s    store.Store
		want []string
	}{{def, []string{"/other"}}, {persist, []string{"/persist/a"}}, {deep, []string{"/persist/deep/b"}}, {exact, []string{"/exact"}}} {
		if got := pathsIn(t, c.s, "*"); !slices.Equal(got, c.want) {
			t.Errorf("underlying store holds %q, want %q", got, c.want)
		}
	}
	// A wildcard request is served by one datastore only.
	if got := pathsIn(t, r, "/persist/*"); !slices.Equal(got, []string{"/persist/a"}) {
		t.Errorf("Find(/persist/*) = %q, want only the persist datastore's record", got)
	}
	if got := pathsIn(t, r, "*"); !slices.Equal(got, []string{"/other"}) {
		t.Errorf("Find(*) = %q, want only the default datastore's record", got)
	}
	ctx := context.Background()
	if rec, err := r.Get(ctx, "/persist/deep/b"); err != nil || rec == nil {
		t.Errorf("Get through router = %v, %v", rec, err)
	}
	if v, err := r.Increment(ctx, "/persist/deep/n", "g", 2); err != nil || v != 2 {
		t.Errorf("Increment through router = %v, %v", v, err)
	}
	if n, err := deep.Count(ctx, "*", nil); err != nil || n != 2 {
		t.Errorf("deep store count = %d, %v; want 2", n, err)
	}
	if n, err := r.Count(ctx, "/persist/deep/*", nil); err != nil || n != 2 {
		t.Errorf("Count through router = %d, %v; want 2", n, err)
	}
	if n, err := r.Remove(ctx, "/persist/*", nil); err != nil || n != 1 {
		t.Errorf("Remove(/persist/*) = %d, %v; want 1 (deep records untouched)", n, err)
	}
	if n, _ := deep.Count(ctx, "*", nil); n != 2 {
		t.Errorf("deep store lost records to a wildcard remove routed elsewhere: %d", n)
	}
}

func TestRouterDefaultAndFilters(t *testing.T) {
	a, b := memory.New(), memory.New()
	r, err := store.NewRouter([]store.Route{{Name: "a", Store: a}, {Name: "b", Store: b, Patterns: []string{"/b/*"}}}, "b")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if name, _ := r.Route("/anything"); name != "b" {
		t.Errorf("unmatched path routed to %q, want the default b", name)
	}
	if err := r.AddFilter("/a/*", "a"); err != nil {
		t.Fatal(err)
	}
	if name, _ := r.Route("/a/1"); name != "a" {
		t.Errorf("after AddFilter: /a/1 routed to %q", name)
	}
	// Re-adding a pattern moves it.
	if err := r.AddFilter("/b/*", "a"); err != nil {
		t.Fatal(err)
	}
	if name, _ := r.Route("/b/1"); name != "a" {
		t.Errorf("after moving /b/*: routed to %q, want a", name)
	}
	r.RemoveFilter("/b/*")
	r.RemoveFilter("/never-added")
	if name, _ := r.Route("/b/1"); name != "b" {
		t.Errorf("after RemoveFilter: routed to %q, want default b", name)
	}
	if err := r.AddFilter("/c/*", ""); err == nil || !strings.Contains(err.Error(), "missing datastoreKey parameter") {
		t.Errorf("AddFilter without a name: %v", err)
	}
	if err := r.AddFilter("/c/*", "nope"); err == nil || !strings.Contains(err.Error(), "missing datastore with the key [nope]") {
		t.Errorf("AddFilter to an unknown datastore: %v", err)
	}
	if r.Datastore("nope") != nil {
		t.Error("Datastore(nope) != nil")
	}
}

func TestRouterEqualLengthPatternsKeepOrder(t *testing.T) {
	a, b := memory.New(), memory.New()
	r, err := store.NewRouter([]store.Route{
		{Name: "a", Store: a, Patterns: []string{"/x/*"}},
		{Name: "b", Store: b, Patterns: []string{"/*/y"}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if name, _ := r.Route("/x/y"); name != "a" {
		t.Errorf("/x/y routed to %q, want a (first of equal-length patterns)", name)
	}
}

func TestNewRouterErrors(t *testing.T) {
	m := memory.New()
	cases := []struct {
		routes []store.Route
		def    string
		want   string
	}{
		{nil, "", "at least one datastore"},
		{[]store.Route{{Name: "", Store: m}}, "", "no name"},
		{[]store.Route{{Name: "a"}}, "", "no store"},
		{[]store.Route{{Name: "a", Store: m}, {Name: "a", Store: m}}, "", "duplicate"},
		{[]store.Route{{Name: "a", Store: m}}, "b", "missing datastore with the key [b]"},
	}
	for _, c := range cases {
		if _, err := store.NewRouter(c.routes, c.def); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewRouter(%v, %q) err = %v, want it to mention %q", c.routes, c.def, err, c.want)
		}
	}
}

func TestRouterClosesEachStoreOnce(t *testing.T) {
	shared := &closeCounter{Store: memory.New()}
	other := &closeCounter{Store: memory.New()}
	r, err := store.NewRouter([]store.Route{{Name: "a", Store: shared}, {Name: "b", Store: shared}, {Name: "c", Store: other}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if shared.closes != 1 || other.closes != 1 {
		t.Errorf("closes: shared %d, other %d; want 1 each", shared.closes, other.closes)
	}
	if _, err := r.Get(context.Background(), "/x"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
}
