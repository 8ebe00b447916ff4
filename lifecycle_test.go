package happner_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

// recorder records lifecycle calls of the components that share it.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, s)
}

func (r *recorder) Init(h *happner.Happn) error  { r.add("init " + h.Name); return nil }
func (r *recorder) Start(h *happner.Happn) error { r.add("start " + h.Name); return nil }
func (r *recorder) Stop(h *happner.Happn) error  { r.add("stop " + h.Name); return nil }
func (r *recorder) Shutdown(h *happner.Happn) error {
	r.add("shutdown " + h.Name)
	return nil
}
func (r *recorder) Sleep(ms int) error { time.Sleep(time.Duration(ms) * time.Millisecond); return nil }

func lifecycleConfig(r *recorder, names ...string) happner.Config {
	cfg := happner.Config{
		Name: "life", Logger: quietLogger(), Happn: happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
		Modules: map[string]happner.ModuleConfig{"rec": {Instance: r}}, Components: map[string]happner.ComponentConfig{},
		ComponentOrder: names,
	}
	for _, n := range names {
		cfg.Components[n] = happner.ComponentConfig{Module: "rec", InitMethod: "init", StartMethod: "start", StopMethod: "stop", ShutdownMethod: "shutdown"}
	}
	return cfg
}

// Init methods run in component order, then start methods; stop, then
// shutdown methods, at Stop.
func TestLifecycleOrder(t *testing.T) {
	r := &recorder{}
	m := startMesh(t, lifecycleConfig(r, "zz", "aa", "mm"))
	if err := m.Stop(tctx(t)); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(r.log, ",")
	want := "init zz,init aa,init mm,start zz,start aa,start mm,stop zz,stop aa,stop mm,shutdown zz,shutdown aa,shutdown mm"
	if got != want {
		t.Fatalf("order\n got %s\nwant %s", got, want)
	}
}

func TestStartTimeout(t *testing.T) {
	r := &recorder{}
	cfg := lifecycleConfig(r, "slow")
	c := cfg.Components["slow"]
	c.StartMethod = "sleep"
	c.Schema.Methods = map[string]happner.MethodSchema{"sleep": {Parameters: []happner.Param{{Name: "ms", Value: json.RawMessage("2000")}}}}
	cfg.Components["slow"] = c
	cfg.StartTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err := happner.Create(tctx(t), cfg)
	if err == nil || !strings.Contains(err.Error(), "startMethod 'slow.sleep' did not respond") {
		t.Fatalf("start timeout: %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("Create returned after %v", d)
	}
}

func TestDeferListen(t *testing.T) {
	cfg := lifecycleConfig(&recorder{}, "a")
	cfg.DeferListen = true
	m := startMesh(t, cfg)
	if m.Addr() != "" {
		t.Fatalf("listening before Listen: %s", m.Addr())
	}
	if err := m.Listen(tctx(t)); err != nil {
		t.Fatal(err)
	}
	if m.Addr() == "" {
		t.Fatal("not listening after Listen")
	}
	login(t, m, meshClientOptions())

	m2 := startMesh(t, lifecycleConfig(&recorder{}, "b"))
	if err := m2.Listen(tctx(t)); err == nil || !strings.Contains(err.Error(), "attempt to listen when deferListen is not enabled") {
		t.Fatalf("Listen without deferListen: %v", err)
	}
}

// With listenFirst the mesh accepts connections before its components
// exist; the description says initializing until they do.
func TestListenFirst(t *testing.T) {
	cfg := lifecycleConfig(&recorder{}, "a")
	cfg.ListenFirst = true
	m := startMesh(t, cfg)
	if m.Addr() == "" || m.Describe().Initializing {
		t.Fatalf("addr %q, description %+v", m.Addr(), m.Describe())
	}
}

// EmitLocal events reach subscribers like Emit, with noCluster; As and
// AsAdmin change the identity onward calls carry.
func TestEmitLocalAndIdentity(t *testing.T) {
	m := startMesh(t, testConfig(&calc{}))
	ctx := tctx(t)
	got := make(chan happner.Event, 1)
	if _, err := m.Event().On(ctx, "local", "*", func(ev happner.Event) { got <- ev }); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateComponent(ctx, "local", happner.ModuleConfig{Instance: &localEmitter{}}, happner.ComponentConfig{}); err != nil {
		t.Fatal(err)
	}
	var who happner.Origin
	if err := m.Exchange().Call(ctx, "local", "run", nil, &who); err != nil {
		t.Fatal(err)
	}
	if who.Username != "bob" || !who.Override {
		t.Fatalf("As origin: %+v", who)
	}
	select {
	case ev := <-got:
		if string(ev.Data) != `{"local":true}` || string(ev.Meta.Fields["componentVersion"]) != `"1.0.0"` {
			t.Fatalf("local event %s %v", ev.Data, ev.Meta.Fields)
		}
	case <-ctx.Done():
		t.Fatal("no local event")
	}
}

type localEmitter struct{}

func (localEmitter) Run(h *happner.Happn) (*happner.Origin, error) {
	if err := h.EmitLocal("x", map[string]bool{"local": true}); err != nil {
		return nil, err
	}
	var who happner.Origin
	err := h.As("bob").Exchange.Call(h.Ctx, "calc", "whoAmI", nil, &who)
	if err != nil {
		return nil, err
	}
	var admin happner.Origin
	if err := h.As("bob").AsAdmin().Exchange.Call(h.Ctx, "calc", "whoAmI", nil, &admin); err != nil {
		return nil, err
	}
	if admin.Username == "bob" || admin.ID == "" {
		return nil, happner.NewError("Error", "AsAdmin kept the user")
	}
	return &who, nil
}

// A stopMethod or shutdownMethod naming no method is refused at Create,
// as a bad startMethod is, not left to fail at Stop.
func TestMissingStopMethodIsRefusedAtCreate(t *testing.T) {
	for _, bad := range []func(*happner.ComponentConfig){
		func(c *happner.ComponentConfig) { c.StopMethod = "zz" },
		func(c *happner.ComponentConfig) { c.ShutdownMethod = "zz" },
	} {
		r := &recorder{}
		cfg := lifecycleConfig(r, "front")
		cc := cfg.Components["front"]
		bad(&cc)
		cfg.Components["front"] = cc
		m, err := happner.Create(tctx(t), cfg)
		if err == nil {
			_ = m.Stop(tctx(t))
			t.Fatal("created with a missing lifecycle method")
		}
		if !strings.Contains(err.Error(), `component "front" has no method "zz"`) || len(r.log) != 0 {
			t.Fatalf("err %v, calls %v", err, r.log)
		}
	}
}
