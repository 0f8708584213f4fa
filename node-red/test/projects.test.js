'use strict';

// lib/projects.js: which side wins when Node-RED loads the flows of the
// active project, flowhist or the project's files.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Projects, projectsFacade } = require('../lib/projects');

// setup builds a Projects over a fake Node-RED projects module (the files)
// and a fake client (flowhist).
function setup({ active = 'A', recorded = 'A', disk, diskCreds, fh, fhCreds }) {
  const calls = [];
  const lfs = {
    getFlows: async () => disk,
    getCredentials: async () => diskCreds,
    getActiveProject: () => (active ? { name: active } : null),
    saveFlows: async (f) => calls.push(['files.saveFlows', f]),
    saveCredentials: async (c) => calls.push(['files.saveCredentials', c]),
    pull: async () => calls.push(['files.pull']),
    getStatus: async () => ({}),
  };
  const client = {
    getJSON: async (p) => ({ body: { '/project': { name: recorded }, '/credentials': fhCreds || {} }[p] }),
    request: async (method, p, o) => calls.push([method, p, o && o.json]),
  };
  const log = { info() {}, warn() {}, error() {}, debug() {} };
  const p = new Projects({ client, log, settings: {}, runtime: {} });
  p.lfs = lfs;
  const load = () => p.load(async () => ({ flows: fh, flowsRevision: 3 }), async (f, c) => calls.push(['deploy', f, c]));
  return { p, calls, load };
}

const A = [{ id: 'a', type: 'tab' }];
const B = [{ id: 'b', type: 'tab' }];
const CA = { $: 'aa' };
const CB = { $: 'bb' };

test('a switch to another project appends it and deploys its files', async () => {
  const { p, calls, load } = setup({ recorded: 'B', disk: A, diskCreds: CA, fh: B, fhCreds: CB });
  assert.deepEqual(await load(), A);
  assert.deepEqual(calls, [['PUT', '/project', { name: 'A' }], ['deploy', A, CA]]);
  assert.deepEqual(p.getCredentials(), CA);
});

test('a switch to a project with the same flows appends only the project', async () => {
  const { calls, load } = setup({ recorded: '', disk: A, diskCreds: CA, fh: A, fhCreds: CA });
  assert.deepEqual(await load(), A);
  assert.deepEqual(calls, [['PUT', '/project', { name: 'A' }]]);
});

test('the same project with the same flows changes nothing', async () => {
  const { calls, load } = setup({ disk: A, diskCreds: CA, fh: A, fhCreds: CA });
  assert.deepEqual(await load(), A);
  assert.deepEqual(calls, []);
});

test('files changed by git (pull) are deployed', async () => {
  const { p, calls, load } = setup({ disk: A, diskCreds: CA, fh: B, fhCreds: CB });
  await p.api().pull();
  assert.deepEqual(await load(), A);
  assert.deepEqual(calls.slice(1), [['deploy', A, CA]]);
});

test('at start-up flowhist wins: a rollback is written into the files', async () => {
  const { p, calls, load } = setup({ disk: A, diskCreds: CA, fh: B, fhCreds: CB });
  assert.deepEqual(await load(), B);
  assert.deepEqual(calls, [['files.saveFlows', B], ['files.saveCredentials', CB]]);
  assert.deepEqual(p.getCredentials(), CB);
});

test('a read-only call does not make the files win', async () => {
  const { p, calls, load } = setup({ disk: A, diskCreds: CA, fh: B, fhCreds: CB });
  await p.api().getStatus();
  assert.deepEqual(await load(), B);
  assert.deepEqual(calls[0], ['files.saveFlows', B]);
});

test('no active project: flowhist alone answers', async () => {
  const { p, calls, load } = setup({ active: '', disk: [], fh: B });
  assert.equal(await load(), null);
  assert.equal(p.getCredentials(), undefined);
  assert.deepEqual(calls, []);
});

test('the facade answers "no project" until the admin has Projects', () => {
  let api = null;
  const f = projectsFacade(() => api);
  assert.equal(f.getActiveProject(), null);
  assert.equal(f.flowFileExists(), false);
  assert.throws(() => f.listProjects(), (err) => err.code === 'not_available');
  api = { listProjects: () => ['A'] };
  assert.deepEqual(f.listProjects(), ['A']);
});

test("projects' credentialSecrets stay in the userDir, never in flowhist's settings", () => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fh-projects-'));
  const p = new Projects({ client: {}, log: {}, settings: { userDir: dir }, runtime: {} });
  const settings = { nodes: {}, projects: { activeProject: 'A', projects: { A: { credentialSecret: 'secret-a' }, B: { credentialSecret: false } } } };
  const out = p.withoutSecrets(settings);
  assert.equal(JSON.stringify(out).includes('secret-a'), false);
  assert.deepEqual(out.projects.projects, { A: {}, B: { credentialSecret: false } });
  assert.equal(settings.projects.projects.A.credentialSecret, 'secret-a', 'the runtime\'s own object is not changed');
  assert.ok(fs.readFileSync(path.join(dir, '.config.projects.json'), 'utf8').includes('secret-a'));
  assert.deepEqual(p.withSecrets(out).projects.projects, { A: { credentialSecret: 'secret-a' }, B: { credentialSecret: false } });
  fs.rmSync(dir, { recursive: true });
});
