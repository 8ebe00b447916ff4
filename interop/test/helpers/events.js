'use strict';
// Small helpers for collecting publications delivered to happn-3 client handlers.

/** Plain JSON copy: the client hands out arrays/objects built in another realm (primus). */
function plain(v) {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

/**
 * Returns a recorder: `rec.handler` is a subscription handler that stores {data, meta} pairs;
 * `rec.events` is the list; `rec.wait(n)` resolves once n events arrived (fails after ms).
 */
function recorder() {
  const events = [];
  const waiters = [];
  const rec = {
    events,
    handler(data, meta) {
      events.push({ data: plain(data), meta: plain(meta) });
      for (const w of [...waiters]) {
        if (events.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.resolve(events.slice(0, w.n));
        }
      }
    },
    wait(n = 1, ms = 5000) {
      if (events.length >= n) return Promise.resolve(events.slice(0, n));
      return new Promise((resolve, reject) => {
        const w = { n, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`expected ${n} events within ${ms}ms, got ${events.length}: ${JSON.stringify(events)}`));
        }, ms);
        waiters.push(w);
      });
    },
    paths() {
      return events.map((e) => e.meta.path);
    },
  };
  rec.handler = rec.handler.bind(rec);
  return rec;
}

/**
 * Records every raw frame the client's socket receives (publications included), so tests can
 * prove that the server itself stopped sending, not just that the client dropped an event.
 */
function frameSpy(client) {
  const frames = [];
  client.socket.on('data', (msg) => frames.push(plain(msg)));
  return {
    frames,
    publications(channel) {
      return frames.filter(
        (f) => f && !Array.isArray(f) && f._meta && f._meta.type === 'data' && (!channel || f._meta.channel === channel)
      );
    },
  };
}

module.exports = { plain, recorder, frameSpy };
