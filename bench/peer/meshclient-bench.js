'use strict';
// The npm happner-2@13.1.1 MeshClient as a mesh RPC load generator, for
// bench/run-mesh.sh. It runs the same scenarios as the Go `meshbench` and
// prints one JSON object per scenario on stdout in the same shape (and a human
// line on stderr).
//
// Usage: node meshclient-bench.js --addr HOST:PORT --scenario rpc-seq[,rpc-pipe]
//          [--duration 10s] [--warmup 1s] [--depth 100] [--server-pid PID[,PID…]]
//          [--username U --password P] [--label L] [--component calc --method add]
//
//   rpc-seq   one call in flight: calls/s, latency p50/p99 (call → callback)
//   rpc-pipe  --depth calls in flight (default 100)
// Server CPU per call comes from /proc/<pid>/stat (utime + stime) around the
// measured phase.
if (!process.env.LOG_LEVEL) process.env.LOG_LEVEL = 'error';

const fs = require('fs');
const { execFileSync } = require('child_process');
const Happner = require('happner-2');
const { parseFlags } = require('./cli');

const SCENARIOS = ['rpc-seq', 'rpc-pipe'];
const DRAIN_TIMEOUT_MS = 60000;

function parseDuration(s, flag) {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m)$/.exec(String(s));
  if (!m) throw new Error(`${flag}: invalid duration ${JSON.stringify(s)} (e.g. 500ms, 2s)`);
  const mult = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000 }[m[2]];
  return Number(m[1]) * mult;
}

