'use strict';
// The unmodified npm happner-2 MeshClient and happner-client against a Go edge member that
// brokers remoteComponent ($broker) living on two Go internal members (happner-cluster tests
// 09/10): calls, round-robin, errors, events, Not implemented and failover when internal
// members stop.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { meshClient, happnerClient, lightClient, waitFor, plain } = require('./helpers/mesh');
const { startBrokerCluster } = require('./helpers/cluster');

function memberOf(result) {
  return String(result).split(':')[0];
}

describe('brokered components through a Go edge member', () => {
  let cluster;
  let mc;
  let hc;
  let api;

  before(async () => {
    cluster = await startBrokerCluster();
    mc = await meshClient(cluster);
    hc = await happnerClient(cluster);
    api = hc.construct({
      remoteComponent: { version: '^2.0.0', methods: { method1: {}, fail: {}, fire: {} } },
    });
  });

  it('describes the brokered component with the internal members\' methods', () => {
    assert.equal(typeof mc.exchange.remoteComponent.method1, 'function');
    // methods the broker did not declare come from the internal members' descriptions
    assert.equal(typeof mc.exchange.remoteComponent.fail, 'function');
    assert.equal(typeof mc.exchange.broker.ping, 'function');
  });

  it('MeshClient calls are served by the internal members, round-robin', async () => {
    const seen = {};
    for (let i = 0; i < 4; i++) {
      const r = await mc.exchange.remoteComponent.method1(`call${i}`);
      assert.match(r, new RegExp(`:call${i}$`));
      seen[memberOf(r)] = (seen[memberOf(r)] || 0) + 1;
    }
    assert.deepEqual(Object.keys(seen).sort(), [...cluster.internals].sort());
    assert.deepEqual(Object.values(seen), [2, 2]);
    assert.equal(await mc.exchange.broker.ping(), 'pong');
  });

  it('happner-client and LightClient calls reach the internal members', async () => {
    const r = await api.exchange.remoteComponent.method1('hc');
    assert.ok(cluster.internals.includes(memberOf(r)), r);
    const light = await lightClient(cluster);
    const lr = await light.exchange.$call({ component: 'remoteComponent', method: 'method1', arguments: ['light'] });
    assert.match(lr, /:light$/);
  });

  it('passes remote errors through', async () => {
    await assert.rejects(mc.exchange.remoteComponent.fail(), (e) => {
      assert.equal(e.message, 'test error');
      return true;
    });
    await assert.rejects(api.exchange.remoteComponent.fail(), (e) => {
      assert.equal(e.toString(), 'Error: test error');
      return true;
    });
  });

  it('delivers the internal members\' events to edge clients', async () => {
    const events = [];
    await mc.event.remoteComponent.on('brokered/event', (data) => events.push(plain(data)));
    await mc.exchange.remoteComponent.fire('brokered/event');
    await waitFor(() => events.length === 1, 5000, 'brokered event');
    assert.ok(cluster.internals.includes(events[0].from), JSON.stringify(events));
    const hcEvents = [];
    await new Promise((resolve, reject) =>
      api.event.remoteComponent.on('brokered/hc', (data) => hcEvents.push(plain(data)), (e) => (e ? reject(e) : resolve()))
    );
    await api.exchange.remoteComponent.fire('brokered/hc');
    await waitFor(() => hcEvents.length === 1, 5000, 'brokered event for happner-client');
  });

  it('fails over when an internal member stops, and is Not implemented without any', async () => {
    const first = await cluster.stopInternal(0);
    const survivor = cluster.internals[1];
    await waitFor(async () => memberOf(await mc.exchange.remoteComponent.method1('x')) === survivor, 5000, 'failover');
    for (let i = 0; i < 4; i++) {
      assert.equal(memberOf(await mc.exchange.remoteComponent.method1('after')), survivor);
      assert.equal(memberOf(await api.exchange.remoteComponent.method1('after')), survivor);
    }
    assert.notEqual(first, survivor);
    const second = await cluster.signalStop();
    assert.equal(second, survivor);
    await waitFor(
      () => mc.exchange.remoteComponent.method1('none').then(() => false, (e) => /Not implemented remoteComponent:\^2\.0\.0:method1/.test(e.message)),
      5000,
      'Not implemented'
    );
    // the methods stay on the api while no member implements them
    assert.equal(typeof mc.exchange.remoteComponent.method1, 'function');
    const back = await cluster.startInternal();
    await waitFor(
      () => mc.exchange.remoteComponent.method1('back').then((r) => memberOf(r) === back, () => false),
      10000,
      'a new internal member'
    );
  });
});
