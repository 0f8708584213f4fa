'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { createStorage } = require('..');
const { startFake, captureLog, fakeNodes, NS } = require('./fake-flowhist');

async function setup(t) {
  const fake = await startFake();
  const storage = createStorage();
  await storage.init(
    { credentialSecret: 's', flowhist: { url: fake.url, namespace: NS, role: 'admin', retryDelay: 2, retryMaxDelay: 10 } },
    { log: captureLog(), nodes: fakeNodes() },
  );
  t.after(async () => {
    await storage.close();
    await fake.close();
  });
  return { fake, storage };
}

test('an entry is its body as a string', async (t) => {
  const { fake, storage } = await setup(t);
  await storage.saveLibraryEntry('functions', 'team/double.js', { outputs: 1, name: 'double' }, 'return msg;');
  const put = fake.requests.find((r) => r.method === 'PUT');
  assert.equal(put.path, '/library/functions');
  assert.equal(put.query.path, 'team/double.js');
  assert.deepEqual(put.json, { meta: { outputs: 1, name: 'double' }, body: 'return msg;' });
  assert.equal(put.headers.authorization, undefined); // no token configured
  assert.equal(await storage.getLibraryEntry('functions', 'team/double.js'), 'return msg;');
});

test('a directory is its listing: sub-directories, then files with their meta', async (t) => {
  const { storage } = await setup(t);
  await storage.saveLibraryEntry('functions', 'b.js', { outputs: 2 }, 'x');
  await storage.saveLibraryEntry('functions', 'team/a.js', {}, 'y');
  await storage.saveLibraryEntry('functions', 'a.js', {}, 'z');
  assert.deepEqual(await storage.getLibraryEntry('functions', ''), ['team', { fn: 'a.js' }, { fn: 'b.js', outputs: 2 }]);
  assert.deepEqual(await storage.getLibraryEntry('functions', 'team'), [{ fn: 'a.js' }]);
  assert.deepEqual(await storage.getLibraryEntry('functions', 'team/'), [{ fn: 'a.js' }]);
});

test('a missing entry rejects with code not_found; a missing directory lists as empty', async (t) => {
  const { storage } = await setup(t);
  await assert.rejects(storage.getLibraryEntry('functions', 'nope.js'), (err) => {
    assert.equal(err.code, 'not_found');
    assert.match(err.message, /nope\.js/);
    return true;
  });
  assert.deepEqual(await storage.getLibraryEntry('functions', ''), []);
  assert.deepEqual(await storage.getLibraryEntry('functions', 'empty/'), []);
});

test('flows entries are stored as .json and found with or without it', async (t) => {
  const { fake, storage } = await setup(t);
  await storage.saveLibraryEntry('flows', 'demo/blink', {}, '[{"id":"1"}]');
  assert.equal(fake.requests.find((r) => r.method === 'PUT').query.path, 'demo/blink.json');
  assert.equal(await storage.getLibraryEntry('flows', 'demo/blink'), '[{"id":"1"}]');
  assert.equal(await storage.getLibraryEntry('flows', 'demo/blink.json'), '[{"id":"1"}]');
  assert.deepEqual(await storage.getLibraryEntry('flows', 'demo'), [{ fn: 'blink.json' }]);
});

test("a path with '..' is refused without asking flowhist", async (t) => {
  const { fake, storage } = await setup(t);
  for (const p of ['../etc/passwd', 'a/../../b', 'a/..', '..\\secret']) {
    await assert.rejects(storage.getLibraryEntry('functions', p), { code: 'forbidden' });
    await assert.rejects(storage.saveLibraryEntry('functions', p, {}, 'x'), { code: 'forbidden' });
  }
  assert.equal(fake.requests.length, 0);
  // Dots inside a name are fine.
  await storage.saveLibraryEntry('functions', 'v1..2.js', {}, 'ok');
  assert.equal(await storage.getLibraryEntry('functions', 'v1..2.js'), 'ok');
});

test('library type and path are URL-encoded', async (t) => {
  const { fake, storage } = await setup(t);
  await storage.saveLibraryEntry('functions', 'a b/c&d=e?.js', {}, 'x');
  const put = fake.requests.find((r) => r.method === 'PUT');
  assert.equal(put.query.path, 'a b/c&d=e?.js');
  assert.equal(await storage.getLibraryEntry('functions', 'a b/c&d=e?.js'), 'x');
});
