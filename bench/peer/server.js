'use strict';
// Reference happn-3 server for bench/run.sh.
// Usage: node server.js [--port N] [--host H] [--secure] [--admin-password P]
// Env fallbacks: PEER_PORT, PEER_HOST, PEER_SECURE=1, PEER_ADMIN_PASSWORD.
// Port 0 (the default) picks a free port. Once listening it prints exactly
// "peer listening on HOST:PORT" to stdout; it stops on SIGINT/SIGTERM.
if (!process.env.LOG_LEVEL) process.env.LOG_LEVEL = 'warn';

const happn = require('happn-3');
const { parseFlags, checkPort, stopOnSignal } = require('./cli');

function parseArgs(argv) {
  const opts = {
    port: Number(process.env.PEER_PORT || 0),
    host: process.env.PEER_HOST || '127.0.0.1',
    secure: process.env.PEER_SECURE === '1' || process.env.PEER_SECURE === 'true',
    adminPassword: process.env.PEER_ADMIN_PASSWORD || 'happn',
  };
  parseFlags(
    argv,
    {
      '--port': (v) => (opts.port = Number(v)),
      '--host': (v) => (opts.host = v),
      '--secure': () => (opts.secure = true),
      '--admin-password': (v) => (opts.adminPassword = v),
    },
    // A bare number is the port.
    (arg) => /^\d+$/.test(arg) && ((opts.port = Number(arg)), true)
  );
  checkPort(opts.port);
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const config = { port: opts.port, host: opts.host, name: 'bench-peer' };
  if (opts.secure) {
    config.secure = true;
    config.services = {
      security: { config: { adminUser: { password: opts.adminPassword } } },
    };
  }
  const server = await happn.service.create(config);
  const address = server.server.address();
  process.stdout.write(`peer listening on ${opts.host}:${address.port}\n`);

  stopOnSignal(() => server.stop({ reconnect: false }, () => process.exit(0)));
}

main().catch((e) => {
  process.stderr.write(`peer failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
