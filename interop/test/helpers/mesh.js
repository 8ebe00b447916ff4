'use strict';
// Starts the Go test mesh (internal/cmd/meshserver) as a child process and hands out npm
// happner-2 MeshClients, happner-client HappnerClients and LightClients connected to it.
//
// The binary comes from env HAPPNER_MESH_BIN when set, else it is built from the repository
// root into interop/.bin/ (git-ignored). Everything started here is stopped when the test file
// ends.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { after } = require('node:test');
const Happner = require('happner-2');
const HappnerClient = require('happner-client');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const INTEROP_ROOT = path.resolve(__dirname, '..', '..');
const LISTEN_RE = /^mesh listening on (\S+):(\d+)$/;
const START_TIMEOUT_MS = 30000;

const live = { servers: new Set(), clients: new Set() };

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Builds the mesh server (go build caches, so repeated builds are quick). */
function meshBinary() {
  if (process.env.HAPPNER_MESH_BIN) return process.env.HAPPNER_MESH_BIN;
  const binDir = path.join(INTEROP_ROOT, '.bin');
  fs.mkdirSync(binDir, { recursive: true });
  const bin = path.join(binDir, `meshserver-${process.pid}`);
  execFileSync('go', ['build', '-o', bin, './internal/cmd/meshserver'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 170000,
  });
  return bin;
}

let builtBinary;

/**
 * Starts the Go test mesh. Options: name (default testMesh), timeout (setOptions.timeout, ms),
 * secure (a secure mesh: admin password 'happn', users alice/alicepw, bob/bobpw and
 * delegate/delegatepw, see internal/cmd/meshserver). Resolves to {host, port, name, stop()}.
 */
async function startMesh(opts = {}) {
  builtBinary = builtBinary || meshBinary();
  const host = '127.0.0.1';
  const args = ['-host', host, '-port', '0', '-name', opts.name || 'testMesh'];
  if (opts.timeout) args.push('-timeout', String(opts.timeout));
  if (opts.secure) args.push('-secure');
  const proc = spawn(builtBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const handle = {
    host,
    port: 0,
    name: opts.name || 'testMesh',
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      live.servers.delete(handle);
    },
  };
  live.servers.add(handle);
  const lines = readline.createInterface({ input: proc.stdout });
  let timer;
  try {
    const addr = await Promise.race([
      new Promise((resolve) => lines.on('line', (l) => {
        const m = LISTEN_RE.exec(l.trim());
        if (m) resolve({ host: m[1], port: Number(m[2]) });
      })),
      exited.then(({ code }) => Promise.reject(new Error(`mesh exited (code ${code}): ${stderr}`))),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`mesh did not start: ${stderr}`)), START_TIMEOUT_MS);
      }),
    ]);
    handle.port = addr.port;
  } catch (e) {
    await handle.stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return handle;
}

/** A logged-in npm happner-2 MeshClient; credentials ({username, password}) for secure meshes. */
async function meshClient(mesh, credentials) {
  const client = new Happner.MeshClient({ host: mesh.host, port: mesh.port });
  await client.login(credentials);
  live.clients.add(client);
  return client;
}

/** A connected happner-client HappnerClient; credentials ({username, password}) for secure meshes. */
async function happnerClient(mesh, credentials) {
  const client = new HappnerClient();
  await client.connect(null, { host: mesh.host, port: mesh.port, ...credentials });
  live.clients.add(client);
  return client;
}

/** A connected happner-client LightClient for the mesh's domain; credentials for secure meshes. */
async function lightClient(mesh, credentials) {
  const client = new HappnerClient.Light({ domain: mesh.name });
  await client.connect(null, { host: mesh.host, port: mesh.port, ...credentials });
  live.clients.add(client);
  return client;
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

/** Plain JSON copy (values built in another realm compare badly with deepEqual). */
function plain(v) {
  return JSON.parse(JSON.stringify(v));
}

after(async () => {
  for (const c of [...live.clients]) {
    live.clients.delete(c);
    try {
      await Promise.race([c.disconnect(), sleep(2000)]);
    } catch {
      /* gone */
    }
  }
  await Promise.all([...live.servers].map((s) => s.stop()));
  if (builtBinary && !process.env.HAPPNER_MESH_BIN) fs.rmSync(builtBinary, { force: true });
});

module.exports = { startMesh, meshClient, happnerClient, lightClient, waitFor, sleep, plain };
