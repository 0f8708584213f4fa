'use strict';

// The promotion view's pure helpers (resources/promotion.js): what the
// preview lists and what the confirm sends.

const test = require('node:test');
const assert = require('node:assert/strict');
const view = require('../resources/promotion');

test('the preview\'s lists name each node and key as text', () => {
  assert.deepEqual(view.envLines([{ node: 't1', type: 'tab', name: 'Orders', key: 'RETRIES' }, { node: 's1', type: 'subflow', key: 'X' }]), ['tab Orders: RETRIES', 'subflow s1: X']);
  assert.deepEqual(view.overlayLines([{ node: 'h1', path: 'url' }]), ['h1 url']);
  assert.deepEqual(view.credentialLines([{ id: 'mq1', type: 'mqtt-broker', name: 'broker' }, { id: 'x', type: 'http request' }]), ['broker (mqtt-broker) mq1', '(http request) x']);
  assert.deepEqual(view.envLines(undefined), []);
  // Without a name from flowhist, the label this editor has.
  const labels = { t2: 'Billing' };
  assert.deepEqual(view.envLines([{ node: 't2', type: 'tab', key: 'K' }, { node: 't3', type: 'tab', key: 'L' }], (id) => labels[id]), ['tab Billing: K', 'tab t3: L']);
  // Markup stays a string: the view inserts it with $.text().
  assert.deepEqual(view.envLines([{ node: 't', type: 'tab', name: '<img src=x onerror=alert(1)>', key: 'K' }]), ['tab <img src=x onerror=alert(1)>: K']);
});

test('the confirm sends the previewed source revision and target head', () => {
  const preview = { source: { revision: 12, id: 's' }, targetHead: { revision: 40, id: 'h', hash: 'x' } };
  assert.deepEqual(view.promoteBody('prod', preview, 'release', false), { to: 'prod', rev: 12, expectedHead: { revision: 40, id: 'h', hash: 'x' }, reason: 'release', request: false });
  assert.equal(view.promoteBody('prod', preview, '', 1).request, true);
});

test('a stale pending request shows as stale', () => {
  assert.equal(view.requestState({ state: 'pending', stale: true }), 'stale');
  assert.equal(view.requestState({ state: 'pending', stale: false }), 'pending');
  assert.equal(view.requestState({ state: 'approved', stale: true }), 'approved');
});
