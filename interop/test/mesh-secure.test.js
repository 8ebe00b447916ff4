'use strict';
// The unmodified npm happner-2 MeshClient and happner-client HappnerClient / LightClient against a
// secure Go mesh: logins, granted and denied methods and events, calls made "as" another user,
// and a bad password. Users (internal/cmd/meshserver -secure): alice may call calc.add,
// calc.origin and emitter.fire and receive emitter/allowed/*; bob is a guest; delegate is in
// _MESH_DELEGATE.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const Happner = require('happner-2');
const HappnerClient = require('happner-client');
const { startMesh, meshClient, happnerClient, lightClient, waitFor, sleep, plain } = require('./helpers/mesh');

const ALICE = { username: 'alice', password: 'alicepw' };
const BOB = { username: 'bob', password: 'bobpw' };
const DELEGATE = { username: 'delegate', password: 'delegatepw' };

function denied(e) {
  assert.equal(e.toString(), 'AccessDenied: unauthorized');
  return true;
}

describe('npm clients against a secure Go mesh', () => {
  let mesh;

  before(async () => {
    mesh = await startMesh({ secure: true });
  });

  describe('MeshClient', () => {
    let alice;
    before(async () => {
      alice = await meshClient(mesh, ALICE);
    });

    it('logs in and learns the API', () => {
      assert.equal(alice.info.name, 'testMesh');
      assert.equal(typeof alice.exchange.calc.add, 'function');
      assert.equal(typeof alice.exchange.security.addUser, 'function');
      assert.ok(alice.token);
    });

    it('calls a granted method, with $origin the logged-in user', async () => {
      assert.equal(await alice.exchange.calc.add(2, 3), 5);
      const origin = await alice.exchange.calc.origin();
      assert.equal(origin.username, 'alice');
      assert.equal(origin.id, alice.data.session.id);
    });

    it('is denied a method it has no permission for', async () => {
      await assert.rejects(alice.exchange.calc.mul(2, 3), denied);
      await assert.rejects(alice.exchange.security.addUser({ username: 'x', password: 'y' }), denied);
    });

    it('receives granted events and is denied the others', async () => {
      const seen = [];
      await alice.event.emitter.on('allowed/*', (data, meta) => seen.push([plain(data), meta.path]));
      await assert.rejects(alice.event.emitter.on('hidden/*', () => {}), denied);
      assert.equal(await alice.exchange.emitter.fire('allowed/one', 1), 'fired');
      assert.equal(await alice.exchange.emitter.fire('hidden/two', 2), 'fired');
      await waitFor(() => seen.length === 1, 3000, 'the allowed event');
      await sleep(100);
      assert.deepEqual(seen, [[{ v: 1 }, '/_events/testMesh/emitter/allowed/one']]);
    });

    it('a guest sees the description but may call nothing', async () => {
      const bob = await meshClient(mesh, BOB);
      assert.equal(typeof bob.exchange.calc.add, 'function');
      await assert.rejects(bob.exchange.calc.add(1, 1), denied);
    });

    it('a delegate calls as another user, authorised as that user', async () => {
      const del = await meshClient(mesh, DELEGATE);
      assert.equal(await del.exchange.$call({ component: 'calc', method: 'add', arguments: [4, 5], as: 'alice' }), 9);
      const origin = await del.exchange.$call({ component: 'calc', method: 'origin', arguments: [], as: 'alice' });
      assert.equal(origin.username, 'alice');
      await assert.rejects(del.exchange.$call({ component: 'calc', method: 'add', arguments: [1, 1], as: 'bob' }), denied);
      // alice is no delegate: she may not call as anyone.
      await assert.rejects(alice.exchange.$call({ component: 'calc', method: 'add', arguments: [1, 1], as: 'delegate' }), denied);
    });

    it('refuses a bad password with 401', async () => {
      const client = new Happner.MeshClient({ host: mesh.host, port: mesh.port });
      await assert.rejects(client.login({ username: 'alice', password: 'wrong' }), (e) => {
        assert.equal(e.name, 'AccessDenied');
        assert.equal(e.message, 'Invalid credentials');
        assert.equal(e.code, 401);
        return true;
      });
      await client.disconnect();
    });

    it('the admin manages users over the exchange', async () => {
      const admin = await meshClient(mesh, { username: '_ADMIN', password: 'happn' });
      await admin.exchange.security.addUser({ username: 'carol', password: 'carolpw' });
      await admin.exchange.security.addGroup({
        name: 'adders',
        permissions: { methods: { '/testMesh/calc/mul': { authorized: true } } },
      });
      await admin.exchange.security.linkGroupName('adders', 'carol');
      const group = await admin.exchange.security.getGroup('adders');
      assert.deepEqual(plain(group.permissions.methods), { 'testMesh/calc/mul': { authorized: true } });
      const user = await admin.exchange.security.getUser('carol');
      assert.ok(user.groups.adders && user.groups._MESH_GST);
      const carol = await meshClient(mesh, { username: 'carol', password: 'carolpw' });
      assert.equal(await carol.exchange.calc.mul(3, 4), 12);
      await assert.rejects(carol.exchange.calc.add(3, 4), denied);
    });

    it('a logged-in client survives the security-data-changed messages of its group changing', async () => {
      // The npm client reads changedData.permissions of upsert-group and unlink-group; a message
      // without it throws inside the client.
      const admin = await meshClient(mesh, { username: '_ADMIN', password: 'happn' });
      await admin.exchange.security.addUser({ username: 'dave', password: 'davepw' });
      await admin.exchange.security.addGroup({
        name: 'daves',
        permissions: { methods: { '/testMesh/calc/add': { authorized: true } } },
      });
      await admin.exchange.security.linkGroupName('daves', 'dave');
      const dave = await meshClient(mesh, { username: 'dave', password: 'davepw' });
      const seen = [];
      dave.data.onSystemMessage((key, data) => seen.push(`${key}:${data && data.whatHappnd}`));
      await admin.exchange.security.addGroupPermissions('daves', {
        methods: { '/testMesh/calc/mul': { authorized: true } },
      });
      await admin.exchange.security.unlinkGroup({ name: 'daves' }, { username: 'dave' });
      await waitFor(() => seen.includes('security-data-changed:unlink-group'));
      assert.ok(seen.includes('security-data-changed:upsert-group'));
      await assert.rejects(dave.exchange.calc.add(1, 2), denied);
    });
  });

  describe('HappnerClient', () => {
    it('calls granted methods and is denied the others', async () => {
      const client = await happnerClient(mesh, ALICE);
      const api = client.construct({ calc: { version: '^1.0.0', methods: { add: {}, mul: {}, origin: {} } } });
      assert.equal(await api.exchange.calc.add(1, 2), 3);
      assert.equal((await api.exchange.calc.origin()).username, 'alice');
      await assert.rejects(api.exchange.calc.mul(1, 2), /unauthorized/);
    });

    it('subscribes to granted events only', async () => {
      const client = await happnerClient(mesh, ALICE);
      const api = client.construct({ emitter: { version: '^1.0.0', methods: { fire: {} } } });
      const seen = [];
      const on = (key, handler) =>
        new Promise((resolve, reject) => api.event.emitter.on(key, handler, (e, id) => (e ? reject(e) : resolve(id))));
      await on('allowed/*', (data) => seen.push(plain(data)));
      await assert.rejects(on('hidden/*', () => {}), /unauthorized/);
      await api.exchange.emitter.fire('allowed/x', 7);
      await waitFor(() => seen.length === 1, 3000, 'the allowed event');
      assert.deepEqual(seen, [{ v: 7 }]);
    });

    it('refuses a bad password', async () => {
      const client = new HappnerClient();
      await assert.rejects(
        client.connect(null, { host: mesh.host, port: mesh.port, username: 'bob', password: 'wrong' }),
        /Invalid credentials/
      );
      await client.disconnect();
    });
  });

  describe('LightClient', () => {
    it('$call is authorised per user and per "as"', async () => {
      const alice = await lightClient(mesh, ALICE);
      assert.equal(await alice.exchange.$call({ component: 'calc', method: 'add', arguments: [5, 6] }), 11);
      await assert.rejects(alice.exchange.$call({ component: 'calc', method: 'mul', arguments: [5, 6] }), /unauthorized/);
      const del = await lightClient(mesh, DELEGATE);
      assert.equal(await del.exchange.$call({ component: 'calc', method: 'add', arguments: [1, 2], as: 'alice' }), 3);
      await assert.rejects(del.exchange.$call({ component: 'calc', method: 'add', arguments: [1, 2], as: 'bob' }), /unauthorized/);
    });
  });
});
