'use strict';

// A worker's installed modules follow the admin's registry.

const test = require('node:test');
const assert = require('node:assert/strict');
const { createStorage } = require('..');
const { plan, wanted } = require('../lib/packages');
const { startFake, until, captureLog, fakeNodes, golden, NS } = require('./fake-flowhist');

// registry is the admin's settings.nodes with user modules name → version.
function registry(mods) {
  const nodes = { 'node-red': { name: 'node-red', version: '4.1.8', user: false } };
  for (const [name, v] of Object.entries(mods)) nodes[name] = typeof v === 'string' ? { name, version: v, user: true } : Object.assign({ name, user: true }, v);
  return { nodes };
}

// setup starts a fake flowhist and a worker whose runtime installs modules
// into an in-memory registry; fail(name, version) makes an install throw
// as Node-RED's does when npm fails.
async function setup(t, opts = {}) {
  const fake = await startFake({ stream: true });
  fake.settings = registry(opts.admin || {});
  fake.append({ flows: [{ id: 'tab', type: 'tab' }] });
  fake.route('PUT /workers/w1/packages', (r) => {
    fake.reports.push(r.json);
    fake.emit('report', r.json);
    return { body: golden('put-worker-packages.json', { worker: 'w1' }) };
  });
  fake.reports = [];
  const have = new Map(Object.entries(opts.worker || {}));
  const calls = [];
  const fails = new Set();
  const nodes = fakeNodes({
    // As Node-RED's registry: node sets say user: false; the module says
    // whether it is the user's.
    getNodeList: () => [...have].map(([module, version]) => ({ id: `${module}/n`, module, version, user: false })).concat([{ id: 'node-red/inject', module: 'node-red', version: '4.1.8', user: false }]),
    getModuleInfo: (name) => (have.has(name) ? { name, version: have.get(name), user: true } : name === 'node-red' ? { name, version: '4.1.8', user: false } : null),
    installModule: async (name, version) => {
      calls.push(`install ${name}@${version}`);
      if (fails.has(`${name}@${version}`)) {
        const e = new Error('Install failed');
        e.code = 'npm_failed';
        throw e;
      }
      have.set(name, version);
      return { nodes: [] };
    },
    uninstallModule: async (name) => {
      calls.push(`remove ${name}`);
      have.delete(name);
      return [];
    },
  });
  const storage = createStorage();
  const log = captureLog();
  const flowhist = { url: fake.url, namespace: NS, role: 'worker', workerId: 'w1', retryDelay: 2, retryMaxDelay: 10, retryFor: 3000, feedWait: 5000, packagesRetryDelay: 5, packagesRetryMaxDelay: 20 };
  await storage.init({ credentialSecret: 's', flowhist }, { log, nodes });
  t.after(async () => {
    await storage.close();
    await fake.close();
  });
  const reportWith = (pred, what) =>
    fake.reports.find(pred) ? Promise.resolve(fake.reports.find(pred)) : new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a report: ${what}`)), 5000);
      fake.on('report', (r) => {
        if (pred(r)) {
          clearTimeout(timer);
          resolve(r);
        }
      });
    });
  return { fake, storage, log, have, calls, fails, reportWith };
}

test('plan: installs and upgrades to the exact version, removals last', () => {
  const cases = [
    { name: 'nothing to do', want: { a: '1.0.0' }, have: { a: '1.0.0' }, steps: [] },
    { name: 'missing module is installed', want: { a: '1.0.0' }, have: {}, steps: ['install a@1.0.0'] },
    { name: 'other version is upgraded (or downgraded)', want: { a: '1.0.0' }, have: { a: '2.0.0' }, steps: ['upgrade a@1.0.0'] },
    { name: 'module the admin lacks is removed, after installs', want: { b: '1.0.0' }, have: { a: '1.0.0' }, steps: ['install b@1.0.0', 'remove a@1.0.0'] },
    // The storage module runs the sync: never installed, upgraded or removed by it.
    { name: 'this module is left alone', want: { 'node-red-storage-flowhist': '9.9.9' }, have: {}, steps: [] },
    { name: 'this module is not upgraded', want: { 'node-red-storage-flowhist': '9.9.9' }, have: { 'node-red-storage-flowhist': '0.2.0' }, steps: [] },
    { name: 'this module is not removed', want: {}, have: { 'node-red-storage-flowhist': '0.2.0' }, steps: [] },
  ];
  for (const c of cases) {
    const got = plan(new Map(Object.entries(c.want)), new Map(Object.entries(c.have))).map((s) => `${s.op} ${s.module}@${s.version}`);
    assert.deepEqual(got, c.steps, c.name);
  }
});

test('wanted: user modules at the version on the admin\'s disk (pending_version after an upgrade)', () => {
  const got = wanted(registry({ a: '1.0.0', b: { version: '1.0.0', pending_version: '1.1.0' } }));
  assert.deepEqual([...got], [['a', '1.0.0'], ['b', '1.1.0']]);
});

test("at start-up the admin's modules are installed before getFlows returns", async (t) => {
  const { storage, have, reportWith } = await setup(t, { admin: { 'node-red-node-random': '0.4.0' } });
  await storage.getFlows();
  assert.equal(have.get('node-red-node-random'), '0.4.0', 'the module was not installed before the flows were returned');
  const r = await reportWith((x) => x.ok, 'ok');
  assert.deepEqual(r.packages, [{ name: 'node-red-node-random', version: '0.4.0' }]);
  assert.equal(r.revision, 1);
});

test('a packages change is followed live: upgrade to the exact version, then removal', async (t) => {
  const { fake, storage, have, calls, reportWith } = await setup(t, { admin: { a: '1.0.0' } });
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed');
  fake.settings = registry({ a: { version: '1.0.0', pending_version: '1.2.0' } });
  const rev = fake.append({ packages: true });
  await reportWith((x) => x.ok && x.revision === rev, 'upgrade');
  assert.equal(have.get('a'), '1.2.0');
  fake.settings = registry({});
  const rev2 = fake.append({ packages: true });
  await reportWith((x) => x.ok && x.revision === rev2, 'removal');
  assert.equal(have.has('a'), false);
  assert.deepEqual(calls, ['install a@1.0.0', 'install a@1.2.0', 'remove a']);
});

test('a failed install keeps the worker running: one clear line, reported, retried until it works', async (t) => {
  const { fake, storage, log, have, fails, reportWith } = await setup(t, { admin: { ok1: '1.0.0', bad: '9.9.9' } });
  fails.add('bad@9.9.9');
  const flows = await storage.getFlows(); // does not throw: the flows start without it
  assert.deepEqual(flows, [{ id: 'tab', type: 'tab' }]);
  assert.equal(have.get('ok1'), '1.0.0', 'the other module was not installed');
  const r = await reportWith((x) => !x.ok, 'a failure');
  assert.equal(r.module, 'bad');
  assert.equal(r.version, '9.9.9');
  assert.match(r.error, /Install failed/);
  const line = log.lines.find((l) => l.level === 'warn' && /bad@9\.9\.9/.test(l.msg));
  assert.ok(line, 'no warning names the module and version');
  assert.match(line.msg, /Install failed/);
  // Retried with backoff: once npm can install it, the worker is in step.
  await until(() => fake.reports.filter((x) => !x.ok).length >= 2, 5000, 'a retry');
  fails.delete('bad@9.9.9');
  await reportWith((x) => x.ok, 'in step after the retry');
  assert.equal(have.get('bad'), '9.9.9');
});

test("a failed install's message carries npm's error from Node-RED's log", async () => {
  const { withNpmError } = require('../lib/packages');
  const handlers = new Set();
  const runtimeLog = { addHandler: (h) => handlers.add(h), removeHandler: (h) => handlers.delete(h) };
  const npmOutput = 'npm error code ETARGET\nnpm error notarget No matching version found for node-red-node-random@99.0.0.\nnpm error A complete log of this run can be found in: /x.log';
  await assert.rejects(
    withNpmError(runtimeLog, async () => {
      for (const h of handlers) h.emit('log', { level: 30, msg: npmOutput });
      throw new Error('Install failed');
    }),
    { message: 'Install failed (npm: code ETARGET; notarget No matching version found for node-red-node-random@99.0.0.)' },
  );
  assert.equal(handlers.size, 0, 'the log handler was left installed');
});
