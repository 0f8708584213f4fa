'use strict';

// The History sidebar's rollout view: its routes (plugin/rollout-routes.js)
// against the fake flowhist through the admin's real client, and the
// editor code's pure parts (resources/rollout.js). The view itself runs in
// e2e/rollout_test.go (real Chromium, real Node-RED).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Client } = require('../lib/client');
const { HistoryRoutes } = require('../plugin/routes');
const { RolloutRoutes } = require('../plugin/rollout-routes');
const view = require('../resources/rollout');
const { startFake, captureLog, failure, golden, answer, NS } = require('./fake-flowhist');

const TOKEN = 'secret-admin-token-0123456789abcdef';
const alice = { user: { username: 'alice', permissions: '*' }, authInfo: { scope: '*' } };
const carol = { user: { username: 'carol', permissions: 'read' }, authInfo: { scope: 'read' } };
const EVIL = '<img src=x onerror="alert(1)">';

// STATUS is a rollout baking at its canary ring: flowhist's golden answer
// of GET …/rollout (rollout-baking.json) with this test's values.
const STATUS = golden('rollout-baking.json', {
  revision: 41,
  id: 'e41',
  base: { revision: 37, id: 'e37' },
  stable: { revision: 37, id: 'e37' },
  startedAt: '2026-12-07T17:00:00Z',
  updatedAt: '2026-12-07T17:00:00Z',
  rings: [
    { name: 'canary', target: { revision: 41, id: 'e41' }, promoted: true, bakeUntil: '2026-12-07T17:00:10Z', passed: false, workers: [{ worker: 'c1', reported: true, revision: 41, id: 'e41', healthy: true, problem: '' }], done: 1, total: 1 },
    { name: 'default', target: { revision: 37, id: 'e37' }, promoted: false, passed: false, workers: [{ worker: 'd1', reported: true, revision: 37, id: 'e37', healthy: true, problem: '' }], done: 0, total: 1 },
  ],
});

test('STATUS has only the fields of flowhist\'s golden answer, in its rings and workers too', () => {
  const g = JSON.parse(answer('rollout-baking.json'));
  const keys = (o) => new Set(Object.keys(o));
  const ringKeys = keys(g.rings[0]);
  const workerKeys = keys(g.rings[0].workers[0]);
  for (const r of STATUS.rings) {
    for (const k of Object.keys(r)) assert.ok(ringKeys.has(k), `ring field ${k}`);
    for (const w of r.workers) for (const k of Object.keys(w)) assert.ok(workerKeys.has(k), `worker field ${k}`);
  }
});

async function setup(t, opts = {}) {
  const fake = await startFake();
  const client = new Client({ url: fake.url, namespace: NS, token: TOKEN, retryFor: 500, retryDelay: 1, retryMaxDelay: 5, requestTimeout: 2000 });
  const state = { config: { namespace: NS, role: 'admin' }, client, follower: { loaded: 3, seen: 3 } };
  const log = captureLog();
  const history = new HistoryRoutes({ state: () => state, adminAuth: true, log });
  fake.scope = opts.scope || 'admin';
  fake.route('POST /rollback', () => (fake.scope === 'admin' ? failure(400, 'invalid', 'rollback needs "to"') : failure(403, 'forbidden', 'token lacks the admin scope')));
  fake.route('GET /rollout', () => ({ body: opts.status === undefined ? STATUS : opts.status }));
  fake.route('POST /rollout/promote', () => ({ body: STATUS }));
  fake.route('POST /rollout/abort', (r) => ({ body: golden('rollout-aborted.json', { reason: r.json.reason }) }));
  t.after(async () => {
    client.close();
    await fake.close();
  });
  return { fake, routes: new RolloutRoutes(history), log };
}

test('status passes on flowhist\'s rollout; only a deployer with an admin-scoped token may act', async (t) => {
  const { routes } = await setup(t);
  const a = await routes.status(alice);
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, { rollout: STATUS, canAct: true });
  assert.equal((await routes.status(carol)).body.canAct, false);
});

test('status without the admin scope, and from a flowhist without rollouts', async (t) => {
  const { routes } = await setup(t, { scope: 'deploy' });
  assert.equal((await routes.status(alice)).body.canAct, false);
  const old = await setup(t);
  old.fake.route('GET /rollout', () => failure(404, 'not_found', 'no route'));
  assert.deepEqual((await old.routes.status(alice)).body, { rollout: null, canAct: false });
});

