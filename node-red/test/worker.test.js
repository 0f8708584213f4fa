'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { createStorage } = require('..');
const { startFake, until, captureLog, golden, NS } = require('./fake-flowhist');

const TOKEN = 'tok-worker-0123456789abcdef';

// setup starts a fake flowhist with flows at revision 3 and a worker whose
// runtime.nodes.loadFlows(true) does what Node-RED's does to storage: read
// the flows, then the credentials. hooks.during(n) runs inside reload n.
async function setup(t, opts = {}) {
  const fake = await startFake({ feedMode: opts.feedMode, stream: opts.stream, duplex: opts.duplex });
  for (let i = 1; i <= 3; i++) fake.append({ flows: [{ id: 'tab', rev: i }] });
  const storage = createStorage();
  const log = captureLog();
  const loads = [];
  const hooks = {};
  const runtime = {
    log,
    nodes: {
      loadFlows: async (force) => {
        const load = { force, done: false };
        loads.push(load);
        fake.emit('reload', loads.length);
        load.flows = await storage.getFlows();
        await storage.getCredentials();
        if (hooks.during) await hooks.during(loads.length);
        load.done = true;
      },
    },
  };
  const flowhist = Object.assign(
    { url: fake.url, token: TOKEN, namespace: NS, role: 'worker', workerId: 'w1', retryDelay: 2, retryMaxDelay: 10, retryFor: 3000, feedWait: 5000, reload: 'full', packages: false },
    opts.flowhist,
  );
  await storage.init({ credentialSecret: 'shared-secret', flowhist }, runtime);
  t.after(async () => {
    await storage.close();
    await fake.close();
    for (const l of log.lines) assert.ok(!l.msg.includes(TOKEN), `token in log line: ${l.msg}`);
  });
  const feeds = () => fake.requests.filter((r) => r.path === '/feed');
  const acks = () => fake.requests.filter((r) => r.path === '/feed/ack').map((r) => r.json.revision);
  const nthFeed = (n) => fake.waitFor(() => feeds().length >= n, 5000, `feed request ${n}`).then(() => feeds()[n - 1]);
  const ackOf = (rev) => fake.waitFor((r) => r.path === '/feed/ack' && r.json.revision === rev, 5000, `ack ${rev}`);
  return { fake, storage, log, loads, hooks, feeds, acks, nthFeed, ackOf };
}

// holdFirstReload makes the worker's first reload wait, once it has read
// the flows, until release(); inReload resolves when it waits.
function holdFirstReload(hooks) {
  const [held, release] = gate();
  const [inReload, entered] = gate();
  hooks.during = (n) => {
    if (n === 1) {
      entered();
      return held;
    }
  };
  return { inReload, release };
}

// gate returns a promise and the function that resolves it.
function gate() {
  let open;
  const p = new Promise((r) => (open = r));
  return [p, open];
}

test('the start-up load starts following from the revision it restored', async (t) => {
  const { fake, storage, nthFeed } = await setup(t);
  assert.deepEqual(await storage.getFlows(), [{ id: 'tab', rev: 3 }]); // Node-RED's start-up load
  const first = await nthFeed(1);
  // The position names the event GET /flows named (Flowhist-Event).
  // The worker names its ring (default 'default'): flowhist records it and, under a rollout policy, answers the ring's target.
  assert.deepEqual(first.query, { worker: 'w1', ring: 'default', after: '3', afterId: fake.idAt(3), wait: '5s', stream: '1' });
  assert.equal(first.headers.authorization, `Bearer ${TOKEN}`);
});

