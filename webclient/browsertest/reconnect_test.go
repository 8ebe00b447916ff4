package browsertest

import (
	"context"
	"reflect"
	"testing"

	"github.com/happner-go/happner"
)

// The mesh restarts on the same port: the page's client reconnects, logs in
// again, re-subscribes its event subscriptions and calls methods again.
func TestMeshClientSurvivesRestart(t *testing.T) {
	port := freePort(t)
	m := startMesh(t, meshOptions{port: port})
	p := openPage(t, "http://"+m.Addr()+"/page")
	p.eval(`
		window.client = new MeshClient({reconnect: {min: 50, max: 400}});
		window.log = [];
		for (const e of ['connection/ended', 'reconnect/scheduled', 'reconnect/successful']) client.on(e, () => log.push(e));
		await client.login();
		window.events = [];
		await client.event.emitter.on('tick/*', (data) => events.push(data.v));
		await client.exchange.emitter.fire('tick/a', 1);
		window.deep = [];
		await client.data.on('/deep/**', {depth: 8}, (data, meta) => deep.push(meta.path));
		await client.data.set('/deep/1/2/3/4/5/6/7', {v: 1});
		window.firstSession = client.data.session.id;
	`, nil)
	p.waitFor("the first event", `return events.length === 1;`)
	p.waitFor("the first deep event", `return deep.length === 1;`)

	stopMesh(m)
	p.waitFor("the connection to end and a reconnect to be scheduled", `return log.includes('reconnect/scheduled');`)
	startMesh(t, meshOptions{port: port})
	p.waitFor("the reconnection", `return log.includes('reconnect/successful');`)

	var got map[string]any
	p.eval(`
		const add = await client.exchange.calc.add(40, 2);
		await client.exchange.emitter.fire('tick/b', 2);
		return {add, newSession: client.data.session.id !== firstSession, connected: client.isConnected(), first: log[0]};
	`, &got)
	want := map[string]any{"add": 42.0, "newSession": true, "connected": true, "first": "connection/ended"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after the restart: got %v, want %v", got, want)
	}
	p.waitFor("the event through the re-established subscription", `return events.length === 2 && events[1] === 2;`)
	// a "/**" subscription keeps its depth: the event 7 levels down still arrives
	p.eval(`await client.data.set('/deep/1/2/3/4/5/6/8', {v: 2}); await client.data.set('/deep/1/2', {v: 3});`, nil)
	p.waitFor("both deep events after the restart", `return deep.length === 3;`)
	var deep []string
	p.eval(`return deep;`, &deep)
	if want := []string{"/deep/1/2/3/4/5/6/7", "/deep/1/2/3/4/5/6/8", "/deep/1/2"}; !reflect.DeepEqual(deep, want) {
		t.Errorf("deep events %v, want %v", deep, want)
	}
}

// Components created and destroyed at run time reach the page's client as
// components/created and components/destroyed, and its exchange follows.
func TestMeshClientFollowsComponents(t *testing.T) {
	m := startMesh(t, meshOptions{})
	p := openPage(t, "http://"+m.Addr()+"/page")
	p.eval(`
		window.client = new MeshClient();
		await new Promise((resolve, reject) => client.login((e) => (e ? reject(e) : resolve())));
		window.created = [];
		window.destroyed = [];
		client.on('components/created', (list) => created.push(...list.map((c) => c.description.name + '@' + c.description.version)));
		client.on('components/destroyed', (list) => destroyed.push(...list.map((c) => c.description.name)));
	`, nil)
	ctx := context.Background()
	if err := m.CreateComponent(ctx, "calc2", happner.ModuleConfig{Instance: calc{}, Version: "2.0.0"}, happner.ComponentConfig{}); err != nil {
		t.Fatal(err)
	}
	p.waitFor("components/created", `return created.includes('calc2@2.0.0');`)
	var sum float64
	p.eval(`return await client.exchange.calc2.add(2, 2);`, &sum)
	if sum != 4 {
		t.Errorf("calc2.add(2, 2) = %v", sum)
	}
	if err := m.DestroyComponent(ctx, "calc2"); err != nil {
		t.Fatal(err)
	}
	p.waitFor("components/destroyed", `return destroyed.includes('calc2');`)
	var gone bool
	p.eval(`return client.exchange.calc2 === undefined && client.event.calc2 === undefined;`, &gone)
	if !gone {
		t.Error("calc2 is still on the client's API after it was destroyed")
	}
}
