'use strict';
// A happner-cluster member for bench/run-cluster.sh: the JavaScript peer of
// the cluster rows. It needs the npm package happner-cluster (13.0.x) and a
// MongoDB-protocol server (happn-cluster keeps its shared data there).
//
// Usage: node cluster-member.js --role worker|edge --name N --port P
//          --swim-port S --seed-port S0 [--seed] --mongo URL [--peers N]
//          [--modules DIR]
//
// A worker has the component `calc` (version 1.0.0) whose add(a, b,
// callback) answers a + b; an edge has no component of its own and brokers
// `calc` ($broker), so that a client of the edge calls calc on a worker.
// Once started it prints "peer member NAME listening on HOST:PORT" and stops
// on SIGINT/SIGTERM.
if (!process.env.LOG_LEVEL) process.env.LOG_LEVEL = 'warn';

const path = require('path');
const { parseFlags, checkPort, stopOnSignal } = require('./cli');

function parseArgs(argv) {
  const opts = {
    role: 'worker', name: '', host: '127.0.0.1', port: 0, swimPort: 0, seedPort: 0,
    seed: false, mongo: 'mongodb://127.0.0.1:27017', peers: 2, modules: '',
  };
  parseFlags(argv, {
    '--role': (v) => (opts.role = v),
    '--name': (v) => (opts.name = v),
    '--host': (v) => (opts.host = v),
    '--port': (v) => (opts.port = Number(v)),
    '--swim-port': (v) => (opts.swimPort = Number(v)),
    '--seed-port': (v) => (opts.seedPort = Number(v)),
    '--seed': () => (opts.seed = true),
    '--mongo': (v) => (opts.mongo = v),
    '--peers': (v) => (opts.peers = Number(v)),
    '--modules': (v) => (opts.modules = v),
  });
  checkPort(opts.port);
  if (opts.role !== 'worker' && opts.role !== 'edge') throw new Error('--role is worker or edge');
  if (!opts.name) throw new Error('--name is required');
  if (!opts.port || !opts.swimPort || !opts.seedPort) throw new Error('--port, --swim-port and --seed-port are required');
  return opts;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`peer member: ${e.message}\n`);
    process.exit(2);
  }
  const moduleDir = opts.modules || path.join(__dirname, 'cluster-modules');
  const HappnerCluster = require('happner-cluster');
  const config = {
    name: opts.name,
    domain: 'benchDomain',
    ignoreDependenciesOnStartup: true,
    cluster: { requestTimeout: 20000, responseTimeout: 30000 },
    happn: {
      host: opts.host,
      port: opts.port,
      services: {
        data: {
          config: {
            datastores: [{
              name: 'mongo', provider: 'happn-db-provider-mongo', isDefault: true,
              settings: { collection: 'happn-cluster', database: 'happn-cluster-bench', url: opts.mongo },
            }],
          },
        },
        membership: {
          config: {
            host: opts.host, port: opts.swimPort, seed: opts.seed, seedWait: 1000,
            hosts: [`${opts.host}:${opts.seedPort}`], joinTimeout: 1000,
          },
        },
        proxy: { config: { host: opts.host, port: opts.port + 1000 } },
        orchestrator: { config: { minimumPeers: opts.peers } },
      },
    },
    modules: {},
    components: {},
  };
  if (opts.role === 'worker') {
    config.modules.calc = { path: path.join(moduleDir, 'calc') };
    config.components.calc = {};
  } else {
    config.modules.edge = { path: path.join(moduleDir, 'edge') };
    config.components.edge = {};
  }
  const member = await HappnerCluster.create(config);
  process.stdout.write(`peer member ${opts.name} listening on ${opts.host}:${opts.port + 1000}\n`);
  stopOnSignal(() =>
    member.stop({ reconnect: false }).then(
      () => process.exit(0),
      () => process.exit(0)
    )
  );
}

main().catch((e) => {
  process.stderr.write(`peer member: ${e.stack || e}\n`);
  process.exit(1);
});
