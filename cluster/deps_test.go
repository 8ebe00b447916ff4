package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

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
	var cache satisfiesCache
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
		for range 2 { // the second answer comes from the cache
			if got := filterEventVersions(&cache, pub, json.RawMessage(c.subMeta)); got != c.keep {
				t.Errorf("%s %s %s: keep %v, want %v", c.path, c.pubMeta, c.subMeta, got, c.keep)
			}
		}
	}
	if !eventVersionOK(&cache, map[string]json.RawMessage{"componentVersion": json.RawMessage(`"3.2.0-prerelease-1"`)}, "^3.0.0") ||
		eventVersionOK(&cache, map[string]json.RawMessage{"componentVersion": json.RawMessage(`"1.2.0"`)}, "^2.0.0") ||
		!eventVersionOK(&cache, nil, "^2.0.0") {
		t.Error("client-side event version filter")
	}
}

// The implementor choice: highest matching version,
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
	d1, err := happner.ParseDependencies(cfg.Components["component1"].Dependencies)
	if d, ok := d1.Components["remote-component"]; err != nil || len(d1.Components) != 1 || !ok || !slices.Equal(d.Methods, []string{"method1"}) {
		t.Errorf("component1: %+v %v", d1, err)
	}
	d2, err := happner.ParseDependencies(cfg.Components["component2"].Dependencies)
	if err != nil || len(d2.Components) != 1 || !d2.Components["remote-component3"].DiscoverMethods {
		t.Errorf("component2: %+v %v", d2, err)
	}
}

// moduleDependor declares its dependency in its module's schema, the
// counterpart of package.json happner.dependencies.<component>.
type moduleDependor struct{ *dependor }

func (moduleDependor) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Dependencies: map[string]map[string]any{
		"moduled": {"component1": happner.Dependency{Version: "^2.0.0", Methods: []string{"method1"}}},
	}}
}

