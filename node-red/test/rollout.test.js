'use strict';

// The worker's side of a staged rollout (flowhist's docs/rollout.md): its
// ring named on the feed and its reads, the ring's target followed instead
// of the head, and its health reported.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const { createStorage } = require('..');
const { parseConfig } = require('../lib/config');
const { Health, parseDuration, gateOf } = require('../lib/health');
const { Client } = require('../lib/client');
const { startFake, captureLog, golden, NS } = require('./fake-flowhist');

const TOKEN = 'tok-worker-0123456789abcdef';
const base = { url: 'http://127.0.0.1:1', namespace: 'prod', role: 'worker', workerId: 'w1' };

test('ring: default "default", a name like a worker id, and a misspelling refused', () => {
  assert.equal(parseConfig({ credentialSecret: 's', flowhist: base }).ring, 'default');
  assert.equal(parseConfig({ credentialSecret: 's', flowhist: Object.assign({ ring: 'canary' }, base) }).ring, 'canary');
  for (const bad of ['-x', 'a b', '<b>', 'x'.repeat(65), 7]) {
    assert.throws(() => parseConfig({ credentialSecret: 's', flowhist: Object.assign({ ring: bad }, base) }), /settings\.flowhist\.ring .* is invalid/);
  }
  assert.throws(() => parseConfig({ credentialSecret: 's', flowhist: Object.assign({ Ring: 'canary' }, base) }), /did you mean ring\?/);
});

test('parseDuration reads Go durations; gateOf falls back to the last ring', () => {
  assert.equal(parseDuration('1m30s', 0), 90000);
  assert.equal(parseDuration('50ms', 0), 50);
  assert.equal(parseDuration('1.5s', 0), 1500);
  assert.equal(parseDuration('soon', 7), 7);
  const policy = { rings: [{ name: 'canary', gate: { report: '1s' } }, { name: 'default', gate: { report: '2s' } }] };
  assert.equal(gateOf(policy, 'canary').report, '1s');
  assert.equal(gateOf(policy, 'elsewhere').report, '2s');
  assert.equal(gateOf(null, 'canary'), null);
});

// setup starts a fake flowhist at revision 3 under a rollout policy whose
// every ring targets revision 3, and a worker of ring.
async function setup(t, ring) {
  const fake = await startFake({ stream: true });
  for (let i = 1; i <= 3; i++) fake.append({ flows: [{ id: 'tab', rev: i }] });
  fake.targets = { canary: 3, default: 3 };
  const storage = createStorage();
  const log = captureLog();
  const loads = [];
  const runtime = {
    log,
    nodes: {
      loadFlows: async () => {
        const load = { flows: await storage.getFlows() };
        await storage.getCredentials();
        loads.push(load);
        fake.emit('reload', loads.length);
      },
    },
  };
  const flowhist = { url: fake.url, token: TOKEN, namespace: NS, role: 'worker', workerId: 'w1', ring, retryDelay: 2, retryMaxDelay: 10, retryFor: 3000, feedWait: 5000, reload: 'full', packages: false };
  await storage.init({ credentialSecret: 'shared-secret', flowhist }, runtime);
  t.after(async () => {
    await storage.close();
    await fake.close();
  });
  const ackOf = (rev) => fake.waitFor((r) => r.path === '/feed/ack' && r.json.revision === rev, 5000, `ack ${rev}`);
  return { fake, storage, loads, ackOf };
}

