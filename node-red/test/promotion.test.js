'use strict';

// Promotion on the module's side (docs/promotion.md): the admin reports its
// credential secret's fingerprint (never the secret), a deploy refused
// because the namespace is protected reaches the editor as a readable
// deploy error, and the sidebar's promotion routes (plugin/promotion-routes.js)
// against the fake flowhist through the admin's real client.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { createStorage } = require('..');
const { Client } = require('../lib/client');
const { credentialFingerprint } = require('../lib/fingerprint');
const { PromotionRoutes } = require('../plugin/promotion-routes');
const { startFake, captureLog, failure, NS } = require('./fake-flowhist');

const TOKEN = 'tok-admin-0123456789abcdef';
const SECRET = 'shared-secret-5b0c2f6e9a1d4e7f';
const TARGET = 'live';
const alice = { user: { username: 'alice', permissions: '*' }, authInfo: { scope: '*' } };
const carol = { user: { username: 'carol', permissions: 'read' }, authInfo: { scope: 'read' } };

test('the fingerprint is sha256 of the label and the secret, and holds no part of the secret', () => {
  const want = crypto.createHash('sha256').update('flowhist credential fingerprint\n' + SECRET).digest('hex');
  const got = credentialFingerprint(SECRET);
  assert.equal(got, want);
  assert.match(got, /^[0-9a-f]{64}$/);
  assert.ok(!got.includes(SECRET.slice(0, 8)), 'no part of the secret in the fingerprint');
  // Not Node-RED's own cipher key (sha256 of the secret alone).
  assert.notEqual(got, crypto.createHash('sha256').update(SECRET).digest('hex'));
  assert.notEqual(credentialFingerprint(SECRET + 'x'), got, 'another secret, another fingerprint');
  assert.equal(credentialFingerprint(false), undefined, 'credentials in clear: nothing to report');
  assert.equal(credentialFingerprint(''), undefined);
});

// admin starts a fake flowhist and a storage module of role.
async function admin(t, role = 'admin') {
  const [fake, storage, log] = [await startFake(), createStorage(), captureLog()];
  const flowhist = { url: fake.url, token: TOKEN, namespace: NS, role, workerId: role === 'worker' ? 'w1' : undefined, packages: false, retryDelay: 2, retryMaxDelay: 10, retryFor: 500, credentialsDelay: 30 };
  const runtime = { log, nodes: { setFlows: async () => {}, getCredentials: () => undefined, loadFlows: async () => {} } };
  t.after(async () => {
    await storage.close();
    await fake.close();
    for (const l of log.lines) assert.ok(!l.msg.includes(SECRET), `secret in log line: ${l.msg}`);
  });
  await storage.init({ credentialSecret: SECRET, flowhist }, runtime);
  return { fake, storage, log };
}

test('the admin reports its fingerprint with its writes; the secret never leaves', async (t) => {
  const { fake, storage } = await admin(t);
  await storage.getFlows();
  await storage.saveFlows([{ id: 't1', type: 'tab' }], { username: 'alice' });
  const d = fake.requests.find((r) => r.method === 'POST' && r.path === '/deploy');
  assert.ok(d, 'a deploy was sent');
  assert.equal(d.headers['flowhist-credential-fingerprint'], credentialFingerprint(SECRET));
  for (const r of fake.requests) {
    assert.ok(!JSON.stringify(r.headers).includes(SECRET) && !r.text.includes(SECRET), `the secret went out with ${r.method} ${r.path}`);
  }
});

test('a worker reports no fingerprint', async (t) => {
  const { fake, storage } = await admin(t, 'worker');
  await storage.getFlows();
  assert.ok(fake.requests.length > 0);
  for (const r of fake.requests) assert.equal(r.headers['flowhist-credential-fingerprint'], undefined, `${r.method} ${r.path}`);
});

test('a deploy to a protected namespace fails with flowhist\'s message, as text in the editor\'s notification', async (t) => {
  const { fake, storage } = await admin(t);
  await storage.getFlows();
  fake.route('POST /deploy', () => failure(403, 'forbidden', 'protected: promote from <b>staging</b>'));
  await assert.rejects(storage.saveFlows([{ id: 't1', type: 'tab' }], { username: 'alice' }), (err) => {
    assert.equal(err.message, 'flowhist refused this deploy: protected: promote from &lt;b&gt;staging&lt;/b&gt;. Nothing was saved.');
    assert.equal(err.code, 'forbidden');
    // No status: Node-RED answers the editor 400 with {code, message},
    // which the editor shows as "Deploy failed: …".
    assert.equal(err.status, undefined);
    return true;
  });
  // Once: a refusal is not retried.
  assert.equal(fake.requests.filter((r) => r.path === '/deploy').length, 1);
});

