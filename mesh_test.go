package happner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/meshclient"
)

// calc is a test module: several signatures, errors, events and data.
type calc struct {
	mu      sync.Mutex
	started bool
	stopped bool
	initArg string
}

func (c *calc) Add(a, b int) (int, error)                           { return a + b, nil }
func (c *calc) Mul(h *happner.Happn, a, b float64) (float64, error) { return a * b, nil }
func (c *calc) Divmod(a, b int) (int, int, error) {
	if b == 0 {
		return 0, 0, happner.NewError("DivideByZero", "cannot divide by zero").With("code", "E_DIV").With("dividend", a)
	}
	return a / b, a % b, nil
}
func (c *calc) Fail() error                                    { return errors.New("deliberate failure") }
func (c *calc) Nothing()                                       {}
func (c *calc) Boom() string                                   { panic("kaboom") }
func (c *calc) Record(r struct{ Name string }) (string, error) { return "recorded " + r.Name, nil }
func (c *calc) Slow(ms int) (string, error) {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return "slow done", nil
}
func (c *calc) WhoAmI(h *happner.Happn) (*happner.Origin, error) { return h.Origin, nil }
func (c *calc) Fire(h *happner.Happn, v int) (string, error) {
	if err := h.Emit("thing/happened", map[string]int{"v": v}); err != nil {
		return "", err
	}
	return "fired", nil
}
func (c *calc) Keep(h *happner.Happn, key string, v int) (int, error) {
	if _, err := h.Data.Set(h.Ctx, key, map[string]int{"v": v}); err != nil {
		return 0, err
	}
	res, err := h.Data.Get(h.Ctx, key)
	if err != nil {
		return 0, err
	}
	var got struct{ V int }
	if err := res.One().Decode(&got); err != nil {
		return 0, err
	}
	if res.One().Meta.Path != "/_data/calc/"+key {
		return 0, fmt.Errorf("data stored at %s", res.One().Meta.Path)
	}
	return got.V, nil
}
func (c *calc) Init(h *happner.Happn, arg string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.initArg = arg
	return nil
}
func (c *calc) Start() error { c.mu.Lock(); c.started = true; c.mu.Unlock(); return nil }
func (c *calc) Stop() error  { c.mu.Lock(); c.stopped = true; c.mu.Unlock(); return nil }

func (c *calc) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Version: "1.2.3", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"add":  {Parameters: []happner.Param{{Name: "a"}, {Name: "b"}}, Alias: "plus"},
		"mul":  {Parameters: []happner.Param{{Name: "a"}, {Name: "b"}}},
		"fire": {Parameters: []happner.Param{{Name: "v"}}},
	}}}
}

// caller calls calc through its $happn exchange (local, no wire).
type caller struct{}

func (caller) SumTwice(h *happner.Happn, a, b int) (int, error) {
	s, err := happner.Call[int](h.Ctx, h.Exchange, "calc", "add", a, b)
	if err != nil {
		return 0, err
	}
	return s * 2, nil
}

func (caller) CallMissing(h *happner.Happn) error {
	return h.Exchange.Do(h.Ctx, happner.CallOptions{Component: "nope", Method: "x"})
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig(c *calc) happner.Config {
	reg := happner.NewRegistry()
	reg.RegisterValue("calc", c)
	reg.RegisterValue("caller", caller{})
	init := json.RawMessage(`"hello"`)
	return happner.Config{
		Name:     "testMesh",
		Registry: reg,
		Logger:   quietLogger(),
		Happn:    happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
		Modules:  map[string]happner.ModuleConfig{"calc": {}, "caller": {}},
		Components: map[string]happner.ComponentConfig{
			"calc": {InitMethod: "init", StartMethod: "start", StopMethod: "stop",
				Schema: happner.Schema{Methods: map[string]happner.MethodSchema{"init": {Parameters: []happner.Param{{Name: "arg", Value: init}}}}}},
			"caller": {},
		},
	}
}

func startMesh(t *testing.T, cfg happner.Config) *happner.Mesh {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := happner.Create(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Stop(ctx)
	})
	return m
}

