'use strict';
// A MongoDB-protocol database for the tests that share one database between npm happn-3
// (happn-db-provider-mongo) and Go nodes.
//
// With env HAPPNER_TEST_MONGO_URL set, that server (a real MongoDB) is used. Otherwise a private
// FerretDB server (MongoDB protocol on an embedded SQLite database) is started for the test file
// on a free port, in a temporary directory: the binary comes from env HAPPNER_FERRETDB, else from
// scripts/build-ferretdb.sh, which builds it once from the Go module proxy and caches it. Each
// database a test asks for gets a unique name and is dropped when the test file ends.

const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { MongoClient } = require('mongodb');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const START_TIMEOUT_MS = 30000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The FerretDB binary: $HAPPNER_FERRETDB, else the one scripts/build-ferretdb.sh prints. */
function ferretBinary() {
  if (process.env.HAPPNER_FERRETDB) return process.env.HAPPNER_FERRETDB;
  const out = execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'build-ferretdb.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 15 * 60 * 1000,
  });
  return out.trim().split('\n').pop();
}

/** Waits until the server at url answers a ping. */
async function waitReady(url, exited) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError;
  while (Date.now() < deadline) {
    if (exited.done) throw new Error(`FerretDB exited at start: ${exited.stderr()}`);
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 500 });
    try {
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (e) {
      lastError = e;
    } finally {
      await client.close().catch(() => {});
    }
    await sleep(100);
  }
  throw new Error(`FerretDB did not answer within ${START_TIMEOUT_MS}ms: ${lastError}`);
}

/**
 * Starts the test file's MongoDB-protocol server (or uses HAPPNER_TEST_MONGO_URL). Resolves to
 * {url, database(prefix): a new unique database name, stop()}. stop() drops every database handed
 * out and stops the server; call it from the test file's after hook (the server is killed anyway
 * when the process exits).
 */
async function startMongo() {
  const databases = [];
  let url = process.env.HAPPNER_TEST_MONGO_URL;
  let proc;
  let dir;
  if (!url) {
    const bin = ferretBinary();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-ferretdb-'));
    fs.mkdirSync(path.join(dir, 'data'));
    const port = await freePort();
    proc = spawn(
      bin,
      [
        '--handler=sqlite',
        `--sqlite-url=file:${path.join(dir, 'data')}/?_pragma=synchronous(off)`,
        `--state-dir=${dir}`,
        `--listen-addr=127.0.0.1:${port}`,
        '--debug-addr=-',
        '--telemetry=disable',
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] }
    );
    let stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => (stderr += d));
    const exited = { done: false, stderr: () => stderr };
    proc.once('exit', () => (exited.done = true));
    url = `mongodb://127.0.0.1:${port}/`;
    try {
      await waitReady(url, exited);
    } catch (e) {
      proc.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }
  const handle = {
    url,
    database(prefix) {
      const name = `${prefix}_${crypto.randomBytes(4).toString('hex')}`;
      databases.push(name);
      return name;
    },
    async stop() {
      const client = new MongoClient(url, { serverSelectionTimeoutMS: 2000 });
      try {
        for (const name of databases) await client.db(name).dropDatabase();
      } catch {
        /* the server is going away anyway */
      } finally {
        await client.close().catch(() => {});
      }
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  process.on('exit', () => {
    if (proc) proc.kill('SIGKILL');
  });
  return handle;
}

module.exports = { startMongo };
