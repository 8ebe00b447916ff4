package browsertest

import (
	"reflect"
	"testing"
)

func TestHappnerClient(t *testing.T) {
	m := startMesh(t, meshOptions{secure: true})
	p := openPage(t, "http://"+m.Addr()+"/page")
	var got map[string]any
	p.eval(`
		const client = new Happner.HappnerClient({responseTimeout: 5000});
		const states = [];
		client.on('connected', () => states.push('connected'));
		await client.connect(null, {username: '_ADMIN', password: 'happn'});
		const api = client.construct({
			calc: {version: '^1.0.0', methods: {add: {}, divmod: {}}},
			emitter: {version: '^1.0.0', methods: {fire: {}}},
		});
		const old = client.construct({calc: {version: '^2.0.0', methods: {add: {}}}});
		const events = [];
		await api.event.emitter.on('v/*', (data, meta) => events.push([data.v, meta.componentVersion]));
		await api.exchange.emitter.fire('v/1', 5);
		const custom = await api.exchange.calc.divmod(1, 0).catch((e) => e);
		const result = {
			states,
			add: await api.exchange.calc.add(1, 2),
			divmod: await api.exchange.calc.divmod(7, 2),
			call: await api.exchange.$call({component: 'calc', method: 'add', arguments: [5, 6]}),
			custom: [custom.name, custom.message],
			old: (await old.exchange.calc.add(1, 2).catch((e) => e)).message,
			hasData: client.dataClient().session.user.username,
		};
		const deadline = Date.now() + 5000;
		while (events.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
		result.events = events;
		await client.disconnect();
		return result;
	`, &got)
	want := map[string]any{
		"states": []any{"connected"}, "add": 3.0, "divmod": []any{3.0, 1.0}, "call": 11.0,
		"custom": []any{"DivideByZero", "cannot divide by zero"},
		"old":    "Not implemented calc:^2.0.0:add",
		"events": []any{[]any{5.0, "1.0.0"}}, "hasData": "_ADMIN",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestLightHappnerClient(t *testing.T) {
	m := startMesh(t, meshOptions{})
	p := openPage(t, "http://"+m.Addr()+"/page")
	var got map[string]any
	p.eval(`
		const missingDomain = (() => { try { new Happner.LightHappnerClient({}); return 'no error'; } catch (e) { return e.message; } })();
		const light = new Happner.LightHappnerClient({domain: 'browserMesh'});
		await light.connect();
		const seen = [];
		const id = await light.event.$on({component: 'emitter', path: 'light/*'}, (data) => seen.push(data.v));
		await light.exchange.$call({component: 'emitter', method: 'fire', arguments: ['light/x', 9]});
		const ghost = await light.exchange.$call({component: 'ghost', method: 'walk'}).catch((e) => e);
		const wrongVersion = await light.exchange.$call({component: 'calc', method: 'add', arguments: [1, 2], version: '^3.0.0'}).catch((e) => e);
		const result = {
			missingDomain,
			add: await light.exchange.$call({component: 'calc', method: 'add', arguments: [5, 6]}),
			divmod: await light.exchange.$call({component: 'calc', method: 'divmod', arguments: [7, 2]}),
			ghost: [ghost.name, ghost.message],
			wrongVersion: wrongVersion.message,
		};
		const deadline = Date.now() + 5000;
		while (seen.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
		await light.event.$off(id);
		await light.exchange.$call({component: 'emitter', method: 'fire', arguments: ['light/y', 10]});
		await new Promise((r) => setTimeout(r, 150));
		result.seen = seen;
		await light.disconnect();
		return result;
	`, &got)
	want := map[string]any{
		"missingDomain": "light client requires opts.domain setting",
		"add":           11.0, "divmod": []any{3.0, 1.0},
		"ghost":        []any{"bad endpoint", "Call to unconfigured component: [ghost.walk]"},
		"wrongVersion": "Call to unconfigured method [calc.add]: request version [^3.0.0] does not match component version [1.2.0]",
		"seen":         []any{9.0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}
