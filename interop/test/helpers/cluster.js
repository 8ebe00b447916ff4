'use strict';
// Starts the Go brokered cluster (internal/cmd/brokercluster) as a child process: two internal
// members implementing remoteComponent 2.0.0 and an edge member that brokers it ($broker,
// ^2.0.0), all in one process on an in-memory shared store. Clients connect to the edge with the
// helpers of ./mesh (meshClient, happnerClient, lightClient take the handle returned here).
//
// The binary comes from env HAPPNER_BROKERCLUSTER_BIN when set, else it is built from the
// repository root into interop/.bin/ (git-ignored). Everything started here is stopped when the
// test file ends.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { after } = require('node:test');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const INTEROP_ROOT = path.resolve(__dirname, '..', '..');
const START_TIMEOUT_MS = 60000;
const DOMAIN = 'DOMAIN_NAME';

const live = new Set();
let builtBinary;

function clusterBinary() {
  if (process.env.HAPPNER_BROKERCLUSTER_BIN) return process.env.HAPPNER_BROKERCLUSTER_BIN;
  const binDir = path.join(INTEROP_ROOT, '.bin');
  fs.mkdirSync(binDir, { recursive: true });
  const bin = path.join(binDir, `brokercluster-${process.pid}`);
  execFileSync('go', ['build', '-o', bin, './internal/cmd/brokercluster'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 170000,
  });
  return bin;
}

/**
 * Starts the brokered cluster. Options: timeout (the edge's setOptions.timeout, ms).
 * Resolves to {host, port, name (the domain, for LightClients), edge, internals: [names],
 * stopInternal(i), startInternal(), signalStop(), stop()}.
 */
async function startBrokerCluster(opts = {}) {
  builtBinary = builtBinary || clusterBinary();
  const args = ['-host', '127.0.0.1'];
  if (opts.timeout) args.push('-timeout', String(opts.timeout));
  const proc = spawn(builtBinary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const waiters = [];
  const handle = {
    host: '127.0.0.1',
    port: 0,
    name: DOMAIN,
    edge: '',
    internals: [],
    stderr: () => stderr,
    /** Stops internal member i; resolves with its name once it is gone. */
    stopInternal(i) {
      const done = nextLine(new RegExp(`^(STOPPED ${i} |ERROR )`));
      proc.stdin.write(`stop ${i}\n`);
      return done.then(checkError);
    },
    /** Starts another internal member; resolves with its name. */
    startInternal() {
      const done = nextLine(/^(INTERNAL |ERROR )/);
      proc.stdin.write('start\n');
      return done.then(checkError);
    },
    /** Stops the first running internal member through SIGUSR1; resolves with its name. */
    signalStop() {
      const done = nextLine(/^(STOPPED |ERROR )/);
      proc.kill('SIGUSR1');
      return done.then(checkError);
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      live.delete(handle);
    },
  };
  function nextLine(re) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`brokercluster: no ${re} line: ${stderr}`)), 20000);
      waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }
  function checkError(line) {
    if (line.startsWith('ERROR ')) throw new Error(line.slice(6));
    return line.split(' ')[2];
  }
  live.add(handle);
  const lines = readline.createInterface({ input: proc.stdout });
  let started;
  const ready = new Promise((resolve) => (started = resolve));
  lines.on('line', (raw) => {
    const l = raw.trim();
    let m;
    if ((m = /^INTERNAL (\d+) (\S+)$/.exec(l))) handle.internals[Number(m[1])] = m[2];
    if ((m = /^EDGE (\S+) (\S+):(\d+)$/.exec(l))) {
      handle.edge = m[1];
      handle.port = Number(m[3]);
      started();
    }
    const i = waiters.findIndex((w) => w.re.test(l));
    if (i >= 0) waiters.splice(i, 1)[0].resolve(l);
  });
  let timer;
  try {
    await Promise.race([
      ready,
      exited.then(({ code }) => Promise.reject(new Error(`brokercluster exited (code ${code}): ${stderr}`))),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`brokercluster did not start: ${stderr}`)), START_TIMEOUT_MS);
      }),
    ]);
  } catch (e) {
    await handle.stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return handle;
}

after(async () => {
  await Promise.all([...live].map((c) => c.stop()));
  if (builtBinary && !process.env.HAPPNER_BROKERCLUSTER_BIN) fs.rmSync(builtBinary, { force: true });
});

module.exports = { startBrokerCluster };