test('a flows change reloads once, then acknowledges that revision', async (t) => {
  const { fake, storage, loads, nthFeed, ackOf, acks } = await setup(t);
  await storage.getFlows();
  await nthFeed(1);
  const rev = fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  const ack = await ackOf(rev);
  assert.equal(loads.length, 1);
  assert.equal(loads[0].force, true);
  assert.ok(loads[0].done);
  assert.deepEqual(loads[0].flows, [{ id: 'tab', rev: 4 }]);
  assert.deepEqual(ack.json, { worker: 'w1', revision: 4, id: fake.idAt(4) });
  const reads = fake.requests.filter((r) => r.path === '/flows'); // start-up, reload
  assert.equal(reads.length, 2);
  assert.ok(fake.requests.indexOf(reads[1]) < fake.requests.indexOf(ack), 'acknowledged before the reload read the flows');
  assert.deepEqual(acks(), [4]);
  // Following goes on from there.
  const next = await nthFeed(3);
  assert.equal(next.query.after, '4');
});

test('news that needs no reload is acknowledged at once', async (t) => {
  const { fake, storage, log, loads, nthFeed, ackOf } = await setup(t);
  await storage.getFlows();
  await nthFeed(1);
  fake.append({ packages: true }); // e.g. settings with a new package: no flows change
  await ackOf(4);
  assert.equal(loads.length, 0);
});

test('a delivered flows change the worker already runs is acknowledged without a reload', async (t) => {
  const { fake, storage, loads, ackOf } = await setup(t);
  const answers = [golden('feed.json', { revision: 2, flows: true, packages: false, events: 1 })];
  fake.route('GET /feed', (r, res) => (answers.length ? { body: answers.shift() } : hang(res)));
  fake.route('POST /feed/ack', (r) => ({ body: golden('feed-ack.json', { acknowledged: r.json.revision, entries: 1 }) }));
  await storage.getFlows(); // restored revision 3
  await ackOf(2);
  assert.equal(loads.length, 0);
});

test('a burst during a reload coalesces into one more reload (server hands back pending entries first)', async (t) => {
  const { fake, storage, loads, hooks, nthFeed, ackOf, acks, feeds } = await setup(t);
  const { inReload, release } = holdFirstReload(hooks);
  await storage.getFlows();
  await nthFeed(1);
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  await inReload; // reload 1 read revision 4 and is still running
  fake.append({ flows: [{ id: 'tab', rev: 5 }] });
  fake.append({ flows: [{ id: 'tab', rev: 6 }] });
  fake.append({ flows: [{ id: 'tab', rev: 7 }] });
  await nthFeed(2); // answered at once with the unacknowledged 4: the worker waits
  release();
  await ackOf(7);
  assert.equal(loads.length, 2, 'four deploys, two reloads');
  assert.deepEqual(loads[1].flows, [{ id: 'tab', rev: 7 }]);
  assert.deepEqual(acks(), [4, 7]);
  assert.ok(feeds().length <= 4, `polled ${feeds().length} times: a tight loop while waiting?`);
});

test('a streamed answer: each line is handled as it comes, on one request', async (t) => {
  const { fake, storage, loads, ackOf, acks, feeds } = await setup(t, { stream: true });
  await storage.getFlows();
  await until(() => fake.open.size === 1, 5000, 'the worker waiting on its stream');
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  await ackOf(4);
  fake.append(); // settings: no reload
  await ackOf(5);
  fake.append({ flows: [{ id: 'tab', rev: 6 }] });
  await ackOf(6);
  assert.deepEqual(
    loads.map((l) => l.flows[0].rev),
    [4, 6],
  );
  assert.deepEqual(acks(), [4, 5, 6]);
  assert.equal(feeds().length, 1, 'one feed request for three deploys');
});

test('a streamed burst during a reload coalesces into one more reload and one ack', async (t) => {
  const { fake, storage, log, loads, hooks, ackOf, acks, feeds } = await setup(t, { stream: true });
  const { inReload, release } = holdFirstReload(hooks);
  await storage.getFlows();
  await until(() => fake.open.size === 1, 5000, 'the worker waiting on its stream');
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  await inReload; // the reload to 4 is running
  fake.append({ flows: [{ id: 'tab', rev: 5 }] });
  fake.append({ flows: [{ id: 'tab', rev: 6 }] });
  try {
    await until(() => log.lines.some((l) => l.msg.endsWith('feed: news up to revision 6, flows changed')), 5000, 'revision 6 handled');
  } finally {
    release(); // even on failure: a held reload would keep the teardown waiting
  }
  await ackOf(6);
  assert.deepEqual(
    loads.map((l) => l.flows[0].rev),
    [4, 6],
  );
  assert.deepEqual(acks(), [6]);
  assert.equal(feeds().length, 1);
});

