'use strict';
// A raw websocket client (the `ws` package) speaking the happn_4 wire protocol by hand, for
// sending frames the npm client never would.

const WebSocket = require('ws');
const { sleep } = require('./server');

/**
 * Opens ws://host:port/primus and collects every decoded frame. Server heartbeats are answered
 * unless opts.autoPong is false.
 */
async function rawConnect(server, opts = {}) {
  const autoPong = opts.autoPong !== false;
  const ws = new WebSocket(`ws://${server.host}:${server.port}/primus?_primuscb=interop`);
  const frames = [];
  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('message', (buf, isBinary) => {
    const text = buf.toString('utf8');
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      value = { unparsable: text, isBinary };
    }
    frames.push(value);
    // Answer heartbeats like a real client.
    if (autoPong && typeof value === 'string' && value.startsWith('primus::ping::')) {
      ws.send(JSON.stringify(value.replace('ping', 'pong')));
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let nextEventId = 1;
  const raw = {
    ws,
    frames,
    closed,
    isOpen: () => ws.readyState === WebSocket.OPEN,
    /** Sends a JS value as a JSON text frame. */
    send(value) {
      ws.send(JSON.stringify(value));
    },
    /** Sends exact text (may be invalid JSON). */
    sendText(text) {
      ws.send(text);
    },
    /** Waits for the first frame (seen from index `from`) matching predicate. */
    async next(predicate, ms = 3000, from = 0) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = frames.slice(from).find(predicate);
        if (found !== undefined) return found;
        if (Date.now() > deadline) {
          throw new Error(`no matching frame within ${ms}ms; frames so far: ${JSON.stringify(frames)}`);
        }
        await sleep(10);
      }
    },
    /** Sends a request with the next eventId and resolves with the reply for that eventId. */
    async request(action, fields = {}, ms = 3000) {
      const eventId = nextEventId++;
      raw.send({ action, eventId, ...fields });
      return raw.next((f) => replyEventId(f) === eventId, ms);
    },
    /** Reserves an eventId for a hand-built request. */
    eventId: () => nextEventId++,
    /** configure-session + describe + login (unsecured), as the npm client does. */
    async handshake() {
      await raw.request('configure-session', { data: { protocol: 'happn_4', version: '13.12.1', browser: false } });
      await raw.request('describe', { data: null });
      const login = await raw.request('login', {
        data: { info: { _browser: false, _local: false }, protocol: 'happn_4' },
        options: { timeout: 60000 },
      });
      raw.sessionId = login.data.id;
      return login;
    },
    close() {
      ws.terminate();
    },
  };
  return raw;
}

/** The eventId a reply frame answers (array replies carry it in their last element). */
function replyEventId(f) {
  if (Array.isArray(f)) return f.length ? f[f.length - 1].eventId : undefined;
  if (f && typeof f === 'object' && f._meta && f._meta.type === 'response') return f._meta.eventId;
  return undefined;
}

module.exports = { rawConnect, replyEventId };