func login(t *testing.T, m *happner.Mesh, opts meshclient.Options) *meshclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts.URL = "http://" + m.Addr()
	mc, err := meshclient.Login(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Close() })
	return mc
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestLifecycleAndLocalCalls(t *testing.T) {
	c := &calc{}
	m := startMesh(t, testConfig(c))
	c.mu.Lock()
	if c.initArg != "hello" || !c.started {
		t.Fatalf("init arg %q, started %v", c.initArg, c.started)
	}
	c.mu.Unlock()
	ctx := tctx(t)
	x := m.Exchange()
	got, err := happner.Call[int](ctx, x, "caller", "sumTwice", 2, 3)
	if err != nil || got != 10 {
		t.Fatalf("sumTwice = %v, %v", got, err)
	}
	var q, r int
	if err := x.Call(ctx, "calc", "divmod", []any{7, 2}, &q, &r); err != nil || q != 3 || r != 1 {
		t.Fatalf("divmod = %d %d %v", q, r, err)
	}
	err = x.Call(ctx, "calc", "divmod", []any{7, 0})
	var he *happner.Error
	if !errors.As(err, &he) || he.Name != "DivideByZero" || he.Fields["code"] != "E_DIV" {
		t.Fatalf("divmod by zero: %#v", err)
	}
	err = x.Call(ctx, "caller", "callMissing", nil)
	if err == nil || err.Error() != "invalid endpoint options: [nope] component does not exist on the api" {
		t.Fatalf("missing component: %v", err)
	}
	err = x.Call(ctx, "calc", "nope", nil)
	if err == nil || !strings.Contains(err.Error(), "invalid endpoint options: [calc.nope] method does not exist on the api") {
		t.Fatalf("missing method: %v", err)
	}
	if v, ok := x.Version("calc"); !ok || v != "1.2.3" {
		t.Fatalf("version %q", v)
	}
	var who happner.Origin
	if err := x.Call(ctx, "calc", "whoAmI", nil, &who); err != nil || who.ID == "" {
		t.Fatalf("local origin: %+v %v", who, err)
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		t.Fatal("stop method not called")
	}
}

