'use strict';

// The History plugin's server side (plugin/): its routes against the fake
// flowhist through the admin's real client, who may restore, the live
// notices, and how Node-RED loads it.

const test = require('node:test');
const assert = require('node:assert/strict');
const { createStorage } = require('..');
const { Client } = require('../lib/client');
const { HistoryRoutes, Watcher, hasPermission, userCanDeploy } = require('../plugin/routes');
const plugin = require('../plugin/history');
const { startFake, until, captureLog, fakeNodes, answer, golden, failure, NS } = require('./fake-flowhist');

const TOKEN = 'secret-admin-token';
const alice = { user: { username: 'alice', permissions: '*' }, authInfo: { scope: '*' } };
const carol = { user: { username: 'carol', permissions: 'read' }, authInfo: { scope: 'read' } };

// setup starts a fake flowhist and routes on a real client with TOKEN.
async function setup(t, opts = {}) {
  const fake = await startFake();
  const client = new Client({ url: fake.url, namespace: NS, token: TOKEN, retryFor: 500, retryDelay: 1, retryMaxDelay: 5, requestTimeout: 2000 });
  const follower = { loaded: 3, seen: 3 };
  const state = { config: { namespace: NS, role: 'admin' }, client, follower };
  const log = captureLog();
  const routes = new HistoryRoutes({ state: () => state, adminAuth: opts.adminAuth !== false, log, applyTimeout: opts.applyTimeout || 2000 });
  // flowhist's answers: an admin token may roll back (an empty rollback is
  // invalid), unless the test says otherwise.
  fake.scope = opts.scope || 'admin';
  fake.route('POST /rollback', (r) => {
    if (fake.scope !== 'admin') return failure(403, 'forbidden', 'token lacks the admin scope');
    if (!r.json || r.json.to === undefined) return failure(400, 'invalid', 'rollback must be {"to": <revision>, "reason": "<why>"}');
    return { body: golden('rollback.json', { revision: 9, flowsRevision: 9, aggregateRevision: 9 }) };
  });
  t.after(async () => {
    client.close();
    await fake.close();
  });
  return { fake, client, state, follower, routes, log };
}

const rollbacks = (fake) => fake.requests.filter((r) => r.path === '/rollback' && r.json && r.json.to !== undefined);

test('permissions follow Node-RED\'s rule', () => {
  const cases = [
    { scope: '*', perm: 'flows.write', want: true },
    { scope: 'read', perm: 'flows.read', want: true },
    { scope: 'read', perm: 'flows.write', want: false },
    { scope: ['flows.read', 'flows.write'], perm: 'flows.write', want: true },
    { scope: 'flows.write', perm: 'flows.write', want: true },
    { scope: '*.write', perm: 'flows.write', want: true },
    { scope: [], perm: 'flows.write', want: false },
    { scope: undefined, perm: 'flows.write', want: false },
  ];
  for (const c of cases) {
    assert.equal(hasPermission(c.scope, c.perm), c.want, `hasPermission(${JSON.stringify(c.scope)}, ${c.perm})`);
  }
  assert.equal(userCanDeploy({}, false), true, 'adminAuth off: anyone may deploy');
  assert.equal(userCanDeploy({}, true), false, 'adminAuth on, no user: may not');
  assert.equal(userCanDeploy(alice, true), true);
  assert.equal(userCanDeploy(carol, true), false);
  // The token's scope narrows the user's permissions.
  assert.equal(userCanDeploy({ user: { username: 'a', permissions: '*' }, authInfo: { scope: 'read' } }, true), false);
});