// routes starts a fake flowhist whose namespace NS promotes to TARGET, and
// the promotion routes on a real client.
async function routes(t, policy = {}) {
  const fake = await startFake();
  const client = new Client({ url: fake.url, namespace: NS, token: TOKEN, retryFor: 500, retryDelay: 1, retryMaxDelay: 5, requestTimeout: 2000 });
  const state = { config: { namespace: NS, role: 'admin' }, client, follower: { loaded: 3, seen: 3 } };
  const log = captureLog();
  const r = new PromotionRoutes({ state: () => state, adminAuth: true, log });
  fake.route('GET /policy', () => ({ body: Object.assign({ protected: false, promotesFrom: [], promotionTargets: [TARGET], directPromotions: false, credentialFingerprint: '', revision: 4 }, policy) }));
  fake.route(`GET /v1/namespaces/${TARGET}/policy`, () => ({ body: { protected: true, promotesFrom: [NS], promotionTargets: [], directPromotions: false, credentialFingerprint: '', revision: 7 } }));
  t.after(async () => {
    client.close();
    await fake.close();
    for (const l of log.lines) assert.ok(!l.msg.includes(TOKEN), `token in log line: ${l.msg}`);
  });
  return { fake, routes: r, log };
}

const PREVIEW = {
  from: NS,
  source: { revision: 12, flowsRevision: 7, id: 'src-12', hash: 'ab' },
  to: TARGET,
  targetHead: { revision: 40, flowsRevision: 22, id: 'tgt-40', hash: 'cd' },
  noop: false,
  diff: { added: [], removed: [], changed: [], credentials: { changed: false } },
  envNew: [{ node: 't1', type: 'tab', name: 'Orders', key: 'RETRIES' }],
  envOverlaid: [],
  overlayKept: [],
  credentialsMissing: [],
  credentials: 'unknown',
};

test('the config says which targets this namespace promotes to and whether the user may deploy', async (t) => {
  const { routes: r } = await routes(t, { protected: true, promotesFrom: ['dev', 7] });
  const a = await r.promotion(alice);
  assert.deepEqual(a, { status: 200, body: { namespace: NS, protected: true, targets: [TARGET], promotesFrom: ['dev'], canDeploy: true } });
  assert.equal((await r.promotion(carol)).body.canDeploy, false);
});

test('a preview is a dry run from this namespace, only to a target its policy names', async (t) => {
  const { fake, routes: r } = await routes(t);
  fake.route(`POST /v1/namespaces/${TARGET}/promotions`, () => ({ body: PREVIEW }));
  const out = await r.preview({ body: { to: TARGET, rev: 12 } });
  assert.equal(out.status, 200);
  assert.deepEqual(out.body, { preview: PREVIEW, review: true });
  const sent = fake.requests.find((x) => x.path === `/v1/namespaces/${TARGET}/promotions`);
  assert.deepEqual(sent.json, { from: NS, dryRun: true, rev: 12 });
  assert.equal(sent.headers.authorization, `Bearer ${TOKEN}`);

  for (const to of ['other', '../prod', '<b>x</b>', 7]) {
    const n = fake.requests.length;
    const o = await r.preview({ body: { to } });
    assert.ok(o.status === 400 || o.status === 403, `to ${JSON.stringify(to)}: got ${o.status}`);
    assert.ok(!fake.requests.slice(n).some((x) => x.method === 'POST'), `to ${JSON.stringify(to)}: nothing is sent`);
  }
});

