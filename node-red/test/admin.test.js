'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { createStorage } = require('..');
const { startFake, captureLog, golden, failure, NS } = require('./fake-flowhist');

const TOKEN = 'tok-admin-0123456789abcdef';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// setup starts a fake flowhist and an admin. The admin's feed stays silent
// here (these tests are about its writes); the admin-follows tests are in
// follow.test.js.
async function setup(t, extra = {}) {
  const fake = await startFake();
  fake.route('GET /feed', (r, res) => {
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    fake.once('closing', () => res.end());
  });
  const storage = createStorage();
  const log = captureLog();
  const flowhist = Object.assign(
    { url: fake.url, token: TOKEN, namespace: NS, role: 'admin', retryDelay: 2, retryMaxDelay: 10, retryFor: 3000, credentialsDelay: 30 },
    extra,
  );
  const runtime = { log, nodes: { setFlows: async () => {}, getCredentials: () => undefined, loadFlows: async () => {} } };
  await storage.init({ credentialSecret: 'shared-secret', flowhist }, runtime);
  t.after(async () => {
    fake.emit('closing');
    await storage.close();
    await fake.close();
    for (const l of log.lines) assert.ok(!l.msg.includes(TOKEN), `token in log line: ${l.msg}`);
  });
  return { fake, storage, log };
}

const deploys = (fake) => fake.requests.filter((r) => r.method === 'POST' && r.path === '/deploy');

test('getFlows returns the plain array and remembers the flows revision', async (t) => {
  const { fake, storage } = await setup(t);
  fake.append({ flows: [{ id: 'a', type: 'tab' }] });
  fake.append(); // a settings save: the namespace moves on, the flows do not
  const flows = await storage.getFlows();
  assert.deepEqual(flows, [{ id: 'a', type: 'tab' }]);
  assert.ok(Array.isArray(flows));
  const get = fake.requests.find((r) => r.path === '/flows');
  assert.equal(get.headers.authorization, `Bearer ${TOKEN}`);
  await storage.saveFlows([{ id: 'b', type: 'tab' }], undefined);
  assert.equal(deploys(fake)[0].headers['if-match'], '"1"');
});

test('an empty namespace reads as [] and deploys against revision 0', async (t) => {
  const { fake, storage } = await setup(t);
  assert.deepEqual(await storage.getFlows(), []);
  assert.deepEqual(await storage.getCredentials(), {});
  await storage.saveFlows([{ id: 'n1' }]);
  assert.equal(deploys(fake)[0].headers['if-match'], '"0"');
  assert.deepEqual(fake.flows, [{ id: 'n1' }]);
});

test('saveCredentials then saveFlows is one POST /deploy with both', async (t) => {
  const { fake, storage, log } = await setup(t);
  fake.append({ flows: [{ id: 'a' }] });
  await storage.getFlows();
  await storage.getCredentials();
  const creds = { $: 'c0ffee-encrypted' };
  await storage.saveCredentials(creds);
  await storage.saveFlows([{ id: 'a' }, { id: 'b' }], { username: 'alice', permissions: '*' });
  const d = deploys(fake);
  assert.equal(d.length, 1);
  assert.deepEqual(d[0].json, { flows: [{ id: 'a' }, { id: 'b' }], credentials: creds, user: 'alice' });
  assert.equal(d[0].headers['if-match'], '"1"');
  assert.match(d[0].headers['idempotency-key'], UUID);
  assert.equal(d[0].headers['content-type'], 'application/json');
  // The history records the deploy as made through Node-RED.
  assert.equal(d[0].headers['flowhist-channel'], 'node-red');
  // The flush that saveCredentials scheduled was cancelled: nothing else is
  // sent, even well after its delay (a negative check needs some time).
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(fake.count('PUT', '/credentials'), 0);
  assert.equal(fake.requests.filter((r) => r.path !== '/feed').length, 3);
  // The next deploy names the revision this one made, without credentials
  // or user when Node-RED gave none.
  await storage.saveFlows([{ id: 'a' }]);
  assert.equal(deploys(fake)[1].headers['if-match'], '"2"');
  assert.deepEqual(deploys(fake)[1].json, { flows: [{ id: 'a' }] });
  assert.notEqual(deploys(fake)[1].headers['idempotency-key'], d[0].headers['idempotency-key']);
  assert.ok(!log.lines.some((l) => l.msg.includes('c0ffee')), 'credentials in the log');
});