test('under a policy a worker runs its ring\'s target: a deploy past it is acknowledged, not loaded, until the target moves', async (t) => {
  const { fake, storage, loads, ackOf } = await setup(t, 'default');
  assert.deepEqual(await storage.getFlows(), [{ id: 'tab', rev: 3 }]);
  const reads = () => fake.requests.filter((r) => r.path === '/flows');
  assert.equal(reads()[0].query.ring, 'default');
  // A deploy reaches the canaries only.
  fake.targets.canary = fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  await ackOf(4);
  assert.equal(loads.length, 0, 'the default ring loaded the canary\'s revision');
  const feed = fake.requests.find((r) => r.path === '/feed');
  assert.equal(feed.query.ring, 'default');
  // The gate passed: the target of the default ring moves (an event of its own).
  fake.targets.default = 4;
  fake.append();
  await ackOf(5);
  assert.equal(loads.length, 1);
  assert.deepEqual(loads[0].flows, [{ id: 'tab', rev: 4 }]);
  assert.equal(reads().at(-1).query.ring, 'default');
  assert.equal(fake.requests.filter((r) => r.path === '/credentials').at(-1).query.ring, 'default');
});

test('a canary follows a rollback to a target older than what it runs', async (t) => {
  const { fake, storage, loads, ackOf } = await setup(t, 'canary');
  await storage.getFlows();
  fake.targets.canary = fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  await ackOf(4);
  assert.deepEqual(loads.at(-1).flows, [{ id: 'tab', rev: 4 }]);
  // The gate failed: back to the base (here by its revision, as a target
  // names a position; the real server appends a rollback and targets it).
  fake.targets.canary = 3;
  fake.append();
  await ackOf(5);
  assert.deepEqual(loads.at(-1).flows, [{ id: 'tab', rev: 3 }]);
});

test('without a policy a worker with a ring follows the head as before', async (t) => {
  const { fake, storage, loads, ackOf } = await setup(t, 'canary');
  fake.targets = null;
  await storage.getFlows();
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  await ackOf(4);
  assert.deepEqual(loads.at(-1).flows, [{ id: 'tab', rev: 4 }]);
});

