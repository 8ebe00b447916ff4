package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/store"
)

// worker is a component that reports which member ran it.
type worker struct{}

// Method1 answers "<member>:<arg>".
func (worker) Method1(h *happner.Happn, arg string) (string, error) {
	return h.Info.Mesh.Name + ":" + arg, nil
}

// Slow answers after ms milliseconds.
func (worker) Slow(h *happner.Happn, ms int) (string, error) {
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-h.Ctx.Done():
	}
	return h.Info.Mesh.Name, nil
}

// WhoAmI answers the caller's username ($origin).
func (worker) WhoAmI(h *happner.Happn) string {
	if h.Origin == nil {
		return ""
	}
	return h.Origin.Username
}

// Fail returns an error.
func (worker) Fail() error { return happner.NewError("Error", "test error") }

// Fire emits an event.
func (worker) Fire(h *happner.Happn, key string) error {
	return h.Emit(key, map[string]any{"from": h.Info.Mesh.Name})
}

// FireLocal emits an event that stays on this member.
func (worker) FireLocal(h *happner.Happn, key string) error {
	return h.EmitLocal(key, map[string]any{"from": h.Info.Mesh.Name})
}

// withComponents adds worker components by name → version.
func withComponents(c Config, versions map[string]string) Config {
	if c.Cluster.ResponseTimeout == 0 {
		c.Cluster.ResponseTimeout = 5 * time.Second * slack() // fail fast rather than hang
	}
	if c.Modules == nil {
		c.Modules = map[string]happner.ModuleConfig{}
		c.Components = map[string]happner.ComponentConfig{}
	}
	for name, v := range versions {
		c.Modules[name] = happner.ModuleConfig{Instance: worker{}, Version: v}
		c.Components[name] = happner.ComponentConfig{}
	}
	return c
}

// cluster starts one member per entry of comps (component → version),
// waiting for each other, with short timeouts.
func startCluster(t *testing.T, dep string, shared store.Store, comps ...map[string]string) []*Member {
	t.Helper()
	var cfgs []Config
	for _, c := range comps {
		cfg := withComponents(testConfig(dep, "svc", map[string]int{"svc": len(comps) - 1}, shared), c)
		cfg.Cluster.ResponseTimeout = 3 * time.Second * slack()
		cfgs = append(cfgs, cfg)
	}
	ms := startAll(t, cfgs...)
	for _, m := range ms {
		awaitImplementors(t, m, len(ms)-1)
	}
	return ms
}

// awaitImplementors waits until m knows the descriptions of n peers.
func awaitImplementors(t *testing.T, m *Member, n int) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("%s to read %d descriptions", m.Name(), n), func() bool {
		m.remote.impl.mu.Lock()
		defer m.remote.impl.mu.Unlock()
		got := 0
		for _, pd := range m.remote.impl.peers {
			if pd.desc != nil {
				got++
			}
		}
		return got == n
	})
}

func callString(ctx context.Context, m *Member, c Call) (string, error) {
	var s string
	err := m.Call(ctx, c, &s)
	return s, err
}

func call(component, method string, deps map[string]any, args ...any) Call {
	return Call{CallOptions: happner.CallOptions{Component: component, Method: method, Arguments: args}, Dependencies: deps}
}

