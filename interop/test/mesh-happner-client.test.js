'use strict';
// The unmodified happner-client (HappnerClient with a version-ranged model, and LightClient
// $call/$on) against a Go mesh (insecure): the 6-segment response subscription, several results,
// errors, version mismatch, unknown components and methods, timeouts, events.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const HappnerClient = require('happner-client');
const { startMesh, happnerClient, lightClient, waitFor, sleep, plain } = require('./helpers/mesh');

describe('happner-client against a Go mesh', () => {
  let mesh;
  let client;
  let api;

  before(async () => {
    mesh = await startMesh();
    client = await happnerClient(mesh);
    api = client.construct({
      calc: { version: '^1.0.0', methods: { add: {}, divmod: {}, fail: {}, slow: {} } },
      emitter: { version: '^1.0.0', methods: { fire: {} } },
    });
  });

  it('calls methods and gets one or several results', async () => {
    assert.equal(await api.exchange.calc.add(3, 4), 7);
    assert.deepEqual(plain(await api.exchange.calc.divmod(9, 4)), [2, 1]);
    const cb = await new Promise((resolve, reject) =>
      api.exchange.calc.add(1, 1, (e, r) => (e ? reject(e) : resolve(r)))
    );
    assert.equal(cb, 2);
  });

  it('gets errors with their name and message', async () => {
    await assert.rejects(api.exchange.calc.fail(), (e) => {
      assert.equal(e.toString(), 'Error: deliberate failure');
      return true;
    });
    await assert.rejects(api.exchange.calc.divmod(1, 0), (e) => {
      assert.equal(e.name, 'DivideByZero');
      assert.equal(e.message, 'cannot divide by zero');
      return true;
    });
  });

  it('does not route to a component whose version is out of range', async () => {
    const old = client.construct({ calc: { version: '^2.0.0', methods: { add: {} } } });
    await assert.rejects(old.exchange.calc.add(1, 2), /Not implemented calc:\^2\.0\.0:add/);
  });

  it('times out after its responseTimeout', async () => {
    const impatient = new HappnerClient({ responseTimeout: 500 });
    await impatient.connect(null, { host: mesh.host, port: mesh.port });
    try {
      const a = impatient.construct({ calc: { version: '^1.0.0', methods: { slow: {} } } });
      await assert.rejects(a.exchange.calc.slow(2000), /Timeout awaiting response on calc\.slow version: \^1\.0\.0/);
    } finally {
      await impatient.disconnect();
    }
  });

  it('receives events filtered by component version, and stops after off', async () => {
    const seen = [];
    const wrongVersion = [];
    const subscribe = (a, handler) =>
      new Promise((resolve, reject) =>
        a.event.emitter.on('thing/*', handler, (e, id) => (e ? reject(e) : resolve(id)))
      );
    const id = await subscribe(api, (data, meta) => seen.push([plain(data), meta.componentVersion]));
    const v2 = client.construct({ emitter: { version: '^2.0.0', methods: { fire: {} } } });
    await subscribe(v2, (data) => wrongVersion.push(plain(data)));
    await api.exchange.emitter.fire('thing/a', 1);
    await waitFor(() => seen.length === 1, 3000, 'event');
    assert.deepEqual(seen, [[{ v: 1 }, '1.0.0']]);
    await new Promise((resolve, reject) => api.event.emitter.off(id, (e) => (e ? reject(e) : resolve())));
    await api.exchange.emitter.fire('thing/b', 2);
    await sleep(200);
    assert.equal(seen.length, 1);
    assert.deepEqual(wrongVersion, [], 'events of version 1.0.0 must not reach a ^2.0.0 model');
  });
});

describe('LightClient against a Go mesh', () => {
  let mesh;
  let light;

  before(async () => {
    mesh = await startMesh();
    light = await lightClient(mesh);
  });

  it('$call returns one or several results', async () => {
    assert.equal(await light.exchange.$call({ component: 'calc', method: 'add', arguments: [5, 6] }), 11);
    assert.deepEqual(plain(await light.exchange.$call({ component: 'calc', method: 'divmod', arguments: [7, 2] })), [3, 1]);
  });

  it('$call reports the mesh errors for unknown components, methods and versions', async () => {
    await assert.rejects(light.exchange.$call({ component: 'ghost', method: 'walk', arguments: [] }), (e) => {
      assert.equal(e.name, 'bad endpoint');
      assert.equal(e.message, 'Call to unconfigured component: [ghost.walk]');
      return true;
    });
    await assert.rejects(
      light.exchange.$call({ component: 'calc', method: 'nope', arguments: [] }),
      /Call to unconfigured method \[calc\.nope\(\)\]/
    );
    await assert.rejects(
      light.exchange.$call({ component: 'calc', method: 'add', arguments: [1, 2], version: '^3.0.0' }),
      /Call to unconfigured method \[calc\.add\]: request version \[\^3\.0\.0\] does not match component version \[1\.0\.0\]/
    );
  });

  it('$on and $off follow component events', async () => {
    const seen = [];
    const id = await light.event.$on({ component: 'emitter', path: 'light/*' }, (data) => seen.push(plain(data)));
    await light.exchange.$call({ component: 'emitter', method: 'fire', arguments: ['light/x', 9] });
    await waitFor(() => seen.length === 1, 3000, 'event');
    assert.deepEqual(seen, [{ v: 9 }]);
    await light.event.$off(id);
    await light.exchange.$call({ component: 'emitter', method: 'fire', arguments: ['light/y', 10] });
    await sleep(200);
    assert.equal(seen.length, 1);
  });
});
