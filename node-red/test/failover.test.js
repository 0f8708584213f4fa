'use strict';

// Several flowhist replicas: the client moves to the next URL when the
// current one stops answering, sends again only what is safe to send again,
// and a worker's feed resumes on the next replica where it left off. Two
// fakes share one namespace state, as two replicas share one Valkey.

const test = require('node:test');
const assert = require('node:assert/strict');
const { createStorage } = require('..');
const { Client } = require('../lib/client');
const { parseConfig } = require('../lib/config');
const { startFake, until, captureLog, golden, NS } = require('./fake-flowhist');

const TOKEN = 'tok-failover-0123456789abcdef';

// replicas starts n fakes on one shared state.
async function replicas(t, n = 2, opts = {}) {
  const a = await startFake(opts);
  const all = [a];
  for (let i = 1; i < n; i++) all.push(await startFake(Object.assign({}, opts, { shareWith: a })));
  t.after(async () => {
    for (const f of all) await f.close().catch(() => {});
  });
  return all;
}

function client(t, fakes, opts = {}) {
  const log = captureLog();
  const c = new Client(
    Object.assign(
      { urls: fakes.map((f) => f.url), namespace: NS, token: TOKEN, retryFor: 2000, retryDelay: 2, retryMaxDelay: 10, requestTimeout: 2000, log },
      opts,
    ),
  );
  t.after(() => c.close());
  c.lines = log.lines;
  return c;
}

// hang answers nothing, ever (until the fake closes the connection).
const hang = () => new Promise(() => {});

// reset destroys the connection once the request has arrived: the
// replica died while handling it.
const reset = (r, res) => {
  res.socket.destroy();
};

const count = (fake, method, path) => fake.requests.filter((r) => r.method === method && r.path === path).length;

test('flowhist.url takes one URL, a list, or a comma-separated string', () => {
  const base = { namespace: 'prod', role: 'worker', workerId: 'w1' };
  const cases = [
    ['one string', 'http://a:8080/', ['http://a:8080']],
    ['an array', ['http://a:8080', 'https://b:8443/x/'], ['http://a:8080', 'https://b:8443/x']],
    ['commas, as from an environment variable', ' http://a:8080 , http://b:8080,', ['http://a:8080', 'http://b:8080']],
  ];
  for (const [name, url, want] of cases) {
    const c = parseConfig({ credentialSecret: 's', flowhist: Object.assign({ url }, base) });
    assert.deepEqual(c.urls, want, name);
    assert.equal(c.url, want[0], name);
  }
  const bad = [
    [[], /settings\.flowhist\.url is missing/],
    [' , ', /settings\.flowhist\.url is missing/],
    [['http://a:8080', 42], /settings\.flowhist\.url\[1\] must be a string URL/],
    ['http://a:8080,ftp://b', /settings\.flowhist\.url\[1\] must start with http/],
    [['http://a:8080', 'http://u:secret-pw@b:8080'], /settings\.flowhist\.url\[1\] must not contain a user or password/],
    [['http://a:8080', 'http://a:8080/'], /settings\.flowhist\.url\[1\] http:\/\/a:8080 is listed twice/],
  ];
  for (const [url, want] of bad) {
    assert.throws(
      () => parseConfig({ credentialSecret: 's', flowhist: Object.assign({ url }, base) }),
      (err) => {
        assert.match(err.message, want);
        assert.ok(!err.message.includes('secret-pw'), `got the password in ${err.message}`);
        return true;
      },
    );
  }
});

test('refused: the request goes to the next URL at once, and so do the next ones', async (t) => {
  const [a, b] = await replicas(t);
  b.append({ flows: [{ id: 'tab' }] });
  await a.stop();
  const c = client(t, [a, b], { retryDelay: 5000, retryMaxDelay: 5000 }); // no time for a backoff wait
  const start = Date.now();
  const { body } = await c.getJSON('/flows');
  assert.deepEqual(body, [{ id: 'tab' }]);
  assert.ok(Date.now() - start < 1000, `got the answer after ${Date.now() - start} ms, want at once`);
  assert.equal(c.url, b.url);
  await c.getJSON('/flows');
  assert.equal(count(b, 'GET', '/flows'), 2);
  assert.ok(c.lines.some((l) => l.level === 'warn' && l.msg.includes(`flowhist at ${a.url} does not answer`) && l.msg.includes(`using ${b.url}`)), 'got no warning naming both URLs');
  assert.ok(!c.lines.some((l) => l.msg.includes(TOKEN)), 'the token is in a log line');
});