test('a deploy is retried on 503 with the same Idempotency-Key', async (t) => {
  const { fake, storage } = await setup(t);
  let calls = 0;
  fake.route('POST /deploy', () => {
    calls++;
    if (calls < 3) return { status: 503, body: { code: 'unavailable', message: 'valkey is away' } };
    return { body: golden('deploy.json', { revision: 9, aggregateRevision: 8, flowsRevision: 8 }) };
  });
  await storage.saveFlows([{ id: 'a' }], { username: 'bob' });
  const d = deploys(fake);
  assert.equal(d.length, 3);
  const keys = new Set(d.map((r) => r.headers['idempotency-key']));
  assert.equal(keys.size, 1);
  assert.match([...keys][0], UUID);
  // After the 200, the base is the flowsRevision it answered.
  fake.route('POST /deploy', () => ({ body: golden('deploy.json', { revision: 10, aggregateRevision: 10, flowsRevision: 10 }) }));
  await storage.saveFlows([{ id: 'a' }]);
  assert.equal(deploys(fake)[3].headers['if-match'], '"8"');
});

test('a deploy is retried when flowhist cannot be reached, and gives up after retryFor', async (t) => {
  const { fake, storage } = await setup(t, { retryFor: 150 });
  await fake.stop();
  const started = Date.now();
  await assert.rejects(storage.saveFlows([{ id: 'a' }]), (err) => {
    assert.match(err.message, /POST \/deploy/);
    assert.match(err.message, /ECONNREFUSED|connect/);
    assert.equal(err.status, undefined);
    return true;
  });
  assert.ok(Date.now() - started >= 100, 'gave up before retryFor');
  await fake.restart();
});

test('a deploy is not retried on 400', async (t) => {
  const { fake, storage } = await setup(t);
  fake.route('POST /deploy', () => failure(400, 'invalid', 'node 3 has no id'));
  await assert.rejects(storage.saveFlows([{}]), (err) => {
    assert.match(err.message, /HTTP 400 invalid: node 3 has no id/);
    assert.equal(err.code, 'invalid');
    assert.equal(err.status, undefined); // Node-RED's Admin API answers 400
    return true;
  });
  assert.equal(deploys(fake).length, 1);
});

test('a 409 rejects with a conflict message and is not retried', async (t) => {
  const { fake, storage } = await setup(t);
  fake.append({ flows: [{ id: 'a' }] });
  await storage.getFlows();
  fake.append({ flows: [{ id: 'a', name: 'changed by the CLI' }] }); // someone else
  fake.append({ flows: [{ id: 'a', name: 'and again' }] });
  await storage.saveCredentials({ $: 'new' });
  await assert.rejects(storage.saveFlows([{ id: 'a', name: 'mine' }], { username: 'alice' }), (err) => {
    assert.match(err.message, /changed by someone else/);
    assert.match(err.message, /revision 3/);
    assert.match(err.message, /[Rr]eload the flows/);
    assert.equal(err.code, 'flowhist_conflict');
    assert.equal(err.currentRevision, 3);
    assert.equal(err.status, undefined);
    return true;
  });
  assert.equal(deploys(fake).length, 1);
  assert.deepEqual(fake.flows, [{ id: 'a', name: 'and again' }]);
  // Node-RED considers those credentials saved: a deploy that tries again
  // carries them (and conflicts again, until the user reloads).
  await assert.rejects(storage.saveFlows([{ id: 'a', name: 'mine' }]), { code: 'flowhist_conflict' });
  assert.deepEqual(deploys(fake)[1].json.credentials, { $: 'new' });
  // Reloading (Restart Flows) reads flows and credentials: the next deploy
  // is based on revision 3 and the stale credentials are gone.
  await storage.getFlows();
  await storage.getCredentials();
  await storage.saveFlows([{ id: 'a', name: 'mine' }]);
  assert.equal(deploys(fake)[2].headers['if-match'], '"3"');
  assert.equal(deploys(fake)[2].json.credentials, undefined);
  assert.deepEqual(fake.flows, [{ id: 'a', name: 'mine' }]);
});