test('reads pass flowhist\'s answer on, with only the known parameters, and the token stays on the server', async (t) => {
  const { fake, routes } = await setup(t);
  const page = golden('history.json');
  fake.route('GET /history', () => ({ body: page }));
  const out = await routes.history({ query: { limit: '50', kind: 'flows,rollback', actor: 'alice', evil: 'x', cursor: '7' } });
  assert.equal(out.status, 200);
  assert.deepEqual(out.body, page);
  const r = fake.requests.find((x) => x.path === '/history');
  assert.deepEqual(r.query, { limit: '50', cursor: '7', kind: 'flows,rollback', actor: 'alice' });
  assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
  assert.ok(!JSON.stringify(out).includes(TOKEN), 'the answer holds no token');

  fake.route('GET /diff', (q) => ({ body: golden('diff.json', { from: Number(q.query.from), to: Number(q.query.to) }) }));
  const d = await routes.diff({ query: { from: '2', to: '3', positions: 'false' } });
  assert.equal(d.status, 200);
  assert.deepEqual(d.body.credentials, { changed: true });
  assert.equal(fake.requests.find((x) => x.path === '/diff').query.positions, 'false');

  const rev = golden('revision-settings.json', { revision: 3 });
  fake.route('GET /revisions/3', () => ({ body: rev }));
  assert.deepEqual((await routes.revision({ params: { rev: '3' } })).body, rev);

  fake.route('GET /nodes/a%2Fb/history', () => ({ body: golden('node-history.json') }));
  fake.route('GET /nodes/a/b/history', () => ({ status: 500, body: { code: 'internal', message: 'the id was not escaped' } }));
  const nh = await routes.nodeHistory({ params: { id: 'a/b' }, query: {} });
  assert.equal(nh.status, 200, JSON.stringify(nh.body));
});

test('bad input is refused with 400 {code, message} before flowhist is asked', async (t) => {
  const { fake, routes } = await setup(t);
  // The editor's config request has read flowhist's history kinds.
  assert.deepEqual(await routes.kinds(), JSON.parse(answer('history-kinds.json')).kinds);
  fake.requests.length = 0;
  const cases = [
    { name: 'unknown kind', call: () => routes.history({ query: { kind: 'flows,nonsense' } }) },
    { name: 'revision not a number', call: () => routes.revision({ params: { rev: '1; DROP' } }) },
    { name: 'diff without to', call: () => routes.diff({ query: { from: '1' } }) },
    { name: 'empty node id', call: () => routes.nodeHistory({ params: { id: '' } }) },
    { name: 'restore without reason', call: () => routes.restore(Object.assign({ body: { revision: 1, reason: '  ' } }, alice)) },
    { name: 'restore of revision 0', call: () => routes.restore(Object.assign({ body: { revision: 0, reason: 'x' } }, alice)) },
    { name: 'restore of "1"', call: () => routes.restore(Object.assign({ body: { revision: '1', reason: 'x' } }, alice)) },
  ];
  for (const c of cases) {
    const out = await c.call();
    assert.equal(out.status, 400, `${c.name}: got ${out.status}, want 400`);
    assert.equal(out.body.code, 'invalid', c.name);
    assert.equal(typeof out.body.message, 'string', c.name);
  }
  assert.equal(fake.requests.length, 0, `got ${fake.requests.length} requests to flowhist, want none`);
});

test('the kind filter is checked against the kinds flowhist serves, read once', async (t) => {
  const { fake, routes } = await setup(t);
  const served = JSON.parse(answer('history-kinds.json')).kinds;
  assert.deepEqual((await routes.config(alice)).body.kinds, served);
  fake.route('GET /history', () => ({ body: golden('history.json') }));
  assert.equal((await routes.history({ query: { kind: 'rollback' } })).status, 200);
  const refused = await routes.history({ query: { kind: 'flows,nonsense' } });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.code, 'invalid');
  assert.equal(refused.body.message, `kind must be one or more of ${served.join(', ')}`);
  assert.equal(fake.count('GET', '/history/kinds'), 1, 'the kinds are kept');
  assert.equal(fake.count('GET', '/history'), 1, 'the bad kind went to flowhist');
});

test('when flowhist does not say its kinds, the kind filter goes to flowhist, whose 400 reaches the editor', async (t) => {
  const { fake, routes, log } = await setup(t);
  fake.route('GET /history/kinds', () => failure(404, 'not_found', 'no such endpoint: GET /v1/namespaces/prod/history/kinds'));
  fake.route('GET /history', () => failure(400, 'invalid', 'kind "nonsense" is not one of flows, credentials'));
  assert.deepEqual((await routes.config(alice)).body.kinds, []);
  const out = await routes.history({ query: { kind: 'nonsense' } });
  assert.equal(out.status, 400);
  assert.equal(out.body.code, 'invalid');
  assert.match(out.body.message, /kind "nonsense" is not one of/);
  assert.ok(log.lines.some((l) => l.level === 'warn' && l.msg.includes('history kinds')), 'no warning that the kinds are unknown');
});

