package browsertest

import (
	"context"
	"reflect"
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
		Merged   map[string]any   `json:"merged"`
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
		window.metaEvents = [];
		await client.on('/merged/*', {event_type: 'set', meta: {mine: 1}}, (data, meta) => metaEvents.push({data, custom: meta.custom}));
		await client.set('/merged/a', {x: 1, y: 1});
		const merged = await client.set('/merged/a', {y: 2}, {merge: true, meta: {custom: 'hello'}});
		return {set, get, missing, filtered: filtered.map((i) => ({celsius: i.celsius, path: i._meta.path})), count, status: client.status,
			merged: {x: merged.x, y: merged.y}};
	`, &got)
	if got.Merged["x"] != 1.0 || got.Merged["y"] != 2.0 {
		t.Errorf("merge set returned %v", got.Merged)
	}
	p.waitFor("the merge event", `return metaEvents.length === 2;`)
	var metaEvents []map[string]any
	p.eval(`return metaEvents;`, &metaEvents)
	if last := metaEvents[1]; last["custom"] != "hello" || last["data"].(map[string]any)["x"] != 1.0 {
		t.Errorf("merge event with publisher meta: %v", last)
	}
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

func TestBrowserClientSubscriptions(t *testing.T) {
	srv := startHappn(t, happn.Config{})
	p := openPage(t, "http://"+srv.Addr()+"/page")
	var got map[string]any
	p.eval(`
		const client = await new Promise((resolve, reject) =>
			HappnClient.create({config: {port: Number(location.port)}}, (e, c) => (e ? reject(e) : resolve(c))));
		const all = [], once = [], removes = [], deep = [];
		const allId = await client.on('/rooms/*', (data, meta) => all.push(meta.action));
		await client.once('/rooms/*', {event_type: 'set'}, (data) => once.push(data.n));
		await client.on('/rooms/*', {event_type: 'remove'}, (data, meta) => removes.push([data.removed, meta.path]));
		await client.on('/deep/**', (data, meta) => deep.push(meta.path));
		await client.set('/rooms/a', {n: 1});
		await client.set('/rooms/b', {n: 2});
		const removed = await client.remove('/rooms/a');
		await client.set('/deep/x/y/z', {n: 3});
		const initial = await new Promise((resolve, reject) =>
			client.on('/rooms/*', {initialCallback: true}, () => {}, (e, id, items) => (e ? reject(e) : resolve(items.map((i) => i._meta.path)))));
		await new Promise((r) => setTimeout(r, 100));
		await client.off(allId);
		await client.offPath('/deep/**');
		await client.set('/rooms/c', {n: 4});
		await client.set('/deep/q', {n: 5});
		await new Promise((r) => setTimeout(r, 150));
		const badPath = await client.set('/bad/*', {}).catch((e) => e.message);
		const offString = await client.off('/rooms/*').catch((e) => e.message);
		await client.disconnect();
		const afterDisconnect = await client.get('/rooms/b').catch((e) => e.message);
		return {all, once, removes, deep, removed: removed.removed, initial, badPath, offString, afterDisconnect};
	`, &got)
	want := map[string]any{
		"all":             []any{"/SET@/rooms/a", "/SET@/rooms/b", "/REMOVE@/rooms/a"},
		"once":            []any{1.0},
		"removes":         []any{[]any{1.0, "/rooms/a"}},
		"deep":            []any{"/deep/x/y/z"},
		"removed":         1.0,
		"initial":         []any{"/rooms/b"},
		"badPath":         "Bad path, if the action is 'set' the path cannot contain the * wildcard character",
		"offString":       "handle must be a number",
		"afterDisconnect": "client is disconnected",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// The client answers the server's primus heartbeat: with a ping every
// 250 ms a client that did not answer would be dropped after two missed
// pongs; this one keeps its session and never reconnects.
func TestBrowserClientAnswersHeartbeat(t *testing.T) {
	srv := startHappn(t, happn.Config{PingInterval: 250 * time.Millisecond})
	p := openPage(t, "http://"+srv.Addr()+"/page")
	p.eval(`
		window.client = await HappnClient.create({config: {port: Number(location.port)}});
		window.pings = 0;
		const ws = client.socket;
		ws.addEventListener('message', (ev) => { if (String(ev.data).indexOf('primus::ping::') >= 0) pings++; });
		window.reconnects = 0;
		client.onEvent('reconnect-scheduled', () => reconnects++);
		window.firstSession = client.session.id;
	`, nil)
	p.waitFor("six pings", `return pings >= 6;`)
	var got map[string]any
	p.eval(`
		await client.set('/still/here', {ok: true});
		return {reconnects, same: client.session.id === firstSession, status: client.status};
	`, &got)
	if !reflect.DeepEqual(got, map[string]any{"reconnects": 0.0, "same": true, "status": 1.0}) {
		t.Errorf("after six heartbeats: %v", got)
	}
	if n := srv.Sessions(); n != 1 {
		t.Errorf("server has %d sessions, want 1", n)
	}
}

// A secure happn server serves /browser_client without a token; the
// client logs in with a password, and a session the server ends reports
// session-ended and does not reconnect.
func TestBrowserClientSecureSessionEnded(t *testing.T) {
	srv := startHappn(t, happn.Config{Secure: true, AdminPassword: "secret"})
	p := openPage(t, "http://"+srv.Addr()+"/page")
	var denied map[string]any
	p.eval(`
		const e = await HappnClient.create({config: {port: Number(location.port), username: '_ADMIN', password: 'nope'}}).catch((e) => e);
		const none = await HappnClient.create({config: {port: Number(location.port)}}).catch((e) => e);
		return {name: e.name, code: e.code, none: none.message};
	`, &denied)
	if !reflect.DeepEqual(denied, map[string]any{"name": "AccessDenied", "code": 401.0, "none": "happn server is secure, please specify a username or token"}) {
		t.Errorf("refused logins: %v", denied)
	}
	var sessionID string
	p.eval(`
		window.client = await HappnClient.create({config: {port: Number(location.port), username: '_ADMIN', password: 'secret'}});
		window.ended = [];
		client.onEvent('session-ended', (d) => ended.push('session-ended:' + d.reason));
		client.onEvent('connection-ended', () => ended.push('connection-ended'));
		client.onEvent('reconnect-scheduled', () => ended.push('reconnect-scheduled'));
		await client.set('/secure/x', {y: 1});
		return client.session.id;
	`, &sessionID)
	if !srv.Disconnect(sessionID, "test-reason") {
		t.Fatal("the server does not know the browser's session")
	}
	p.waitFor("the session to end", `return ended.length >= 2;`)
	var ended []string
	p.eval(`await new Promise((r) => setTimeout(r, 200)); return ended;`, &ended)
	if !reflect.DeepEqual(ended, []string{"session-ended:test-reason", "connection-ended"}) {
		t.Errorf("events %v, want session-ended then connection-ended and no reconnect", ended)
	}
}
