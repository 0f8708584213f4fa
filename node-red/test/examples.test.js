'use strict';

// The example admin settings (node-red/examples/admin-settings.js): no
// password ships, a known one is refused, a generated one is shown once.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const settingsFile = path.join(__dirname, '..', 'examples', 'admin-settings.js');
// bcryptjs comes with Node-RED: the end-to-end tests' copy.
const nodeRedModules = path.join(__dirname, '..', '..', 'e2e', 'nodered', 'node_modules');

function requireBcrypt() {
  try {
    return require(path.join(nodeRedModules, 'bcryptjs'));
  } catch (_) {
    assert.fail(`bcryptjs not found in ${nodeRedModules}: run make deps-e2e (it installs the pinned Node-RED)`);
  }
}

// load requires the settings file in a node of its own, as Node-RED would,
// with env; it returns the exit code, stdout, stderr and the admin's hash.
function load(env) {
  const modules = fs.mkdtempSync(path.join(os.tmpdir(), 'fh-examples-'));
  fs.symlinkSync(path.join(__dirname, '..'), path.join(modules, 'node-red-storage-flowhist'));
  const script = `const s = require(${JSON.stringify(settingsFile)}); process.stdout.write('HASH=' + s.adminAuth.users[0].password + '\\n');`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: Object.assign({ PATH: process.env.PATH, NODE_PATH: [modules, nodeRedModules].join(path.delimiter) }, env),
    encoding: 'utf8',
  });
  fs.rmSync(modules, { recursive: true, force: true });
  const m = /^HASH=(.*)$/m.exec(r.stdout);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, hash: m && m[1] };
}

// inUserDir runs fn with a fresh userDir, removed afterwards.
function inUserDir(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fh-userdir-'));
  try {
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('with nothing set, a one-time password is generated, shown once, and only its hash kept', () => {
  const bcrypt = requireBcrypt();
  inUserDir((dir) => {
    const first = load({ NODE_RED_USER_DIR: dir });
    assert.equal(first.code, 0, first.stderr);
    const m = /generated one-time password: (\S+)/.exec(first.stdout);
    assert.ok(m, `no password shown in ${JSON.stringify(first.stdout)}`);
    const password = m[1];
    assert.ok(password.length >= 24, `password ${password.length} characters, want >= 24`);
    const file = path.join(dir, '.admin-password-hash');
    const kept = fs.readFileSync(file, 'utf8');
    assert.equal((fs.statSync(file).mode & 0o777).toString(8), '600');
    assert.ok(!kept.includes(password), 'the password itself is kept');
    assert.equal(kept.trim(), first.hash);
    assert.ok(bcrypt.compareSync(password, first.hash), 'the hash is not the shown password\'s');

    const second = load({ NODE_RED_USER_DIR: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.hash, first.hash);
    assert.ok(!second.stdout.includes(password) && !/one-time password/.test(second.stdout), 'the password is shown again');
  });
});

test('a hash from the environment is used, and nothing is generated', () => {
  const bcrypt = requireBcrypt();
  inUserDir((dir) => {
    const hash = bcrypt.hashSync('a long and private passphrase', 8);
    const r = load({ NODE_RED_USER_DIR: dir, NODE_RED_ADMIN_PASSWORD_HASH: hash });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.hash, hash);
    assert.ok(!fs.existsSync(path.join(dir, '.admin-password-hash')));
  });
});

test('the admin refuses to start with a known password or a hash that is not bcrypt', () => {
  const bcrypt = requireBcrypt();
  inUserDir((dir) => {
    const cases = [
      // The hash an earlier version of the example shipped ("password").
      ['$2b$08$edJ7p6pLEtRe92gh3xUj9OrMCt9Zf84xlslUKB0h6dizjQ6WCl.FS', /is the hash of "password", a publicly known password: refused/],
      [bcrypt.hashSync('password', 4), /is the hash of "password"/],
      [bcrypt.hashSync('admin', 4), /is the hash of "admin"/],
      ['password', /NODE_RED_ADMIN_PASSWORD_HASH is not a bcrypt hash/],
    ];
    for (const [hash, want] of cases) {
      const r = load({ NODE_RED_USER_DIR: dir, NODE_RED_ADMIN_PASSWORD_HASH: hash });
      assert.notEqual(r.code, 0, `started with ${hash}`);
      assert.match(r.stderr, want);
      assert.equal(r.hash, null);
    }
    // A known hash kept in the userDir is refused too, naming the file.
    const file = path.join(dir, '.admin-password-hash');
    fs.writeFileSync(file, bcrypt.hashSync('password', 4));
    const r = load({ NODE_RED_USER_DIR: dir });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is the hash of "password"`));
  });
});

test('no example settings file holds a password hash or a token', () => {
  for (const f of fs.readdirSync(path.join(__dirname, '..', 'examples'))) {
    const text = fs.readFileSync(path.join(__dirname, '..', 'examples', f), 'utf8');
    assert.doesNotMatch(text, /\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/, `${f} holds a bcrypt hash`);
    assert.doesNotMatch(text, /token:\s*['"]/, `${f} holds a token`);
  }
});
