package browsertest

import (
	"reflect"
	"testing"
)

func TestMeshClientInsecure(t *testing.T) {
	m := startMesh(t, meshOptions{})
	p := openPage(t, "http://"+m.Addr()+"/page")

	var got map[string]any
	p.eval(`
		if (window.MeshClient !== Happner.MeshClient) throw new Error('window.MeshClient is not Happner.MeshClient');
		window.client = new MeshClient();   // the page's host, port and protocol
		window.seen = {};
		for (const e of ['login/allow', 'components/created']) client.on(e, (d) => (seen[e] = d === undefined ? true : d));
		await client.login();
		const viaCallback = await new Promise((resolve, reject) =>
			client.exchange.calc.divmod(9, 4, (e, q, r) => (e ? reject(e) : resolve([q, r]))));
		return {
			name: client.info.name,
			version: client.exchange.calc.__version,
			add: await client.exchange.calc.add(2, 3),
			addOnDomain: await client.exchange.browserMesh.calc.add(4, 5),
			divmod: await client.exchange.calc.divmod(7, 2),
			viaCallback,
			call: await client.exchange.$call({component: 'calc', method: 'divmod', arguments: [11, 4]}),
			loginAllow: seen['login/allow'] === true,
			created: seen['components/created'].map((c) => c.description.name).sort(),
			connected: client.isConnected(),
			session: client.data.session.id.length > 0,
		};
	`, &got)
	want := map[string]any{
		"name": "browserMesh", "version": "1.2.0", "add": 5.0, "addOnDomain": 9.0,
		"divmod": []any{3.0, 1.0}, "viaCallback": []any{2.0, 1.0}, "call": []any{2.0, 3.0},
		"loginAllow": true, "connected": true, "session": true,
		"created": []any{"api", "calc", "emitter", "rest", "security"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}

	// errors: a plain one, and a custom one with its own fields
	var errs map[string]any
	p.eval(`
		const plain = await client.exchange.calc.fail().catch((e) => e);
		const custom = await client.exchange.calc.divmod(1, 0).catch((e) => e);
		const cb = await new Promise((resolve) => client.exchange.calc.divmod(2, 0, (e) => resolve(e)));
		return {
			plain: [plain instanceof Error, plain.toString()],
			custom: [custom instanceof Error, custom.name, custom.message, custom.code, custom.dividend, custom.toString()],
			cb: [cb.name, cb.dividend],
			unknown: (() => { try { client.exchange.$call({component: 'ghost', method: 'x'}); return 'no error'; } catch (e) { return e.message; } })(),
		};
	`, &errs)
	wantErrs := map[string]any{
		"plain":   []any{true, "Error: deliberate failure"},
		"custom":  []any{true, "DivideByZero", "cannot divide by zero", "E_DIV", 1.0, "DivideByZero: cannot divide by zero"},
		"cb":      []any{"DivideByZero", 2.0},
		"unknown": "invalid endpoint options: [ghost] component does not exist on the api",
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("errors:\ngot  %v\nwant %v", errs, wantErrs)
	}

	// component events: on with a wildcard, once, off, $on
	p.eval(`
		window.events = [];
		window.onceEvents = [];
		window.decoupled = [];
		window.subId = await client.event.emitter.on('thing/*', (data, meta) => events.push([data.v, meta.path, meta.componentVersion]));
		await client.event.emitter.once('*', (data) => onceEvents.push(data.v));
		await client.event.$on({component: 'emitter', path: 'other/**'}, (data) => decoupled.push(data.v));
		window.decoupledOnce = [];
		await client.event.$once({component: 'emitter', path: 'other/**'}, (data) => decoupledOnce.push(data.v));
		window.offById = [];
		const byId = await client.event.$on({mesh: 'browserMesh', component: 'emitter', path: 'other/**', options: {}}, (data) => offById.push(data.v));
		await client.event.$off({component: 'emitter', id: byId});
		await client.exchange.emitter.fire('thing/one', 1);
		await client.exchange.emitter.fire('thing/two', 2);
		await client.exchange.emitter.fire('other/deep/path', 3);
	`, nil)
	p.waitFor("the events", `return events.length === 2 && decoupled.length === 1;`)
	var ev map[string]any
	p.eval(`
		await client.event.emitter.off(subId);
		await client.exchange.emitter.fire('thing/three', 3);
		await client.exchange.emitter.fire('other/x', 4);
		await new Promise((r) => setTimeout(r, 150));
		await client.event.$offPath({component: 'emitter', path: 'other/**'});
		await client.exchange.emitter.fire('other/y', 5);
		await new Promise((r) => setTimeout(r, 150));
		return {events, onceEvents, decoupled, decoupledOnce, offById};
	`, &ev)
	wantEv := map[string]any{
		"events": []any{
			[]any{1.0, "/_events/browserMesh/emitter/thing/one", "1.0.0"},
			[]any{2.0, "/_events/browserMesh/emitter/thing/two", "1.0.0"},
		},
		"onceEvents":    []any{1.0},
		"decoupled":     []any{3.0, 4.0},
		"decoupledOnce": []any{3.0},
		"offById":       []any{},
	}
	if !reflect.DeepEqual(ev, wantEv) {
		t.Errorf("events:\ngot  %v\nwant %v", ev, wantEv)
	}

	// the raw happn client, then disconnect
	var end map[string]any
	p.eval(`
		await client.data.set('/browser/x', {y: 1});
		const y = (await client.data.get('/browser/x')).y;
		const ended = new Promise((resolve) => client.on('connection/ended', () => resolve(true)));
		await client.disconnect();
		return {y, ended: await ended, connected: client.isConnected()};
	`, &end)
	if !reflect.DeepEqual(end, map[string]any{"y": 1.0, "ended": true, "connected": false}) {
		t.Errorf("data and disconnect: %v", end)
	}
}
