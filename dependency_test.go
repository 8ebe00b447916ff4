package happner_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

// Every form of a dependency section reads into the same Dependencies.
func TestParseDependencies(t *testing.T) {
	want := happner.Dependencies{
		Components: map[string]happner.Dependency{
			"remote-component":  {Component: "remote-component", Version: "^1.0.0", Methods: []string{"method1", "method2"}},
			"remote-component2": {Component: "remote-component2", Version: "~1.0.0"},
			"remote-component3": {Component: "remote-component3", Version: "~1.0.0", DiscoverMethods: true},
		},
		Brokered: map[string]happner.Dependency{
			"brokered": {Component: "brokered", Version: "^2.0.0", Methods: []string{"m"}},
		},
	}
	var fromJSON map[string]any
	if err := json.Unmarshal([]byte(`{
		"remote-component": {"version": "^1.0.0", "methods": {"method2": {"parameters": [{"name": "a"}]}, "method1": {}}},
		"remote-component2": {"version": "~1.0.0"},
		"remote-component3": {"version": "~1.0.0", "discoverMethods": true},
		"$broker": {"brokered": {"version": "^2.0.0", "methods": {"m": {}}}}
	}`), &fromJSON); err != nil {
		t.Fatal(err)
	}
	type userDep struct {
		Version string   `json:"version"`
		Methods []string `json:"methods"`
	}
	forms := map[string]map[string]any{
		"json": fromJSON,
		"typed": {
			"remote-component":  happner.Dependency{Version: "^1.0.0", Methods: []string{"method2", "method1"}},
			"remote-component2": happner.Dependency{Version: "~1.0.0"},
			"remote-component3": &happner.Dependency{Component: "remote-component3", Version: "~1.0.0", DiscoverMethods: true},
			happner.BrokerKey:   map[string]happner.Dependency{"brokered": {Version: "^2.0.0", Methods: []string{"m"}}},
		},
		"go maps": {
			"remote-component":  map[string]any{"version": "^1.0.0", "methods": []string{"method1", "method2", "method1"}},
			"remote-component2": map[string]any{"version": "~1.0.0"},
			"remote-component3": map[string]any{"version": "~1.0.0", "discoverMethods": true},
			happner.BrokerKey:   map[string]any{"brokered": map[string]any{"version": "^2.0.0", "methods": map[string]struct{}{"m": {}}}},
		},
		"own structs": {
			"remote-component":  userDep{Version: "^1.0.0", Methods: []string{"method1", "method2"}},
			"remote-component2": json.RawMessage(`{"version": "~1.0.0"}`),
			"remote-component3": struct {
				Version  string `json:"version"`
				Discover bool   `json:"discoverMethods"`
			}{"~1.0.0", true},
			happner.BrokerKey: map[string]userDep{"brokered": {Version: "^2.0.0", Methods: []string{"m"}}},
		},
	}
	for name, section := range forms {
		got, err := happner.ParseDependencies(section)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
	got, _ := happner.ParseDependencies(fromJSON)
	if d := got.Components["remote-component2"]; !d.EventsOnly() || got.Components["remote-component3"].EventsOnly() || got.Components["remote-component"].EventsOnly() {
		t.Error("events only: no methods and no discovery")
	}
	if got.Range("brokered") != "^2.0.0" || got.Range("remote-component") != "^1.0.0" || got.Range("other") != "" {
		t.Error("Range")
	}
	if !got.Components["remote-component"].HasMethod("method2") || got.Components["remote-component"].HasMethod("method3") {
		t.Error("HasMethod")
	}

	for in, wantErr := range map[string]string{
		`{"c": {"methods": {}}}`:                          "dependency c: Missing version",
		`{"c": {"version": "1", "methods": 12}}`:          "dependency c: Missing methods",
		`{"c": {"version": "1", "methods": ["a", 1]}}`:    "dependency c: Missing methods",
		`{"c": {"version": "1", "discoverMethods": "y"}}`: "dependency c: discoverMethods must be true or false",
		`{"c": "x"}`:                          "dependency c: must be an object",
		`{"$broker": 1}`:                      "dependencies.$broker must be an object",
		`{"$broker": {"b": {"version": ""}}}`: "dependency $broker.b: Missing version",
	} {
		var s map[string]any
		if err := json.Unmarshal([]byte(in), &s); err != nil {
			t.Fatal(err)
		}
		if _, err := happner.ParseDependencies(s); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: error %v, want %q", in, err, wantErr)
		}
	}
	for name, section := range map[string]map[string]any{
		"no version":    {"c": happner.Dependency{Methods: []string{"a"}}},
		"other name":    {"c": happner.Dependency{Component: "d", Version: "*"}},
		"nil pointer":   {"c": (*happner.Dependency)(nil)},
		"without tags":  {"c": struct{ Version string }{"*"}},
		"unmarshalable": {"c": func() {}},
	} {
		if _, err := happner.ParseDependencies(section); err == nil || !strings.Contains(err.Error(), "dependency c:") {
			t.Errorf("%s: error %v, want one naming the entry", name, err)
		}
	}
}