function parseArgs(argv) {
  const opts = {
    addr: '',
    scenarios: [],
    durationMs: 10000,
    warmupMs: 1000,
    depth: 100,
    serverPids: [],
    username: '',
    password: '',
    label: '',
    component: 'calc',
    method: 'add',
  };
  parseFlags(argv, {
    '--addr': (v) => (opts.addr = v),
    '--scenario': (v) => (opts.scenarios = v.split(',').map((s) => s.trim())),
    '--duration': (v) => (opts.durationMs = parseDuration(v, '--duration')),
    '--warmup': (v) => (opts.warmupMs = parseDuration(v, '--warmup')),
    '--depth': (v) => (opts.depth = Number(v)),
    '--server-pid': (v) => (opts.serverPids = v.split(',').map(Number).filter((p) => p !== 0)),
    '--username': (v) => (opts.username = v),
    '--password': (v) => (opts.password = v),
    '--label': (v) => (opts.label = v),
    '--component': (v) => (opts.component = v),
    '--method': (v) => (opts.method = v),
  });
  const m = /^(.+):(\d+)$/.exec(opts.addr);
  if (!m) throw new Error('--addr HOST:PORT is required');
  opts.host = m[1];
  opts.port = Number(m[2]);
  if (opts.scenarios.length === 0) throw new Error('--scenario is required');
  if (opts.scenarios.length === 1 && opts.scenarios[0] === 'all') opts.scenarios = SCENARIOS;
  for (const s of opts.scenarios) {
    if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (want one of ${SCENARIOS.join(', ')})`);
  }
  if (!Number.isInteger(opts.depth) || opts.depth < 1) throw new Error('--depth must be ≥ 1');
  if (!opts.serverPids.every((p) => Number.isInteger(p) && p > 0)) throw new Error('--server-pid must be ≥ 0');
  if (!(opts.durationMs > 0)) throw new Error('--duration must be > 0');
  if (!(opts.warmupMs >= 0)) throw new Error('--warmup must be ≥ 0');
  if (!opts.username !== !opts.password) throw new Error('--username and --password go together');
  return opts;
}

let clockTicks = 0;
// serverCPUSeconds sums utime + stime of the server processes (a
// cluster's members) from /proc/<pid>/stat.
function serverCPUSeconds(pids) {
  return pids.reduce((sum, pid) => sum + processCPUSeconds(pid), 0);
}

// processCPUSeconds reads utime + stime of pid from /proc/<pid>/stat.
function processCPUSeconds(pid) {
  if (!clockTicks) {
    clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

function clientCPUSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// percentile is the nearest-rank percentile of sorted (ascending) samples.
function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  let rank = Math.ceil((p / 100) * sorted.length);
  if (rank < 1) rank = 1;
  return sorted[rank - 1];
}

// load keeps `depth` calls of fn in flight until the deadline, then waits for
// the last of them. Latencies (ns, as Numbers) go to samples when given.
function load(fn, depth, deadlineMs, samples) {
  return new Promise((resolve, reject) => {
    const res = { done: 0, errors: 0, firstError: '', start: process.hrtime.bigint() };
    let inFlight = 0;
    let i = 0;
    let finished = false;
    const drainTimer = { t: null };
    const finish = () => {
      if (finished) return;
      finished = true;
      if (drainTimer.t) clearTimeout(drainTimer.t);
      res.elapsedS = Number(process.hrtime.bigint() - res.start) / 1e9;
      resolve(res);
    };
    const launch = () => {
      if (Date.now() >= deadlineMs) {
        if (inFlight === 0) finish();
        else if (!drainTimer.t) {
          drainTimer.t = setTimeout(() => {
            finished = true;
            reject(new Error(`${inFlight} replies still missing after ${DRAIN_TIMEOUT_MS} ms`));
          }, DRAIN_TIMEOUT_MS);
        }
        return;
      }
      inFlight++;
      const n = i++;
      const a = n % 1000;
      const b = 7;
      const t0 = process.hrtime.bigint();
      fn(a, b).then(
        (sum) => {
          const d = Number(process.hrtime.bigint() - t0);
          res.done++;
          if (sum !== a + b) {
            res.errors++;
            if (!res.firstError) res.firstError = `add(${a}, ${b}) answered ${JSON.stringify(sum)}`;
          } else if (samples) samples.push(d);
        },
        (err) => {
          res.done++;
          res.errors++;
          if (!res.firstError) res.firstError = `${err && err.name}: ${err && err.message}`;
        }
      ).then(() => {
        inFlight--;
        if (finished) return;
        launch();
      });
    };
    for (let k = 0; k < depth; k++) launch();
  });
}

async function runScenario(opts, client, name) {
  const depth = name === 'rpc-pipe' ? opts.depth : 1;
  const api = client.exchange[opts.component];
  if (!api || typeof api[opts.method] !== 'function') {
    throw new Error(`the mesh has no method ${opts.component}.${opts.method}`);
  }
  const fn = (a, b) => api[opts.method](a, b);
  if (opts.warmupMs > 0) await load(fn, depth, Date.now() + opts.warmupMs, null);

  const samples = [];
  const cpu0 = serverCPUSeconds(opts.serverPids);
  const self0 = clientCPUSeconds();
  const ph = await load(fn, depth, Date.now() + opts.durationMs, samples);
  const cpu1 = serverCPUSeconds(opts.serverPids);
  const self1 = clientCPUSeconds();

  const res = {
    scenario: name,
    client: 'npm',
    addr: opts.addr,
    secure: sessionSecure(client, opts),
    depth,
    duration_s: ph.elapsedS,
    errors: ph.errors,
  };
  if (opts.label) res.label = opts.label;
  if (ph.firstError) res.first_error = ph.firstError;
  res.ops = ph.done;
  if (ph.elapsedS > 0) res.ops_per_s = ph.done / ph.elapsedS;
  if (samples.length > 0) {
    samples.sort((x, y) => x - y);
    res.p50_us = percentile(samples, 50) / 1000;
    res.p99_us = percentile(samples, 99) / 1000;
    res.max_us = samples[samples.length - 1] / 1000;
  }
  if (opts.serverPids.length > 0) {
    res.server_cpu_s = cpu1 - cpu0;
    if (ph.done > 0) res.server_cpu_us_per_op = ((cpu1 - cpu0) * 1e6) / ph.done;
  }
  res.client_cpu_s = self1 - self0;
  return res;
}

// sessionSecure reads happn.secure from the login reply, as the MeshClient's
// own messenger does; without a session it falls back to "logged in with a
// username".
function sessionSecure(client, opts) {
  const session = client.data && client.data.session;
  if (session && session.happn && typeof session.happn.secure === 'boolean') return session.happn.secure;
  return !!opts.username;
}

function human(r) {
  let s = `${r.scenario.padEnd(8)} [${r.label || 'npm'}] ${r.addr}  ${r.ops} calls in ${r.duration_s.toFixed(2)}s = ${(r.ops_per_s || 0).toFixed(0)} calls/s`;
  if (r.p50_us !== undefined) s += `  p50 ${r.p50_us.toFixed(0)}µs p99 ${r.p99_us.toFixed(0)}µs`;
  if (r.server_cpu_us_per_op !== undefined) s += `  server CPU ${r.server_cpu_us_per_op.toFixed(1)}µs/call`;
  if (r.errors) s += `  ERRORS ${r.errors}`;
  if (r.first_error) s += `  first error: ${r.first_error}`;
  return s;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`meshclient-bench: ${e.message}\n`);
    process.exit(2);
  }
  const client = new Happner.MeshClient({ host: opts.host, port: opts.port });
  const creds = opts.username ? { username: opts.username, password: opts.password } : {};
  try {
    await client.login(creds);
  } catch (e) {
    process.stderr.write(`meshclient-bench: login to ${opts.addr} failed: ${e && e.message}\n`);
    process.exit(1);
  }
  let status = 0;
  for (const name of opts.scenarios) {
    try {
      const r = await runScenario(opts, client, name);
      process.stdout.write(JSON.stringify(r) + '\n');
      process.stderr.write(human(r) + '\n');
    } catch (e) {
      process.stderr.write(`meshclient-bench: ${name} against ${opts.addr}: ${e && e.message}\n`);
      status = 1;
    }
  }
  try {
    await client.disconnect();
  } catch (e) {
    // The results are already out; a failed disconnect changes nothing.
  }
  process.exit(status);
}

main().catch((e) => {
  process.stderr.write(`meshclient-bench: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
