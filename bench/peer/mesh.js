'use strict';
// Reference happner-2 mesh for bench/run-mesh.sh.
// Usage: node mesh.js [--port N] [--host H] [--name NAME] [--secure] [--admin-password P]
// It starts an npm happner-2@13.1.1 mesh with one component, `calc`, whose
// method add(a, b, callback) answers a + b. Port 0 (the default) picks a free
// port. Once the mesh is started it prints exactly
// "peer mesh listening on HOST:PORT" to stdout; it stops on SIGINT/SIGTERM.
if (!process.env.LOG_LEVEL) process.env.LOG_LEVEL = 'warn';

const net = require('net');
const Happner = require('happner-2');
const { parseFlags, checkPort, stopOnSignal } = require('./cli');

function parseArgs(argv) {
  const opts = {
    port: 0,
    host: '127.0.0.1',
    name: 'benchMesh',
    secure: false,
    adminPassword: 'happn',
  };
  parseFlags(argv, {
    '--port': (v) => (opts.port = Number(v)),
    '--host': (v) => (opts.host = v),
    '--name': (v) => (opts.name = v),
    '--secure': () => (opts.secure = true),
    '--admin-password': (v) => (opts.adminPassword = v),
  });
  checkPort(opts.port);
  if (!opts.name) throw new Error('--name must not be empty');
  return opts;
}

// happner-2 treats port 0 as "use the default 55000", so a free port is
// found first by binding and releasing one.
function freePort(host) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// The benchmarked component: one callback-style method.
const calc = {
  add(a, b, callback) {
    callback(null, a + b);
  },
};

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`peer mesh: ${e.message}\n`);
    process.exit(2);
  }
  const port = opts.port || (await freePort(opts.host));
  const happn = { host: opts.host, port, secure: opts.secure };
  if (opts.secure) happn.adminPassword = opts.adminPassword;
  const mesh = await Happner.create({
    name: opts.name,
    util: { logLevel: process.env.LOG_LEVEL },
    happn,
    modules: { calc: { instance: calc } },
    components: { calc: {} },
  });
  process.stdout.write(`peer mesh listening on ${opts.host}:${port}\n`);

  stopOnSignal(() =>
    mesh.stop({ reconnect: false }).then(
      () => process.exit(0),
      () => process.exit(0)
    )
  );
}

main().catch((e) => {
  process.stderr.write(`peer mesh failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
