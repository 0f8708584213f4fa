'use strict';

// The admin follows the log, and how a revision is applied ('nodes' and
// 'full'), for the admin and workers alike.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { createStorage } = require('..');
const { decryptCredentials } = require('../lib/apply');
const { startFake, until, captureLog, fakeNodes, NS } = require('./fake-flowhist');

const SECRET = 'shared-secret';

// encrypt is Node-RED's credentials encryption.
function encrypt(creds, secret = SECRET) {
  const key = crypto.createHash('sha256').update(secret).digest();
  const iv = crypto.randomBytes(16);
  const c = crypto.createCipheriv('aes-256-ctr', key, iv);
  return { $: iv.toString('hex') + c.update(JSON.stringify(creds), 'utf8', 'base64') + c.final('base64') };
}

// setup starts a fake flowhist with flows at revision 1 and an instance
// whose runtime.nodes.setFlows does to storage what Node-RED's does: save
// the credentials (they are dirty) then the flows without credentials.
async function setup(t, opts = {}) {
  const fake = await startFake({ stream: true });
  fake.credentials = encrypt({ n1: { user: 'u1' } });
  fake.append({ flows: [{ id: 'tab', type: 'tab' }, { id: 'n1', type: 'x', z: 'tab' }] });
  const storage = createStorage();
  const log = captureLog();
  const applies = [];
  let creds = { n1: { user: 'u1' } };
  const nodes = fakeNodes({
    getCredentials: (id) => creds[id],
    setFlows: async (flows, credentials, type) => {
      applies.push({ flows: structuredClone(flows), credentials, type });
      creds = credentials;
      await storage.saveCredentials(encrypt(credentials));
      await storage.saveFlows(flows.map((n) => Object.assign({}, n, { credentials: undefined })).map((n) => JSON.parse(JSON.stringify(n))));
      fake.emit('applied', applies.length);
      return 'sha';
    },
    loadFlows: async () => {
      applies.push({ type: 'load' });
      await storage.getFlows();
      await storage.getCredentials();
      fake.emit('applied', applies.length);
    },
  });
  const flowhist = Object.assign(
    { url: fake.url, namespace: NS, role: opts.role || 'admin', workerId: 'admin-1', retryDelay: 2, retryMaxDelay: 10, retryFor: 3000, feedWait: 5000, packages: false, credentialsDelay: 30 },
    opts.flowhist,
  );
  await storage.init({ credentialSecret: SECRET, flowhist }, { log, nodes });
  t.after(async () => {
    await storage.close();
    await fake.close();
  });
  const feeds = () => fake.requests.filter((r) => r.path === '/feed');
  const nthApply = (n) =>
    applies.length >= n ? Promise.resolve() : new Promise((resolve) => fake.on('applied', (k) => k >= n && resolve()));
  const ackOf = (rev) => fake.waitFor((r) => r.path === '/feed/ack' && r.json.revision === rev, 5000, `ack ${rev}`);
  const writes = () => fake.requests.filter((r) => r.method !== 'GET' && r.path !== '/feed/ack' && r.path !== '/feed');
  return { fake, storage, log, applies, feeds, nthApply, ackOf, writes };
}

test('the admin applies a revision it did not write as a "nodes" deploy, and Node-RED\'s saves are not written back', async (t) => {
  const { fake, storage, applies, nthApply, ackOf, writes, feeds } = await setup(t);
  await storage.getFlows(); // Node-RED's start-up load
  await fake.waitFor((r) => r.path === '/feed');
  assert.equal(feeds()[0].query.worker, 'admin-1');
  fake.credentials = encrypt({ n1: { user: 'u2' } });
  fake.append({ flows: [{ id: 'tab', type: 'tab' }, { id: 'n1', type: 'x', z: 'tab', name: 'rolled back' }] }); // a rollback from the CLI
  await nthApply(1);
  await ackOf(2);
  assert.equal(applies[0].type, 'nodes');
  assert.equal(applies[0].flows[1].name, 'rolled back');
  // The credentials changed for n1: it carries them, so Node-RED's diff
  // restarts it.
  assert.deepEqual(applies[0].flows[1].credentials, { user: 'u2' });
  assert.deepEqual(applies[0].credentials, { n1: { user: 'u2' } });
  assert.deepEqual(writes(), [], 'got writes to flowhist while applying, want none');
  // The next deploy is based on the applied revision.
  await storage.saveFlows([{ id: 'tab', type: 'tab' }]);
  const d = fake.requests.filter((r) => r.path === '/deploy');
  assert.equal(d.length, 1);
  assert.equal(d[0].headers['if-match'], '"2"');
});

