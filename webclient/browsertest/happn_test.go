package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/webclient"
)

// startHappn starts a happn server on a free loopback port with a test page
// at /page that loads /browser_client; it stops with the test.
func startHappn(t *testing.T, cfg happn.Config) *happn.Server {
	t.Helper()
	cfg.Host = "127.0.0.1"
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	cfg.HTTPExclusions = append(cfg.HTTPExclusions, "/page")
	srv, err := happn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/page", pageHandler(webclient.BrowserClientPath))
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	return srv
}

func TestBrowserClientSetGetOn(t *testing.T) {
	srv := startHappn(t, happn.Config{})
	p := openPage(t, "http://"+srv.Addr()+"/page")

	var got struct {
		Set      map[string]any   `json:"set"`
		Get      map[string]any   `json:"get"`
		Missing  any              `json:"missing"`
		Filtered []map[string]any `json:"filtered"`
		Count    map[string]any   `json:"count"`
		Status   int              `json:"status"`
	}
	p.eval(`
		window.client = await HappnClient.create({config: {host: location.hostname, port: Number(location.port)}});
		window.events = [];
		await client.on('/sensors/*', {event_type: 'set'}, (data, meta) => events.push({data, path: meta.path, channel: meta.channel}));
		const set = await client.set('/sensors/t1', {celsius: 21, room: 'hall'});
		await client.set('/sensors/t2', {celsius: 17, room: 'attic'});
		await client.set('/sensors/t3', {celsius: 25, room: 'kitchen'});
		const get = await client.get('/sensors/t1');
		const missing = await client.get('/sensors/nothing');
		const filtered = await client.get('/sensors/*', {criteria: {celsius: {$gt: 20}}, options: {sort: {'celsius': -1}}});
		const count = await client.count('/sensors/*');
		return {set, get, missing, filtered: filtered.map((i) => ({celsius: i.celsius, path: i._meta.path})), count, status: client.status};
	`, &got)
	if got.Set["celsius"] != 21.0 || got.Set["_meta"].(map[string]any)["path"] != "/sensors/t1" {
		t.Errorf("set returned %v", got.Set)
	}
	if got.Get["room"] != "hall" {
		t.Errorf("get returned %v", got.Get)
	}
	if got.Missing != nil {
		t.Errorf("get of a missing path returned %v, want null", got.Missing)
	}
	if len(got.Filtered) != 2 || got.Filtered[0]["path"] != "/sensors/t3" || got.Filtered[1]["path"] != "/sensors/t1" {
		t.Errorf("criteria get returned %v, want t3 then t1", got.Filtered)
	}
	if got.Count["value"] != 3.0 {
		t.Errorf("count returned %v", got.Count)
	}
	if got.Status != 1 {
		t.Errorf("status %d, want 1 (ACTIVE)", got.Status)
	}
	p.waitFor("three set events", `return events.length === 3;`)
	var events []map[string]any
	p.eval(`return events;`, &events)
	if events[0]["path"] != "/sensors/t1" || events[0]["channel"] != "/SET@/sensors/*" || events[0]["data"].(map[string]any)["celsius"] != 21.0 {
		t.Errorf("first event %v", events[0])
	}
}
