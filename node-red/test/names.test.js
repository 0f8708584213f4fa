'use strict';

// The namespace and worker-id rule: the module's one copy (lib/config.js)
// against the cases of flowhist's rule (domain/namespace.go).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { validName, MAX_NAME } = require('../lib/config');

const cases = require('./testdata/names.json');

test('validName accepts what domain.ValidateNamespace accepts', () => {
  for (const name of cases.valid) assert.equal(validName(name), true, `got ${JSON.stringify(name)} refused, want accepted`);
});

test('validName refuses what domain.ValidateNamespace refuses', () => {
  for (const name of cases.invalid) assert.equal(validName(name), false, `got ${JSON.stringify(name)} accepted, want refused`);
  for (const v of [undefined, null, 42, ['a']]) assert.equal(validName(v), false, `got ${JSON.stringify(v)} accepted`);
});

test('the longest name is domain.MaxNamespaceLen', () => {
  const go = fs.readFileSync(path.join(__dirname, '..', '..', 'domain', 'namespace.go'), 'utf8');
  const m = /const MaxNamespaceLen = (\d+)/.exec(go);
  assert.ok(m, 'domain/namespace.go has no MaxNamespaceLen');
  assert.equal(MAX_NAME, Number(m[1]));
  assert.ok(cases.valid.some((n) => n.length === MAX_NAME), 'the cases have no name of the longest length');
  assert.ok(cases.invalid.some((n) => n.length === MAX_NAME + 1 && /^[a-z]+$/.test(n)), 'the cases have no name one too long');
});