test('a node whose credentials did not change carries none', async (t) => {
  const { fake, storage, applies, nthApply } = await setup(t);
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed');
  fake.append({ flows: [{ id: 'tab', type: 'tab' }, { id: 'n1', type: 'x', z: 'tab' }, { id: 'n2', type: 'y', z: 'tab' }] });
  await nthApply(1);
  assert.equal(applies[0].flows[1].credentials, undefined);
  assert.equal(applies[0].flows[2].credentials, undefined);
});

test('what the admin deployed itself is acknowledged, not applied', async (t) => {
  const { fake, storage, applies, ackOf } = await setup(t);
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed');
  await storage.saveFlows([{ id: 'tab', type: 'tab' }, { id: 'n9', type: 'x', z: 'tab' }], { username: 'alice' });
  await ackOf(2);
  assert.equal(applies.length, 0, `got ${applies.length} applies of the admin's own deploy, want 0`);
});

test('a deploy Node-RED handed over before an apply fails as a conflict', async (t) => {
  const { fake, storage, nthApply } = await setup(t);
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed');
  // Deploy A is in flight (held by flowhist) when another admin's revision
  // arrives: its apply waits for A.
  let release;
  const held = new Promise((r) => (release = r));
  const orig = fake.builtin['POST /deploy'];
  fake.route('POST /deploy', async (r) => {
    await held;
    return orig(r);
  });
  const a = storage.saveFlows([{ id: 'tab', type: 'tab', label: 'A' }]);
  a.catch(() => {});
  await fake.waitFor((r) => r.path === '/deploy');
  fake.append({ flows: [{ id: 'tab', type: 'tab', label: 'other admin' }] });
  await until(() => fake.group && fake.group.lastDelivered >= 2, 5000, 'the news delivered');
  await new Promise((r) => setTimeout(r, 20)); // the follower queues its apply
  // Deploy B was handed over before the apply ran: based on the old flows.
  const b = storage.saveFlows([{ id: 'tab', type: 'tab', label: 'B' }]);
  b.catch(() => {});
  release();
  await assert.rejects(a, { code: 'flowhist_conflict' });
  await assert.rejects(b, { code: 'flowhist_conflict' });
  await nthApply(1);
  assert.equal(fake.requests.filter((r) => r.path === '/deploy').length, 1, 'deploy B reached flowhist, want it refused as a conflict');
  assert.deepEqual(fake.flows, [{ id: 'tab', type: 'tab', label: 'other admin' }]);
});

test("reload 'full' restarts the flows with loadFlows(true)", async (t) => {
  const { fake, storage, applies, nthApply, ackOf } = await setup(t, { role: 'worker', flowhist: { workerId: 'w1', reload: 'full' } });
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed');
  fake.append({ flows: [{ id: 'tab', type: 'tab', label: 'v2' }] });
  await nthApply(1);
  await ackOf(2);
  assert.equal(applies[0].type, 'load');
});

test("a worker applies with 'nodes' by default and writes nothing", async (t) => {
  const { fake, storage, applies, nthApply, ackOf, writes } = await setup(t, { role: 'worker', flowhist: { workerId: 'w1' } });
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed');
  fake.append({ flows: [{ id: 'tab', type: 'tab', label: 'v2' }] });
  await nthApply(1);
  await ackOf(2);
  assert.equal(applies[0].type, 'nodes');
  assert.deepEqual(writes(), []);
  // Outside an apply a worker still refuses to save.
  await assert.rejects(storage.saveFlows([{ id: 'other' }]), /this Node-RED is a worker/);
});

