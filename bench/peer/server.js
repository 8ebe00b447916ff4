'use strict';
// Reference happn-3 server for bench/run.sh.
// Usage: node server.js [--port N] [--host H] [--secure] [--admin-password P]
// Env fallbacks: PEER_PORT, PEER_HOST, PEER_SECURE=1, PEER_ADMIN_PASSWORD.
// Port 0 (the default) picks a free port. Once listening it prints exactly
// "peer listening on HOST:PORT" to stdout; it stops on SIGINT/SIGTERM.
if (!process.env.LOG_LEVEL) process.env.LOG_LEVEL = 'warn';

const happn = require('happn-3');

function parseArgs(argv) {
  const opts = {
    port: Number(process.env.PEER_PORT || 0),
    host: process.env.PEER_HOST || '127.0.0.1',
    secure: process.env.PEER_SECURE === '1' || process.env.PEER_SECURE === 'true',
    adminPassword: process.env.PEER_ADMIN_PASSWORD || 'happn',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${arg}`);
      return argv[++i];
    };
    if (arg === '--port') opts.port = Number(next());
    else if (arg === '--host') opts.host = next();
    else if (arg === '--secure') opts.secure = true;
    else if (arg === '--admin-password') opts.adminPassword = next();
    else if (/^\d+$/.test(arg)) opts.port = Number(arg);
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error(`invalid port ${opts.port}`);
  }
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

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.stop({ reconnect: false }, () => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`peer failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
