package cluster

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
)

// dependor uses component1 from the cluster through its $happn.
type dependor struct {
	mu     sync.Mutex
	events []string
}

// CallRemote calls component1.method1 through the exchange.
func (d *dependor) CallRemote(h *happner.Happn, arg string) (string, error) {
	var s string
	err := h.Exchange.Call(h.Ctx, "component1", "method1", []any{arg}, &s)
	return s, err
}

// DollarCall calls through $call.
func (d *dependor) DollarCall(h *happner.Happn, component, method, arg string) (string, error) {
	var s string
	err := h.Exchange.Do(h.Ctx, happner.CallOptions{Component: component, Method: method, Arguments: []any{arg}}, &s)
	return s, err
}

// AdminCall calls through $happn.asAdmin.
func (d *dependor) AdminCall(h *happner.Happn, component, method, arg string) (string, error) {
	var s string
	err := h.AsAdmin().Exchange.Do(h.Ctx, happner.CallOptions{Component: component, Method: method, Arguments: []any{arg}}, &s)
	return s, err
}

// Listen subscribes to component1's events.
func (d *dependor) Listen(h *happner.Happn) error {
	_, err := h.Event.On(h.Ctx, "component1", "*", func(ev happner.Event) {
		var p struct{ From string }
		_ = ev.Decode(&p)
		d.mu.Lock()
		d.events = append(d.events, p.From)
		d.mu.Unlock()
	})
	return err
}

// Start is a start method.
func (d *dependor) Start() error { return nil }

func (d *dependor) got() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.events...)
}

func withDependor(c Config, d *dependor, deps string, t *testing.T) Config {
	if c.Cluster.ResponseTimeout == 0 {
		c.Cluster.ResponseTimeout = 5 * time.Second * slack() // fail fast rather than hang
	}
	if c.Modules == nil {
		c.Modules = map[string]happner.ModuleConfig{}
		c.Components = map[string]happner.ComponentConfig{}
	}
	c.Modules["dependor"] = happner.ModuleConfig{Instance: d}
	cc := happner.ComponentConfig{StartMethod: "start"}
	if deps != "" {
		cc.Dependencies = depsOf(t, deps)
	}
	c.Components["dependor"] = cc
	return c
}

