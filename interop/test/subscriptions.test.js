'use strict';
// Subscriptions and publications through the unmodified npm happn-3 client: wildcards, variable
// depth, event types, once/count, initialCallback/initialEmit, off/offPath, publish, consistency
// (DEFERRED, ACKNOWLEDGED), merge subscriptions, targetClients, custom meta and the exact _meta of
// published events.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, connect } = require('./helpers/server');
const { plain, recorder, frameSpy } = require('./helpers/events');

describe('subscriptions and publications (unsecured server)', () => {
  let server;
  let c; // publishes and subscribes on the same socket: TRANSACTIONAL events arrive before the reply
  let sub1;
  let sub2;

  before(async () => {
    server = await startServer();
    [c, sub1, sub2] = await Promise.all([connect(server), connect(server), connect(server)]);
  });

  it('a trailing * matches exactly one segment; channel is echoed verbatim', async () => {
    const rec = recorder();
    await c.on('/s/w/*', rec.handler);
    await c.set('/s/w/a/b', { deep: true });
    await c.set('/s/wx', { sibling: true });
    await c.set('/s/w/a', { v: 1 });
    assert.deepEqual(rec.paths(), ['/s/w/a']);
    assert.deepEqual(rec.events[0].data, { v: 1 });
    assert.equal(rec.events[0].meta.channel, '/ALL@/s/w/*');
  });

  it('a * in the middle matches one segment', async () => {
    const rec = recorder();
    await c.on('/s/mid/*/leaf', rec.handler);
    await c.set('/s/mid/a/leaf', 1);
    await c.set('/s/mid/a/b/leaf', 2);
    await c.set('/s/mid/b/other', 3);
    assert.deepEqual(rec.paths(), ['/s/mid/a/leaf']);
    assert.deepEqual(rec.events[0].data, { value: 1 });
    assert.equal(rec.events[0].meta.channel, '/ALL@/s/mid/*/leaf');
  });

  it('a trailing ** matches variable depth up to the default depth 5', async () => {
    const rec = recorder();
    await c.on('/s/deep/**', rec.handler);
    await c.set('/s/deep/a', 1);
    await c.set('/s/deep/a/b/c/d/e', 5);
    await c.set('/s/deep/a/b/c/d/e/f', 6);
    await c.set('/s/deep', 0);
    assert.deepEqual(rec.paths(), ['/s/deep/a', '/s/deep/a/b/c/d/e']);
    for (const e of rec.events) {
      assert.equal(e.meta.channel, '/ALL@/s/deep/**');
      assert.equal(e.meta.depth, 5);
    }
  });

  it('** with an explicit depth stops at that depth and echoes it in _meta.depth', async () => {
    const rec = recorder();
    await c.on('/s/d2/**', { depth: 2 }, rec.handler);
    await c.set('/s/d2/x', 1);
    await c.set('/s/d2/x/y', 2);
    await c.set('/s/d2/x/y/z', 3);
    assert.deepEqual(rec.paths(), ['/s/d2/x', '/s/d2/x/y']);
    assert.deepEqual(rec.events.map((e) => e.meta.depth), [2, 2]);
  });

  it('event_type set / remove pick the channel prefix and filter the action', async () => {
    const sets = recorder();
    const removes = recorder();
    await c.on('/s/et/*', { event_type: 'set' }, sets.handler);
    await c.on('/s/et/*', { event_type: 'remove' }, removes.handler);
    await c.set('/s/et/a', { a: 1 });
    await c.remove('/s/et/a');
    assert.deepEqual(sets.events.map((e) => [e.meta.channel, e.meta.action]), [['/SET@/s/et/*', '/SET@/s/et/a']]);
    assert.deepEqual(removes.events.map((e) => [e.meta.channel, e.meta.action]), [
      ['/REMOVE@/s/et/*', '/REMOVE@/s/et/a'],
    ]);
    assert.deepEqual(removes.events[0].data, { removed: 1 });
  });

  it('once fires one time and the client unsubscribes on the server', async () => {
    const spy = frameSpy(c);
    const rec = recorder();
    await c.once('/s/once/x', rec.handler);
    await c.set('/s/once/x', { n: 1 });
    await rec.wait(1);
    await c.set('/s/once/x', { n: 2 });
    await c.set('/s/once/x', { n: 3 });
    assert.deepEqual(rec.events.map((e) => e.data), [{ n: 1 }]);
    assert.equal(spy.publications('/ALL@/s/once/x').length, 1, 'server kept publishing after once');
  });

  it('count:N fires N times', async () => {
    const rec = recorder();
    await c.on('/s/count/x', { count: 2 }, rec.handler);
    for (let n = 1; n <= 4; n++) await c.set('/s/count/x', { n });
    await rec.wait(2);
    assert.deepEqual(rec.events.map((e) => e.data), [{ n: 1 }, { n: 2 }]);
  });

  it('initialCallback returns the current values (data-layer *) and then listens', async () => {
    await c.set('/s/ic/a', { x: 1 });
    await c.set('/s/ic/b', 5);
    await c.set('/s/ic/deeper/c', { z: 1 });
    const rec = recorder();
    const [id, items] = await new Promise((resolve, reject) => {
      c.on('/s/ic/*', { event_type: 'set', initialCallback: true }, rec.handler, (e, listenerId, initial) =>
        e ? reject(e) : resolve([listenerId, initial])
      );
    });
    assert.equal(typeof id, 'number');
    assert.deepEqual(
      plain(items).map((i) => ({ ...i, _meta: { path: i._meta.path } })),
      [
        { x: 1, _meta: { path: '/s/ic/a' } },
        { value: 5, _meta: { path: '/s/ic/b' } },
        { z: 1, _meta: { path: '/s/ic/deeper/c' } },
      ]
    );
    for (const i of items) {
      assert.equal(typeof i._meta.created, 'number');
      assert.equal(typeof i._meta.modified, 'number');
    }
    assert.equal(rec.events.length, 0, 'initialCallback does not call the handler');
    await c.set('/s/ic/a', { x: 2 });
    assert.deepEqual(rec.events.map((e) => [e.meta.channel, e.data]), [['/SET@/s/ic/*', { x: 2 }]]);
  });

  it('initialCallback on a path with no data returns an empty list', async () => {
    const items = await new Promise((resolve, reject) => {
      c.on('/s/ic-empty/*', { initialCallback: true }, () => {}, (e, _id, initial) => (e ? reject(e) : resolve(initial)));
    });
    assert.deepEqual(plain(items), []);
  });

  it('initialEmit calls the handler once per current value', async () => {
    await c.set('/s/ie/a', { a: 1 });
    await c.set('/s/ie/b', { b: 2 });
    const rec = recorder();
    await c.on('/s/ie/*', { initialEmit: true }, rec.handler);
    assert.deepEqual(
      rec.events.map((e) => ({ ...e.data, _meta: { path: e.data._meta.path } })),
      [
        { a: 1, _meta: { path: '/s/ie/a' } },
        { b: 2, _meta: { path: '/s/ie/b' } },
      ]
    );
    await c.set('/s/ie/b', { b: 3 });
    assert.equal(rec.events.length, 3);
    assert.deepEqual(rec.events[2].data, { b: 3 });
    assert.equal(rec.events[2].meta.channel, '/ALL@/s/ie/*');
  });

  it('off removes only that subscription on the server', async () => {
    const spy = frameSpy(c);
    const r1 = recorder();
    const r2 = recorder();
    // Different meta => two server-side subscriptions on the same channel.
    const id1 = await c.on('/s/off/x', { meta: { which: 1 } }, r1.handler);
    const id2 = await c.on('/s/off/x', { meta: { which: 2 } }, r2.handler);
    await c.set('/s/off/x', { n: 1 });
    assert.equal(spy.publications('/ALL@/s/off/x').length, 1, 'one frame per (session, channel)');
    assert.equal(r1.events.length, 1);
    assert.equal(r2.events.length, 1);

    await c.off(id1);
    await c.set('/s/off/x', { n: 2 });
    assert.equal(spy.publications('/ALL@/s/off/x').length, 2);
    assert.deepEqual(r1.events.map((e) => e.data), [{ n: 1 }]);
    assert.deepEqual(r2.events.map((e) => e.data), [{ n: 1 }, { n: 2 }]);

    await c.off(id2);
    await c.set('/s/off/x', { n: 3 });
    assert.equal(spy.publications('/ALL@/s/off/x').length, 2, 'server still publishes after the last off');
    assert.equal(r2.events.length, 2);
  });

  it('offPath removes every subscription whose path matches', async () => {
    const spy = frameSpy(c);
    const a = recorder();
    const b = recorder();
    const keep = recorder();
    await c.on('/s/op/a', a.handler);
    await c.on('/s/op/b', { event_type: 'set' }, b.handler);
    await c.on('/s/opkeep/c', keep.handler);
    await c.offPath('/s/op/*');
    await c.set('/s/op/a', 1);
    await c.set('/s/op/b', 2);
    await c.set('/s/opkeep/c', 3);
    assert.equal(a.events.length, 0);
    assert.equal(b.events.length, 0);
    assert.equal(spy.publications('/ALL@/s/op/a').length, 0);
    assert.equal(spy.publications('/SET@/s/op/b').length, 0);
    assert.deepEqual(keep.events.map((e) => e.data), [{ value: 3 }]);
  });

  it('publish delivers without storing and gets the minimal reply', async () => {
    const rec = recorder();
    await sub1.on('/s/pub/*', rec.handler);
    const reply = await c.publish('/s/pub/x', { p: 1 });
    assert.deepEqual(plain(reply), {
      _meta: { path: '/s/pub/x', eventId: reply._meta.eventId, type: 'response', status: 'ok', published: true },
    });
    assert.equal(typeof reply._meta.eventId, 'number');
    const [ev] = await rec.wait(1);
    assert.deepEqual(ev.data, { p: 1 });
    assert.equal(ev.meta.path, '/s/pub/x');
    assert.equal(ev.meta.action, '/SET@/s/pub/x');
    assert.equal(ev.meta.created, undefined);
    assert.equal(ev.meta.modified, undefined);
    assert.equal(await c.get('/s/pub/x'), null);
  });

  it('DEFERRED (consistency 1): reply first, then onPublished with the results', async () => {
    const rec = recorder();
    await sub1.on('/s/def/*', rec.handler);
    let published;
    const done = new Promise((resolve, reject) => {
      published = (e, results) => (e ? reject(e) : resolve(results));
    });
    const reply = await c.set('/s/def/x', { d: 1 }, { consistency: 1, onPublished: published });
    assert.equal(reply._meta.published, false);
    assert.deepEqual(plain(await done), { successful: 1, failed: 0, skipped: 0, queued: 1 });
    const [ev] = await rec.wait(1);
    assert.deepEqual(ev.data, { d: 1 });
    assert.equal(ev.meta.consistency, 1);
  });

  it('DEFERRED with no subscribers still reports (all zero)', async () => {
    const results = await new Promise((resolve, reject) => {
      c.set('/s/def-none/x', { d: 1 }, { consistency: 1, onPublished: (e, r) => (e ? reject(e) : resolve(r)) }).catch(reject);
    });
    assert.deepEqual(plain(results), { successful: 0, failed: 0, skipped: 0, queued: 0 });
  });

  it('ACKNOWLEDGED (consistency 3): every recipient acks, then the publisher is told', async () => {
    const r1 = recorder();
    const r2 = recorder();
    await sub1.on('/s/ack/*', r1.handler);
    await sub2.on('/s/ack/*', r2.handler);
    let published;
    const done = new Promise((resolve, reject) => {
      published = (e, results) => (e ? reject(e) : resolve(results));
    });
    const reply = await c.set('/s/ack/x', { k: 1 }, { consistency: 3, onPublished: published });
    assert.equal(reply._meta.published, false);
    assert.deepEqual(plain(await done), { successful: 2, failed: 0, skipped: 0, acknowledged: 2, queued: 2 });
    for (const rec of [r1, r2]) {
      const [ev] = await rec.wait(1);
      assert.deepEqual(ev.data, { k: 1 });
      assert.equal(ev.meta.consistency, 3);
      assert.equal(ev.meta.publicationId, `${c.session.id}-${reply._meta.eventId}`);
      assert.equal(ev.meta.acknowledged, true, 'the server answered the ack');
    }
  });

  it('merge subscribers receive only the delta, others the merged document', async () => {
    const delta = recorder();
    const full = recorder();
    await sub1.on('/s/merge/a', { merge: true }, delta.handler);
    await sub2.on('/s/merge/a', full.handler);
    await c.set('/s/merge/a', { x: 1, y: 1 });
    await c.set('/s/merge/a', { y: 2 }, { merge: true });
    await delta.wait(2);
    await full.wait(2);
    assert.deepEqual(delta.events.map((e) => e.data), [{ x: 1, y: 1 }, { y: 2 }]);
    assert.deepEqual(full.events.map((e) => e.data), [{ x: 1, y: 1 }, { x: 1, y: 2 }]);
  });

  it('targetClients restricts recipients to the listed sessions', async () => {
    const r1 = recorder();
    const r2 = recorder();
    await sub1.on('/s/tc/*', r1.handler);
    await sub2.on('/s/tc/*', r2.handler);
    await c.set('/s/tc/only', { t: 1 }, { targetClients: [sub2.session.id] });
    await c.set('/s/tc/nobody', { t: 0 }, { targetClients: ['no-such-session'] });
    await c.set('/s/tc/all', { t: 2 });
    await r1.wait(1);
    await r2.wait(2);
    assert.deepEqual(r1.paths(), ['/s/tc/all']);
    assert.deepEqual(r2.paths(), ['/s/tc/only', '/s/tc/all']);
  });

  it('custom meta is copied into the event _meta, reserved keys are not overridden', async () => {
    const rec = recorder();
    await sub1.on('/s/cm/*', rec.handler);
    await c.set('/s/cm/x', { m: 1 }, { meta: { custom: 'm', nested: { n: 2 }, path: '/hack', type: 'evil' } });
    const [ev] = await rec.wait(1);
    assert.equal(ev.meta.custom, 'm');
    assert.deepEqual(ev.meta.nested, { n: 2 });
    assert.equal(ev.meta.path, '/s/cm/x');
    assert.equal(ev.meta.type, 'data');
  });

  it('event _meta carries exactly channel, action, path, sessionId, publicationId, consistency, times', async () => {
    const rec = recorder();
    await sub1.on('/s/fields/*', rec.handler);
    const set = await c.set('/s/fields/x', { f: 1 });
    const removed = await c.remove('/s/fields/x');
    const [setEv, rmEv] = await rec.wait(2);
    assert.deepEqual(setEv.data, { f: 1 });
    assert.deepEqual(setEv.meta, {
      action: '/SET@/s/fields/x',
      type: 'data',
      sessionId: c.session.id,
      consistency: 2,
      publicationId: `${c.session.id}-${set._meta.eventId}`,
      path: '/s/fields/x',
      created: set._meta.created,
      modified: set._meta.modified,
      channel: '/ALL@/s/fields/*',
    });
    assert.deepEqual(rmEv.data, { removed: 1 });
    assert.deepEqual(rmEv.meta, {
      action: '/REMOVE@/s/fields/x',
      type: 'data',
      sessionId: c.session.id,
      consistency: 2,
      publicationId: `${c.session.id}-${removed._meta.eventId}`,
      path: '/s/fields/x',
      channel: '/ALL@/s/fields/*',
    });
  });

  it('two subscriptions on different channels get one event each; onAll gets everything', async () => {
    const exact = recorder();
    const wild = recorder();
    const all = recorder();
    await sub2.on('/s/two/x', exact.handler);
    await sub2.on('/s/two/*', wild.handler);
    await sub2.onAll(all.handler);
    await c.set('/s/two/x', { two: 1 });
    await exact.wait(1);
    await wild.wait(1);
    await all.wait(1);
    assert.equal(exact.events[0].meta.channel, '/ALL@/s/two/x');
    assert.equal(wild.events[0].meta.channel, '/ALL@/s/two/*');
    assert.equal(all.events[0].meta.channel, '/ALL@*');
    await sub2.offAll();
  });
});
