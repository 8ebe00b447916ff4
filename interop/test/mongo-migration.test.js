'use strict';
// Migration between the npm happn-3 server on happn-db-provider-mongo (what every happner-cluster
// deployment runs) and the Go node on the same MongoDB database, both ways:
//
//   npm -> Go: the npm server creates a group with permissions and a user (through happn-3's
//              security service) and the admin writes data; the npm server stops; a Go node
//              (`happner serve --config`, same config file) lets the user log in with the npm
//              client and read the data with the same _meta, and enforces the permissions.
//   Go -> npm: the Go security service (internal/cmd/securityseed) creates the same group and
//              user and the admin writes data through a Go node; the Go node stops; the npm
//              server on the same database lets the user log in and read, permissions enforced.
//
// And the query options happn-3 supports only on MongoDB (aggregate, collation) and count, paging
// and projection give the npm client the same answers from both servers on one database.
//
// The database is a private FerretDB (or HAPPNER_TEST_MONGO_URL); see helpers/ferretdb.js.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startServer, connect, disconnect, REPO_ROOT } = require('./helpers/server');
const { startMongo } = require('./helpers/ferretdb');

const ADMIN_PASSWORD = 'migration-admin-pw';
const SEED = {
  groups: [
    {
      name: 'operators',
      custom_data: { team: 'plant' },
      permissions: {
        '/plant/readings/*': { actions: ['get', 'on'] },
        '/plant/readings/secret/*': { prohibit: ['get'] },
        '/plant/commands/*': { actions: ['*'] }, // stored as happn-3 stores the * action
      },
    },
  ],
  users: [{ username: 'olivia', password: 'olivia-pw', custom_data: { role: 'operator' }, groups: ['operators'] }],
};
const DATA = {
  '/plant/readings/1': { celsius: 21.5, count: 3, big: 1700000000123, tags: ['a', 'b'], nested: { ok: true, none: null } },
  '/plant/readings/2': { celsius: -4, label: 'é ✓ "quoted"', list: [{ k: 1 }, { k: 2.25 }] },
  '/plant/readings/secret/1': { code: 'xyzzy' },
  '/plant/private/1': { v: 1 },
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-migration-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes a happn-3 config file whose only datastore is the mongo database. */
function configFile(name, url, database) {
  const file = path.join(tmp, `${name}.json`);
  const config = {
    secure: true,
    services: {
      security: { config: { adminUser: { password: ADMIN_PASSWORD } } },
      data: {
        config: {
          datastores: [
            {
              name: 'mongo',
              provider: 'happn-db-provider-mongo',
              isDefault: true,
              settings: { url, database, collection: 'happn-cluster' },
            },
          ],
        },
      },
    },
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

function seedFile() {
  const file = path.join(tmp, 'seed.json');
  fs.writeFileSync(file, JSON.stringify(SEED));
  return file;
}

/** Creates the seed's groups and users through the Go security service. */
function goSeed(config) {
  let bin = process.env.HAPPNER_SEED_BIN;
  if (!bin) {
    bin = path.join(tmp, 'securityseed');
    execFileSync('go', ['build', '-o', bin, './internal/cmd/securityseed'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 170000,
    });
  }
  execFileSync(bin, ['-config', config, '-seed', seedFile()], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 60000 });
}

/** Writes DATA as _ADMIN and returns the stored items (data and _meta) by path. */
async function writeData(server) {
  const admin = await connect(server, { username: '_ADMIN', password: ADMIN_PASSWORD });
  const written = {};
  for (const [p, data] of Object.entries(DATA)) {
    await admin.set(p, data);
    written[p] = await admin.get(p);
  }
  await disconnect(admin);
  return written;
}

/** The data of an item the client returned, as plain JSON (without _meta). */
function dataOf(item) {
  const { _meta, ...data } = item;
  return JSON.parse(JSON.stringify(data));
}

/** Fails unless fn rejects with happn's AccessDenied. */
async function denied(what, fn) {
  await assert.rejects(fn, (e) => {
    assert.match(`${e.name} ${e.message}`, /AccessDenied|unauthorized/i, `${what}: ${e}`);
    return true;
  });
}

/**
 * What a migrated database must give the user on the other implementation: login with the same
 * password, the data with the same _meta, and the group's permissions.
 */
async function checkAsOlivia(server, written) {
  await assert.rejects(
    connect(server, { username: 'olivia', password: 'wrong' }),
    /Invalid credentials|AccessDenied/,
    'a wrong password is refused'
  );
  const olivia = await connect(server, { username: 'olivia', password: 'olivia-pw' });
  for (const p of ['/plant/readings/1', '/plant/readings/2']) {
    const item = await olivia.get(p);
    assert.ok(item, `${p} is there`);
    assert.deepEqual(dataOf(item), DATA[p], `${p}: data`);
    for (const k of ['path', 'created', 'modified']) {
      assert.equal(item._meta[k], written[p]._meta[k], `${p}: _meta.${k}`);
    }
  }
  await denied('get of a prohibited path', () => olivia.get('/plant/readings/secret/1'));
  await denied('get outside the permissions', () => olivia.get('/plant/private/1'));
  await denied('set without the set action', () => olivia.set('/plant/readings/3', { celsius: 1 }));
  const command = await olivia.set('/plant/commands/start', { by: 'olivia' });
  assert.equal(command._meta.path, '/plant/commands/start');
  assert.deepEqual(dataOf(await olivia.get('/plant/commands/start')), { by: 'olivia' });
  await disconnect(olivia);

  // _ADMIN keeps its password too, and sees everything.
  const admin = await connect(server, { username: '_ADMIN', password: ADMIN_PASSWORD });
  assert.deepEqual(dataOf(await admin.get('/plant/readings/secret/1')), DATA['/plant/readings/secret/1']);
  await disconnect(admin);
}

describe('a happner-cluster MongoDB database used as it is', () => {
  let mongo;
  before(async () => {
    mongo = await startMongo();
  });
  after(() => mongo && mongo.stop());

  test('written by the npm happn-3 server, read by a Go node', async () => {
    const config = configFile('npm-to-go', mongo.url, mongo.database('npm_to_go'));
    const npm = await startServer({ target: 'reference', config, seed: seedFile() });
    const written = await writeData(npm);
    await checkAsOlivia(npm, written); // the same checks pass on the npm server itself
    await npm.stop();

    const go = await startServer({ target: 'go', config });
    await checkAsOlivia(go, written);
    await go.stop();
  });

  test('aggregate, collation and count answer as happn-3 does on MongoDB', async () => {
    const config = configFile('aggregate', mongo.url, mongo.database('aggregate'));
    const asked = {
      aggregate: {
        criteria: { 'data.group': { $eq: 'odd' } },
        aggregate: [{ $group: { _id: '$data.custom', total: { $sum: '$data.id' } } }, { $sort: { total: 1 } }],
      },
      count: { criteria: { group: 'even' } },
      page: { criteria: { group: 'even' }, options: { sort: { id: -1 }, skip: 1, limit: 2, fields: { id: 1 } } },
      collation: { criteria: { 'data.custom': { $eq: 'Odd' } }, options: { collation: { locale: 'en_US', strength: 1 } } },
    };
    // ask sends the same questions to a server and returns what it answered (or failed with)
    const ask = async (server) => {
      const admin = await connect(server, { username: '_ADMIN', password: ADMIN_PASSWORD });
      const settle = (p) => p.then((v) => JSON.parse(JSON.stringify(v)), (e) => ({ error: /collation/i.test(e.message) }));
      const answers = {
        aggregate: (await settle(admin.get('/agg/*', asked.aggregate))).value,
        count: (await settle(admin.count('/agg/*', asked.count))).value,
        page: (await settle(admin.get('/agg/*', asked.page))).map((item) => [item._meta.path, item.id]),
        collationGet: await settle(admin.get('/agg/*', asked.collation)),
        collationCount: await settle(admin.count('/agg/*', asked.collation)),
      };
      if (Array.isArray(answers.collationGet)) answers.collationGet = answers.collationGet.map((i) => i._meta.path).sort();
      await disconnect(admin);
      return answers;
    };

    const npm = await startServer({ target: 'reference', config });
    const admin = await connect(npm, { username: '_ADMIN', password: ADMIN_PASSWORD });
    const custom = ['Odd', 'Even', 'odd', 'even', 'ODD', 'EVEN', 'odD', 'EVen', 'odd', 'even'];
    for (const [i, c] of custom.entries()) {
      await admin.set(`/agg/${i + 1}`, { group: (i + 1) % 2 ? 'odd' : 'even', custom: c, id: i + 1 });
    }
    await disconnect(admin);
    const fromNpm = await ask(npm);
    await npm.stop();

    assert.deepEqual(fromNpm.aggregate, [
      { _id: 'Odd', total: 1 },
      { _id: 'ODD', total: 5 },
      { _id: 'odD', total: 7 },
      { _id: 'odd', total: 12 },
    ]);
    assert.equal(fromNpm.count, 5);
    assert.deepEqual(fromNpm.page, [
      ['/agg/8', 8],
      ['/agg/6', 6],
    ]);
    const go = await startServer({ target: 'go', config });
    const fromGo = await ask(go);
    await go.stop();
    // FerretDB refuses collations, MongoDB honours them: either way both servers agree.
    assert.deepEqual(fromGo, fromNpm);
  });

  test('written by a Go node, read by the npm happn-3 server', async () => {
    const config = configFile('go-to-npm', mongo.url, mongo.database('go_to_npm'));
    goSeed(config);
    const go = await startServer({ target: 'go', config });
    const written = await writeData(go);
    await checkAsOlivia(go, written);
    await go.stop();

    const npm = await startServer({ target: 'reference', config });
    await checkAsOlivia(npm, written);
    await npm.stop();
  });
});