// Components call remote components through $happn.exchange, $call and
// asAdmin (as happner-cluster's documentation shows), and receive
// the events of the versions they depend on (02, 05, 06).
func TestComponentsUseRemoteComponents(t *testing.T) {
	shared := newShared(t)
	d := &dependor{}
	a := withDependor(testConfig("dep-comp", "svc", map[string]int{"svc": 2}, shared), d,
		`{"component1": {"version": "^2.0.0", "methods": {"method1": {}}}}`, t)
	a = withComponents(a, map[string]string{"component1": "1.2.0", "local": "1.0.0"})
	b := withComponents(testConfig("dep-comp", "svc", map[string]int{"svc": 2}, shared), map[string]string{"component1": "2.0.0", "other": "1.0.0"})
	c := withComponents(testConfig("dep-comp", "svc", map[string]int{"svc": 2}, shared), map[string]string{"component1": "2.0.0"})
	ms := startAll(t, a, b, c)
	awaitImplementors(t, ms[0], 2)
	ctx := context.Background()
	x := ms[0].Mesh().Exchange()

	// the local 1.2.0 does not satisfy ^2.0.0: the remote ones run, in turn
	seen := map[string]int{}
	for range 4 {
		var s string
		if err := x.Call(ctx, "dependor", "callRemote", []any{"a"}, &s); err != nil {
			t.Fatal(err)
		}
		seen[s]++
	}
	if seen[ms[1].Name()+":a"] != 2 || seen[ms[2].Name()+":a"] != 2 {
		t.Fatalf("round robin from a component: %v", seen)
	}
	// $call to a discovered component, and to a local one
	var s string
	if err := x.Call(ctx, "dependor", "dollarCall", []any{"other", "method1", "b"}, &s); err != nil || s != ms[1].Name()+":b" {
		t.Fatalf("$call discovered: %q %v", s, err)
	}
	if err := x.Call(ctx, "dependor", "dollarCall", []any{"local", "method1", "c"}, &s); err != nil || s != ms[0].Name()+":c" {
		t.Fatalf("$call local: %q %v", s, err)
	}
	if err := x.Call(ctx, "dependor", "adminCall", []any{"other", "method1", "d"}, &s); err != nil || s != ms[1].Name()+":d" {
		t.Fatalf("asAdmin discovered: %q %v", s, err)
	}
	err := x.Call(ctx, "dependor", "dollarCall", []any{"other", "nope", "e"}, &s)
	if err == nil || !strings.Contains(err.Error(), "invalid endpoint options: [other.nope] method does not exist on the api") {
		t.Fatalf("$call unknown method: %v", err)
	}
	// the mesh's own exchange reaches discovered components too
	if err := x.Call(ctx, "other", "method1", []any{"f"}, &s); err != nil || s != ms[1].Name()+":f" {
		t.Fatalf("mesh exchange discovered: %q %v", s, err)
	}

	// events: the dependor gets component1 2.x events from the other
	// members, not the local 1.2.0 ones; emitLocal stays on its member
	if err := x.Call(ctx, "dependor", "listen", nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := m.Mesh().Exchange().Call(ctx, "component1", "fire", []any{"ev"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 3*time.Second, "2.x events", func() bool { return len(d.got()) == 2 })
	time.Sleep(150 * time.Millisecond)
	if got := d.got(); len(got) != 2 || slicesContains(got, ms[0].Name()) {
		t.Fatalf("events %v, want the two 2.0.0 members only", got)
	}
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// refused reports whether nothing listens at addr.
func portRefused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// Port of happner-cluster integration 20-cluster-startup-dependencies: a
// member whose component depends on a component of another member does
// not finish starting, and refuses clients, until that member arrives;
// intra-mesh dependencies count; a component created at run time waits
// the same way; ignoreDependenciesOnStartup skips the wait.
func Test20_StartupDependencies(t *testing.T) {
	shared := newShared(t)
	port := freePort(t)
	a := withDependor(testConfig("dep-20", "svc", nil, shared), &dependor{},
		`{"component1": {"version": "^2.0.0", "methods": {"method1": {}}}}`, t)
	a.Proxy.Port = port
	type created struct {
		m   *Member
		err error
	}
	done := make(chan created, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		m, err := Create(ctx, a)
		done <- created{m, err}
	}()
	time.Sleep(700 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("member started without its dependency: %v", r.err)
	default:
	}
	if !portRefused("127.0.0.1:" + itoa(port)) {
		t.Fatal("client port open before the dependencies exist")
	}
	b := startAll(t, withComponents(testConfig("dep-20", "svc", nil, shared), map[string]string{"component1": "2.0.0"}))
	arrived := time.Now()
	var ma *Member
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		ma = r.m
		t.Cleanup(func() { _ = ma.Stop(context.Background()) })
	case <-time.After(5 * time.Second):
		t.Fatal("member did not start once its dependency arrived")
	}
	if d := time.Since(arrived); d > 3*time.Second {
		t.Errorf("started %s after its dependency", d)
	}
	if portRefused("127.0.0.1:" + itoa(port)) {
		t.Error("client port closed after start")
	}
	var s string
	if err := ma.Mesh().Exchange().Call(context.Background(), "dependor", "callRemote", []any{"x"}, &s); err != nil || s != b[0].Name()+":x" {
		t.Fatalf("call after start: %q %v", s, err)
	}

	// intra-mesh dependency: starts at once
	intra := withDependor(testConfig("dep-20", "svc", nil, shared), &dependor{}, `{"component1": {"version": "^1.0.0", "methods": {"method1": {}}}}`, t)
	intra = withComponents(intra, map[string]string{"component1": "1.0.0"})
	startAll(t, intra)

	// ignoreDependenciesOnStartup
	ign := withDependor(testConfig("dep-20", "svc", nil, shared), &dependor{}, `{"nowhere": {"version": "^1.0.0", "methods": {"m": {}}}}`, t)
	ign.IgnoreDependenciesOnStartup = true
	startAll(t, ign)

	// a component created at run time waits for its dependencies
	ctx := context.Background()
	cc := happner.ComponentConfig{Dependencies: depsOf(t, `{"component3": {"version": "^1.0.0", "methods": {"method1": {}}}}`), StartMethod: "start"}
	errc := make(chan error, 1)
	go func() {
		errc <- ma.Mesh().CreateComponent(ctx, "late", happner.ModuleConfig{Instance: &dependor{}}, cc)
	}()
	time.Sleep(400 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("runtime component started without its dependency: %v", err)
	default:
	}
	if storedDescribes(t, ma, "late") {
		t.Error("runtime component published in the description before it started")
	}
	startAll(t, withComponents(testConfig("dep-20", "svc", nil, shared), map[string]string{"component3": "1.0.0"}))
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("runtime component did not start once its dependency arrived")
	}
	if !storedDescribes(t, ma, "late") {
		t.Error("runtime component not published in the description after it started")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// storedDescribes reports whether the member's published description
// (what clients build their api from) has component.
func storedDescribes(t *testing.T, m *Member, component string) bool {
	t.Helper()
	rec, err := m.own.Get(context.Background(), happner.DescriptionPath)
	if err != nil || rec == nil {
		t.Fatalf("reading the description: %v", err)
	}
	var d happner.Description
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		t.Fatal(err)
	}
	_, ok := d.Components[component]
	return ok
}

// Ports of happner-cluster integration 04 (components created and
// destroyed at run time never hide the cluster's), 05 (events between local
// components of a one-member cluster) and 06 (emitLocal stays local).
func Test04_05_06_LocalComponentsAndEvents(t *testing.T) {
	shared := newShared(t)
	d := &dependor{}
	a := withDependor(testConfig("dep-04", "svc", map[string]int{"svc": 1}, shared), d,
		`{"component1": {"version": "^2.0.0", "methods": {"method1": {}}}}`, t)
	b := withComponents(testConfig("dep-04", "svc", map[string]int{"svc": 1}, shared), map[string]string{"component1": "2.0.0"})
	ms := startAll(t, a, b)
	awaitImplementors(t, ms[0], 1)
	ctx := context.Background()
	x := ms[0].Mesh().Exchange()
	callFrom := func() string {
		t.Helper()
		var s string
		if err := x.Call(ctx, "dependor", "callRemote", []any{"x"}, &s); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(s, ":x")
	}
	// 04: a local component of the wrong version does not hide the remote
	// one; a compatible one is preferred; destroying it restores the remote
	if err := ms[0].Mesh().CreateComponent(ctx, "component1", happner.ModuleConfig{Instance: worker{}, Version: "1.0.0"}, happner.ComponentConfig{}); err != nil {
		t.Fatal(err)
	}
	if got := callFrom(); got != ms[1].Name() {
		t.Fatalf("with a local 1.0.0 the call went to %s", got)
	}
	if err := ms[0].Mesh().DestroyComponent(ctx, "component1"); err != nil {
		t.Fatal(err)
	}
	if err := ms[0].Mesh().CreateComponent(ctx, "component1", happner.ModuleConfig{Instance: worker{}, Version: "2.5.0"}, happner.ComponentConfig{}); err != nil {
		t.Fatal(err)
	}
	if got := callFrom(); got != ms[0].Name() {
		t.Fatalf("with a local 2.5.0 the call went to %s", got)
	}
	if err := ms[0].Mesh().DestroyComponent(ctx, "component1"); err != nil {
		t.Fatal(err)
	}
	if got := callFrom(); got != ms[1].Name() {
		t.Fatalf("after destroying the local one the call went to %s", got)
	}

	// 05/06: the dependor hears component1 events; emitLocal reaches only
	// subscribers on the emitting member
	if err := x.Call(ctx, "dependor", "listen", nil); err != nil {
		t.Fatal(err)
	}
	var remoteHeard []string
	var mu sync.Mutex
	if _, err := ms[1].On(ctx, "component1", "", "*", func(ev happner.Event) {
		mu.Lock()
		remoteHeard = append(remoteHeard, ev.Meta.Path)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := ms[1].Mesh().Exchange().Call(ctx, "component1", "fireLocal", []any{"local-only"}); err != nil {
		t.Fatal(err)
	}
	if err := ms[1].Mesh().Exchange().Call(ctx, "component1", "fire", []any{"everywhere"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(d.got()) == 1 && len(remoteHeard) == 2
	})
	time.Sleep(150 * time.Millisecond)
	if got := d.got(); len(got) != 1 {
		t.Errorf("the other member got %d events, want only the emit (not the emitLocal)", len(got))
	}
}