// healthSetup is a Health on a fake flowhist with a policy whose canary
// gate probes /health on a local server answering status().
async function healthSetup(t, userDir) {
  const fake = await startFake();
  let status = 200;
  const app = http.createServer((req, res) => {
    res.writeHead(req.url === '/health' ? status : 404);
    res.end('ok');
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  const policy = golden('get-rollout-policy.json', {
    rings: [{ name: 'canary', bake: '10s', gate: { maxErrors: 0, maxRestarts: 0, deadline: '1m0s', report: '1s', probes: [{ path: '/health', status: 200, every: '50ms' }] } }],
    windows: [],
  });
  fake.route('GET /rollout/policy', () => ({ body: policy }));
  fake.route('PUT /workers/w1/health', () => ({ body: golden('put-worker-health.json', { worker: 'w1' }) }));
  const client = new Client({ url: fake.url, urls: [fake.url], token: TOKEN, namespace: NS, retryFor: 1000, retryDelay: 2, retryMaxDelay: 10, requestTimeout: 2000 });
  const events = new EventEmitter();
  const handlers = [];
  const rlog = { addHandler: (h) => handlers.push(h), removeHandler: (h) => handlers.splice(handlers.indexOf(h), 1) };
  const health = new Health({ client, ring: 'canary', workerId: 'w1', runtime: { events, log: rlog }, settings: { userDir, uiPort: app.address().port } });
  t.after(async () => {
    health.stop();
    client.close();
    await fake.close();
    await new Promise((r) => app.close(r));
  });
  const reports = () => fake.requests.filter((r) => r.method === 'PUT' && r.path === '/workers/w1/health').map((r) => r.json);
  const logError = (msg) => handlers.forEach((h) => h.emit('log', Object.assign({ level: 20 }, msg)));
  return { fake, health, events, reports, logError, setStatus: (s) => (status = s) };
}

test('health: a report after a load names the position, the flows started and the probe; errors and a failing probe are counted', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fh-health-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { fake, health, events, reports, logError, setStatus } = await healthSetup(t, dir);
  health.attach();
  await fake.waitFor((r) => r.path === '/rollout/policy', 2000, 'policy read');
  health.applied(7, '0190aaaa-0000-7000-8000-000000000007');
  events.emit('flows:started', {});
  const first = (await fake.waitFor((r) => r.path === '/workers/w1/health', 3000, 'first report')).json;
  assert.equal(first.ring, 'canary');
  assert.equal(first.revision, 7);
  assert.equal(first.id, '0190aaaa-0000-7000-8000-000000000007');
  assert.equal(first.started, true);
  assert.equal(first.errors, 0);
  assert.equal(first.restarts, 0);
  assert.deepEqual(first.probes, [{ path: '/health', status: 200, ok: true, error: '' }]);
  assert.ok(!Number.isNaN(Date.parse(first.applied)));
  // A function node throwing on each message, and the endpoint breaking.
  logError({ id: 'fn1', type: 'function', msg: 'TypeError: <b>boom</b>' });
  logError({ id: 'fn1', type: 'function', msg: 'TypeError: <b>boom</b>' });
  logError({ msg: '[flowhist] the feed failed' }); // the module's own: not the flows'
  setStatus(500);
  const later = await fake.waitFor((r) => r.path === '/workers/w1/health' && r.json.errors === 2 && r.json.probes[0].status === 500, 3000, 'periodic report');
  assert.equal(later.json.probes[0].ok, false);
  // The node, not its error's text (which may quote a secret).
  assert.equal(later.json.message, 'last error from a function node "fn1"');
  assert.deepEqual(later.json.failedTypes, []); // thrown after the start
  assert.ok(reports().length >= 2);
});

test('health: missing types are reported as not started; a start at the same position counts a restart, an uncaught exception an error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fh-health-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const a = await healthSetup(t, dir);
  a.health.attach();
  a.health.applied(9, 'e9');
  a.events.emit('runtime-event', { id: 'runtime-state', payload: { state: 'stop', error: 'missing-types', types: ['no-such-node'] } });
  const r = await a.fake.waitFor((x) => x.path === '/workers/w1/health' && x.json.missingTypes.length === 1, 3000, 'missing types');
  assert.equal(r.json.started, false);
  assert.deepEqual(r.json.missingTypes, ['no-such-node']);
  // The process ends on an uncaught exception (Node-RED exits after
  // logging it): what the starts file says is read at the next start.
  process.listeners('uncaughtException').at(-1)(new Error('kaput'));
  a.health.stop();
  const b = await healthSetup(t, dir);
  b.health.attach();
  b.health.applied(9, 'e9');
  b.events.emit('flows:started', {});
  const again = await b.fake.waitFor((x) => x.path === '/workers/w1/health', 3000, 'report after restart');
  assert.equal(again.json.restarts, 1);
  assert.equal(again.json.errors, 1);
  assert.equal(again.json.message, 'the process ended on an uncaught exception');
  // A new position counts from zero.
  b.health.applied(10, 'e10');
  await b.fake.waitFor((x) => x.path === '/workers/w1/health' && x.json.revision === 10, 3000, 'report at 10');
  const at10 = b.reports().at(-1);
  assert.equal(at10.restarts, 0);
  assert.equal(at10.errors, 0);
});

test('health: a node that fails to start during a reload counts against the position loaded; no report before Node-RED says whether the flows started', async (t) => {
  const { fake, health, events, reports, logError } = await healthSetup(t, null);
  health.attach();
  health.applied(3, 'e3');
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(reports().length, 0, 'reported before the flows started');
  events.emit('flows:started', {});
  await fake.waitFor((x) => x.path === '/workers/w1/health' && x.json.revision === 3, 3000, 'report at 3');
  // A reload: the constructor of a node throws while the flows start.
  health.loading();
  logError({ id: 'n1', type: 'broken-node', msg: 'TypeError: cannot start' });
  events.emit('flows:started', {});
  health.applied(4, 'e4');
  const r = await fake.waitFor((x) => x.path === '/workers/w1/health' && x.json.revision === 4, 3000, 'report at 4');
  assert.equal(r.json.errors, 1);
  assert.deepEqual(r.json.failedTypes, ['broken-node']);
  assert.equal(r.json.started, false);
});
