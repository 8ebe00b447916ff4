'use strict';
// Connection life cycle through the unmodified npm happn-3 client: secure login (password, token,
// failures), eventOrigin on a secure server, a server restart on the same port (the client
// reconnects, logs in again and re-subscribes by itself) and a server-side disconnect.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const Happn = require('happn-3');
const { startServer, connect, disconnect, waitFor, sleep } = require('./helpers/server');
const { plain, recorder } = require('./helpers/events');

const ADMIN_PASSWORD = 'interop-Secret-1';
const DISCONNECTED = 2; // happn-3 CLIENT_STATE.DISCONNECTED

/** Records the client's life-cycle events (connection-ended, reconnect-*, session-ended). */
function lifecycle(client) {
  const seen = [];
  for (const name of ['connection-ended', 'reconnect-scheduled', 'reconnect-successful', 'session-ended']) {
    client.onEvent(name, (data) => seen.push({ name, data: plain(data) }));
  }
  return {
    seen,
    count: (name) => seen.filter((e) => e.name === name).length,
    find: (name) => seen.find((e) => e.name === name),
  };
}

async function loginError(server, config) {
  try {
    const client = await Happn.client.create({ config: { host: server.host, port: server.port, ...config } });
    await client.disconnect();
  } catch (e) {
    return e;
  }
  throw new Error(`login with ${JSON.stringify(config)} unexpectedly succeeded`);
}

describe('secure server', () => {
  let server;
  let admin;

  before(async () => {
    server = await startServer({ secure: true, adminPassword: ADMIN_PASSWORD, name: 'interopSecure' });
    admin = await connect(server, { username: '_ADMIN', password: ADMIN_PASSWORD });
  });

  it('password login returns a user and a token', () => {
    assert.equal(admin.serverInfo.name, 'interopSecure');
    assert.equal(admin.serverInfo.secure, true);
    assert.deepEqual(plain(admin.session.happn), { name: 'interopSecure', secure: true });
    assert.equal(admin.session.user.username, '_ADMIN');
    assert.equal(admin.session.user.password, undefined, 'the password never leaves the server');
    assert.equal(typeof admin.session.token, 'string');
    assert.ok(admin.session.token.length > 20);
  });

  it('bad credentials are refused with AccessDenied 401 "Invalid credentials"', async () => {
    for (const config of [
      { username: '_ADMIN', password: 'wrong' },
      { username: '_ADMIN', password: 'happn' }, // the default password was replaced
      { username: 'nobody', password: 'x' },
    ]) {
      const e = await loginError(server, config);
      assert.equal(e.name, 'AccessDenied', JSON.stringify(config));
      assert.equal(e.code, 401, JSON.stringify(config));
      assert.equal(e.message, 'Invalid credentials', JSON.stringify(config));
    }
  });

  it('a token login opens a new session for the same user', async () => {
    const viaToken = await connect(server, { token: admin.session.token });
    assert.equal(viaToken.session.user.username, '_ADMIN');
    assert.notEqual(viaToken.session.id, admin.session.id);
    const set = await viaToken.set('/sec/token/x', { t: 1 });
    assert.equal(set._meta.status, 'ok');
    await disconnect(viaToken);
  });

  it('events on a secure server carry eventOrigin {username, id} of the publisher', async () => {
    const other = await connect(server, { username: '_ADMIN', password: ADMIN_PASSWORD });
    const rec = recorder();
    await admin.on('/sec/origin/*', rec.handler);
    const set = await other.set('/sec/origin/x', { o: 1 });
    const [ev] = await rec.wait(1);
    assert.deepEqual(ev.meta, {
      action: '/SET@/sec/origin/x',
      type: 'data',
      sessionId: other.session.id,
      consistency: 2,
      publicationId: `${other.session.id}-${set._meta.eventId}`,
      path: '/sec/origin/x',
      created: set._meta.created,
      modified: set._meta.modified,
      eventOrigin: { username: '_ADMIN', id: other.session.id },
      channel: '/ALL@/sec/origin/*',
    });
    await disconnect(other);
  });

  it('server-side disconnect: revoking a token ends every session holding it (session-ended)', async () => {
    const owner = await connect(server, { username: '_ADMIN', password: ADMIN_PASSWORD });
    const child = await connect(server, { token: owner.session.token });
    const bystander = await connect(server, { username: '_ADMIN', password: ADMIN_PASSWORD });
    const life = lifecycle(child);

    await owner.revokeToken();
    await waitFor(() => life.find('session-ended'), 5000, 'session-ended on the token session');
    assert.deepEqual(life.find('session-ended').data, { reason: 'token-revoked' });
    assert.equal(child.status, DISCONNECTED);
    await sleep(1500); // longer than the first reconnect back-off (500 ms)
    assert.equal(life.count('reconnect-scheduled'), 0, 'a kicked client must not reconnect');
    await assert.rejects(child.get('/sec/any'), /client is disconnected/);

    // The token is dead: it cannot log in again ...
    const e = await loginError(server, { token: owner.session.token });
    assert.equal(e.name, 'AccessDenied');
    // ... and other sessions are unaffected.
    assert.equal((await bystander.set('/sec/after/x', { ok: 1 }))._meta.status, 'ok');
    await Promise.all([owner, child, bystander].map((cl) => disconnect(cl)));
  });
});