test('credentials saved alone are flushed with PUT /credentials after the delay', async (t) => {
  const { fake, storage } = await setup(t);
  fake.append({ flows: [{ id: 'a' }] });
  await storage.getFlows();
  await storage.saveCredentials({ $: 'first' });
  await storage.saveCredentials({ $: 'second' }); // restarts the delay: one PUT
  const put = await fake.waitFor((r) => r.method === 'PUT' && r.path === '/credentials');
  assert.deepEqual(put.json, { $: 'second' });
  assert.equal(put.headers['if-match'], '"1"');
  assert.match(put.headers['idempotency-key'], UUID);
  assert.deepEqual(fake.credentials, { $: 'second' });
  // Credentials belong to the flows aggregate: the next deploy names the
  // revision the PUT made.
  await storage.saveFlows([{ id: 'a' }]);
  assert.equal(deploys(fake)[0].headers['if-match'], '"2"');
  assert.equal(deploys(fake)[0].json.credentials, undefined);
  assert.equal(fake.count('PUT', '/credentials'), 1);
});

test('the admin reads and writes settings and sessions in flowhist, never _credentialSecret', async (t) => {
  const { fake, storage } = await setup(t);
  fake.settings = { nodes: { 'node-red': {} } };
  assert.deepEqual(await storage.getSettings(), { nodes: { 'node-red': {} } });
  await storage.saveSettings({ nodes: {}, instanceId: 'abc', _credentialSecret: 'generated' });
  assert.deepEqual(fake.settings, { nodes: {}, instanceId: 'abc' });
  assert.ok(!fake.requests.some((r) => r.text.includes('generated')));
  assert.deepEqual(await storage.getSessions(), {});
  await storage.saveSessions({ tok: { user: 'alice', expires: 1 } });
  assert.deepEqual(fake.sessions, { tok: { user: 'alice', expires: 1 } });
  assert.deepEqual(await storage.getSessions(), { tok: { user: 'alice', expires: 1 } });
});

test("an editor user's preference save names that user; Node-RED's own saves name nobody", async (t) => {
  const { fake, storage } = await setup(t);
  fake.settings = { nodes: { 'node-red': {} }, users: { alice: { editor: { view: { grid: true } } } } };
  const saves = () => fake.requests.filter((r) => r.method === 'PUT' && r.path === '/settings');
  const user = (r) => (r.headers['flowhist-user'] === undefined ? undefined : Buffer.from(r.headers['flowhist-user'], 'latin1').toString('utf8'));
  const settings = await storage.getSettings();
  // alice changes a preference: only her entry of users changed.
  settings.users.alice.editor.view.grid = false;
  await storage.saveSettings(structuredClone(settings));
  assert.equal(user(saves()[0]), 'alice');
  // A new user's first preference, with a name that is not Latin-1.
  settings.users['李'] = { editor: { view: {} } };
  await storage.saveSettings(structuredClone(settings));
  assert.equal(user(saves()[1]), '李');
  // Start-up: the node registry changes; anonymous "_"; two users at once.
  settings.nodes = { 'node-red': { v: 2 } };
  await storage.saveSettings(structuredClone(settings));
  settings.users._ = { editor: {} };
  await storage.saveSettings(structuredClone(settings));
  settings.users.alice = { a: 1 };
  settings.users.bob = { b: 1 };
  await storage.saveSettings(structuredClone(settings));
  assert.deepEqual(saves().slice(2).map(user), [undefined, undefined, undefined]);
});