test('acknowledgements go on the streamed feed request\'s own body, not as requests of their own', async (t) => {
  const { fake, storage, loads, ackOf, acks, feeds } = await setup(t, { stream: true });
  await storage.getFlows();
  await until(() => fake.open.size === 1, 5000, 'the worker waiting on its stream');
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  const ack4 = await ackOf(4);
  fake.append(); // settings: no reload, acknowledged at once
  const ack5 = await ackOf(5);
  assert.equal(ack4.via, 'body', 'the reload\'s acknowledgement');
  assert.equal(ack5.via, 'body', 'the acknowledgement without a reload');
  assert.deepEqual(acks(), [4, 5]);
  assert.equal(loads.length, 1);
  assert.equal(fake.count('POST', '/feed/ack'), 2, 'the two acknowledgements, both on the body');
  assert.deepEqual(
    feeds().map((r) => r.method),
    ['POST'],
    'one POST /feed for both',
  );
  const reload = fake.requests.filter((r) => r.path === '/flows')[1];
  assert.ok(fake.requests.indexOf(reload) < fake.requests.indexOf(ack4), 'acknowledged before the reload read the flows');
});

test('an acknowledgement made after the feed answer ended goes as POST /feed/ack', async (t) => {
  // Without stream, the fake ends each answer after its first line.
  const { fake, storage, ackOf, acks } = await setup(t);
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed', 5000, 'the first feed request');
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  const ack = await ackOf(4);
  assert.equal(ack.via, undefined, 'a request of its own');
  assert.deepEqual(ack.json, { worker: 'w1', revision: 4, id: fake.idAt(4) });
  assert.deepEqual(acks(), [4]);
});

test('a flowhist without POST /feed is followed with GET /feed and POST /feed/ack', async (t) => {
  const { fake, storage, log, loads, ackOf, acks, feeds } = await setup(t, { stream: true, duplex: false });
  await storage.getFlows();
  await until(() => fake.open.size === 1, 5000, 'the worker waiting on its stream');
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  const ack = await ackOf(4);
  assert.equal(ack.via, undefined, 'a request of its own');
  assert.deepEqual(acks(), [4]);
  assert.equal(loads.length, 1);
  assert.deepEqual(
    feeds().map((r) => r.method),
    ['POST', 'GET'],
    'one POST /feed (404), then GET /feed',
  );
  assert.ok(log.lines.some((l) => l.msg.includes('has no POST /feed')));
  assert.ok(!log.lines.some((l) => l.level === 'warn'), 'the fallback is not a warning');
});

test('feed answers that end at once with no news are asked again with backoff, not in a tight loop', async (t) => {
  const { fake, storage, feeds } = await setup(t, { flowhist: { retryDelay: 20, retryMaxDelay: 40 } });
  fake.route('GET /feed', () => ({ status: 204 })); // as a flowhist shutting down answers
  await storage.getFlows();
  await fake.waitFor(() => feeds().length >= 1, 5000, 'the first feed request');
  const from = feeds().length;
  await new Promise((r) => setTimeout(r, 300));
  const n = feeds().length - from;
  // With 20-40 ms between requests: at most 15 in 300 ms; a tight loop makes hundreds.
  assert.ok(n >= 2 && n <= 15, `${n} feed requests in 300 ms`);
});

test('the feed timeout does not cover handling a line: a reload longer than it is not an error', async (t) => {
  const { fake, storage, log, hooks, ackOf, nthFeed } = await setup(t, { stream: true, flowhist: { feedWait: 100, requestTimeout: 100 } });
  hooks.during = () => new Promise((r) => setTimeout(r, 400)); // a reload of 400 ms; the answer times out at 200 ms
  await storage.getFlows();
  await until(() => fake.open.size === 1, 5000, 'the worker waiting on its stream');
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  await ackOf(4);
  // The second answer repeats 4 (not acknowledged yet) and its line waits
  // for the reload; the third request comes once that answer is over,
  // cleanly or not.
  await nthFeed(3);
  const warned = log.lines.filter((l) => l.level === 'warn');
  assert.deepEqual(warned, [], 'no warning');
});