test('timeout: a replica that accepts but never answers is left after requestTimeout', async (t) => {
  const [a, b] = await replicas(t);
  a.route('GET /flows', hang);
  const c = client(t, [a, b], { requestTimeout: 200 });
  const start = Date.now();
  await c.getJSON('/flows');
  const took = Date.now() - start;
  assert.ok(took >= 200 && took < 1500, `got the answer after ${took} ms, want just over the 200 ms timeout`);
  assert.deepEqual([count(a, 'GET', '/flows'), count(b, 'GET', '/flows')], [1, 1]);
  assert.equal(c.url, b.url);
});

test('a proxy\'s 502, 503 or 504 moves to the next URL; a 500 is retried where it came from', async (t) => {
  for (const status of [502, 503, 504, 500]) {
    await t.test(`HTTP ${status}`, async (t) => {
      const [a, b] = await replicas(t);
      let failed = 0;
      a.route('GET /flows', (r) => (failed++ === 0 ? { status, body: '<html>bad gateway</html>' } : a.builtin['GET /flows'](r)));
      const c = client(t, [a, b]);
      await c.getJSON('/flows');
      const want = status === 500 ? [2, 0] : [1, 1];
      assert.deepEqual([count(a, 'GET', '/flows'), count(b, 'GET', '/flows')], want, 'got [a, b] requests');
    });
  }
});

test('when the second URL dies too, requests go back to the first', async (t) => {
  const [a, b] = await replicas(t);
  await a.stop();
  const c = client(t, [a, b]);
  await c.getJSON('/flows');
  assert.equal(c.url, b.url);
  await a.restart();
  await b.stop();
  await c.getJSON('/flows');
  assert.equal(c.url, a.url);
  assert.equal(count(a, 'GET', '/flows'), 1);
});

test('with every URL down, a request waits with backoff until one answers', async (t) => {
  const [a, b] = await replicas(t);
  await a.stop();
  await b.stop();
  const c = client(t, [a, b], { retryFor: 5000 });
  const got = c.getJSON('/flows');
  await new Promise((r) => setTimeout(r, 100));
  await b.restart();
  await got;
  assert.equal(c.url, b.url);
});

test('a write is sent again only when that is safe', async (t) => {
  const cases = [
    // [name, request, A's failure, want requests on [A, B], want it to succeed]
    ['POST without a key, connection reset: not sent again', { method: 'POST', path: '/things' }, reset, [1, 0], false],
    ['POST without a key, 503: not sent again', { method: 'POST', path: '/things' }, () => ({ status: 503, body: { code: 'unavailable', message: 'x' } }), [1, 0], false],
    ['POST without a key, timeout: not sent again', { method: 'POST', path: '/things', timeout: 100 }, hang, [1, 0], false],
    ['POST without a key, refused: never sent, so sent to the next', { method: 'POST', path: '/things' }, 'down', [0, 1], true],
    ['POST with an Idempotency-Key, reset: sent again with the same key', { method: 'POST', path: '/things', key: 'k-1' }, reset, [1, 1], true],
    ['feed acknowledgement, reset: sent again', { method: 'POST', path: '/feed/ack' }, reset, [1, 1], true],
    ['PUT, reset: sent again (it replaces)', { method: 'PUT', path: '/things' }, reset, [1, 1], true],
  ];
  for (const [name, req, failure, want, succeeds] of cases) {
    await t.test(name, async (t) => {
      const [a, b] = await replicas(t);
      const route = `${req.method} ${req.path}`;
      if (failure === 'down') await a.stop();
      else a.route(route, failure);
      b.route(route, () => ({ body: { ok: true } }));
      const c = client(t, [a, b]);
      const headers = req.key ? { 'Idempotency-Key': req.key } : {};
      const p = c.request(req.method, req.path, { json: { worker: 'w1', revision: 1 }, headers, timeout: req.timeout });
      if (succeeds) await p;
      else await assert.rejects(p, { name: 'FlowhistError', failover: 'lost' });
      assert.deepEqual([count(a, req.method, req.path), count(b, req.method, req.path)], want, 'got [a, b] requests');
      if (req.key) assert.deepEqual(b.requests.filter((r) => r.path === req.path).map((r) => r.headers['idempotency-key']), [req.key]);
      // Either way the next request goes to the replica that answers.
      assert.equal(c.url, b.url);
    });
  }
});

