'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const os = require('node:os');
const { createStorage } = require('..');
const { parseConfig } = require('../lib/config');
const { fakeNodes } = require('./fake-flowhist');

const ok = { url: 'http://127.0.0.1:8080/', namespace: 'prod', role: 'admin', token: 'very-secret-token-value' };
const settings = (flowhist, extra) => Object.assign({ credentialSecret: 's', flowhist }, extra);
const runtime = { log: { info() {}, warn() {}, error() {}, debug() {} }, nodes: fakeNodes() };

test('valid options get defaults', () => {
  const c = parseConfig(settings(ok));
  assert.equal(c.url, 'http://127.0.0.1:8080');
  assert.equal(c.retryFor, 120000);
  assert.equal(c.credentialsDelay, 2000);
  assert.equal(c.reload, 'nodes');
  assert.equal(c.packages, true);
  // The admin follows the feed too: its consumer is admin-<host>-<port>.
  assert.equal(c.workerId, `admin-${os.hostname()}`.replace(/[^A-Za-z0-9_.-]/g, '-'));
  assert.equal(parseConfig(settings(ok, { uiPort: 1881 })).workerId, `admin-${os.hostname()}-1881`.replace(/[^A-Za-z0-9_.-]/g, '-'));
  assert.equal(parseConfig(settings(Object.assign({}, ok, { workerId: 'admin-a' }))).workerId, 'admin-a');
  assert.equal(parseConfig(settings(Object.assign({}, ok, { reload: 'full' }))).reload, 'full');
  const w = parseConfig(settings(Object.assign({}, ok, { role: 'worker' })));
  assert.equal(w.workerId, os.hostname());
  assert.equal(parseConfig(settings(Object.assign({}, ok, { role: 'worker', workerId: 'w-1' }))).workerId, 'w-1');
  assert.equal(parseConfig(settings(ok, { credentialSecret: false })).role, 'admin'); // encryption off is a choice
});

test('init rejects bad options with an error naming the option, never the token', async () => {
  const cases = [
    [undefined, /settings\.flowhist is missing/],
    [Object.assign({}, ok, { url: undefined }), /settings\.flowhist\.url is missing/],
    [Object.assign({}, ok, { url: 'ftp://x' }), /settings\.flowhist\.url must start with http/],
    [Object.assign({}, ok, { url: 'not a url' }), /settings\.flowhist\.url is not a URL/],
    [Object.assign({}, ok, { url: 'http://u:p@h' }), /settings\.flowhist\.url must not contain a user/],
    [Object.assign({}, ok, { namespace: undefined }), /settings\.flowhist\.namespace is missing/],
    [Object.assign({}, ok, { namespace: 'a/b' }), /settings\.flowhist\.namespace "a\/b" is invalid/],
    [Object.assign({}, ok, { role: undefined }), /settings\.flowhist\.role is missing/],
    [Object.assign({}, ok, { role: 'editor' }), /settings\.flowhist\.role "editor" is invalid: use 'admin' or 'worker'/],
    [Object.assign({}, ok, { role: 'worker', workerId: 'has space' }), /settings\.flowhist\.workerId "has space" is invalid/],
    [Object.assign({}, ok, { token: 42 }), /settings\.flowhist\.token must be/],
    [Object.assign({}, ok, { reload: 'flows' }), /settings\.flowhist\.reload "flows" is invalid: use 'nodes'/],
    [Object.assign({}, ok, { packages: 'yes' }), /settings\.flowhist\.packages must be true/],
    [Object.assign({}, ok, { retryFor: -1 }), /settings\.flowhist\.retryFor must be a number/],
    [Object.assign({}, ok, { role: 'worker', workerID: 'w-1' }), /settings\.flowhist\.workerID is not an option: did you mean workerId\?/],
    [Object.assign({}, ok, { namspace: 'x' }), /settings\.flowhist\.namspace is not an option \(options: url, namespace, role/],
  ];
  for (const [flowhist, want] of cases) {
    const storage = createStorage();
    await assert.rejects(storage.init(settings(flowhist), runtime), (err) => {
      assert.match(err.message, want);
      assert.ok(!err.message.includes(ok.token), 'the token is in the message');
      return true;
    });
  }
});

test('init requires credentialSecret: flowhist never stores a generated one', async () => {
  for (const secret of [undefined, '']) {
    await assert.rejects(createStorage().init(settings(ok, { credentialSecret: secret }), runtime), /settings\.credentialSecret is not set/);
  }
});

test('the exported module has every storage function as an own property', () => {
  const m = require('..');
  for (const fn of ['init', 'getFlows', 'saveFlows', 'getCredentials', 'saveCredentials', 'getSettings', 'saveSettings', 'getSessions', 'saveSessions', 'getLibraryEntry', 'saveLibraryEntry']) {
    assert.ok(Object.prototype.hasOwnProperty.call(m, fn), fn);
    assert.equal(typeof m[fn], 'function');
  }
  // Node-RED Projects (lib/projects.js): the object exists before init, as
  // Node-RED looks for it first, and says "no project" until the admin has
  // initialised them.
  assert.equal(typeof m.projects, 'object');
  assert.equal(m.projects.getActiveProject(), null);
  assert.throws(() => m.projects.listProjects(), /admin only/);
});

test('calls before init say so', async () => {
  await assert.rejects(createStorage().getFlows(), /before init/);
});
