'use strict';
// Your own binary: examples/ownbinary is cli.Main with two components of its own (calc, and
// stats which depends on calc). It is started as a cluster member from its config file in
// happner-cluster's shape (examples/ownbinary/member.yaml, values from the environment), and
// the unmodified npm happner-2 MeshClient calls its components and receives their events.
//
// The binary comes from env HAPPNER_OWNBINARY_BIN when set, else it is built from the
// repository root into interop/.bin/ (git-ignored).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { meshClient, waitFor, plain } = require('./helpers/mesh');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const CONFIG = path.join(REPO_ROOT, 'examples', 'ownbinary', 'member.yaml');
const PASSWORD = 'interop-admin-pw';

function ownBinary() {
  if (process.env.HAPPNER_OWNBINARY_BIN) return { bin: process.env.HAPPNER_OWNBINARY_BIN, built: false };
  const binDir = path.join(REPO_ROOT, 'interop', '.bin');
  fs.mkdirSync(binDir, { recursive: true });
  const bin = path.join(binDir, `ownbinary-${process.pid}`);
  execFileSync('go', ['build', '-o', bin, './examples/ownbinary'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 170000,
  });
  return { bin, built: true };
}

/** Starts `bin member --config member.yaml --strict`; resolves to {host, port, name, proc}. */
function startMember(bin) {
  const proc = spawn(bin, ['member', '--config', CONFIG, '--strict'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HAPPNER_ADMIN_PASSWORD: PASSWORD,
      HAPPNER_MEMBER_NAME: 'calc-interop',
      HAPPNER_PORT: '0',
      HAPPNER_DEPLOYMENT_ID: `interop-${process.pid}`,
    },
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`member did not start: ${stderr}`)), 60000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`member exited (code ${code}): ${stderr}`));
    });
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /^happner member (\S+) listening on (\S+):(\d+)$/.exec(line.trim());
      if (m) {
        clearTimeout(timer);
        resolve({ name: m[1], host: m[2], port: Number(m[3]), proc, stderr: () => stderr });
      }
    });
  });
}

describe('your own binary (cli.Main) as a cluster member, called by the npm happner-2 MeshClient', () => {
  let built;
  let member;
  let client;

  before(async () => {
    built = ownBinary();
    member = await startMember(built.bin);
    client = await meshClient(member, { username: '_ADMIN', password: PASSWORD });
  });

  after(async () => {
    if (member && member.proc.exitCode === null) {
      const exited = new Promise((resolve) => member.proc.once('exit', resolve));
      member.proc.kill('SIGTERM');
      await exited;
    }
    if (built && built.built) fs.rmSync(built.bin, { force: true });
  });

  it('runs the member named in the config file, without config warnings (--strict)', () => {
    assert.equal(member.name, 'calc-interop');
    assert.doesNotMatch(member.stderr(), /config: /);
  });

  it('describes the registered components', () => {
    assert.equal(typeof client.exchange.calc.add, 'function');
    assert.equal(typeof client.exchange.stats.mean, 'function');
  });

  it('calls the custom components, stats through its dependency on calc', async () => {
    assert.equal(await client.exchange.calc.add(2, 3), 5);
    assert.equal(await client.exchange.stats.mean([1, 2, 3, 6]), 3);
  });

  it('passes the component\'s named error through', async () => {
    await assert.rejects(client.exchange.calc.divide(1, 0), (e) => {
      assert.equal(e.message, 'cannot divide by zero');
      assert.equal(e.name, 'DivideByZero');
      return true;
    });
  });

  it('delivers the component\'s events', async () => {
    const events = [];
    await client.event.stats.on('stats/mean', (data) => events.push(plain(data)));
    await client.exchange.stats.mean([2, 4]);
    await waitFor(() => events.length === 1, 5000, 'stats/mean event');
    assert.deepEqual(events[0], { values: [2, 4], mean: 3 });
  });
});
