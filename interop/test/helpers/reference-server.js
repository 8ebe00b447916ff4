#!/usr/bin/env node
'use strict';
// Reference server: the real npm happn-3 server, started with the same command-line flags as
// `happner serve` and announcing itself with the same stdout line, so that the interop tests can
// run unchanged against it (HAPPNER_TARGET=reference). This proves the tests encode real happn-3
// behaviour. Logs go to stderr; stdout carries only the "happner listening on" line.
//
// --config FILE reads a happn-3 config object (JSON) as `happner serve --config` does; the other
// flags override it. --seed FILE then creates groups (with permissions) and users linked to their
// groups through happn-3's own security service before the server announces itself:
//   {"groups": [{name, custom_data, permissions}], "users": [{username, password, custom_data, groups: [names]}]}

const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '55000' },
    host: { type: 'string', default: '127.0.0.1' },
    secure: { type: 'boolean', default: false },
    'admin-password': { type: 'string' },
    name: { type: 'string' },
    'ping-interval': { type: 'string' },
    config: { type: 'string' },
    seed: { type: 'string' },
  },
  strict: true,
});

// happn-logger writes to stdout; keep it quiet so stdout stays machine-readable.
if (!process.env.LOG_LEVEL) process.env.LOG_LEVEL = 'error';

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`reference-server: bad --port ${values.port}\n`);
  process.exit(2);
}

function parseDuration(text) {
  const m = /^(\d+)(ms|s|m)?$/.exec(text);
  if (!m) throw new Error(`bad duration ${text}`);
  const n = Number(m[1]);
  return m[2] === 'm' ? n * 60000 : m[2] === 's' || !m[2] ? n * 1000 : n;
}

const fs = require('node:fs');

const config = values.config ? JSON.parse(fs.readFileSync(values.config, 'utf8')) : {};
config.host = values.host;
config.port = port;
if (values.secure) config.secure = true;
config.services = config.services || {};
for (const name of ['session', 'security']) {
  config.services[name] = config.services[name] || {};
  config.services[name].config = config.services[name].config || {};
}
if (values.name) config.name = values.name;
if (values['admin-password']) {
  config.services.security.config.adminUser = { password: values['admin-password'] };
}
if (values['ping-interval']) {
  config.services.session.config.primusOpts = {
    pingInterval: parseDuration(values['ping-interval']),
  };
}

const happn = require('happn-3');

// seed creates the groups and users of a seed file through happn-3's security service.
async function seed(server, file) {
  const { groups = [], users = [] } = JSON.parse(fs.readFileSync(file, 'utf8'));
  const security = server.services.security;
  for (const group of groups) await security.groups.upsertGroup(group, {});
  for (const { groups: names = [], ...user } of users) {
    const upserted = await security.users.upsertUser(user, {});
    for (const name of names) {
      const group = await security.groups.getGroup(name);
      await security.groups.linkGroup(group, upserted, {});
    }
  }
}

happn.service.create(config, async (err, server) => {
  if (err) {
    process.stderr.write(`reference-server: ${err.stack || err}\n`);
    process.exit(1);
  }
  if (values.seed) {
    try {
      await seed(server, values.seed);
    } catch (e) {
      process.stderr.write(`reference-server: seeding ${values.seed}: ${e.stack || e}\n`);
      process.exit(1);
    }
  }
  const addr = server.server.address();
  process.stdout.write(`happner listening on ${values.host}:${addr.port}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Like a normal happn-3 stop: sockets are destroyed with reconnect:true, so clients reconnect.
    server.stop({ reconnect: true }, () => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
});