test('credentials decrypt as Node-RED encrypts them; a wrong secret says so', () => {
  assert.deepEqual(decryptCredentials(encrypt({ a: { p: 'x' } }), SECRET), { a: { p: 'x' } });
  assert.deepEqual(decryptCredentials({ a: { p: 'plain' } }, false), { a: { p: 'plain' } });
  assert.throws(() => decryptCredentials(encrypt({ a: 1 }), 'other-secret'), /cannot be decrypted with this credentialSecret/);
});

test("after a failed start-up load, flows are loaded with loadFlows(true), not diffed against none ('nodes')", async (t) => {
  for (const role of ['worker', 'admin']) {
    await t.test(role, async (t) => {
      const { fake, storage, applies, nthApply } = await setup(t, { role, flowhist: { workerId: 'x1', retryFor: 20 } });
      let failedAt = null;
      const refuse = () => failedAt === null || fake.count('GET', '/flows') <= failedAt + 1;
      fake.route('GET /flows', (r) => (refuse() ? { status: 503, body: { code: 'unavailable', message: 'down' } } : fake.builtin['GET /flows'](r)));
      await assert.rejects(storage.getFlows(), /HTTP 503/); // Node-RED's start-up load
      failedAt = fake.count('GET', '/flows');
      await nthApply(1);
      assert.equal(applies[0].type, 'load', `got a '${applies[0].type}' apply, want loadFlows(true)`);
      await fake.waitFor((r) => r.path === '/feed');
    });
  }
});

test('while applying, only the apply\'s own credentials are dropped on the admin; everything on a worker', () => {
  const { Applier } = require('../lib/apply');
  const a = new Applier({ credentialSecret: SECRET });
  const mine = { n1: { user: 'u1' } };
  assert.equal(a.suppressCredentials(encrypt(mine), true), false, 'dropped while not applying');
  a.applying = { flowsJSON: '[]', creds: mine };
  assert.equal(a.suppressCredentials(encrypt(mine), true), true, 'the apply\'s own credentials were written back');
  assert.equal(a.suppressCredentials(encrypt({ n1: { user: 'typed in the editor' } }), true), false, 'an editor\'s credentials were dropped');
  assert.equal(a.suppressCredentials(encrypt({ x: 1 }), false), true, 'a worker wrote credentials while applying');
  assert.equal(a.suppressFlows([]), true);
  assert.equal(a.suppressFlows([{ id: 'other' }]), false, 'other flows were dropped while applying');
});

test('the admin told to reset (the log lost a revision it applied) reloads the head fully, and its next deploy is based on it', async (t) => {
  const { fake, storage, log, applies, nthApply, ackOf } = await setup(t);
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed');
  fake.append({ flows: [{ id: 'tab', type: 'tab' }, { id: 'n1', type: 'x', z: 'tab', name: 'lost' }] }); // written elsewhere
  await nthApply(1);
  await ackOf(2);
  // Valkey loses revision 2; the next deploy elsewhere takes its number.
  fake.lose(1);
  fake.append({ flows: [{ id: 'tab', type: 'tab' }, { id: 'n1', type: 'x', z: 'tab', name: 'head' }] });
  await fake.waitFor((r) => r.path === '/feed/ack' && r.json.revision === 2 && r.json.id === fake.idAt(2), 5000, 'the head acknowledged by its id');
  const load = applies.findIndex((a) => a.type === 'load');
  assert.ok(load > 0, `got applies ${JSON.stringify(applies.map((a) => a.type))}, want a full load after the reset`);
  assert.equal(log.lines.filter((l) => /no longer holds revision/.test(l.msg)).length, 1, 'logged once');
  await storage.saveFlows([{ id: 'tab', type: 'tab' }]);
  const d = fake.requests.filter((r) => r.path === '/deploy');
  assert.equal(d[d.length - 1].headers['if-match'], '"2"');
});