func TestDescription(t *testing.T) {
	m := startMesh(t, testConfig(&calc{}))
	mc := login(t, m, meshclient.Options{})
	d := mc.Description()
	if d.Name != "testMesh" || d.Initializing || d.SetOptions.Timeout != 10000 || !d.SetOptions.NoStore {
		t.Fatalf("description header: %+v", d)
	}
	cd := d.Components["calc"]
	if cd == nil || cd.Version != "1.2.3" {
		t.Fatalf("calc description: %+v", cd)
	}
	b, _ := json.Marshal(cd.Methods["add"])
	if string(b) != `{"isAsyncMethod":true,"parameters":[{"name":"a"},{"name":"b"}],"alias":"plus"}` {
		t.Fatalf("add: %s", b)
	}
	b, _ = json.Marshal(cd.Methods["divmod"])
	if string(b) != `{"isAsyncMethod":true,"parameters":[{"name":"arg0"},{"name":"arg1"}]}` {
		t.Fatalf("divmod: %s", b)
	}
	if cd.Methods["happnerSchema"] != nil || cd.Methods["record"] == nil {
		t.Fatalf("methods: %v", cd.Methods)
	}
	if d.Components["api"] == nil || d.Components["caller"] == nil {
		t.Fatal("api or caller component missing")
	}
	// The raw records, as the npm clients read them.
	res, err := mc.Data().Get(tctx(t), "/mesh/schema/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg happner.MeshConfigRecord
	if err := res.One().Decode(&cfg); err != nil || cfg.Name != "testMesh" || cfg.Version != happner.Version || cfg.Happn.Port == 0 || cfg.Happn.Secure {
		t.Fatalf("config record %+v %v", cfg, err)
	}
}

func TestRemoteCalls(t *testing.T) {
	m := startMesh(t, testConfig(&calc{}))
	mc := login(t, m, meshclient.Options{})
	ctx := tctx(t)
	var sum int
	if err := mc.Call(ctx, "calc", "add", []any{1, 2}, &sum); err != nil || sum != 3 {
		t.Fatalf("add = %d %v", sum, err)
	}
	if err := mc.Call(ctx, "calc", "plus", []any{4, 5}, &sum); err != nil || sum != 9 {
		t.Fatalf("alias plus = %d %v", sum, err)
	}
	var q, r int
	if err := mc.Call(ctx, "calc", "divmod", []any{9, 4}, &q, &r); err != nil || q != 2 || r != 1 {
		t.Fatalf("divmod = %d %d %v", q, r, err)
	}
	res, err := mc.Results(ctx, "calc", "nothing")
	if err != nil || len(res) != 0 {
		t.Fatalf("nothing = %s %v", res, err)
	}
	var rec string
	if err := mc.Call(ctx, "calc", "record", []any{map[string]string{"Name": "x"}}, &rec); err != nil || rec != "recorded x" {
		t.Fatalf("record = %q %v", rec, err)
	}
	err = mc.Call(ctx, "calc", "divmod", []any{1, 0})
	var he *happner.Error
	if !errors.As(err, &he) || he.Name != "DivideByZero" || he.Message != "cannot divide by zero" || he.Fields["code"] != "E_DIV" || he.Fields["dividend"] != float64(1) {
		t.Fatalf("custom error: %#v", err)
	}
	err = mc.Call(ctx, "calc", "fail", nil)
	if err == nil || err.Error() != "deliberate failure" {
		t.Fatalf("fail: %v", err)
	}
	err = mc.Call(ctx, "calc", "boom", nil)
	if err == nil || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("panic: %v", err)
	}
	var who happner.Origin
	if err := mc.Call(ctx, "calc", "whoAmI", nil, &who); err != nil || who.ID != mc.Data().Session().ID {
		t.Fatalf("origin %+v, want session %s (%v)", who, mc.Data().Session().ID, err)
	}
	var twice int
	if err := mc.Call(ctx, "caller", "sumTwice", []any{1, 1}, &twice); err != nil || twice != 4 {
		t.Fatalf("sumTwice %d %v", twice, err)
	}
	if err := mc.Call(ctx, "nope", "x", nil); err == nil || !strings.Contains(err.Error(), "[nope] component does not exist on the api") {
		t.Fatalf("unknown component: %v", err)
	}
	var api string
	if err := mc.Call(ctx, "api", "test", []any{"hi"}, &api); err != nil || api != "hi tested ok" {
		t.Fatalf("api.test %q %v", api, err)
	}
}

// rawCall sends a request as the npm happner-client does and returns the
// reply payload.
func rawCall(t *testing.T, hc *client.Client, path string, msg map[string]any) string {
	t.Helper()
	ctx := tctx(t)
	sid := hc.Session().ID
	got := make(chan string, 1)
	if _, err := hc.On(ctx, "/_exchange/responses/"+sid+"/*", client.OnOptions{EventType: "set"}, func(ev client.Event) {
		got <- ev.Meta.Channel + " " + string(ev.Data)
	}); err != nil {
		t.Fatal(err)
	}
	msg["callbackAddress"] = "/_exchange/responses/" + sid + "/testMesh/x/y/1"
	msg["origin"] = map[string]string{"id": sid}
	if _, err := hc.Set(ctx, path, msg, client.NoStore(), client.With("noCluster", true)); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		want := "/SET@/_exchange/responses/" + sid + "/* "
		if !strings.HasPrefix(s, want) {
			t.Fatalf("reply channel: %s", s)
		}
		return strings.TrimPrefix(s, want)
	case <-ctx.Done():
		t.Fatal("no reply")
	}
	return ""
}

