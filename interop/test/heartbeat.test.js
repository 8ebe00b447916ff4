'use strict';
// The primus heartbeat of protocol happn_4: the server pings, clients pong; a silent socket is
// closed without "primus::server::close" (so real clients would reconnect); an npm client stays
// connected across many beats.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, connect, sleep } = require('./helpers/server');
const { rawConnect } = require('./helpers/raw');

const PING_RE = /^primus::ping::\d{13}$/;

describe('heartbeat (ping interval 1s)', () => {
  let server;

  before(async () => {
    server = await startServer({ pingInterval: '1s' });
  });

  it('pings happn_4 sessions with primus::ping::<ms epoch> and accepts the pong', async () => {
    const raw = await rawConnect(server);
    await raw.request('configure-session', { data: { protocol: 'happn_4', version: '13.12.1', browser: false } });
    const before = Date.now();
    const ping = await raw.next((f) => typeof f === 'string' && f.startsWith('primus::ping::'), 3000);
    assert.match(ping, PING_RE);
    const stamp = Number(ping.slice('primus::ping::'.length));
    assert.ok(Math.abs(stamp - Date.now()) < 5000, `ping carries the server time in ms, got ${stamp}`);
    await sleep(Math.max(0, 3500 - (Date.now() - before)));
    assert.ok(raw.isOpen(), 'a client that pongs stays connected');
    assert.ok(raw.frames.filter((f) => typeof f === 'string' && PING_RE.test(f)).length >= 2);
    raw.close();
  });

  it('closes a happn_4 socket that never pongs, without primus::server::close', async () => {
    const raw = await rawConnect(server, { autoPong: false });
    await raw.request('configure-session', { data: { protocol: 'happn_4', version: '13.12.1', browser: false } });
    await Promise.race([raw.closed, sleep(8000).then(() => assert.fail('silent socket still open after 8 beats'))]);
    assert.ok(raw.frames.some((f) => typeof f === 'string' && PING_RE.test(f)));
    assert.ok(!raw.frames.includes('primus::server::close'), 'must not tell the client to stay away');
  });

  it('an npm client stays connected across several beats', async () => {
    const client = await connect(server);
    const ended = [];
    client.onEvent('connection-ended', () => ended.push(Date.now()));
    client.onEvent('reconnect-scheduled', () => ended.push(Date.now()));
    const session = client.session.id;
    await sleep(3500);
    assert.deepEqual(ended, []);
    assert.equal(client.session.id, session);
    assert.equal((await client.set('/hb/x', { ok: 1 }))._meta.status, 'ok');
  });
});
