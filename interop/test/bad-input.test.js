'use strict';
// Bad input over a raw websocket: a non-JSON frame, JSON that is not a request, an unknown action,
// a request without an action, bad paths, a binary frame, an unauthenticated request on a secure
// server. After each, the server must still answer other clients (an npm happn-3 client).

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { TARGET, startServer, connect, sleep } = require('./helpers/server');
const { rawConnect } = require('./helpers/raw');

const BAD_CHARS =
  'Bad path, can only contain characters a-z A-Z 0-9 / & + = : @ % * ( ) _ -, ie: factory1@I&J(western-cape)/plant1:conveyer_2/stats=true/capacity=10%/*';
const BAD_WILDCARD_SET = "Bad path, if the action is 'set' the path cannot contain the * wildcard character";

/** The exact error reply happn_4 sends for a request without sessionId. */
function errorReply(eventId, action, error) {
  return {
    data: null,
    _meta: { type: 'response', status: 'error', published: false, eventId, action, error },
    protocol: 'happn_4',
  };
}

describe('bad input over a raw websocket (unsecured server)', () => {
  let server;
  let observer;
  let probe = 0;

  before(async () => {
    server = await startServer();
    observer = await connect(server);
  });

  /** Proves the server still serves another (well-behaved) client. */
  async function serverStillAnswers() {
    probe++;
    const set = await observer.set(`/bad/probe/${probe}`, { probe });
    assert.equal(set._meta.status, 'ok');
    const got = await observer.get(`/bad/probe/${probe}`);
    assert.equal(got.probe, probe);
  }

  /** Proves this raw socket still gets answers (the server did not drop it). */
  async function socketStillAnswers(raw) {
    assert.ok(raw.isOpen(), 'server closed the socket');
    const reply = await raw.request('get', { path: '/bad/none', data: null });
    assert.deepEqual(reply, {
      data: null,
      _meta: { type: 'response', status: 'ok', published: false, eventId: reply._meta.eventId, action: 'get' },
      protocol: 'happn_4',
    });
  }

  /**
   * The reference happn-3 server ignores requests it cannot route (no reply at all). happner-go
   * answers them with an error instead. Checks whichever applies.
   */
  async function expectUnroutable(raw, eventId, action) {
    if (TARGET === 'reference') {
      await sleep(300);
      assert.equal(raw.frames.filter((f) => f && f._meta && f._meta.eventId === eventId).length, 0);
      return;
    }
    const reply = await raw.next((f) => f && f._meta && f._meta.eventId === eventId);
    assert.equal(reply.data, null);
    assert.equal(reply._meta.type, 'response');
    assert.equal(reply._meta.status, 'error');
    assert.equal(reply._meta.action, action);
    assert.equal(reply._meta.error.name, 'Error');
    assert.equal(typeof reply._meta.error.message, 'string');
    assert.equal(reply._meta.error.stack, undefined, 'no stack traces to clients');
  }

  it('answers the handshake of a raw client exactly like happn-3', async () => {
    const raw = await rawConnect(server);
    const configure = await raw.request('configure-session', {
      data: { protocol: 'happn_4', version: '13.12.1', browser: false },
    });
    assert.deepEqual(configure, {
      data: null,
      _meta: { type: 'response', status: 'ok', published: false, eventId: 1, action: 'configure-session' },
      protocol: 'happn_4',
    });
    const describeReply = await raw.request('describe', { data: null });
    assert.deepEqual(describeReply._meta, {
      type: 'response',
      status: 'ok',
      published: false,
      eventId: 2,
      action: 'describe',
    });
    assert.equal(describeReply.data.secure, false);
    assert.equal(typeof describeReply.data.name, 'string');
    raw.close();
  });

  it('answers a legacy client ping with a pong', async () => {
    const raw = await rawConnect(server);
    raw.send('primus::ping::12345');
    assert.equal(await raw.next((f) => f === 'primus::pong::12345'), 'primus::pong::12345');
    raw.close();
  });

  it('a non-JSON frame does not break the socket or the server', async () => {
    const raw = await rawConnect(server);
    await raw.handshake();
    raw.sendText('this is {not json');
    await socketStillAnswers(raw);
    for (const f of raw.frames) {
      if (f && f._meta && f._meta.status === 'error') assert.equal(f._meta.error.stack, undefined);
    }
    await serverStillAnswers();
    raw.close();
  });

  it('JSON that is not a request object (array, number) does not break the server', async () => {
    const raw = await rawConnect(server);
    await raw.handshake();
    raw.send([1, 2, 3]);
    raw.send(12);
    raw.send({ eventId: 'not-a-number', action: 42 });
    await socketStillAnswers(raw);
    await serverStillAnswers();
    raw.close();
  });

  it('an unknown action', async () => {
    const raw = await rawConnect(server);
    await raw.handshake();
    const eventId = raw.eventId();
    raw.send({ action: 'bogus', eventId, data: null });
    await expectUnroutable(raw, eventId, 'bogus');
    await socketStillAnswers(raw);
    await serverStillAnswers();
    raw.close();
  });

  it('a request without an action', async () => {
    const raw = await rawConnect(server);
    await raw.handshake();
    const eventId = raw.eventId();
    raw.send({ eventId, path: '/bad/noaction', data: { a: 1 } });
    if (TARGET === 'reference') {
      await expectUnroutable(raw, eventId, undefined);
    } else {
      const reply = await raw.next((f) => f && f._meta && f._meta.eventId === eventId);
      assert.equal(reply._meta.status, 'error');
      assert.equal(reply._meta.error.name, 'Error');
    }
    await socketStillAnswers(raw);
    assert.equal(await observer.get('/bad/noaction'), null, 'nothing was stored');
    await serverStillAnswers();
    raw.close();
  });

  it('bad paths get the exact happn-3 error replies and store nothing', async () => {
    const raw = await rawConnect(server);
    await raw.handshake();
    const cases = [
      ['set', '/bad/wild*card', BAD_WILDCARD_SET],
      ['set', '/bad/ch^ars', BAD_CHARS],
      ['set', '/bad/quote"s', BAD_CHARS],
      ['on', '/ALL@/bad/ch^ars', BAD_CHARS],
      ['remove', '/bad/ch^ars', BAD_CHARS],
      ['set', 42, 'Bad path [42], must be a string'],
    ];
    for (const [action, path, message] of cases) {
      const reply = await raw.request(action, { path, data: action === 'set' ? { a: 1 } : null });
      assert.deepEqual(
        reply,
        errorReply(reply._meta.eventId, action, { name: 'Error', message }),
        `${action} ${JSON.stringify(path)}`
      );
    }
    assert.equal((await observer.count('/bad/*')).value, probe, 'only the probes are stored');
    await socketStillAnswers(raw);
    await serverStillAnswers();
    raw.close();
  });

  it('a set without a path is refused like happn-3 ("Bad path [undefined], must be a string")', async () => {
    const raw = await rawConnect(server);
    await raw.handshake();
    const reply = await raw.request('set', { data: { a: 1 } });
    assert.deepEqual(
      reply,
      errorReply(reply._meta.eventId, 'set', { name: 'Error', message: 'Bad path [undefined], must be a string' })
    );
    await serverStillAnswers();
    raw.close();
  });

  it('a binary frame does not break the server', async () => {
    const raw = await rawConnect(server);
    await raw.handshake();
    raw.ws.send(Buffer.from([0, 1, 2, 3, 255]), { binary: true });
    await sleep(200);
    await serverStillAnswers();
    raw.close();
  });

  it('a socket that closes mid-request does not break the server', async () => {
    const raw = await rawConnect(server);
    await raw.handshake();
    raw.send({ action: 'on', eventId: raw.eventId(), path: '/ALL@/bad/gone/*', data: null, options: {} });
    raw.close();
    await sleep(100);
    await observer.set('/bad/gone/x', { after: 'close' });
    await serverStillAnswers();
  });
});

