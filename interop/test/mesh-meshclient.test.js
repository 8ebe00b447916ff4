'use strict';
// The unmodified npm happner-2 MeshClient against a Go mesh (insecure): calls with several
// arguments and results, errors with custom fields, timeouts, events on/once/off, and the
// description refreshing when components are created or destroyed.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { startMesh, meshClient, waitFor, sleep, plain } = require('./helpers/mesh');

describe('npm MeshClient against a Go mesh', () => {
  let mesh;
  let client;

  before(async () => {
    mesh = await startMesh({ timeout: 1000 });
    client = await meshClient(mesh);
  });

  it('learns the API from the description', () => {
    assert.equal(client.info.name, 'testMesh');
    assert.equal(typeof client.exchange.calc.add, 'function');
    assert.equal(typeof client.exchange.testMesh.calc.divmod, 'function');
    assert.equal(typeof client.event.emitter.on, 'function');
  });

  it('calls with promises and callbacks, one and several results', async () => {
    assert.equal(await client.exchange.calc.add(1, 2), 3);
    assert.equal(await client.exchange.calc.mul(3, 4), 12);
    assert.deepEqual(plain(await client.exchange.calc.divmod(7, 2)), [3, 1]);
    const viaCallback = await new Promise((resolve, reject) =>
      client.exchange.calc.divmod(9, 4, (e, q, r) => (e ? reject(e) : resolve([q, r])))
    );
    assert.deepEqual(viaCallback, [2, 1]);
    assert.equal(await client.exchange.$call({ component: 'calc', method: 'add', arguments: [5, 6] }), 11);
  });

  it('passes the caller origin to the method', async () => {
    const origin = await client.exchange.calc.origin();
    assert.equal(origin.id, client.data.session.id);
  });

  it('rebuilds errors with their name, message and own fields', async () => {
    await assert.rejects(client.exchange.calc.fail(), (e) => {
      assert.equal(e.toString(), 'Error: deliberate failure');
      return true;
    });
    await assert.rejects(client.exchange.calc.divmod(1, 0), (e) => {
      assert.equal(e.name, 'DivideByZero');
      assert.equal(e.message, 'cannot divide by zero');
      assert.equal(e.code, 'E_DIV');
      assert.equal(e.dividend, 1);
      return true;
    });
  });

  it('times out after the mesh setOptions.timeout', async () => {
    const start = Date.now();
    await assert.rejects(client.exchange.calc.slow(3000), /Request timed out/);
    const took = Date.now() - start;
    assert.ok(took >= 900 && took < 2500, `timed out after ${took}ms`);
    assert.equal(await client.exchange.calc.slow(10), 'slow done');
  });

  it('receives events with on, once and stops after off', async () => {
    const seen = [];
    const once = [];
    const id = await client.event.emitter.on('thing/*', (data, meta) => seen.push([plain(data), meta.path, meta.componentVersion]));
    await client.event.emitter.once('*', (data) => once.push(plain(data)));
    assert.equal(await client.exchange.emitter.fire('thing/one', 1), 'fired');
    assert.equal(await client.exchange.emitter.fire('thing/two', 2), 'fired');
    await waitFor(() => seen.length === 2, 3000, 'two events');
    assert.deepEqual(seen, [
      [{ v: 1 }, '/_events/testMesh/emitter/thing/one', '1.0.0'],
      [{ v: 2 }, '/_events/testMesh/emitter/thing/two', '1.0.0'],
    ]);
    assert.deepEqual(once, [{ v: 1 }]);
    await client.event.emitter.off(id);
    await client.exchange.emitter.fire('thing/three', 3);
    await sleep(200);
    assert.equal(seen.length, 2);
  });

  it('follows components created and destroyed at run time', async () => {
    const created = [];
    const destroyed = [];
    client.on('components/created', (list) => created.push(...list.map((c) => c.description.name)));
    client.on('components/destroyed', (list) => destroyed.push(...list.map((c) => c.description.name)));
    await client.exchange.admin.create('calc2');
    await waitFor(() => created.includes('calc2'), 3000, 'components/created');
    assert.equal(await client.exchange.calc2.add(2, 2), 4);
    await client.exchange.admin.destroy('calc2');
    await waitFor(() => destroyed.includes('calc2'), 3000, 'components/destroyed');
    assert.equal(client.exchange.calc2, undefined);
  });
});
