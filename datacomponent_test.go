package happner_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/meshclient"
	"github.com/happner-go/happner/store"
)

// keeper writes its component data where the test asks.
type keeper struct{}

func (keeper) Put(h *happner.Happn, path string, v int) error {
	_, err := h.Data.Set(h.Ctx, path, map[string]int{"v": v})
	return err
}

func (keeper) Read(h *happner.Happn, path string) (int, error) {
	res, err := h.Data.Get(h.Ctx, path)
	if err != nil {
		return 0, err
	}
	var got struct{ V int }
	if it := res.One(); it != nil {
		err = it.Decode(&got)
	}
	return got.V, err
}

func dataConfig(routes map[string]any) happner.Config {
	return happner.Config{
		Name: "dataMesh", Logger: quietLogger(),
		Happn: happn.Config{Host: "127.0.0.1", Logger: quietLogger(), Datastores: []store.DatastoreConfig{
			{Name: "main", IsDefault: true}, {Name: "archive"},
		}},
		Modules: map[string]happner.ModuleConfig{"keeper": {Instance: keeper{}}},
		Components: map[string]happner.ComponentConfig{
			"keeper": {Data: map[string]any{"routes": routes}},
			"data":   {},
		},
	}
}

func TestDataRoutes(t *testing.T) {
	m := startMesh(t, dataConfig(map[string]any{"old/*": "archive"}))
	ctx := tctx(t)
	x := m.Exchange()
	if err := x.Call(ctx, "keeper", "put", []any{"old/1", 7}); err != nil {
		t.Fatal(err)
	}
	if err := x.Call(ctx, "keeper", "put", []any{"new/1", 8}); err != nil {
		t.Fatal(err)
	}
	router, ok := m.Server().Store().(*store.Router)
	if !ok {
		t.Fatalf("store is %T", m.Server().Store())
	}
	for _, c := range []struct{ path, in, notIn string }{
		{"/_data/keeper/old/1", "archive", "main"},
		{"/_data/keeper/new/1", "main", "archive"},
	} {
		if rec, err := router.Datastore(c.in).Get(ctx, c.path); err != nil || rec == nil {
			t.Errorf("%s not in %s: %v", c.path, c.in, err)
		}
		if rec, err := router.Datastore(c.notIn).Get(ctx, c.path); err != nil || rec != nil {
			t.Errorf("%s also in %s: %v", c.path, c.notIn, err)
		}
	}
	// Reading through the router finds the routed record.
	if v, err := happner.Call[int](ctx, x, "keeper", "read", "old/1"); err != nil || v != 7 {
		t.Errorf("read old/1 = %d, %v", v, err)
	}
	if d := m.Describe().Components["keeper"].Data["routes"]; d == nil {
		t.Errorf("description lacks data routes: %v", m.Describe().Components["keeper"].Data)
	}
}

func TestBadDataRoute(t *testing.T) {
	_, err := happner.Create(tctx(t), dataConfig(map[string]any{"x/*": "nowhere"}))
	if err == nil || err.Error() != "bad component data route: missing datastore with the key [nowhere]" {
		t.Fatalf("error %v", err)
	}
	cfg := dataConfig(map[string]any{"x/*": "archive"})
	cfg.Happn.Datastores = nil // one store, no router
	_, err = happner.Create(tctx(t), cfg)
	if err == nil || err.Error() != "bad component data route: missing datastore with the key [archive]" {
		t.Fatalf("single store: error %v", err)
	}
}

func TestSharedDataComponent(t *testing.T) {
	m := startMesh(t, dataConfig(nil))
	ctx := tctx(t)
	mc := login(t, m, meshclient.Options{})
	d := m.Describe().Components["data"]
	if d == nil || d.Version != happner.Version {
		t.Fatalf("data component description %+v", d)
	}
	if ps := d.Methods["set"].Parameters; len(ps) != 3 || ps[0].Name != "path" || ps[1].Name != "data" {
		t.Errorf("set parameters %+v", ps)
	}

	events := make(chan happner.Event, 4)
	if _, err := mc.On(ctx, "data", "things/*", func(ev happner.Event) { events <- ev }); err != nil {
		t.Fatal(err)
	}
	var item map[string]any
	if err := mc.Call(ctx, "data", "set", []any{"things/a", map[string]int{"n": 1}}, &item); err != nil {
		t.Fatal(err)
	}
	meta, _ := item["_meta"].(map[string]any)
	if item["n"] != float64(1) || meta["path"] != "/_data/data/things/a" {
		t.Errorf("set returned %v", item)
	}
	select {
	case ev := <-events:
		if ev.Meta.Path != "/_events/dataMesh/data/things/a" || !strings.Contains(string(ev.Data), `"n":1`) {
			t.Errorf("event %s %s", ev.Meta.Path, ev.Data)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no data event")
	}
	// noPublish stores without the event.
	if err := mc.Call(ctx, "data", "set", []any{"things/b", map[string]int{"n": 2}, map[string]any{"noPublish": true}}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		t.Errorf("event for a noPublish set: %s", ev.Meta.Path)
	case <-time.After(200 * time.Millisecond):
	}

	if err := mc.Call(ctx, "data", "get", []any{"things/a"}, &item); err != nil || item["n"] != float64(1) {
		t.Errorf("get = %v, %v", item, err)
	}
	var list []map[string]any
	if err := mc.Call(ctx, "data", "get", []any{"things/*"}, &list); err != nil || len(list) != 2 {
		t.Errorf("get things/* = %v, %v", list, err)
	}
	var missing json.RawMessage
	if err := mc.Call(ctx, "data", "get", []any{"things/none"}, &missing); err != nil || string(missing) != "null" {
		t.Errorf("get missing = %s, %v", missing, err)
	}
	var paths []string
	if err := mc.Call(ctx, "data", "getPaths", []any{"things/*"}, &paths); err != nil || len(paths) != 2 {
		t.Errorf("getPaths = %v, %v", paths, err)
	}
	var count struct{ Value int }
	if err := mc.Call(ctx, "data", "count", []any{"things/*"}, &count); err != nil || count.Value != 2 {
		t.Errorf("count = %+v, %v", count, err)
	}
	var n float64
	if err := mc.Call(ctx, "data", "increment", []any{"counters/x", 5}, &n); err != nil || n != 5 {
		t.Errorf("increment by 5 = %v, %v", n, err)
	}
	if err := mc.Call(ctx, "data", "increment", []any{"counters/x", "hits"}, &n); err != nil || n != 1 {
		t.Errorf("increment hits = %v, %v", n, err)
	}
	var removed struct{ Removed int }
	if err := mc.Call(ctx, "data", "remove", []any{"things/*"}, &removed); err != nil || removed.Removed != 2 {
		t.Errorf("remove = %+v, %v", removed, err)
	}
	if err := mc.Call(ctx, "data", "set", []any{"", 1}); err == nil || !strings.Contains(err.Error(), "[bad path]") {
		t.Errorf("empty path: %v", err)
	}
}