test("the admin's deploy whose answer was lost is sent to the next replica with the same Idempotency-Key", async (t) => {
  const [a, b] = await replicas(t);
  b.append({ flows: [{ id: 'tab' }] });
  // A appends, then dies before answering: the deploy is in the log.
  a.route('POST /deploy', (r, res) => {
    a.builtin['POST /deploy'](r);
    res.socket.destroy();
  });
  const storage = createStorage();
  const log = captureLog();
  await storage.init(
    { credentialSecret: 's', flowhist: { url: [a.url, b.url], token: TOKEN, namespace: NS, role: 'admin', workerId: 'admin-1', retryDelay: 2, retryMaxDelay: 10, retryFor: 3000, packages: false } },
    { log, nodes: { loadFlows: async () => {}, setFlows: async () => {}, getCredentials: () => undefined } },
  );
  t.after(() => storage.close());
  await storage.getFlows();
  const before = a.revision();
  // B answers a key A already appended with A's result, as flowhist's
  // shared idempotency keys do.
  b.route('POST /deploy', (r) => {
    const key = r.headers['idempotency-key'];
    const first = a.requests.find((x) => x.path === '/deploy' && x.headers['idempotency-key'] === key);
    if (first) return { body: golden('deploy-repeated-again.json', { revision: before + 1, aggregateRevision: before + 1, flowsRevision: before + 1 }) };
    return b.builtin['POST /deploy'](r);
  });
  await storage.saveFlows([{ id: 'tab', label: 'v2' }]);
  const keys = [a, b].map((f) => f.requests.filter((r) => r.path === '/deploy').map((r) => r.headers['idempotency-key']));
  assert.equal(keys[0].length, 1);
  assert.deepEqual(keys[1], keys[0], 'got different keys on the two replicas, want the same');
  assert.equal(a.revision(), before + 1, `got revision ${a.revision()}, want the deploy appended once`);
});

// worker starts a worker (reload 'full') on the replicas' URLs, with
// Node-RED's start-up load done; loads records each reload's flows.
async function worker(t, fakes, opts = {}) {
  const storage = createStorage();
  const log = captureLog();
  const loads = [];
  const hooks = {};
  const runtime = {
    log,
    nodes: {
      loadFlows: async () => {
        const flows = await storage.getFlows();
        await storage.getCredentials();
        if (hooks.during) await hooks.during(flows);
        loads.push(flows[0].rev);
        fakes[0].emit('reloaded', loads.length);
      },
    },
  };
  const flowhist = Object.assign(
    { url: fakes.map((f) => f.url), token: TOKEN, namespace: NS, role: 'worker', workerId: 'w1', retryDelay: 2, retryMaxDelay: 10, retryFor: 3000, feedWait: 5000, reload: 'full', packages: false },
    opts,
  );
  await storage.init({ credentialSecret: 's', flowhist }, runtime);
  t.after(async () => {
    await storage.close();
    for (const l of log.lines) assert.ok(!l.msg.includes(TOKEN), `token in log line: ${l.msg}`);
  });
  await storage.getFlows();
  const acked = (rev) => until(() => fakes[0].group && fakes[0].group.acked >= rev, 5000, `revision ${rev} acknowledged`);
  return { storage, log, loads, hooks, acked };
}

const feedsOn = (fake) => fake.requests.filter((r) => r.path === '/feed');

test('a worker\'s feed resumes on the next replica: a deploy made while it moves is reloaded once', async (t) => {
  const fakes = await replicas(t, 2, { stream: true });
  const [a, b] = fakes;
  a.append({ flows: [{ id: 'tab', rev: 1 }] });
  const w = await worker(t, fakes);
  await until(() => feedsOn(a).length === 1 && a.open.size === 1, 5000, 'the feed waiting on A');
  a.append({ flows: [{ id: 'tab', rev: 2 }] });
  await w.acked(2);
  // A dies (kill -9: its connections close); a deploy lands meanwhile
  // through B.
  await a.stop();
  b.append({ flows: [{ id: 'tab', rev: 3 }] });
  await w.acked(3);
  assert.deepEqual(w.loads, [2, 3], 'got reloads of revisions');
  const resumed = feedsOn(b)[0];
  assert.equal(resumed.query.after, '2', 'got the feed on B asking after, want the revision the worker runs');
  // Nothing more to do: no repeat of revision 3 comes.
  b.append({ flows: [{ id: 'tab', rev: 4 }] });
  await w.acked(4);
  assert.deepEqual(w.loads, [2, 3, 4]);
});

