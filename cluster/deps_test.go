package cluster

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

func TestParseDependencies(t *testing.T) {
	var section map[string]any
	if err := json.Unmarshal([]byte(`{
		"remote-component": {"version": "^1.0.0", "methods": {"method1": {}, "method2": {}}},
		"remote-component2": {"version": "~1.0.0"},
		"remote-component3": {"version": "~1.0.0", "discoverMethods": true},
		"$broker": {"brokered": {"version": "^2.0.0", "methods": {"m": {}}}}
	}`), &section); err != nil {
		t.Fatal(err)
	}
	deps, brokered, err := ParseDependencies(section)
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 3 || len(brokered) != 1 {
		t.Fatalf("deps %+v brokered %+v", deps, brokered)
	}
	if d := deps[0]; d.Component != "remote-component" || d.Version != "^1.0.0" || !slices.Equal(d.Methods, []string{"method1", "method2"}) || d.EventsOnly() {
		t.Errorf("static methods: %+v", d)
	}
	if d := deps[1]; !d.EventsOnly() {
		t.Errorf("no methods must be events only: %+v", d)
	}
	if d := deps[2]; !d.DiscoverMethods || d.EventsOnly() {
		t.Errorf("discoverMethods: %+v", d)
	}
	if b := brokered[0]; b.Component != "brokered" || b.Version != "^2.0.0" {
		t.Errorf("brokered: %+v", b)
	}
	// Go values that marshal to objects are accepted
	type dep struct {
		Version string   `json:"version"`
		Methods []string `json:"methods"`
	}
	deps, _, err = ParseDependencies(map[string]any{"c": dep{Version: "*", Methods: []string{"b", "a"}}})
	if err != nil || len(deps) != 1 || !slices.Equal(deps[0].Methods, []string{"a", "b"}) {
		t.Errorf("struct dependency: %+v %v", deps, err)
	}
	for in, want := range map[string]string{
		`{"c": {"methods": {}}}`:                 "Missing version",
		`{"c": {"version": "1", "methods": 12}}`: "Missing methods",
		`{"c": "x"}`:                             "must be an object",
		`{"$broker": 1}`:                         "must be an object",
	} {
		var s map[string]any
		_ = json.Unmarshal([]byte(in), &s)
		if _, _, err := ParseDependencies(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}

func TestCoercedSatisfies(t *testing.T) {
	for _, c := range []struct {
		version, rng string
		want         bool
	}{
		{"3.2.0-prerelease-1", "^3.0.0", true},
		{"5.0.0-prerelease-1", "^4.0.0", false},
		{"2.0.0-prerelease-1", "*", true},
		{"1.2.0", "^2.0.0", false},
		{"2.1.0", "^2.0.0", true},
		{"1.0.0-prerelease-1", "^1.0.0", true},
		{"weird", "weird", true},
		{"1.0.0", "not a range", false},
		{"1.2", "^1.0.0", true},
	} {
		if got := coercedSatisfies(c.version, c.rng); got != c.want {
			t.Errorf("coercedSatisfies(%q, %q) = %v, want %v", c.version, c.rng, got, c.want)
		}
	}
	if compareVersions("3.4.5", "2.1.2") <= 0 || compareVersions("2.0.0", "2.0.0-prerelease-1") <= 0 || compareVersions("1.0.0", "1.0.0") != 0 {
		t.Error("compareVersions order")
	}
}

// Port of happner-cluster unit test 03-filter-event-versions.
func TestUnit03_FilterEventVersions(t *testing.T) {
	for _, c := range []struct {
		path, pubMeta, subMeta string
		keep                   bool
	}{
		{"/_events/DOMAIN/comp/ev", `{"componentVersion":"1.0.0-prerelease-1"}`, `{"componentVersion":"^1.0.0"}`, true},
		{"/_events/DOMAIN/comp/ev", `{"componentVersion":"1.0.1"}`, `{"componentVersion":"^1.0.0"}`, true},
		{"/_events/DOMAIN/comp/ev", `{"componentVersion":"1.0.1"}`, `{"componentVersion":"^2.0.0"}`, false},
		{"/_events/DOMAIN/comp/ev", `{"componentVersion":"1.0.0-prerelease-1"}`, `{"componentVersion":"^2.0.0"}`, false},
		{"/_events/DOMAIN/comp/ev", `{"other":1}`, `{"componentVersion":"^2.0.0"}`, true},
		{"/_events/DOMAIN/comp/ev", `{"componentVersion":"1.0.1"}`, `{"x":1}`, true},
		{"/_events/DOMAIN/comp/ev", `{"componentVersion":"1.0.1"}`, `{"componentVersion":"%%%"}`, true},
		{"/_events/DOMAIN/comp/ev", `not json`, `{"componentVersion":"^2.0.0"}`, true},
		{"/data/x", `{"componentVersion":"1.0.1"}`, `{"componentVersion":"^2.0.0"}`, true},
	} {
		pub := &happn.Publication{Path: c.path, Meta: json.RawMessage(c.pubMeta)}
		if got := filterEventVersions(pub, json.RawMessage(c.subMeta)); got != c.keep {
			t.Errorf("%s %s %s: keep %v, want %v", c.path, c.pubMeta, c.subMeta, got, c.keep)
		}
	}
	if !eventVersionOK(map[string]json.RawMessage{"componentVersion": json.RawMessage(`"3.2.0-prerelease-1"`)}, "^3.0.0") ||
		eventVersionOK(map[string]json.RawMessage{"componentVersion": json.RawMessage(`"1.2.0"`)}, "^2.0.0") ||
		!eventVersionOK(nil, "^2.0.0") {
		t.Error("client-side event version filter")
	}
}

// The implementor choice (cluster.md §6.3, §6.5): highest matching version,
// round-robin among equals, members that lack the method skipped, brokered
// descriptions ignored, departed members forgotten.
func TestImplementorSelection(t *testing.T) {
	m := &Member{log: quiet}
	m.ctx = context.Background()
	impl := newImplementors(m)
	add := func(name string, brokered bool, comps map[string]string) {
		pd := &peerDescription{peer: Peer{Name: name, MemberID: name}, cancel: func() {}}
		impl.peers[name] = pd
		d := happner.Description{Name: "D", Brokered: brokered, Components: map[string]*happner.ComponentDescription{}}
		for c, v := range comps {
			d.Components[c] = &happner.ComponentDescription{Name: c, Version: v, Methods: map[string]*happner.MethodDescription{"m": {}}}
		}
		b, _ := json.Marshal(d)
		if !impl.setDescription(pd, b) {
			t.Fatal("description not accepted")
		}
	}
	add("a", false, map[string]string{"comp": "2.0.0"})
	add("b", false, map[string]string{"comp": "2.0.0", "data": "1.0.0"})
	add("c", false, map[string]string{"comp": "3.0.0"})
	add("edge", true, map[string]string{"comp": "9.0.0"})
	pick := func(rng, method string) string {
		im, ok := impl.next("comp", rng, method)
		if !ok {
			return ""
		}
		return im.peer
	}
	if got := []string{pick("^2.0.0", "m"), pick("^2.0.0", "m"), pick("^2.0.0", "m")}; !slices.Equal(got, []string{"a", "b", "a"}) {
		t.Errorf("round robin among 2.0.0: %v", got)
	}
	for range 3 {
		if got := pick("*", "m"); got != "c" {
			t.Errorf("* picked %q, want the highest version (c)", got)
		}
	}
	if got := pick("*", "other"); got != "" {
		t.Errorf("a method nobody has picked %q", got)
	}
	if impl.has("data", "*") {
		t.Error("system components are never used remotely")
	}
	if comp, meth := impl.discovered("comp", "m"); !comp || !meth {
		t.Error("comp.m not discovered")
	}
	impl.peerRemoved(Peer{Name: "c", MemberID: "c"})
	if got := pick("*", "m"); got != "a" && got != "b" {
		t.Errorf("after c left: %q", got)
	}
	if comp, meth := impl.discovered("comp", "m"); !comp || !meth {
		t.Error("discovered methods stay on the api after their members leave")
	}
}

// Dependencies and ignoreDependenciesOnStartup read from a config file
// (the counterpart of package.json happner.dependencies; one module may
// back several components, each with its own dependencies).
func TestDependenciesFromConfigFile(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{
		"name": "m1", "domain": "D", "ignoreDependenciesOnStartup": true,
		"happn": {"services": {"membership": {"config": {"deploymentId": "x"}}}},
		"modules": {"shared-module": {}},
		"components": {
			"component1": {"module": "shared-module", "dependencies": {"remote-component": {"version": "^1.0.0", "methods": {"method1": {}}}}},
			"component2": {"module": "shared-module", "dependencies": {"remote-component3": {"version": "~1.0.0", "discoverMethods": true}}}
		}
	}`), "json")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.IgnoreDependenciesOnStartup {
		t.Error("ignoreDependenciesOnStartup not read")
	}
	d1, _, err := ParseDependencies(cfg.Components["component1"].Dependencies)
	if err != nil || len(d1) != 1 || d1[0].Component != "remote-component" || !slices.Equal(d1[0].Methods, []string{"method1"}) {
		t.Errorf("component1: %+v %v", d1, err)
	}
	d2, _, err := ParseDependencies(cfg.Components["component2"].Dependencies)
	if err != nil || len(d2) != 1 || !d2[0].DiscoverMethods {
		t.Errorf("component2: %+v %v", d2, err)
	}
}