// Every form of a dependency means the same: a typed value (also through
// the cluster's alias, by pointer), a map with methods as a []string, a
// config file (YAML, happner's methods map) and a module schema. Member a
// has component1 1.2.0 itself, b has 2.1.0 and c 3.0.0; each dependor on
// a depends on component1 ^2.0.0 for method1 only. So the mesh must not
// use its local 1.2.0, the cluster must pick b (c's 3.0.0 is higher but
// out of range), method fire is not on the dependor's api although b has
// it, and only b's events reach the dependor.
func TestDependencyFormsAgree(t *testing.T) {
	shared := newShared(t)
	const dep = "dep-forms"
	yaml := `
domain: DOMAIN_NAME
happn:
  services:
    membership:
      config: {deploymentId: ` + dep + `, serviceName: svc}
modules:
  filed: {path: dependor-filed}
components:
  filed:
    startMethod: start
    dependencies:
      component1:
        version: ^2.0.0
        methods: {method1: {}}
`
	path := filepath.Join(t.TempDir(), "member-a.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base := testConfig(dep, "svc", map[string]int{"svc": 2}, shared)
	a.Membership, a.SharedStore, a.Logger, a.Happn.Host = base.Membership, shared, base.Logger, base.Happn.Host
	a.Cluster.ResponseTimeout = 5 * time.Second
	dependors := map[string]*dependor{}
	for _, n := range []string{"typed", "pointer", "mapped", "filed", "moduled"} {
		dependors[n] = &dependor{}
	}
	a.Registry = happner.NewRegistry()
	a.Registry.RegisterValue("dependor-filed", dependors["filed"])
	sections := map[string]map[string]any{
		"typed":   {"component1": happner.Dependency{Version: "^2.0.0", Methods: []string{"method1"}}},
		"pointer": {"component1": &Dependency{Component: "component1", Version: "^2.0.0", Methods: []string{"method1"}}},
		"mapped":  {"component1": map[string]any{"version": "^2.0.0", "methods": []string{"method1"}}},
	}
	for n, section := range sections {
		a.Modules[n] = happner.ModuleConfig{Instance: dependors[n]}
		a.Components[n] = happner.ComponentConfig{StartMethod: "start", Dependencies: section}
	}
	a.Modules["moduled"] = happner.ModuleConfig{Instance: moduleDependor{dependors["moduled"]}}
	a.Components["moduled"] = happner.ComponentConfig{StartMethod: "start"}
	a = withComponents(a, map[string]string{"component1": "1.2.0"})
	b := withComponents(testConfig(dep, "svc", map[string]int{"svc": 2}, shared), map[string]string{"component1": "2.1.0"})
	c := withComponents(testConfig(dep, "svc", map[string]int{"svc": 2}, shared), map[string]string{"component1": "3.0.0"})
	ms := startAll(t, a, b, c)
	awaitImplementors(t, ms[0], 2)
	ctx := context.Background()
	x := ms[0].Mesh().Exchange()
	want := ms[1].Name() + ":x"

	for n := range dependors {
		deps, ok := ms[0].Mesh().Dependencies(n)
		if d := deps.Components["component1"]; !ok || d.Version != "^2.0.0" || !slices.Equal(d.Methods, []string{"method1"}) {
			t.Fatalf("%s: dependencies %+v", n, deps)
		}
		for range 3 {
			var s string
			if err := x.Call(ctx, n, "callRemote", []any{"x"}, &s); err != nil || s != want {
				t.Fatalf("%s: component1.method1 answered %q %v, want %q (b's 2.1.0)", n, s, err, want)
			}
		}
		err := x.Call(ctx, n, "dollarCall", []any{"component1", "fire", "k"})
		if err == nil || err.Error() != "invalid endpoint options: [component1.fire] method does not exist on the api" {
			t.Fatalf("%s: a method not listed: %v", n, err)
		}
		if err := x.Call(ctx, n, "listen", nil); err != nil {
			t.Fatal(err)
		}
	}
	// the member's own calls read a section in the same forms
	for n, section := range sections {
		if s, err := callString(ctx, ms[0], call("component1", "method1", section, "x")); err != nil || s != want {
			t.Fatalf("member call with the %s section: %q %v, want %q", n, s, err, want)
		}
		if _, err := callString(ctx, ms[0], call("component1", "fire", section, "k")); err == nil ||
			err.Error() != "invalid endpoint options: [component1.fire] method does not exist on the api" {
			t.Fatalf("member call with the %s section, a method not listed: %v", n, err)
		}
	}

	// events: a (1.2.0), c (3.0.0) and b (2.1.0) fire; once the mesh's
	// unfiltered subscription has all three, b fires once more. Events
	// reach the mesh's subscriptions in order, so by the time each
	// dependor has b's second event it has been handed everything before.
	var mu sync.Mutex
	var all []string
	if _, err := ms[0].Mesh().Event().On(ctx, "component1", "*", func(ev happner.Event) {
		var p struct{ From string }
		_ = ev.Decode(&p)
		mu.Lock()
		all = append(all, p.From)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2, 1} {
		if err := ms[i].Mesh().Exchange().Call(ctx, "component1", "fire", []any{"ev"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "the three members' events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(all) == 3
	})
	if err := ms[1].Mesh().Exchange().Call(ctx, "component1", "fire", []any{"barrier"}); err != nil {
		t.Fatal(err)
	}
	for n, d := range dependors {
		eventually(t, 5*time.Second, n+" to receive b's events", func() bool { return len(d.got()) >= 2 })
		if got := d.got(); !slices.Equal(got, []string{ms[1].Name(), ms[1].Name()}) {
			t.Errorf("%s received events from %v, want b's two only", n, got)
		}
	}
}

// moduleBroker brokers remoteComponent through its module's schema, as a
// package.json happner.dependencies.$broker does.
type moduleBroker struct{ brokerComponent }

func (moduleBroker) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Dependencies: map[string]map[string]any{
		BrokerKey: {"remoteComponent": happner.Dependency{Version: "^2.0.0", Methods: []string{"method1"}}},
	}}
}

// A $broker entry in a module's schema makes an edge member as one in the
// component config does: a brokered description, the component exposed.
func TestModuleSchemaBrokers(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	internal := startOne(t, internalConfig("dep-modbroker", shared, map[string]string{"remoteComponent": "2.0.0"}))
	c := testConfig("dep-modbroker", "edge", map[string]int{"internal": 1}, shared)
	c.Modules = map[string]happner.ModuleConfig{"broker": {Instance: moduleBroker{}}}
	c.Components = map[string]happner.ComponentConfig{"broker": {}}
	edge := startOne(t, c)
	awaitEntries(t, edge, 1, 1)
	if !edge.Mesh().Describe().Brokered {
		t.Fatal("the edge's description is not brokered")
	}
	got, err := clientCall(ctx, login(t, edge), "remoteComponent", "method1", "m")
	if err != nil || got != internal.Name()+":m" {
		t.Fatalf("brokered call: %q %v", got, err)
	}
}

// decodeReply reads the replies members send: results after a null error,
// an error with its fields, and refuses what is not a reply.
func TestDecodeReply(t *testing.T) {
	out, err := decodeReply(json.RawMessage(`{"status":"ok","args":[null,3,{"a":"b"}]}`))
	if err != nil || len(out) != 2 || string(out[0].(json.RawMessage)) != "3" || string(out[1].(json.RawMessage)) != `{"a":"b"}` {
		t.Fatalf("ok reply: %v %v", out, err)
	}
	if out, err = decodeReply(json.RawMessage(`{"args":[],"status":"ok"}`)); err != nil || len(out) != 0 {
		t.Fatalf("empty ok reply: %v %v", out, err)
	}
	_, err = decodeReply(json.RawMessage(`{"status":"error","args":[{"name":"NotFound","message":"no such thing","code":404}]}`))
	var he *happner.Error
	if !errors.As(err, &he) || he.Name != "NotFound" || he.Message != "no such thing" {
		t.Fatalf("error reply: %#v", err)
	}
	for _, bad := range []string{`[1]`, `{"status":1}`, `{"status":"ok","args":{}}`, `{"status":"ok"`} {
		if _, err := decodeReply(json.RawMessage(bad)); err == nil || !strings.Contains(err.Error(), "invalid reply") {
			t.Errorf("%s: %v, want an invalid reply error", bad, err)
		}
	}
}

// A member's request to another is what encoding/json makes of it.
func TestExchangeRequestEncoding(t *testing.T) {
	for _, q := range []exchangeRequest{
		{CallbackAddress: "/_exchange/responses/D/c/m/sid/1", Args: []any{json.RawMessage(`{"a":1}`), 2.5, "x<y>&\"z\"", nil, map[string]any{"k": []int{1}}},
			Origin: requestOrigin{ID: "s1", Username: "bob"}, Version: "^1.0.0"},
		{CallbackAddress: "/a", Args: []any{}, Origin: requestOrigin{ID: "é\n"}},
		{CallbackAddress: "/a", Args: nil},
		{CallbackAddress: "/a", Args: []any{json.RawMessage(` [1, 2] `)}},
	} {
		got, err := q.encode()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || !reflect.DeepEqual(g, w) {
			t.Errorf("encode: %s\nencoding/json: %s", got, want)
		}
	}
	if _, err := (&exchangeRequest{Args: []any{func() {}}}).encode(); err == nil {
		t.Error("an argument JSON cannot hold was encoded")
	}
}