// A Dependency writes and reads happner's JSON shape.
func TestDependencyJSON(t *testing.T) {
	d := happner.Dependency{Component: "pricing", Version: "^1.0.0", Methods: []string{"price", "quote"}}
	b, err := json.Marshal(d)
	if err != nil || string(b) != `{"version":"^1.0.0","methods":{"price":{},"quote":{}}}` {
		t.Fatalf("marshal: %s %v", b, err)
	}
	var back happner.Dependency
	if err := json.Unmarshal(b, &back); err != nil || back.Version != d.Version || !reflect.DeepEqual(back.Methods, d.Methods) {
		t.Fatalf("unmarshal: %+v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"version":"*","methods":["b","a"],"discoverMethods":true}`), &back); err != nil ||
		!reflect.DeepEqual(back.Methods, []string{"a", "b"}) || !back.DiscoverMethods {
		t.Fatalf("list form: %+v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"methods":{}}`), &back); err == nil || !strings.Contains(err.Error(), "Missing version") {
		t.Fatalf("no version: %v", err)
	}
	if err := json.Unmarshal([]byte(`"x"`), &back); err == nil {
		t.Fatal("a string read as a dependency")
	}
}

// pricedOrders declares dependencies in its module schema, as package.json
// happner.dependencies does: keyed by component, $broker for all.
type pricedOrders struct{}

func (pricedOrders) Place() string { return "placed" }

func (pricedOrders) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Dependencies: map[string]map[string]any{
		"orders": {
			"pricing":  happner.Dependency{Version: "^1.0.0", Methods: []string{"price"}},
			"shipping": map[string]any{"version": "^3.0.0"},
		},
		"returns":         {"pricing": happner.Dependency{Version: "^9.0.0", Methods: []string{"refund"}}},
		happner.BrokerKey: {"stock": happner.Dependency{Version: "*"}},
	}}
}

// The component config's dependencies are merged over the module's,
// entry by entry; each component gets its own entry and the module's
// $broker.
func TestModuleDependencies(t *testing.T) {
	cfg := happner.Config{
		Name: "deps", Logger: quietLogger(),
		Happn:   happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
		Modules: map[string]happner.ModuleConfig{"orders": {Instance: pricedOrders{}}},
		Components: map[string]happner.ComponentConfig{
			"orders": {Dependencies: map[string]any{
				"pricing": map[string]any{"version": "^2.0.0", "methods": []any{"price", "discount"}},
				"billing": happner.Dependency{Version: "*", DiscoverMethods: true},
			}},
			"returns": {Module: "orders"},
			"plain":   {Module: "orders", Dependencies: map[string]any{happner.BrokerKey: map[string]any{}}},
		},
	}
	m := startMesh(t, cfg)
	deps, ok := m.Dependencies("orders")
	if !ok {
		t.Fatal("no component orders")
	}
	want := happner.Dependencies{
		Components: map[string]happner.Dependency{
			"pricing":  {Component: "pricing", Version: "^2.0.0", Methods: []string{"discount", "price"}},
			"shipping": {Component: "shipping", Version: "^3.0.0"},
			"billing":  {Component: "billing", Version: "*", DiscoverMethods: true},
		},
		Brokered: map[string]happner.Dependency{"stock": {Component: "stock", Version: "*"}},
	}
	if !reflect.DeepEqual(deps, want) {
		t.Errorf("orders:\n got %+v\nwant %+v", deps, want)
	}
	if deps, _ := m.Dependencies("returns"); deps.Range("pricing") != "^9.0.0" || deps.Range("shipping") != "" || deps.Range("stock") != "*" {
		t.Errorf("returns: %+v", deps)
	}
	if _, ok := m.Dependencies("nope"); ok {
		t.Error("dependencies of a component that does not exist")
	}
	// a mesh without a cluster is not brokered by a $broker entry
	if m.Describe().Brokered {
		t.Error("a plain mesh described as brokered")
	}

	// a bad entry fails the mesh's start with the component named
	cfg.Name = "baddeps"
	cfg.Components = map[string]happner.ComponentConfig{"orders": {Dependencies: map[string]any{"pricing": map[string]any{"methods": []string{"price"}}}}}
	if _, err := happner.Create(tctx(t), cfg); err == nil || err.Error() != `happner: component "orders": dependency pricing: Missing version` {
		t.Fatalf("bad dependency: %v", err)
	}
}