test('news arriving while a reload runs is coalesced: one more reload to the newest, one ack', async (t) => {
  const { fake, storage, loads, hooks, nthFeed, ackOf, acks } = await setup(t);
  const queue = [];
  let wake = null;
  fake.route('GET /feed', async (r, res) => {
    while (!queue.length) {
      if (!(await new Promise((resolve) => ((wake = resolve), res.once('close', () => resolve(false)))))) return null;
    }
    return { body: queue.shift() };
  });
  const push = (news) => {
    queue.push(news);
    if (wake) wake(true);
  };
  const { inReload, release } = holdFirstReload(hooks);
  await storage.getFlows();
  await nthFeed(1);
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  push({ revision: 4, flows: true, packages: false });
  await inReload;
  fake.append({ flows: [{ id: 'tab', rev: 5 }] });
  fake.append({ flows: [{ id: 'tab', rev: 6 }] });
  push({ revision: 5, flows: true, packages: false });
  await nthFeed(3);
  push({ revision: 6, flows: true, packages: false });
  await nthFeed(4);
  assert.equal(loads.length, 1, 'a second reload started while the first ran');
  release();
  await ackOf(6);
  assert.equal(loads.length, 2);
  assert.deepEqual(loads[1].flows, [{ id: 'tab', rev: 6 }]);
  assert.deepEqual(acks(), [6]);
});

test('a failed reload is retried and acknowledged only after it succeeds', async (t) => {
  const { fake, storage, loads, hooks, nthFeed, ackOf, acks } = await setup(t);
  hooks.during = (n) => {
    if (n === 1) throw new Error('node type missing');
  };
  await storage.getFlows();
  await nthFeed(1);
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  const ack = await ackOf(4);
  assert.equal(loads.length, 2);
  assert.equal(loads[0].done, false);
  assert.equal(loads[1].done, true);
  assert.deepEqual(acks(), [4]);
  const secondRead = fake.requests.filter((r) => r.path === '/flows')[2];
  assert.ok(fake.requests.indexOf(secondRead) < fake.requests.indexOf(ack));
});

test('the worker reconnects after 500s and refused connections, and catches up', async (t) => {
  const { fake, storage, log, loads, nthFeed, ackOf, acks } = await setup(t);
  await storage.getFlows();
  await nthFeed(1);
  await fake.stop(); // the long poll breaks, then connections are refused
  await until(() => log.lines.some((l) => l.level === 'warn' && /following the feed failed/.test(l.msg)), 5000, 'a warning');
  const failures = () => log.lines.filter((l) => /feed (failed|still fails)/.test(l.msg)).length;
  await until(() => failures() >= 3, 5000, 'refused polls');
  fake.append({ flows: [{ id: 'tab', rev: 4 }] }); // deployed while the worker was cut off
  let errors = 0;
  const real = fake.builtinFeed;
  fake.route('GET /feed', (r, res) => (++errors <= 3 ? { status: 500, body: { code: 'internal', message: 'internal error' } } : real(r, res)));
  await fake.restart();
  await ackOf(4);
  assert.equal(errors >= 4, true);
  assert.equal(loads.length, 1);
  assert.deepEqual(loads[0].flows, [{ id: 'tab', rev: 4 }]);
  assert.deepEqual(acks(), [4]);
  assert.ok(log.lines.some((l) => l.level === 'info' && /answers again/.test(l.msg)));
  assert.equal(log.lines.filter((l) => l.level === 'warn' && /following the feed failed/.test(l.msg)).length, 1, 'one warning per outage');
});