describe('server restart on the same port', () => {
  /** Subscribes, restarts the server with `how`, and checks the client recovered by itself. */
  async function restartScenario(opts, how) {
    let server = await startServer(opts);
    const port = server.port;
    const creds = opts.secure ? { username: '_ADMIN', password: ADMIN_PASSWORD } : {};
    const client = await connect(server, creds);
    const life = lifecycle(client);
    const all = recorder();
    const setsOnly = recorder();
    await client.on('/rs/*', { meta: { m: 1 } }, all.handler);
    await client.on('/rs/x', { event_type: 'set' }, setsOnly.handler);
    const oldSession = client.session.id;

    await server.stop(how);
    server = await startServer({ ...opts, port });
    assert.equal(server.port, port);

    await waitFor(() => life.find('reconnect-successful'), 15000, 'reconnect-successful');
    assert.equal(life.count('session-ended'), 0);
    assert.notEqual(client.session.id, oldSession, 'a new socket means a new session');

    // The subscriptions were re-made on the new server: another client's writes reach them.
    const writer = await connect(server, creds);
    await writer.set('/rs/x', { after: 'restart' });
    await writer.remove('/rs/x');
    await all.wait(2);
    await setsOnly.wait(1);
    assert.deepEqual(all.events.map((e) => [e.meta.action, e.meta.channel]), [
      ['/SET@/rs/x', '/ALL@/rs/*'],
      ['/REMOVE@/rs/x', '/ALL@/rs/*'],
    ]);
    assert.deepEqual(setsOnly.events.map((e) => [e.data, e.meta.channel]), [[{ after: 'restart' }, '/SET@/rs/x']]);
    assert.equal(all.events[0].meta.sessionId, writer.session.id);

    // And the client itself works on its new session.
    const own = await client.set('/rs/own', { mine: true });
    assert.equal(own._meta.sessionId, client.session.id);
    await disconnect(writer);
    await disconnect(client);
    await server.stop();
  }

  it('after a crash (SIGKILL) the client reconnects and its subscriptions still fire', async () => {
    await restartScenario({}, 'SIGKILL');
  });

  it('after a clean stop (SIGTERM) the client reconnects and its subscriptions still fire', async () => {
    await restartScenario({}, 'SIGTERM');
  });

  it('after a clean stop (SIGTERM) of a secure server the client logs in again and re-subscribes', async () => {
    await restartScenario({ secure: true, adminPassword: ADMIN_PASSWORD }, 'SIGTERM');
  });
});