// The wire as happner-client sees it on an insecure mesh: the 6-segment
// response subscription, status ok/error/failed, the api catch-all.
func TestWireReplies(t *testing.T) {
	m := startMesh(t, testConfig(&calc{}))
	ctx := tctx(t)
	hc, err := client.New(ctx, client.Options{URL: "http://" + m.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	cases := []struct {
		path string
		msg  map[string]any
		want string
	}{
		{"/_exchange/requests/testMesh/calc/add", map[string]any{"args": []int{1, 2}, "version": "*"}, `{"status":"ok","args":[null,3]}`},
		{"/_exchange/requests/testMesh/calc/add", map[string]any{"args": []int{1, 2}, "version": "^1.0.0"}, `{"status":"ok","args":[null,3]}`},
		{"/_exchange/requests/testMesh/calc/fail", map[string]any{"args": []int{}}, `{"status":"error","args":[{"message":"deliberate failure","name":"Error"}]}`},
		{"/_exchange/requests/testMesh/calc/divmod", map[string]any{"args": []int{5, 0}}, `{"status":"error","args":[{"code":"E_DIV","dividend":5,"message":"cannot divide by zero","name":"DivideByZero"}]}`},
		{"/_exchange/requests/testMesh/calc/nothing", map[string]any{"args": []int{}}, `{"status":"ok","args":[null]}`},
		{"/_exchange/requests/testMesh/calc/missing", map[string]any{"args": []int{}}, `{"status":"failed","args":[{"message":"Call to unconfigured method [calc.missing()]","name":"Error"}]}`},
		{"/_exchange/requests/testMesh/calc/add", map[string]any{"args": []int{1, 2}, "version": "^2.0.0"}, `{"status":"failed","args":[{"message":"Call to unconfigured method [calc.add]: request version [^2.0.0] does not match component version [1.2.3]","name":"Error"}]}`},
		{"/_exchange/requests/testMesh/calc/add", map[string]any{"args": "1,2"}, `{"status":"failed","args":[{"message":"Invalid request: args must be an array","name":"Error"}]}`},
		{"/_exchange/requests/testMesh/calc/add", map[string]any{"args": []any{"x", 2}}, `{"status":"failed","args":[{"message":"bad argument 0 of add: json: cannot unmarshal string into Go value of type int","name":"Error"}]}`},
		{"/_exchange/requests/testMesh/calc/add", map[string]any{}, `{"status":"ok","args":[null,0]}`},
		{"/_exchange/requests/testMesh/ghost/walk", map[string]any{"args": []int{}}, `{"args":[{"message":"Call to unconfigured component: [ghost.walk]","name":"bad endpoint"}]}`},
	}
	for _, tc := range cases {
		if got := rawCall(t, hc, tc.path, tc.msg); got != tc.want {
			t.Errorf("%s %v:\n got %s\nwant %s", tc.path, tc.msg, got, tc.want)
		}
		if err := hc.OffPath(ctx, "/_exchange/responses/*"); err != nil {
			t.Fatal(err)
		}
	}
}

// Another session's responses cannot be subscribed to.
func TestResponsesArePrivate(t *testing.T) {
	m := startMesh(t, testConfig(&calc{}))
	ctx := tctx(t)
	spy, err := client.New(ctx, client.Options{URL: "http://" + m.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	leaked := make(chan string, 1)
	if _, err := spy.On(ctx, "/_exchange/responses/*", client.OnOptions{}, func(ev client.Event) { leaked <- ev.Meta.Path }); err != nil {
		t.Fatalf("refused subscription must still succeed: %v", err)
	}
	mc := login(t, m, meshclient.Options{})
	var sum int
	if err := mc.Call(ctx, "calc", "add", []any{1, 2}, &sum); err != nil || sum != 3 {
		t.Fatal(sum, err)
	}
	select {
	case p := <-leaked:
		t.Fatalf("spy saw %s", p)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestTimeout(t *testing.T) {
	cfg := testConfig(&calc{})
	cfg.SetOptions.Timeout = 300
	m := startMesh(t, cfg)
	mc := login(t, m, meshclient.Options{})
	ctx := tctx(t)
	start := time.Now()
	err := mc.Call(ctx, "calc", "slow", []any{1000})
	if !errors.Is(err, happner.ErrRequestTimedOut) || err.Error() != "Request timed out" {
		t.Fatalf("slow: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 900*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
	var s string
	if err := mc.Call(ctx, "calc", "slow", []any{10}, &s); err != nil || s != "slow done" {
		t.Fatalf("fast slow: %q %v", s, err)
	}
}

func TestEvents(t *testing.T) {
	m := startMesh(t, testConfig(&calc{}))
	mc := login(t, m, meshclient.Options{})
	ctx := tctx(t)
	got := make(chan happner.Event, 10)
	id, err := mc.On(ctx, "calc", "thing/*", func(ev happner.Event) { got <- ev })
	if err != nil {
		t.Fatal(err)
	}
	once := make(chan happner.Event, 10)
	if _, err := mc.Once(ctx, "calc", "*", func(ev happner.Event) { once <- ev }); err != nil {
		t.Fatal(err)
	}
	local := make(chan happner.Event, 10)
	if _, err := m.Event().On(ctx, "calc", "thing/happened", func(ev happner.Event) { local <- ev }); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		var s string
		if err := mc.Call(ctx, "calc", "fire", []any{i}, &s); err != nil || s != "fired" {
			t.Fatal(s, err)
		}
	}
	for i := 1; i <= 2; i++ {
		for _, ch := range []chan happner.Event{got, local} {
			select {
			case ev := <-ch:
				var v struct{ V int }
				_ = ev.Decode(&v)
				if v.V != i || ev.Meta.Path != "/_events/testMesh/calc/thing/happened" || string(ev.Meta.Fields["componentVersion"]) != `"1.2.3"` {
					t.Fatalf("event %d: %s %+v", i, ev.Data, ev.Meta)
				}
			case <-ctx.Done():
				t.Fatal("event missing")
			}
		}
	}
	if len(once) != 1 {
		t.Fatalf("once got %d events", len(once))
	}
	if err := mc.Off(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := mc.Call(ctx, "calc", "fire", []any{3}); err != nil {
		t.Fatal(err)
	}
	<-local
	select {
	case ev := <-got:
		t.Fatalf("event after off: %s", ev.Data)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestComponentData(t *testing.T) {
	m := startMesh(t, testConfig(&calc{}))
	ctx := tctx(t)
	var v int
	if err := m.Exchange().Call(ctx, "calc", "keep", []any{"a/b", 7}, &v); err != nil || v != 7 {
		t.Fatalf("keep %d %v", v, err)
	}
}

func TestCreateDestroyComponent(t *testing.T) {
	m := startMesh(t, testConfig(&calc{}))
	var mu sync.Mutex
	var created, destroyed []string
	changed := make(chan struct{}, 10)
	mc := login(t, m, meshclient.Options{OnComponents: func(c, d []*happner.ComponentDescription) {
		mu.Lock()
		for _, x := range c {
			created = append(created, x.Name)
		}
		for _, x := range d {
			destroyed = append(destroyed, x.Name)
		}
		mu.Unlock()
		changed <- struct{}{}
	}})
	ctx := tctx(t)
	<-changed // the initial list
	c2 := &calc{}
	if err := m.CreateComponent(ctx, "calc2", happner.ModuleConfig{Instance: c2, Version: "2.0.0"}, happner.ComponentConfig{StartMethod: "start"}); err != nil {
		t.Fatal(err)
	}
	<-changed
	c2.mu.Lock()
	if !c2.started {
		t.Fatal("start method of a created component not run")
	}
	c2.mu.Unlock()
	var sum int
	if err := mc.Call(ctx, "calc2", "add", []any{2, 2}, &sum); err != nil || sum != 4 {
		t.Fatal(sum, err)
	}
	if v := mc.Description().Components["calc2"].Version; v != "2.0.0" {
		t.Fatalf("version %s", v)
	}
	if err := m.DestroyComponent(ctx, "calc2"); err != nil {
		t.Fatal(err)
	}
	<-changed
	mu.Lock()
	defer mu.Unlock()
	if created[len(created)-1] != "calc2" || len(destroyed) != 1 || destroyed[0] != "calc2" {
		t.Fatalf("created %v destroyed %v", created, destroyed)
	}
	if err := mc.Call(ctx, "calc2", "add", []any{2, 2}); err == nil {
		t.Fatal("call to a destroyed component succeeded")
	}
}

func TestParseConfig(t *testing.T) {
	yml := `
name: cfgMesh
domain: cfgDomain
happn:
  port: 0
  host: 127.0.0.1
  setOptions:
    timeout: 2500
modules:
  adder:
    path: calcFactory
    construct:
      parameters:
        - name: base
          value: 100
components:
  zeta:
    module: adder
    schema:
      exclusive: true
      methods:
        add:
          parameters: [{name: a}, {name: b}]
  alpha:
    module: adder
`
	cfg, err := happner.ParseConfig([]byte(yml), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "cfgMesh" || cfg.Domain != "cfgDomain" || cfg.SetOptions.Timeout != 2500 || cfg.Happn.Port != 0 ||
		strings.Join(cfg.ComponentOrder, ",") != "zeta,alpha" || !cfg.Components["zeta"].Schema.Exclusive {
		t.Fatalf("parsed %+v", cfg)
	}
	reg := happner.NewRegistry()
	var base int
	reg.Register("calcFactory", func(params []json.RawMessage) (any, error) {
		if len(params) != 1 {
			return nil, fmt.Errorf("want 1 parameter, got %d", len(params))
		}
		if err := json.Unmarshal(params[0], &base); err != nil {
			return nil, err
		}
		return &calc{}, nil
	})
	cfg.Registry, cfg.Logger = reg, quietLogger()
	cfg.Happn.Logger = quietLogger()
	m := startMesh(t, cfg)
	if base != 100 {
		t.Fatalf("construct parameter %d", base)
	}
	d := m.Describe()
	if d.Name != "cfgDomain" || len(d.Components["zeta"].Methods) != 1 || len(d.Components["alpha"].Methods) < 5 {
		t.Fatalf("description %+v", d)
	}
	mc := login(t, m, meshclient.Options{})
	var sum int
	if err := mc.Call(tctx(t), "zeta", "add", []any{1, 2}, &sum); err != nil || sum != 3 {
		t.Fatal(sum, err)
	}
	if _, err := happner.ParseConfig([]byte(`{"happn":{"dbfile":"x"}}`), "json"); err == nil {
		t.Fatal("dbfile accepted")
	}
	if _, err := happner.ParseConfig([]byte(`{"components": 3}`), "json"); err == nil {
		t.Fatal("bad components accepted")
	}
}

func TestCreateErrors(t *testing.T) {
	ctx := tctx(t)
	cfg := happner.Config{Logger: quietLogger(), Happn: happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
		Components: map[string]happner.ComponentConfig{"ghost": {}}}
	if _, err := happner.Create(ctx, cfg); err == nil || !strings.Contains(err.Error(), `nothing registered under path "ghost"`) {
		t.Fatalf("missing module: %v", err)
	}
	reg := happner.NewRegistry()
	reg.Register("bad", func([]json.RawMessage) (any, error) { return nil, errors.New("no way") })
	cfg.Registry = reg
	cfg.Components = map[string]happner.ComponentConfig{"bad": {}}
	if _, err := happner.Create(ctx, cfg); err == nil || !strings.Contains(err.Error(), "Failed to construct module: bad: no way") {
		t.Fatalf("failing factory: %v", err)
	}
	reg.RegisterValue("calc", &calc{})
	cfg.Components = map[string]happner.ComponentConfig{"calc": {StartMethod: "fail"}}
	if _, err := happner.Create(ctx, cfg); err == nil || !strings.Contains(err.Error(), "deliberate failure") {
		t.Fatalf("failing start: %v", err)
	}
	cfg.Components = map[string]happner.ComponentConfig{"calc": {Schema: happner.Schema{Methods: map[string]happner.MethodSchema{"absent": {}}}}}
	if _, err := happner.Create(ctx, cfg); err == nil || !strings.Contains(err.Error(), `"absent"`) {
		t.Fatalf("schema for a missing method: %v", err)
	}
}

func meshClientOptions() meshclient.Options { return meshclient.Options{} }