test('flowhist\'s 4xx is passed on as it is; no answer is 503 unavailable', async (t) => {
  const { fake, routes } = await setup(t);
  fake.route('GET /diff', () => failure(400, 'invalid', 'from must not be after to'));
  const out = await routes.diff({ query: { from: '5', to: '2' } });
  assert.equal(out.status, 400);
  assert.equal(out.body.code, 'invalid');
  assert.match(out.body.message, /from must not be after to/);
  fake.route('GET /history', () => failure(401, 'unauthorized', 'unknown token'));
  const refused = await routes.history({ query: {} });
  assert.equal(refused.status, 502, 'flowhist refusing the admin\'s token is not the editor user\'s 401');
  assert.equal(refused.body.code, 'unauthorized');
  assert.match(refused.body.message, /admin's token/);
  await fake.stop();
  const down = await routes.history({ query: {} });
  assert.equal(down.status, 503);
  assert.equal(down.body.code, 'unavailable');
  assert.ok(!down.body.message.includes(TOKEN));
});

test('restore is offered only to users who may deploy, with a token that may roll back', async (t) => {
  await t.test('a deployer with an admin token may restore', async (t) => {
    const { routes, fake } = await setup(t);
    const out = await routes.config(alice);
    assert.deepEqual([out.body.canRestore, out.body.restoreDenied, out.body.namespace, out.body.pageSize], [true, '', NS, 50]);
    assert.equal(rollbacks(fake).length, 0, 'the probe rolled nothing back');
  });
  await t.test('a read-only user may not', async (t) => {
    const { routes } = await setup(t);
    const out = await routes.config(carol);
    assert.deepEqual([out.body.canRestore, out.body.restoreDenied], [false, 'permission']);
  });
  await t.test('a token without the admin scope may not', async (t) => {
    const { routes } = await setup(t, { scope: 'deploy' });
    const out = await routes.config(alice);
    assert.deepEqual([out.body.canRestore, out.body.restoreDenied], [false, 'scope']);
  });
  await t.test('flowhist not answering: not offered, and the answer says so', async (t) => {
    const { routes, fake } = await setup(t);
    await fake.stop();
    const out = await routes.config(alice);
    assert.equal(out.status, 200);
    assert.deepEqual([out.body.canRestore, out.body.restoreDenied], [false, 'unavailable']);
  });
  await t.test('with adminAuth off, everyone may', async (t) => {
    const { routes } = await setup(t, { adminAuth: false });
    assert.equal((await routes.config({})).body.canRestore, true);
  });
});

test('a restore is a rollback by the editor user with the reason, answered once the admin runs it', async (t) => {
  const { fake, routes, follower } = await setup(t);
  setTimeout(() => {
    follower.loaded = 9; // the admin's feed applied the rollback
  }, 100);
  const out = await routes.restore(Object.assign({ body: { revision: 1, reason: ' v3 broke checkout ' } }, alice));
  assert.equal(out.status, 200, JSON.stringify(out.body));
  assert.equal(out.body.revision, 9);
  assert.equal(out.body.applied, true);
  const r = rollbacks(fake);
  assert.equal(r.length, 1);
  assert.deepEqual(r[0].json, { to: 1, reason: 'v3 broke checkout' });
  assert.equal(r[0].headers['flowhist-user'], 'alice');
  assert.ok(r[0].headers['idempotency-key'], 'an Idempotency-Key makes retries safe');
});

test('a restore logs its reason quoted: a line break in it cannot forge a log line', async (t) => {
  const { routes, log } = await setup(t, { applyTimeout: 50 });
  const out = await routes.restore(Object.assign({ body: { revision: 1, reason: 'ok\n[error] flowhist: forged line' } }, alice));
  assert.equal(out.status, 200);
  const line = log.lines.find((l) => l.msg.includes('restored revision'));
  assert.ok(line, 'the restore is logged');
  assert.ok(!line.msg.includes('\n'), `got a line break in ${JSON.stringify(line.msg)}`);
  assert.match(line.msg, /"ok\\n\[error\] flowhist: forged line"$/);
});

test('a restore by a user whose name is not Latin-1 sends the name as UTF-8', async (t) => {
  const { fake, routes, follower } = await setup(t);
  setTimeout(() => {
    follower.loaded = 9;
  }, 100);
  const out = await routes.restore({ body: { revision: 1, reason: 'x' }, user: { username: '李', permissions: '*' } });
  assert.equal(out.status, 200, JSON.stringify(out.body));
  assert.equal(Buffer.from(rollbacks(fake)[0].headers['flowhist-user'], 'latin1').toString('utf8'), '李');
});

test('a restore the admin does not apply in time answers applied: false', async (t) => {
  const { routes } = await setup(t, { applyTimeout: 100 });
  const out = await routes.restore(Object.assign({ body: { revision: 1, reason: 'x' } }, alice));
  assert.equal(out.status, 200);
  assert.equal(out.body.applied, false);
});

test('a restore is refused without the permission or the scope, and rolls nothing back', async (t) => {
  await t.test('read-only user: 403', async (t) => {
    const { routes, fake } = await setup(t);
    const out = await routes.restore(Object.assign({ body: { revision: 1, reason: 'x' } }, carol));
    assert.equal(out.status, 403);
    assert.equal(out.body.code, 'forbidden');
    assert.equal(rollbacks(fake).length, 0);
  });
  await t.test('token without the admin scope: 403', async (t) => {
    const { routes, fake } = await setup(t, { scope: 'deploy' });
    const out = await routes.restore(Object.assign({ body: { revision: 1, reason: 'x' } }, alice));
    assert.equal(out.status, 403);
    assert.match(out.body.message, /admin scope/);
    assert.equal(rollbacks(fake).length, 0);
  });
});

test('the watcher tells editors of each newer revision the feed saw, not of the first', async () => {
  const published = [];
  const follower = { seen: 4 };
  const w = new Watcher({ state: () => ({ follower }), publish: (r) => published.push(r) });
  w.check();
  assert.deepEqual(published, []);
  follower.seen = 5;
  w.check();
  w.check();
  follower.seen = 7;
  w.check();
  assert.deepEqual(published, [5, 7]);
});

test('with the real storage, a revision from the feed reaches the watcher and a restore waits for the apply', async (t) => {
  const fake = await startFake({ stream: true });
  fake.append({ flows: [{ id: 'tab', type: 'tab' }] });
  const storage = createStorage();
  await storage.init(
    { credentialSecret: 's', flowhist: { url: fake.url, namespace: NS, role: 'admin', workerId: 'admin-1', retryDelay: 2, retryMaxDelay: 10, retryFor: 2000, feedWait: 5000, packages: false } },
    { log: captureLog(), nodes: fakeNodes() },
  );
  t.after(async () => {
    await storage.close();
    await fake.close();
  });
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed');
  const published = [];
  const w = new Watcher({ state: () => storage.pluginState(), publish: (r) => published.push(r), interval: 10 });
  w.start();
  t.after(() => w.stop());
  await until(() => w.last !== null, 2000, 'the watcher to read the follower');
  const rev = fake.append({ flows: [{ id: 'tab', type: 'tab', label: 'from the CLI' }] });
  await until(() => published.includes(rev), 3000, `the watcher to publish revision ${rev}`);
  // The routes see the same state: the follower's loaded revision.
  const routes = new HistoryRoutes({ state: () => storage.pluginState(), adminAuth: false, applyTimeout: 3000 });
  assert.equal(await routes.waitApplied(storage.pluginState(), rev), true);
});

// fakeRED is the part of Node-RED's plugin API history.js uses.
function fakeRED(settings) {
  const routes = [];
  const app = {};
  for (const m of ['get', 'post']) app[m] = (path, ...handlers) => routes.push({ method: m.toUpperCase(), path, guard: handlers[0].permission });
  return {
    routes,
    settings,
    log: captureLog(),
    httpAdmin: app,
    auth: { needsPermission: (p) => Object.assign(() => {}, { permission: p }) },
    comms: { publish: () => {} },
    events: { on() {}, off() {} },
  };
}

test('Node-RED loads the plugin on an admin only, unless turned off, with every route guarded', () => {
  const storage = createStorage();
  const admin = fakeRED({ storageModule: storage, flowhist: { role: 'admin' } });
  plugin(admin);
  const got = admin.routes.map((r) => `${r.method} ${r.path} ${r.guard}`);
  assert.deepEqual(got, [
    'GET /flowhist/config flows.read',
    'GET /flowhist/history flows.read',
    'GET /flowhist/revisions/:rev flows.read',
    'GET /flowhist/diff flows.read',
    'GET /flowhist/nodes/:id/history flows.read',
    'POST /flowhist/restore flows.write',
    'GET /flowhist/promotion flows.read',
    'POST /flowhist/promotion/preview flows.read',
    'POST /flowhist/promotion/promote flows.write',
    'GET /flowhist/promotion/requests flows.read',
    'POST /flowhist/promotion/requests/:id/approve flows.write',
    'POST /flowhist/promotion/requests/:id/reject flows.write',
    'GET /flowhist/rollout flows.read', // the rollout view (plugin/rollout-routes.js)
    'POST /flowhist/rollout/:action flows.write',
  ]);
  const cases = [
    { name: 'worker', settings: { storageModule: storage, flowhist: { role: 'worker' } } },
    { name: 'turned off', settings: { storageModule: storage, flowhist: { role: 'admin', history: false } } },
    { name: 'another storage module', settings: { storageModule: {}, flowhist: { role: 'admin' } } },
    { name: 'no flowhist settings', settings: {} },
  ];
  for (const c of cases) {
    const red = fakeRED(c.settings);
    plugin(red);
    assert.equal(red.routes.length, 0, `${c.name}: got ${red.routes.length} routes, want none`);
  }
});

test('historyPageSize sets the sidebar\'s page; a bad one is warned about and ignored', async () => {
  // A started admin whose token may roll back (the probe answers 400).
  const probe = async () => {
    throw Object.assign(new Error('invalid'), { httpStatus: 400 });
  };
  const storage = { pluginState: () => ({ config: { role: 'admin', namespace: NS }, client: { request: probe } }) };
  for (const c of [
    { size: 2, want: 2, warned: false },
    { size: 0, want: 50, warned: true },
    { size: '10', want: 50, warned: true },
  ]) {
    const red = fakeRED({ storageModule: storage, flowhist: { role: 'admin', historyPageSize: c.size } });
    let routes;
    red.httpAdmin.get = (path, guard, handler) => {
      if (path === '/flowhist/config') routes = handler;
    };
    plugin(red);
    const res = { status(code) { this.code = code; return this; }, json(body) { this.body = body; } };
    await routes({ query: {} }, res);
    assert.equal(res.code, 200);
    assert.equal(res.body.pageSize, c.want, `historyPageSize ${JSON.stringify(c.size)}`);
    assert.equal(red.log.lines.some((l) => l.level === 'warn' && /historyPageSize/.test(l.msg)), c.warned, `historyPageSize ${JSON.stringify(c.size)}`);
  }
});

test('every text the editor side asks for is in the English catalogue', () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const html = fs.readFileSync(path.join(__dirname, '..', 'resources', 'history.js'), 'utf8');
  const catalogue = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'plugin', 'locales', 'en-US', 'history.json'), 'utf8'));
  const keys = new Set();
  for (const m of html.matchAll(/\bth?\("([A-Za-z.]+)"/g)) if (!m[1].endsWith('.')) keys.add(m[1]);
  // Built from a prefix: t("diff." + section).
  keys.add('diff.added').add('diff.removed');
  for (const m of html.matchAll(/"(restore\.denied[A-Za-z]+)"/g)) keys.add(m[1]);
  assert.ok(keys.size > 30, `found only ${keys.size} keys: the pattern no longer matches the editor's code`);
  const missing = [...keys].filter((k) => k.split('.').reduce((o, p) => (o && typeof o === 'object' ? o[p] : undefined), catalogue.history) === undefined);
  assert.deepEqual(missing, [], 'keys missing from locales/en-US/history.json');
  // "kinds.<kind>" for every kind the server offers.
  for (const k of JSON.parse(answer('history-kinds.json')).kinds) assert.equal(typeof catalogue.history.kinds[k], 'string', `kinds.${k}`);
});