test('a worker whose start-up load failed keeps reloading until flowhist answers, then follows', async (t) => {
  const { fake, storage, loads, nthFeed } = await setup(t, { flowhist: { retryFor: 20 } });
  // Refused until the start-up load has given up, then twice more.
  let failedAt = null;
  const refuse = () => failedAt === null || fake.count('GET', '/flows') <= failedAt + 2;
  fake.route('GET /flows', (r) => (refuse() ? { status: 503, body: { code: 'unavailable', message: 'valkey is away' } } : fake.builtin['GET /flows'](r)));
  await assert.rejects(storage.getFlows(), /HTTP 503/); // Node-RED's start-up load fails
  failedAt = fake.count('GET', '/flows');
  const first = await nthFeed(1);
  assert.equal(first.query.after, '3');
  assert.ok(loads.length >= 1);
  assert.equal(loads[loads.length - 1].done, true);
});

test('stop() ends the loop and the poll in flight', async (t) => {
  const { fake, storage, nthFeed, feeds } = await setup(t);
  await storage.getFlows();
  await nthFeed(1);
  assert.equal(fake.open.size, 1);
  await storage.close();
  assert.equal(feeds().length, 1);
  await until(() => fake.open.size === 0, 2000, 'the poll to be closed');
  await assert.rejects(storage.getFlows(), /before init/);
});

test('a worker never writes flows, credentials, sessions or library entries to flowhist', async (t) => {
  const { fake, storage } = await setup(t);
  const refusal = "flowhist: this Node-RED is a worker (role 'worker'); deploy through the admin";
  await assert.rejects(storage.saveFlows([{ id: 'x' }], { username: 'alice' }), { message: refusal, code: 'flowhist_worker' });
  await assert.rejects(storage.saveCredentials({ $: 'x' }), { message: refusal });
  await assert.rejects(storage.saveLibraryEntry('functions', 'a.js', {}, 'x'), /worker/);
  await storage.saveSessions({ tok: { user: 'bob' } });
  assert.deepEqual(await storage.getSessions(), { tok: { user: 'bob' } });
  assert.equal(fake.requests.filter((r) => r.method !== 'GET').length, 0);
});

test('a worker keeps its settings saves in memory, on top of the shared settings', async (t) => {
  const { fake, storage, log } = await setup(t);
  fake.settings = { nodes: { 'node-red': { v: 1 } }, instanceId: 'admin', telemetryEnabled: false };
  const shared = await storage.getSettings();
  assert.deepEqual(shared, fake.settings);
  // What Node-RED does at start: the node registry, then instanceId.
  await storage.saveSettings(Object.assign({}, shared, { nodes: { 'node-red': { v: 2 } } }));
  const next = Object.assign({}, shared, { nodes: { 'node-red': { v: 2 } }, extra: 1 });
  delete next.telemetryEnabled;
  await storage.saveSettings(next);
  assert.equal(fake.requests.filter((r) => r.method !== 'GET').length, 0);
  fake.settings = Object.assign({}, fake.settings, { instanceId: 'admin2', users: { alice: {} } }); // the admin saved meanwhile
  assert.deepEqual(await storage.getSettings(), { nodes: { 'node-red': { v: 2 } }, instanceId: 'admin2', users: { alice: {} }, extra: 1 });
  assert.equal(log.lines.filter((l) => /worker settings are not shared/.test(l.msg) && l.level === 'info').length, 1);
});

function hang(res) {
  return new Promise((resolve) => res.once('close', () => resolve(null)));
}

test('a POST /feed that gets no answer while GET /feed does (a proxy holding request bodies) falls back to GET /feed and POST /feed/ack', async (t) => {
  const { fake, storage, log, ackOf, feeds } = await setup(t, { stream: true, flowhist: { requestTimeout: 100, feedWait: 300 } });
  fake.route('POST /feed', () => new Promise(() => {})); // headers never come
  await storage.getFlows();
  await fake.waitFor((r) => r.method === 'GET' && r.path === '/feed', 5000, 'GET /feed after the POST got no answer');
  await until(() => log.lines.some((l) => l.level === 'warn' && l.msg.includes('holds request bodies')), 5000, 'the warning');
  fake.append({ flows: [{ id: 'tab', rev: 4 }] });
  const ack = await ackOf(4);
  assert.equal(ack.via, undefined, 'a request of its own');
  assert.equal(feeds().filter((r) => r.method === 'POST').length, 1, 'POST /feed tried once');
});

