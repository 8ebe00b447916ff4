'use strict';
// Data actions through the unmodified npm happn-3 client: login, set/get/merge/increment/remove/
// count, value wrapping, criteria with sort/limit/skip, getPaths.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, connect } = require('./helpers/server');

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Plain JSON copy: the client hands out arrays/objects built in another realm (primus). */
function plain(v) {
  return JSON.parse(JSON.stringify(v));
}

/** Returns the item without its _meta, as plain JSON, so payloads can be compared exactly. */
function body(item) {
  const { _meta, ...rest } = item;
  return plain(rest);
}

describe('data actions (unsecured server)', () => {
  let server;
  let client;

  before(async () => {
    server = await startServer({ name: 'interopData' });
    client = await connect(server);
  });

  it('logs in and learns the server name and security mode', () => {
    assert.equal(client.serverInfo.name, 'interopData');
    assert.equal(client.serverInfo.secure, false);
    assert.match(client.session.id, UUID_RE);
    assert.deepEqual(plain(client.session.happn), { name: 'interopData', secure: false });
    assert.equal(client.session.user, undefined, 'no user on an unsecured server');
    assert.equal(client.session.token, undefined, 'no token on an unsecured server');
    assert.deepEqual(plain(client.session.info), { _browser: false, _local: false });
  });

  it('set returns the stored document with _meta, get returns it again', async () => {
    const before = Date.now();
    const set = await client.set('/data/set/a', { x: 1, nested: { y: [1, 2] } });
    assert.deepEqual(body(set), { x: 1, nested: { y: [1, 2] } });
    assert.equal(set._meta.path, '/data/set/a');
    assert.equal(set._meta.type, 'response');
    assert.equal(set._meta.status, 'ok');
    assert.equal(set._meta.published, true);
    assert.equal(set._meta.action, 'set');
    assert.equal(set._meta.sessionId, client.session.id);
    assert.equal(typeof set._meta.eventId, 'number');
    assert.ok(set._meta.created >= before - 1000 && set._meta.created <= Date.now() + 1000);
    assert.equal(set._meta.modified, set._meta.created);

    const got = await client.get('/data/set/a');
    assert.deepEqual(body(got), { x: 1, nested: { y: [1, 2] } });
    assert.equal(got._meta.path, '/data/set/a');
    assert.equal(got._meta.created, set._meta.created);
    assert.equal(got._meta.modified, set._meta.modified);
    assert.equal(got._meta.action, 'get');
    assert.equal(got._meta.published, false);

    assert.equal(await client.get('/data/set/missing'), null);
  });

  it('an overwrite keeps created and moves modified; incoming _meta is dropped', async () => {
    const first = await client.set('/data/set/b', { v: 1 });
    await new Promise((r) => setTimeout(r, 5));
    const second = await client.set('/data/set/b', { w: 2, _meta: { path: '/elsewhere' } });
    assert.deepEqual(body(second), { w: 2 });
    assert.equal(second._meta.path, '/data/set/b');
    assert.equal(second._meta.created, first._meta.created);
    assert.ok(second._meta.modified > first._meta.modified);
    assert.deepEqual(body(await client.get('/data/set/b')), { w: 2 });
    assert.equal(await client.get('/elsewhere'), null);
  });

  it('wraps primitives, arrays, dates and null as {value}', async () => {
    const cases = [
      ['/data/wrap/num', 5, { value: 5 }],
      ['/data/wrap/zero', 0, { value: 0 }],
      ['/data/wrap/str', 'hello', { value: 'hello' }],
      ['/data/wrap/true', true, { value: true }],
      ['/data/wrap/false', false, { value: false }],
      ['/data/wrap/arr', [1, 'a', { b: 2 }], { value: [1, 'a', { b: 2 }] }],
      ['/data/wrap/date', new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), { value: '2024-01-02T03:04:05.000Z' }],
    ];
    for (const [path, input, expected] of cases) {
      const set = await client.set(path, input);
      assert.deepEqual(body(set), expected, `set reply for ${path}`);
      assert.deepEqual(body(await client.get(path)), expected, `get for ${path}`);
    }
    // null travels as options.nullValue. (The client's promise wrapper drops a trailing null
    // argument, so an options object must follow it.)
    const setNull = await client.set('/data/wrap/null', null, {});
    assert.deepEqual(body(setNull), { value: null });
    assert.deepEqual(body(await client.get('/data/wrap/null')), { value: null });
  });

  it('merge shallow-merges into the stored document and creates it when absent', async () => {
    await client.set('/data/merge/a', { a: 1, b: 1, deep: { k: 1 } });
    const merged = await client.set('/data/merge/a', { b: 2, c: 3, deep: { j: 2 } }, { merge: true });
    assert.deepEqual(body(merged), { a: 1, b: 2, c: 3, deep: { j: 2 } });
    assert.deepEqual(body(await client.get('/data/merge/a')), { a: 1, b: 2, c: 3, deep: { j: 2 } });

    const created = await client.set('/data/merge/new', { only: true }, { merge: true });
    assert.deepEqual(body(created), { only: true });
    assert.deepEqual(body(await client.get('/data/merge/new')), { only: true });
  });

  it('increment keeps a named gauge and returns {value, gauge}', async () => {
    const r1 = await client.increment('/data/inc/x', 'hits', 2);
    assert.deepEqual(body(r1), { value: 2, gauge: 'hits' });
    assert.equal(r1._meta.status, 'ok');
    const r2 = await client.increment('/data/inc/x', 'hits', 3);
    assert.deepEqual(body(r2), { value: 5, gauge: 'hits' });
    const r3 = await client.increment('/data/inc/x', 'hits', -1);
    assert.deepEqual(body(r3), { value: 4, gauge: 'hits' });
    const r4 = await client.increment('/data/inc/x', 'misses', 1);
    assert.deepEqual(body(r4), { value: 1, gauge: 'misses' });
    // default gauge name "counter", default step 1
    const r5 = await client.increment('/data/inc/y');
    assert.deepEqual(body(r5), { value: 1, gauge: 'counter' });
    assert.deepEqual(body(await client.get('/data/inc/x')), {
      hits: { value: 4 },
      misses: { value: 1 },
    });
  });

  it('count returns {value:n} for wildcard paths', async () => {
    await client.set('/data/count/a', { q: 1 });
    await client.set('/data/count/b', { q: 2 });
    await client.set('/data/count/c/deeper', { q: 3 });
    const all = await client.count('/data/count/*');
    assert.equal(all.value, 3, 'get/count * crosses / in the data layer');
    assert.equal((await client.count('/data/count/a')).value, 1);
    assert.equal((await client.count('/data/count/none/*')).value, 0);
  });

  it('remove deletes one path or every wildcard match and reports {removed}', async () => {
    await client.set('/data/rm/a', { a: 1 });
    await client.set('/data/rm/b', { b: 1 });
    await client.set('/data/rm/c', { c: 1 });
    const one = await client.remove('/data/rm/a');
    assert.equal(one.removed, 1);
    assert.equal(one._meta.path, '/data/rm/a');
    assert.equal(one._meta.status, 'ok');
    assert.equal(one._meta.published, true);
    assert.equal(await client.get('/data/rm/a'), null);

    const missing = await client.remove('/data/rm/a');
    assert.equal(missing.removed, 0);

    const many = await client.remove('/data/rm/*');
    assert.equal(many.removed, 2);
    assert.equal((await client.count('/data/rm/*')).value, 0);
  });

  describe('wildcard get, criteria, sort/limit/skip, getPaths', () => {
    before(async () => {
      await client.set('/data/q/a', { n: 1, g: 'x', tags: ['red'] });
      await client.set('/data/q/b', { n: 2, g: 'x', tags: ['blue'] });
      await client.set('/data/q/c', { n: 3, g: 'y', tags: ['red', 'blue'] });
      await client.set('/data/q/d', { n: 4, g: 'x' });
      await client.set('/data/q/sub/e', 7);
    });

    it('a wildcard get returns an array sorted by path, * crossing segments', async () => {
      const items = await client.get('/data/q/*');
      assert.ok(Array.isArray(items));
      assert.deepEqual(
        plain(items.map((i) => i._meta.path)),
        ['/data/q/a', '/data/q/b', '/data/q/c', '/data/q/d', '/data/q/sub/e']
      );
      assert.deepEqual(body(items[0]), { n: 1, g: 'x', tags: ['red'] });
      assert.deepEqual(body(items[4]), { value: 7 });
      assert.equal(typeof items[0]._meta.created, 'number');
      assert.equal(typeof items[0]._meta.modified, 'number');
      assert.deepEqual(plain(await client.get('/data/q/none/*')), []);
    });

    it('criteria filter on data fields (implicit data. prefix and explicit data.)', async () => {
      const xs = await client.get('/data/q/*', { criteria: { g: 'x' } });
      assert.deepEqual(plain(xs.map((i) => i._meta.path)), ['/data/q/a', '/data/q/b', '/data/q/d']);
      const explicit = await client.get('/data/q/*', { criteria: { 'data.g': 'y' } });
      assert.deepEqual(plain(explicit.map((i) => i._meta.path)), ['/data/q/c']);
      const gt = await client.get('/data/q/*', { criteria: { $and: [{ n: { $gt: 1 } }, { n: { $lte: 3 } }] } });
      assert.deepEqual(plain(gt.map((i) => i.n)), [2, 3]);
      const inOp = await client.get('/data/q/*', { criteria: { n: { $in: [1, 4] } } });
      assert.deepEqual(plain(inOp.map((i) => i.n)), [1, 4]);
      const or = await client.get('/data/q/*', { criteria: { $or: [{ g: 'y' }, { n: 1 }] } });
      assert.deepEqual(plain(or.map((i) => i._meta.path)), ['/data/q/a', '/data/q/c']);
      const contains = await client.get('/data/q/*', { criteria: { tags: { $containsAny: ['blue'] } } });
      assert.deepEqual(plain(contains.map((i) => i._meta.path)), ['/data/q/b', '/data/q/c']);
      const regex = await client.get('/data/q/*', { criteria: { '_meta.path': { $regex: '/data/q/[bc]$' } } });
      assert.deepEqual(plain(regex.map((i) => i._meta.path)), ['/data/q/b', '/data/q/c']);
    });

    it('sort, skip and limit', async () => {
      const desc = await client.get('/data/q/*', {
        criteria: { g: 'x' },
        options: { sort: { n: -1 } },
      });
      assert.deepEqual(plain(desc.map((i) => i.n)), [4, 2, 1]);
      const page = await client.get('/data/q/*', {
        criteria: { g: 'x' },
        options: { sort: { n: -1 }, skip: 1, limit: 1 },
      });
      assert.deepEqual(plain(page.map((i) => i.n)), [2]);
      const limited = await client.get('/data/q/*', { criteria: { n: { $exists: true } }, options: { sort: { n: 1 }, limit: 2 } });
      assert.deepEqual(plain(limited.map((i) => i.n)), [1, 2]);
      const byPathDesc = await client.get('/data/q/*', { options: { sort: { path: -1 }, limit: 2 } });
      assert.deepEqual(plain(byPathDesc.map((i) => i._meta.path)), ['/data/q/sub/e', '/data/q/d']);
    });

    it('getPaths returns only {_meta:{path}} items', async () => {
      const paths = await client.getPaths('/data/q/*');
      assert.deepEqual(plain(paths), [
        { _meta: { path: '/data/q/a' } },
        { _meta: { path: '/data/q/b' } },
        { _meta: { path: '/data/q/c' } },
        { _meta: { path: '/data/q/d' } },
        { _meta: { path: '/data/q/sub/e' } },
      ]);
    });
  });
});