test('promote applies what was previewed as the editor user, conditional on the previewed head', async (t) => {
  const { fake, routes: r, log } = await routes(t);
  fake.route(`POST /v1/namespaces/${TARGET}/promotions`, () => ({ body: { revision: 41, flowsRevision: 23, preview: PREVIEW } }));
  const body = { to: TARGET, rev: 12, expectedHead: { revision: 40, flowsRevision: 22, id: 'tgt-40', hash: 'cd', extra: '<b>' }, reason: 'release 2.3', request: false };
  const out = await r.promote(Object.assign({ body }, alice));
  assert.equal(out.status, 200);
  assert.equal(out.body.revision, 41);
  const sent = fake.requests.find((x) => x.method === 'POST' && x.path === `/v1/namespaces/${TARGET}/promotions`);
  assert.deepEqual(sent.json, { from: NS, rev: 12, expectedHead: { revision: 40, flowsRevision: 22, id: 'tgt-40', hash: 'cd' }, request: false, reason: 'release 2.3' });
  assert.equal(sent.headers['flowhist-user'], 'alice');
  assert.match(sent.headers['idempotency-key'], /^[0-9a-f-]{36}$/);
  assert.ok(log.lines.some((l) => l.msg.includes('"alice" promoted revision 12 to live')));

  // A request needs a reason; a reader may not promote; a bad head is refused.
  assert.equal((await r.promote(Object.assign({ body: Object.assign({}, body, { request: true, reason: ' ' }) }, alice))).status, 400);
  assert.equal((await r.promote(Object.assign({ body }, carol))).status, 403);
  assert.equal((await r.promote(Object.assign({ body: Object.assign({}, body, { expectedHead: 40 }) }, alice))).status, 400);
});

test('a target that moved since the preview answers flowhist\'s conflict as it is', async (t) => {
  const { fake, routes: r } = await routes(t);
  const message = `${TARGET} moved since the preview: revision 40 → 42 (2 events): preview again`;
  fake.route(`POST /v1/namespaces/${TARGET}/promotions`, () => failure(409, 'conflict', message, { currentRevision: 42 }));
  const out = await r.promote(Object.assign({ body: { to: TARGET, rev: 12, expectedHead: { revision: 40, id: 'tgt-40' }, reason: 'x', request: true } }, alice));
  assert.equal(out.status, 409);
  assert.deepEqual(out.body, { code: 'conflict', message });
});

test('approve and reject name the editor user; the requester\'s own approval is refused with flowhist\'s message', async (t) => {
  const { fake, routes: r } = await routes(t, { protected: true, promotionTargets: [] });
  fake.route('GET /promotions', () => ({ body: { requests: [{ id: 'req-1', state: 'pending', stale: false }] } }));
  const list = await r.requests({});
  assert.deepEqual(list, { status: 200, body: { requests: [{ id: 'req-1', state: 'pending', stale: false }] } });
  assert.deepEqual(fake.requests.find((x) => x.path === '/promotions').query, { state: 'pending' });

  fake.route('POST /promotions/req-1/approve', (x) => (x.headers['flowhist-user'] === 'alice'
    ? failure(403, 'forbidden', 'you requested this promotion: another person approves it')
    : { body: { id: 'req-1', state: 'approved', appliedRevision: 41 } }));
  const own = await r.approve(Object.assign({ params: { id: 'req-1' }, body: {} }, alice));
  assert.equal(own.status, 403);
  assert.deepEqual(own.body, { code: 'forbidden', message: 'you requested this promotion: another person approves it' });
  const bob = { user: { username: 'bob', permissions: '*' }, authInfo: { scope: '*' } };
  const ok = await r.approve(Object.assign({ params: { id: 'req-1' }, body: { reason: 'looks good' } }, bob));
  assert.deepEqual(ok, { status: 200, body: { id: 'req-1', state: 'approved', appliedRevision: 41 } });
  assert.deepEqual(fake.requests.filter((x) => x.path === '/promotions/req-1/approve').map((x) => x.json), [{}, { reason: 'looks good' }]);

  fake.route('POST /promotions/req-1/reject', () => ({ body: { id: 'req-1', state: 'rejected' } }));
  assert.equal((await r.reject(Object.assign({ params: { id: 'req-1' }, body: {} }, bob))).body.state, 'rejected');
  // A reader may not decide; an id that is not one is refused unsent.
  assert.equal((await r.approve(Object.assign({ params: { id: 'req-1' }, body: {} }, carol))).status, 403);
  const n = fake.requests.length;
  assert.equal((await r.approve(Object.assign({ params: { id: '../../rollback' }, body: {} }, bob))).status, 400);
  assert.equal(fake.requests.length, n);
});