describe('bad input over a raw websocket (secure server)', () => {
  let server;

  before(async () => {
    server = await startServer({ secure: true, adminPassword: 'interop-Secret-1' });
  });

  it('a request before login gets 403 "no policy attached to session", then a server-side disconnect', async () => {
    const raw = await rawConnect(server);
    await raw.request('configure-session', { data: { protocol: 'happn_4', version: '13.12.1', browser: false } });
    const eventId = raw.eventId();
    raw.send({ action: 'set', eventId, path: '/x', data: { a: 1 } });
    const reply = await raw.next((f) => f && f._meta && f._meta.eventId === eventId);
    assert.deepEqual(
      reply,
      errorReply(eventId, 'set', { name: 'AccessDenied', code: 403, message: 'no policy attached to session' })
    );
    const kick = await raw.next((f) => f && f.eventKey === 'server-side-disconnect');
    assert.deepEqual(kick, {
      _meta: { type: 'system' },
      data: { reason: 'no-session-policy' },
      eventKey: 'server-side-disconnect',
    });
    await raw.next((f) => f === 'primus::server::close');
    await Promise.race([raw.closed, sleep(3000).then(() => assert.fail('socket not closed'))]);

    // ... while logged-in clients carry on.
    const admin = await connect(server, { username: '_ADMIN', password: 'interop-Secret-1' });
    assert.equal((await admin.set('/x', { fine: true }))._meta.status, 'ok');
  });
});
