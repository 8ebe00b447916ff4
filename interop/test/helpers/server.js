'use strict';
// Starts the server under test as a child process and hands out happn-3 clients connected to it.
//
// Target selection (env HAPPNER_TARGET):
//   unset / "go"  -> the Go binary `happner serve`. The binary comes from env HAPPNER_BIN when set,
//                    else it is built once per test run with `go build ./cmd/happner` into
//                    interop/.bin/ (git-ignored).
//   "reference"   -> the real npm happn-3 server (reference-server.js), same flags, same stdout line.
//
// Every server and client created here is killed / disconnected when the test file ends, also when
// a test fails or the process exits unexpectedly.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { after } = require('node:test');
const Happn = require('happn-3');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const INTEROP_ROOT = path.resolve(__dirname, '..', '..');
const LISTEN_RE = /^happner listening on (\S+):(\d+)$/;
const START_TIMEOUT_MS = 20000;

/** Which server implementation the tests run against: "go" or "reference". */
const TARGET = process.env.HAPPNER_TARGET === 'reference' ? 'reference' : 'go';

const liveServers = new Set();
const liveClients = new Set();

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Builds the Go binary once per `node --test` run. Test files run in child processes of the
 * runner, so the runner's pid (our ppid) identifies the run; a mkdir lock serialises builders.
 */
function goBinary() {
  if (process.env.HAPPNER_BIN) {
    if (!fs.existsSync(process.env.HAPPNER_BIN)) {
      throw new Error(`HAPPNER_BIN=${process.env.HAPPNER_BIN} does not exist`);
    }
    return process.env.HAPPNER_BIN;
  }
  const binDir = path.join(INTEROP_ROOT, '.bin');
  const bin = path.join(binDir, 'happner');
  const stamp = path.join(binDir, 'run-id');
  const lock = path.join(binDir, 'lock');
  fs.mkdirSync(binDir, { recursive: true });
  const runId = String(process.ppid);
  const deadline = Date.now() + 180000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      // Stale lock from a crashed run: older than 3 minutes.
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 180000) fs.rmdirSync(lock);
      } catch {
        /* raced with another process; retry */
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for the build lock');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    const built = fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === runId;
    if (!built) {
      execFileSync('go', ['build', '-o', bin, './cmd/happner'], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: 170000,
      });
      fs.writeFileSync(stamp, runId);
    }
  } finally {
    fs.rmdirSync(lock);
  }
  return bin;
}

/**
 * Starts a server. Options: port (0 = any free port), secure, adminPassword, name, pingInterval
 * (e.g. "30s"), config (a happn-3 config file, --config), seed (a seed file of groups and users,
 * reference server only), target ("go" or "reference": overrides HAPPNER_TARGET, for tests that
 * run both). Resolves to a handle {target, host, port, proc, stderr(), stop(signal), kill()}.
 */
async function startServer(opts = {}) {
  const host = '127.0.0.1';
  const target = opts.target || TARGET;
  const args = ['--port', String(opts.port || 0), '--host', host];
  if (opts.secure) args.push('--secure');
  if (opts.adminPassword) args.push('--admin-password', opts.adminPassword);
  if (opts.name) args.push('--name', opts.name);
  if (opts.pingInterval) args.push('--ping-interval', opts.pingInterval);
  if (opts.config) args.push('--config', opts.config);
  if (opts.seed) {
    if (target !== 'reference') throw new Error('seed files are read by the reference server only');
    args.push('--seed', opts.seed);
  }

  let cmd;
  let cmdArgs;
  if (target === 'reference') {
    cmd = process.execPath;
    cmdArgs = [path.join(__dirname, 'reference-server.js'), ...args];
  } else {
    cmd = goBinary();
    cmdArgs = ['serve', ...args];
  }

  const proc = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'], cwd: INTEROP_ROOT });
  let stderrText = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    stderrText += d;
    if (stderrText.length > 200000) stderrText = stderrText.slice(-100000);
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));

  const handle = {
    target,
    host,
    port: 0,
    proc,
    exited,
    stderr: () => stderrText,
    /** Stops the process with the given signal (default SIGTERM) and waits for it to exit. */
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      liveServers.delete(handle);
    },
    /** Crash: SIGKILL, no chance to say goodbye. */
    kill() {
      return handle.stop('SIGKILL');
    },
  };
  liveServers.add(handle);

  const lines = readline.createInterface({ input: proc.stdout });
  const listening = new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const m = LISTEN_RE.exec(line.trim());
      if (m) resolve({ host: m[1], port: Number(m[2]) });
    });
    exited.then(({ code, signal }) =>
      reject(new Error(`server exited before listening (code ${code}, signal ${signal}): ${stderrText}`))
    );
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`server did not print "happner listening on" within ${START_TIMEOUT_MS}ms: ${stderrText}`)),
      START_TIMEOUT_MS
    );
  });
  try {
    const addr = await Promise.race([listening, timeout]);
    if (addr.host !== host) throw new Error(`server listens on ${addr.host}, asked for ${host}`);
    if (opts.port && addr.port !== opts.port) throw new Error(`server listens on port ${addr.port}, asked for ${opts.port}`);
    handle.port = addr.port;
  } catch (e) {
    await handle.kill();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return handle;
}

/**
 * Connects an unmodified happn-3 client to the server. Extra config (username, password, token)
 * goes into `config`; the client is disconnected automatically when the test file ends.
 */
async function connect(server, config = {}, options = {}) {
  const client = await Happn.client.create({
    config: { host: server.host, port: server.port, ...config },
    ...options,
  });
  liveClients.add(client);
  return client;
}

/** Disconnects a client created by connect(). */
async function disconnect(client, opts) {
  liveClients.delete(client);
  await client.disconnect(opts || {});
}

/** Resolves when `predicate()` is truthy; polls every 20 ms, fails after `ms`. */
async function waitFor(predicate, ms = 5000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await sleep(20);
  }
}

async function cleanupAll() {
  for (const c of [...liveClients]) {
    liveClients.delete(c);
    try {
      await Promise.race([c.disconnect(), sleep(2000)]);
    } catch {
      /* already gone */
    }
  }
  await Promise.all([...liveServers].map((s) => s.kill()));
}

after(cleanupAll);
process.on('exit', () => {
  for (const s of liveServers) {
    try {
      s.proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

module.exports = { TARGET, startServer, connect, disconnect, waitFor, sleep, REPO_ROOT };