test('abort needs a reason, deploy permission and the admin scope; it names the user and the reason', async (t) => {
  const { fake, routes, log } = await setup(t);
  assert.equal((await routes.act({ ...alice, params: { action: 'abort' }, body: {} })).status, 400);
  assert.equal((await routes.act({ ...alice, params: { action: 'abort' }, body: { reason: 'x'.repeat(501) } })).status, 400);
  assert.equal((await routes.act({ ...carol, params: { action: 'abort' }, body: { reason: 'no' } })).status, 403);
  assert.equal((await routes.act({ ...alice, params: { action: 'delete' }, body: {} })).status, 404);
  assert.equal(fake.requests.filter((r) => r.path.startsWith('/rollout/')).length, 0);
  const out = await routes.act({ ...alice, params: { action: 'abort' }, body: { reason: ` ${EVIL}\nforged line ` } });
  assert.equal(out.status, 200);
  assert.equal(out.body.state, 'aborted');
  const req = fake.requests.find((r) => r.path === '/rollout/abort');
  assert.deepEqual(req.json, { reason: `${EVIL}\nforged line` });
  assert.ok(req.headers['idempotency-key']);
  assert.ok(!log.lines.some((l) => l.msg.includes('\nforged')), 'a reason forged a log line');
  const denied = await setup(t, { scope: 'deploy' });
  assert.equal((await denied.routes.act({ ...alice, params: { action: 'promote' }, body: {} })).status, 403);
});

test('no policy: flowhist\'s idle status is passed on and offers no action', async (t) => {
  const { routes } = await setup(t, { status: golden('rollout-none.json') });
  const out = await routes.status(alice);
  assert.equal(out.body.rollout.policy, null);
  assert.equal(out.body.canAct, false);
});

test('flowhist\'s 409 (no rollout active) reaches the editor as it is', async (t) => {
  const { fake, routes } = await setup(t);
  fake.route('POST /rollout/promote', () => ({ status: 409, body: golden('err-rollout-none-active.json') }));
  const out = await routes.act({ ...alice, params: { action: 'promote' }, body: {} });
  assert.equal(out.status, 409);
  assert.equal(out.body.code, 'conflict');
});

test('promote goes through with no reason', async (t) => {
  const { fake, routes } = await setup(t);
  assert.equal((await routes.act({ ...alice, params: { action: 'promote' }, body: {} })).status, 200);
  assert.deepEqual(fake.requests.find((r) => r.path === '/rollout/promote').json, {});
});

test('timeLeft, stateText and ringLine', () => {
  const now = Date.parse('2026-12-07T17:00:03Z');
  assert.equal(view.timeLeft('2026-12-07T17:00:10Z', now), '7s');
  assert.equal(view.timeLeft('2026-12-07T17:02:10Z', now), '2m 7s');
  assert.equal(view.timeLeft('2026-12-07T16:00:00Z', now), '');
  assert.equal(view.timeLeft(undefined, now), '');
  assert.equal(view.stateText({ state: 'rolledback' }), 'rolled back');
  assert.equal(view.stateText({ state: EVIL }), EVIL); // shown as text
  assert.equal(view.ringLine(STATUS.rings[0], true, STATUS, now), '1/1 done \u00b7 bake 7s left');
  assert.equal(view.ringLine(STATUS.rings[1], false, STATUS, now), '0/1 done \u00b7 not yet');
  assert.equal(view.esc(EVIL), '&#60;img src=x onerror=&#34;alert(1)&#34;&#62;');
});

test('the view builds no markup from data, and what goes to RED.notify is escaped', () => {
  const src = fs.readFileSync(path.join(__dirname, '..', 'resources', 'rollout.js'), 'utf8');
  assert.doesNotMatch(src, /\.html\(|innerHTML|\.append\(\s*[a-z]+\s*\+/);
  const notify = [...src.matchAll(/RED\.notify\(([^,]*)/g)].map((m) => m[1].trim());
  assert.ok(notify.length >= 2);
  for (const arg of notify) assert.match(arg, /^esc\(/, `RED.notify(${arg}…) is not escaped`);
  // Every jQuery element built from a literal: no $() of a value.
  for (const m of src.matchAll(/\$\(([^)]*)\)/g)) assert.match(m[1], /^'<[^']*>'$|^"<[^"]*>"$|^this$|^$/, `$(${m[1]}) builds from a value`);
});