test('a worker\'s feed resumes on the next replica: news delivered by the dead one is reloaded once and acknowledged on the next', async (t) => {
  const fakes = await replicas(t, 2, { stream: true });
  const [a, b] = fakes;
  a.append({ flows: [{ id: 'tab', rev: 1 }] });
  const w = await worker(t, fakes);
  await until(() => a.open.size === 1, 5000, 'the feed waiting on A');
  // A delivers revision 2, then dies while the worker reloads it.
  let release;
  const held = new Promise((r) => (release = r));
  w.hooks.during = async () => {
    w.hooks.during = null;
    await a.stop();
    await held;
  };
  a.append({ flows: [{ id: 'tab', rev: 2 }] });
  await until(() => a.group.lastDelivered === 2, 5000, 'revision 2 delivered');
  await until(() => feedsOn(b).length >= 1, 5000, 'the feed moved to B');
  release();
  await w.acked(2);
  assert.deepEqual(w.loads, [2], 'got reloads of revisions');
  assert.ok(b.requests.some((r) => r.path === '/feed/ack' && r.json.revision === 2), 'the ack did not go to B');
  b.append({ flows: [{ id: 'tab', rev: 3 }] });
  await w.acked(3);
  assert.deepEqual(w.loads, [2, 3]);
});

test('a worker\'s feed that had news moves to the next replica at once, not after a backoff', async (t) => {
  const fakes = await replicas(t, 2, { stream: true });
  const [a, b] = fakes;
  a.append({ flows: [{ id: 'tab', rev: 1 }] });
  // A backoff of 3 s or more would show.
  const w = await worker(t, fakes, { retryDelay: 6000, retryMaxDelay: 6000 });
  await until(() => a.open.size === 1, 5000, 'the feed waiting on A');
  a.append({ flows: [{ id: 'tab', rev: 2 }] });
  await w.acked(2);
  const stopped = Date.now();
  await a.stop();
  await until(() => b.open.size === 1, 2000, 'the feed waiting on B within 2 s');
  const took = Date.now() - stopped;
  assert.ok(took < 2000, `the feed moved after ${took} ms`);
  b.append({ flows: [{ id: 'tab', rev: 3 }] });
  await w.acked(3);
  assert.deepEqual(w.loads, [2, 3]);
});

test('a worker\'s feed follows a second failure back to the first replica', async (t) => {
  const fakes = await replicas(t, 2, { stream: true });
  const [a, b] = fakes;
  a.append({ flows: [{ id: 'tab', rev: 1 }] });
  const w = await worker(t, fakes);
  await until(() => a.open.size === 1, 5000, 'the feed waiting on A');
  await a.stop();
  await until(() => b.open.size === 1, 5000, 'the feed waiting on B');
  await a.restart();
  await b.stop();
  await until(() => a.open.size === 1, 5000, 'the feed waiting on A again');
  a.append({ flows: [{ id: 'tab', rev: 2 }] });
  await w.acked(2);
  assert.deepEqual(w.loads, [2]);
});

test('a move is a warning once; more moves while no replica answers are debug', async (t) => {
  const [a, b] = await replicas(t);
  await a.stop();
  await b.stop();
  const c = client(t, [a, b], { retryFor: 5000 });
  const got = c.getJSON('/flows');
  const moves = () => c.lines.filter((l) => l.msg.includes('does not answer'));
  await until(() => moves().length >= 4, 5000, 'four moves');
  await b.restart();
  await got;
  assert.deepEqual(
    moves().map((l) => l.level).slice(0, 4),
    ['warn', 'debug', 'debug', 'debug'],
    'got levels of the moves during an outage of both',
  );
  // b answered: leaving it again is a warning.
  await b.stop();
  await a.restart();
  const before = moves().length;
  await c.getJSON('/flows');
  assert.deepEqual(moves().slice(before).map((l) => l.level), ['warn']);
});
