'use strict';

// The module's error vocabulary: flowhist's codes are domain/error.go's,
// and an error answer keeps what flowhist said.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { CODES, MODULE_CODES, FlowhistError, fromAnswer } = require('../lib/errors');
const { answer } = require('./fake-flowhist');

test('CODES are the codes of domain/error.go, no more, no fewer', () => {
  const go = fs.readFileSync(path.join(__dirname, '..', '..', 'domain', 'error.go'), 'utf8');
  const want = [...go.matchAll(/^\s*E[A-Z]+\s*=\s*"([a-z_]+)"/gm)].map((m) => m[1]).sort();
  assert.ok(want.length >= 10, `got ${want.length} codes from domain/error.go`);
  assert.deepEqual(Object.values(CODES).sort(), want);
});

test("the module's own codes cannot be taken for flowhist's", () => {
  for (const code of Object.values(MODULE_CODES)) {
    assert.match(code, /^flowhist_/);
    assert.ok(!Object.values(CODES).includes(code));
  }
});

test('fromAnswer keeps the code, the message and the current revision of a conflict', () => {
  const err = fromAnswer('POST /deploy', 409, 'Conflict', answer('err-conflict.json'));
  assert.ok(err instanceof FlowhistError);
  assert.equal(err.code, CODES.CONFLICT);
  assert.equal(err.httpStatus, 409);
  assert.equal(err.currentRevision, 5);
  assert.equal(err.message, `flowhist: POST /deploy: HTTP 409 conflict: ${JSON.parse(answer('err-conflict.json')).message}`);
  assert.equal(err.status, undefined, 'a status would reach the editor through the Admin API');
});

test("fromAnswer keeps the status of an answer that is not flowhist's JSON", () => {
  const err = fromAnswer('GET /flows', 502, 'Bad Gateway', '<html>bad gateway</html>');
  assert.equal(err.code, 'http_502');
  assert.equal(err.message, 'flowhist: GET /flows: HTTP 502 http_502: Bad Gateway');
  assert.equal(err.currentRevision, undefined);
});
