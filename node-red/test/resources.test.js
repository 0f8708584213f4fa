'use strict';

// The History sidebar's editor code (resources/history.js), without a
// browser: its pure helpers, and that what reaches an API taking HTML is
// escaped. The sidebar itself runs in e2e/editor_test.go (real Chromium,
// real Node-RED).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const view = require('../resources/history');
const { answer } = require('./fake-flowhist');

const SOURCE = fs.readFileSync(path.join(__dirname, '..', 'resources', 'history.js'), 'utf8');
const EVIL = '<img src=x onerror="alert(1)">&\'';

test('escapeHTML makes any string text inside HTML', () => {
  assert.equal(view.escapeHTML(EVIL), '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;');
  assert.equal(view.escapeHTML(42), '42');
  assert.deepEqual(view.escapeValues({ id: EVIL, n: 3 }), { id: view.escapeHTML(EVIL), n: '3' });
  assert.deepEqual(view.escapeValues(undefined), {});
});

test('every message for an API that takes HTML is escaped (th), and no HTML is built from data', () => {
  const calls = (name) => [...SOURCE.matchAll(new RegExp(`${name.replace('.', '\\.')}\\(([^,)]*)`, 'g'))].map((m) => m[1].trim());
  const notify = calls('RED.notify');
  assert.ok(notify.length >= 5, `found ${notify.length} RED.notify calls`);
  for (const arg of notify) assert.match(arg, /^th\(/, `RED.notify(${arg}…) is not escaped`);
  const trays = calls('openTray'); // the definition's and showDiff's are title
  assert.ok(trays.length >= 4, `found ${trays.length} openTray calls`);
  for (const arg of trays) assert.match(arg, /^th\(|^title$/, `openTray(${arg}…) is not escaped`);
  assert.match(SOURCE, /var title = entry \? th\(/);
  assert.doesNotMatch(SOURCE, /\.html\(/, 'jQuery .html() in the editor code');
  assert.equal((SOURCE.match(/innerHTML/g) || []).length, 1, 'innerHTML other than for Monaco\'s escaped colours');
});

test('kindOf is the filter kind of an event', () => {
  const cases = [
    [{ type: 'flows.deployed' }, 'flows'],
    [{ type: 'flows.rolledback' }, 'rollback'],
    [{ type: 'flows.deployed', cause: 'rollback' }, 'rollback'],
    [{ type: 'library.saved' }, 'library'],
    [{ type: 'flows.deployed', cause: 'promotion' }, 'promotion'],
    [{ type: 'promotion.requested' }, 'promotion'],
    [{ type: 'namespace.policy' }, 'promotion'],
    [{ type: 'rollout.promoted' }, 'rollout'],
    [{ type: 'flows.rolledback', cause: 'rollback', actor: { user: 'rollout' } }, 'rollback'],
    [{}, ''],
  ];
  for (const [e, want] of cases) assert.equal(view.kindOf(e), want, JSON.stringify(e));
  const kinds = JSON.parse(answer('history-kinds.json')).kinds;
  for (const e of JSON.parse(answer('history.json')).entries) assert.ok(kinds.includes(view.kindOf(e)), `${e.type}: ${view.kindOf(e)} is not a kind flowhist serves`);
});

test('relative says how long ago, in the catalogue\'s words', () => {
  const t = (key, opts) => key + (opts ? ' ' + opts.n : '');
  const now = Date.parse('2026-01-02T00:00:00Z');
  const ago = (s) => view.relative(new Date(now - s * 1000).toISOString(), now, t);
  assert.equal(ago(10), 'time.now');
  assert.equal(ago(50), 'time.minutes 1');
  assert.equal(ago(600), 'time.minutes 10');
  assert.equal(ago(7200), 'time.hours 2');
  assert.equal(ago(3 * 86400), 'time.days 3');
  assert.equal(view.relative('<time>', now, t), '');
});

test('names lists three nodes of a summary, then …', () => {
  const refs = [{ id: 'a', type: 'inject', name: 'tick' }, { id: 'b', type: 'debug' }, { id: 'c', type: 'function', name: 'f' }, { id: 'd', type: 'x' }];
  assert.equal(view.names(refs.slice(0, 2)), 'tick, debug b');
  assert.equal(view.names(refs), 'tick, debug b, f, …');
  assert.equal(view.names(undefined), '');
});

test('refName names tabs, subflows and groups by kind and label, other nodes by name', () => {
  assert.equal(view.refName({ id: 'ec01', type: 'tab', name: 'Acceptance' }), 'tab Acceptance');
  assert.equal(view.refName({ id: 's1', type: 'subflow', name: 'My Sub' }), 'subflow My Sub');
  assert.equal(view.refName({ id: 'g1', type: 'group', name: 'Inputs' }), 'group Inputs');
  assert.equal(view.refName({ id: 't2', type: 'tab' }), 'tab t2');
  assert.equal(view.refName({ id: 'f1', type: 'function', name: 'calc' }), 'calc');
  assert.equal(view.names([{ id: 'ec01', type: 'tab', name: 'Acceptance' }, { id: 'a', type: 'inject', name: 'tick' }]), 'tab Acceptance, tick');
});

test('who names the user and the token that acted for it, and an import source\'s claim', () => {
  const t = (k, o) => [k, ...Object.values(o || {})].join(' ');
  assert.deepEqual(view.who({ actor: { user: 'alice' }, token: 'nr-admin' }, t), { user: 'alice', via: 'via nr-admin' });
  assert.deepEqual(view.who({ actor: { user: 'nr-admin' }, token: 'nr-admin' }, t), { user: 'nr-admin', via: '' });
  assert.deepEqual(view.who({ actor: { user: 'alice' } }, t), { user: 'alice', via: '' });
  assert.deepEqual(view.who({ actor: { user: 'importer' }, token: 'importer', claimed: { user: 'bob' } }, t), { user: 'claimed bob', via: 'via importer' });
  assert.deepEqual(view.who({}, t), { user: '?', via: '' });
});

test('isQuiet folds settings saves unless the list is filtered by kind', () => {
  assert.equal(view.isQuiet({ type: 'settings.saved' }, {}), true);
  assert.equal(view.isQuiet({ type: 'settings.saved' }, { kind: 'settings' }), false);
  for (const type of ['flows.deployed', 'flows.rolledback', 'packages.changed', 'credentials.saved']) assert.equal(view.isQuiet({ type }, {}), false, type);
});

test('historyQuery has the limit, the cursor and the filters that are set', () => {
  assert.deepEqual(view.historyQuery({ kind: 'flows', actor: '', since: '', until: 'x' }, '7', 50), { limit: 50, cursor: '7', kind: 'flows', until: 'x' });
  assert.deepEqual(view.historyQuery({}, null, 20), { limit: 20 });
});

test('valueText shows a value as JSON, cut when long', () => {
  assert.equal(view.valueText(undefined), '—');
  assert.equal(view.valueText('a<b'), '"a<b"');
  assert.equal(view.valueText({ a: 1 }), '{\n "a": 1\n}');
  const long = view.valueText('x'.repeat(5000));
  assert.equal(long.length, 2001);
  assert.ok(long.endsWith('…'));
});

test('tokens cover a line exactly, with classes for comments, strings, numbers and keywords', () => {
  const lines = ['var a = "x\\"y"; // note', "return msg.payload * 2.5 + 'z';", 'const s = `t ${x}`', '   ', 'if (ünïcode) { throw new Error("<b>") }', '"open string'];
  for (const line of lines) assert.equal(view.tokens(line).map((t) => t[1]).join(''), line, `tokens of ${line}`);
  const classes = (line) => view.tokens(line).filter((t) => t[0]).map((t) => t.join(':'));
  assert.deepEqual(classes('var a = "x"; // c'), ['tok-kw:var', 'tok-str:"x"', 'tok-com:// c']);
  assert.deepEqual(classes('return 2.5;'), ['tok-kw:return', 'tok-num:2.5']);
});

test('diffLines reads the unified diff flowhist sends (golden diff.json)', () => {
  const diff = JSON.parse(answer('diff.json'));
  const prop = diff.changed[0].properties[0];
  assert.deepEqual(view.diffLines(prop.unified), [
    { cls: 'hunk', text: '@@ -1 +1,2 @@' },
    { cls: 'ins', mark: '+', code: 'msg.payload *= 2;', side: '+', hunk: 0 },
    { cls: 'ctx', mark: ' ', code: 'return msg;', side: ' ', hunk: 0 },
    { cls: 'hunk', text: '\\ No newline at end of file' },
  ]);
});

test('diffLines numbers each run of code lines between hunk headers', () => {
  const lines = view.diffLines('--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n@@ -9 +9 @@\n c\n-d\n');
  assert.deepEqual(lines.map((l) => [l.cls, l.hunk]), [['hunk', undefined], ['del', 0], ['ins', 0], ['hunk', undefined], ['ctx', 1], ['del', 1]]);
});

test("monacoParts splits Monaco's colours into one part per line, with plain spaces", () => {
  assert.deepEqual(view.monacoParts('<span>a&nbsp;b</span><br/><span>c\u00a0</span><br/>', 2), ['<span>a b</span>', '<span>c </span>']);
  assert.deepEqual(view.monacoParts('x<br>y', 2), ['x', 'y']);
  assert.throws(() => view.monacoParts('x<br>y<br>z', 2), /not one part per line/);
});