test('a POST /feed with no answer while GET /feed has none either (flowhist hangs) keeps POST /feed', async (t) => {
  const { fake, storage, log, feeds } = await setup(t, { stream: true, flowhist: { requestTimeout: 100, feedWait: 100, retryDelay: 10, retryMaxDelay: 20 } });
  let hang = true;
  fake.route('POST /feed', (r, res) => (hang ? new Promise(() => {}) : fake.builtinFeed(r, res)));
  fake.route('GET /feed', (r, res) => (hang ? new Promise(() => {}) : fake.builtinFeed(r, res)));
  await storage.getFlows();
  await fake.waitFor((r) => r.method === 'GET' && r.path === '/feed', 5000, 'GET /feed after the POST got no answer');
  hang = false;
  await until(() => feeds().filter((r) => r.method === 'POST').length >= 2, 5000, 'POST /feed again');
  assert.ok(!log.lines.some((l) => l.msg.includes('holds request bodies')), 'no proxy warning');
});

test('a reset (the log lost what the worker ran) reloads everything at the head, logs it once and acknowledges the head by its id', async (t) => {
  const { fake, storage, log, loads, ackOf } = await setup(t, { stream: true });
  await storage.getFlows();
  const lost = fake.append({ flows: [{ id: 'tab', rev: 'lost' }] });
  const first = await ackOf(lost);
  assert.equal(first.json.id, fake.idAt(lost));
  assert.equal(loads.length, 1);
  // A failover loses revision 4; the next deploy is given the number 4.
  const lostId = fake.idAt(lost);
  fake.lose(1);
  const head = fake.append({ flows: [{ id: 'tab', rev: 'head' }] });
  assert.equal(head, lost);
  const ack = await fake.waitFor((r) => r.path === '/feed/ack' && r.json.revision === head && r.json.id === fake.idAt(head), 5000, 'the head acknowledged by its id');
  assert.notEqual(ack.json.id, lostId);
  assert.equal(loads.length, 2);
  assert.equal(loads[1].force, true, 'a full reload');
  assert.deepEqual(loads[1].flows, [{ id: 'tab', rev: 'head' }]);
  assert.ok(!fake.group.diverged);
  const warned = log.lines.filter((l) => /no longer holds revision/.test(l.msg));
  assert.equal(warned.length, 1, `logged once: ${JSON.stringify(warned)}`);
  // Following goes on from the head.
  const next = fake.append({ flows: [{ id: 'tab', rev: 'next' }] });
  await fake.waitFor((r) => r.path === '/feed/ack' && r.json.revision === next && r.json.id === fake.idAt(next), 5000, 'the next revision acknowledged');
});

test('a refused acknowledgement (conflict) is followed by a reset on the next feed answer', async (t) => {
  const { fake, storage, loads } = await setup(t, { stream: true, duplex: false });
  await storage.getFlows();
  await fake.waitFor((r) => r.path === '/feed', 5000, 'the first feed request');
  const lost = fake.append({ flows: [{ id: 'tab', rev: 'lost' }] });
  // The news went out, and the log lost the write before the ack came.
  const lostId = fake.idAt(lost);
  fake.route('POST /feed/ack', (r) => {
    if (r.json.id === lostId) {
      fake.lose(1);
      fake.append({ flows: [{ id: 'tab', rev: 'head' }] });
    }
    return fake.builtin['POST /feed/ack'](r);
  });
  await fake.waitFor((r) => r.path === '/feed/ack' && r.json.id === lostId, 5000, 'the lost revision acknowledged');
  await fake.waitFor((r) => r.path === '/feed/ack' && r.json.revision === lost && r.json.id === fake.idAt(lost), 5000, 'the head acknowledged by its id');
  assert.deepEqual(loads[loads.length - 1].flows, [{ id: 'tab', rev: 'head' }]);
});