func depsOf(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := jsonUnmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Port of happner-cluster integration 02-integration-components: $call to
// a discoverMethods dependency round-robins over two members; a local
// component of the wrong version is overridden by the remote one; a
// missing component is Not implemented; events come from both members,
// and an incompatible version's are filtered out.
func Test02_IntegrationComponents(t *testing.T) {
	shared := newShared(t)
	ms := startCluster(t, "dep-02", shared,
		map[string]string{"component1": "1.2.0"},
		map[string]string{"component1": "2.0.0"},
		map[string]string{"component1": "2.1.0"},
	)
	ctx := context.Background()
	deps := depsOf(t, `{"component1": {"version": "^2.0.0", "discoverMethods": true},
		"remoteComponent0": {"version": "^1.0.0", "methods": {"method1": {}}}}`)

	// the highest version wins: 2.1.0 on member 2 only
	for range 3 {
		got, err := callString(ctx, ms[0], call("component1", "method1", deps, "x"))
		if err != nil {
			t.Fatal(err)
		}
		if got != ms[2].Name()+":x" {
			t.Fatalf("got %q, want member 2 (highest version)", got)
		}
	}
	// a local compatible component is always preferred
	got, err := callString(ctx, ms[0], call("component1", "method1", depsOf(t, `{"component1": {"version": "^1.0.0", "methods": {"method1": {}}}}`), "y"))
	if err != nil || got != ms[0].Name()+":y" {
		t.Fatalf("local preferred: %q %v", got, err)
	}
	// missing component
	_, err = callString(ctx, ms[0], call("remoteComponent0", "method1", deps))
	if err == nil || err.Error() != "Not implemented remoteComponent0:^1.0.0:method1" {
		t.Fatalf("missing component: %v", err)
	}
	// round-robin between equal versions
	ms2 := startCluster(t, "dep-02b", newShared(t),
		map[string]string{},
		map[string]string{"component1": "2.0.0"},
		map[string]string{"component1": "2.0.0"},
	)
	seen := map[string]int{}
	var order []string
	for range 4 {
		got, err := callString(ctx, ms2[0], call("component1", "method1", deps, "z"))
		if err != nil {
			t.Fatal(err)
		}
		seen[got]++
		order = append(order, got)
	}
	if seen[ms2[1].Name()+":z"] != 2 || seen[ms2[2].Name()+":z"] != 2 || order[0] == order[1] {
		t.Fatalf("round robin: %v", order)
	}

	// events: cluster-wide subscription with a range; 1.2.0 events filtered
	var mu sync.Mutex
	from := map[string]int{}
	if _, err := ms[0].On(ctx, "component1", "^2.0.0", "*", func(ev happner.Event) {
		var d struct{ From string }
		_ = ev.Decode(&d)
		mu.Lock()
		from[d.From]++
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := m.Mesh().Exchange().Call(ctx, "component1", "fire", []any{"ev"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 3*time.Second, "events from members 1 and 2", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return from[ms[1].Name()] == 1 && from[ms[2].Name()] == 1
	})
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	if from[ms[0].Name()] != 0 {
		t.Errorf("event of incompatible version 1.2.0 delivered: %v", from)
	}
	mu.Unlock()
}

// Port of happner-cluster integration 03-integration-peers: a departed
// member's implementation is dropped, an arriving one's added.
func Test03_IntegrationPeers(t *testing.T) {
	shared := newShared(t)
	ms := startCluster(t, "dep-03", shared,
		map[string]string{},
		map[string]string{"component1": "2.0.0"},
		map[string]string{"component1": "2.0.0"},
		map[string]string{"component1": "2.0.0"},
	)
	ctx := context.Background()
	deps := depsOf(t, `{"component1": {"version": "^2.0.0", "methods": {"method1": {}}}}`)
	rotation := func(n int) map[string]int {
		seen := map[string]int{}
		for range n {
			got, err := callString(ctx, ms[0], call("component1", "method1", deps, "a"))
			if err != nil {
				t.Fatal(err)
			}
			seen[strings.TrimSuffix(got, ":a")]++
		}
		return seen
	}
	if seen := rotation(6); len(seen) != 3 {
		t.Fatalf("rotation over 3: %v", seen)
	}
	if err := ms[3].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "member 3 dropped", func() bool { return len(ms[0].Implementors("component1", "^2.0.0")) == 2 })
	if seen := rotation(4); len(seen) != 2 || seen[ms[3].Name()] != 0 {
		t.Fatalf("rotation over the remaining 2: %v", seen)
	}
	cfg := withComponents(testConfig("dep-03", "svc", nil, shared), map[string]string{"component1": "2.0.0"})
	added := startAll(t, cfg, withComponents(testConfig("dep-03", "svc", nil, shared), map[string]string{"component1": "2.0.0"}))
	eventually(t, 5*time.Second, "4 implementors", func() bool { return len(ms[0].Implementors("component1", "^2.0.0")) == 4 })
	seen := rotation(8)
	if len(seen) != 4 || seen[added[0].Name()] != 2 || seen[added[1].Name()] != 2 {
		t.Fatalf("rotation over 4: %v", seen)
	}
}

// Errors of remote calls: the component's own error, the response
// timeout, a member leaving while a call is in flight, and $call's
// endpoint errors.
func TestRemoteCallErrors(t *testing.T) {
	shared := newShared(t)
	ms := startCluster(t, "dep-err", shared,
		map[string]string{},
		map[string]string{"component1": "2.0.0"},
	)
	ctx := context.Background()
	deps := depsOf(t, `{"component1": {"version": "^2.0.0", "methods": {"method1": {}, "fail": {}, "slow": {}}},
		"events": {"version": "*"}}`)
	err := ms[0].Call(ctx, call("component1", "fail", deps))
	var he *happner.Error
	if !errors.As(err, &he) || err.Error() != "test error" {
		t.Fatalf("remote error: %v", err)
	}
	for _, c := range []struct {
		call Call
		want string
	}{
		{call("component1", "unknown", deps), "invalid endpoint options: [component1.unknown] method does not exist on the api"},
		{call("events", "x", deps), "invalid endpoint options: [events.x] method does not exist on the api"},
		{call("nowhere", "x", nil), "invalid endpoint options: [nowhere] component does not exist on the api"},
		{call("component1", "nomethod", nil), "invalid endpoint options: [component1.nomethod] method does not exist on the api"},
	} {
		if err := ms[0].Call(ctx, c.call); err == nil || err.Error() != ""+c.want {
			t.Errorf("%s.%s: %v, want %q", c.call.Component, c.call.Method, err, c.want)
		}
	}
	// discovered without declared dependencies
	if got, err := callString(ctx, ms[0], call("component1", "method1", nil, "d")); err != nil || got != ms[1].Name()+":d" {
		t.Fatalf("discovered call: %q %v", got, err)
	}

	// response timeout
	short := withComponents(testConfig("dep-err2", "svc", nil, shared), nil)
	short.Cluster.ResponseTimeout = 300 * time.Millisecond
	slowOne := withComponents(testConfig("dep-err2", "svc", map[string]int{"svc": 1}, shared), map[string]string{"component1": "2.0.0"})
	pair := startAll(t, short, slowOne)
	awaitImplementors(t, pair[0], 1)
	start := time.Now()
	err = pair[0].Call(ctx, call("component1", "slow", deps, 2000))
	if err == nil || err.Error() != "Timeout awaiting response on component1.slow version: ^2.0.0" {
		t.Fatalf("timeout: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("timeout after %s, want ~300ms", d)
	}

	// a member leaving with a call in flight fails the call at once
	errc := make(chan error, 1)
	go func() { errc <- ms[0].Call(ctx, call("component1", "slow", deps, 10000)) }()
	time.Sleep(200 * time.Millisecond)
	start = time.Now()
	stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_ = ms[1].Stop(stopCtx) // does not wait for the slow call
	cancel()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "left the cluster while awaiting response on component1.slow version: ^2.0.0") {
			t.Fatalf("in-flight call: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the in-flight call did not fail when its member left")
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("in-flight call failed after %s", d)
	}
	if err := ms[0].Call(ctx, call("component1", "method1", deps)); err == nil || err.Error() != "Not implemented component1:^2.0.0:method1" {
		t.Errorf("after the member left: %v", err)
	}
}

// Port of happner-cluster integration 36-brokering-versions (the
// selection part): range "*" always goes to the highest version present,
// whichever member joined first, never round-robin to a lower one.
// Prerelease tags follow coercedSatisfies (17-cluster-broker-component-versions).
func Test36_HighestVersionPreferred(t *testing.T) {
	shared := newShared(t)
	ms := startCluster(t, "dep-36", shared,
		map[string]string{},
		map[string]string{"component1": "2.1.2", "prereleaseComponent": "3.2.0-prerelease-1", "prereleaseComponentNotFound": "5.0.0-prerelease-1"},
		map[string]string{"component1": "3.4.5"},
	)
	ctx := context.Background()
	for range 4 {
		got, err := callString(ctx, ms[0], call("component1", "method1", depsOf(t, `{"component1": {"version": "*", "methods": {"method1": {}}}}`), "v"))
		if err != nil || got != ms[2].Name()+":v" {
			t.Fatalf("got %q %v, want the 3.4.5 member", got, err)
		}
	}
	// a narrower range picks the lower version
	got, err := callString(ctx, ms[0], call("component1", "method1", depsOf(t, `{"component1": {"version": "^2.0.0", "methods": {"method1": {}}}}`), "v"))
	if err != nil || got != ms[1].Name()+":v" {
		t.Fatalf("^2.0.0: %q %v", got, err)
	}
	deps := depsOf(t, `{"prereleaseComponent": {"version": "^3.0.0", "methods": {"method1": {}}},
		"prereleaseComponentNotFound": {"version": "^4.0.0", "methods": {"method1": {}}}}`)
	if _, err := callString(ctx, ms[0], call("prereleaseComponent", "method1", deps)); err != nil {
		t.Errorf("3.2.0-prerelease-1 must satisfy ^3.0.0: %v", err)
	}
	if _, err := callString(ctx, ms[0], call("prereleaseComponentNotFound", "method1", deps)); err == nil ||
		err.Error() != "Not implemented prereleaseComponentNotFound:^4.0.0:method1" {
		t.Errorf("5.0.0-prerelease-1 vs ^4.0.0: %v", err)
	}
}

// Port of happner-cluster integration 26-integration-components-discover
// and 34-find-all-cluster-methods: without declared dependencies, methods
// discovered from the peers are called round-robin; a component destroyed
// on one member leaves the other; with every implementor gone the call is
// Not implemented, and it works again when a member comes back.
func Test34_FindAllClusterMethods(t *testing.T) {
	shared := newShared(t)
	ms := startCluster(t, "dep-34", shared,
		map[string]string{},
		map[string]string{"component1": "1.0.0"},
		map[string]string{"component1": "1.0.0"},
	)
	ctx := context.Background()
	var order []string
	for range 3 {
		got, err := callString(ctx, ms[0], call("component1", "method1", nil, "q"))
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, got)
	}
	if order[0] == order[1] || order[1] == order[2] || order[0] != order[2] {
		t.Fatalf("round robin over 2: %v", order)
	}
	if err := ms[1].Mesh().DestroyComponent(ctx, "component1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "destroyed component dropped", func() bool { return len(ms[0].Implementors("component1", "")) == 1 })
	for range 3 {
		got, err := callString(ctx, ms[0], call("component1", "method1", nil, "r"))
		if err != nil || got != ms[2].Name()+":r" {
			t.Fatalf("after destroy: %q %v", got, err)
		}
	}
	// 26: every implementor gone, then back
	if err := ms[2].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "no implementor left", func() bool { return len(ms[0].Implementors("component1", "")) == 0 })
	if err := ms[0].Call(ctx, call("component1", "method1", nil)); err == nil || err.Error() != "Not implemented component1:*:method1" {
		t.Fatalf("with no implementor: %v", err)
	}
	back := startAll(t, withComponents(testConfig("dep-34", "svc", nil, shared), map[string]string{"component1": "1.0.0"}))
	eventually(t, 5*time.Second, "implementor back", func() bool { return len(ms[0].Implementors("component1", "")) == 1 })
	if got, err := callString(ctx, ms[0], call("component1", "method1", nil, "s")); err != nil || got != back[0].Name()+":s" {
		t.Fatalf("after restart: %q %v", got, err)
	}
}
