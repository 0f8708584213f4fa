'use strict';

// A fake flowhist for the module's tests: node:http on 127.0.0.1, the
// namespace's state in memory, every request recorded. It models the parts of
// the real server the module's protocol handling depends on (revisions, the
// worker's consumer group with its pending entries); the real server is
// tested end to end in Go. Every answer it gives is one of the server's
// golden answers (httpapi/testdata/answers, the contract the Go tests pin)
// with the fields that depend on the fake's state put in: golden() refuses
// a field the golden file lacks. Tests override any route with
// fake.route().
// startFake({shareWith: other}) serves other's state, as a second flowhist
// replica on the same Valkey does; stop() and restart() let a test kill and
// bring back one of them. (node --test runs this file too; it defines no
// tests.)

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { EventEmitter } = require('node:events');

// ANSWERS holds the server's golden answers, one file per endpoint and
// error code.
const ANSWERS = path.join(__dirname, '..', '..', 'httpapi', 'testdata', 'answers');

// answer returns the text of the golden answer file name.
function answer(name) {
  return fs.readFileSync(path.join(ANSWERS, name), 'utf8');
}

// golden returns the golden answer name with values put in: each key must
// be a field of the golden answer (undefined removes it, as an omitempty
// field the server leaves out). With a value that is not an object (an
// array, or a whole object of the fake's state), it returns that value
// once it has the golden answer's JSON type.
function golden(name, values = {}) {
  const body = JSON.parse(answer(name));
  const kind = (v) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
  if (values === null || typeof values !== 'object' || Array.isArray(values) || values.whole) {
    const v = values && values.whole ? values.whole : values;
    if (kind(v) !== kind(body)) throw new Error(`fake flowhist: ${name} is a JSON ${kind(body)}, not ${kind(v)}`);
    return v;
  }
  for (const [k, v] of Object.entries(values)) {
    if (!Object.prototype.hasOwnProperty.call(body, k)) throw new Error(`fake flowhist: ${name} has no field ${k}`);
    if (v === undefined) delete body[k];
    else body[k] = v;
  }
  return body;
}

// ERRORS name the golden answer of each error code.
const ERRORS = { conflict: 'err-conflict.json', forbidden: 'err-forbidden.json', invalid: 'err-invalid.json', not_found: 'err-not-found.json', unauthorized: 'err-unauthorized.json' };

// failure is an error answer: the golden answer of code with message (and
// currentRevision with a conflict).
function failure(status, code, message, extra = {}) {
  if (!ERRORS[code]) throw new Error(`fake flowhist: no golden answer for the error code ${code}`);
  return { status, body: golden(ERRORS[code], Object.assign({ message }, extra)) };
}

const NS = 'prod';
const PREFIX = `/v1/namespaces/${NS}`;

async function startFake(opts = {}) {
  const fake = new EventEmitter();
  fake.requests = [];
  fake.routes = new Map();
  fake.open = new Set(); // feed responses waiting
  // With duplex (the default), POST /feed is the streamed feed with
  // acknowledgements on its body; without, it is a 404, as from a flowhist
  // older than it.
  fake.duplex = opts.duplex !== false;
  // The namespace's state. With shareWith, this fake serves the state of
  // another fake, as two flowhist replicas on one Valkey do: the log, the
  // worker's consumer group and everything else are the same objects.
  const shared = opts.shareWith ? opts.shareWith.shared : newState(opts);
  fake.shared = shared;
  for (const k of Object.keys(shared)) {
    if (k === 'bus') continue;
    Object.defineProperty(fake, k, { get: () => shared[k], set: (v) => (shared[k] = v), enumerable: true });
  }

  fake.revision = () => (fake.log.length ? fake.log[fake.log.length - 1].revision : 0);

  // append adds an entry to the log (and changes the flows when flows is
  // given), waking waiting feed polls.
  fake.append = ({ flows, packages = false } = {}) => {
    const revision = fake.revision() + 1;
    const changesFlows = flows !== undefined;
    if (changesFlows) {
      fake.flows = flows;
      fake.flowsRevision = revision;
    }
    fake.log.push({ revision, flows: changesFlows, packages, id: crypto.randomUUID(), doc: fake.flows });
    shared.bus.emit('append', revision);
    return revision;
  };

  // idAt is the event id at revision, undefined when the log has none.
  fake.idAt = (revision) => (fake.log.find((e) => e.revision === revision) || {}).id;

  // lose drops the newest n entries, as a failover that loses writes
  // does: the next append reuses their revision numbers. A worker whose
  // group was delivered one of them is marked diverged, as the real
  // server's tail and projector do; its next news is a reset.
  fake.lose = (n) => {
    fake.log.splice(fake.log.length - n, n);
    const g = fake.group;
    if (g && g.lastDelivered > fake.revision()) {
      g.diverged = true;
      g.lastDelivered = Math.min(g.lastDelivered, fake.revision());
      g.acked = Math.min(g.acked, fake.revision());
    }
  };

  fake.route = (key, handler) => fake.routes.set(key, handler);

  // targetOf is the target revision of ring under fake.targets (a rollout
  // policy: {ring: revision}, a ring it lacks following its last ring's),
  // null without one or for a request that names no ring (the admin).
  fake.targetOf = (ring) => {
    if (!fake.targets || !ring) return null;
    if (Object.prototype.hasOwnProperty.call(fake.targets, ring)) return fake.targets[ring];
    const rings = Object.keys(fake.targets);
    return fake.targets[rings[rings.length - 1]];
  };

  // waitFor resolves to the first recorded request that matches pred (now
  // or later); it rejects after ms.
  fake.waitFor = (pred, ms = 5000, what = 'a matching request') =>
    new Promise((resolve, reject) => {
      const found = fake.requests.find(pred);
      if (found) return resolve(found);
      const timer = setTimeout(() => {
        fake.off('request', on);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      const on = (r) => {
        if (pred(r)) {
          clearTimeout(timer);
          fake.off('request', on);
          resolve(r);
        }
      };
      fake.on('request', on);
    });

  fake.count = (method, path) => fake.requests.filter((r) => r.method === method && r.path === path).length;

  const builtin = {
    'GET /flows': (r) => {
      // A staged rollout (fake.targets: ring -> revision): a worker naming
      // its ring reads the flows as they were at its ring's target.
      const t = fake.targetOf(r.query.ring);
      if (t !== null) {
        const e = fake.log.find((x) => x.revision === t);
        return { headers: { ETag: `"${t}"`, 'Flowhist-Revision': String(t), 'Flowhist-Event': e.id }, body: JSON.stringify(golden('get-flows.json', e.doc)) };
      }
      return {
        headers: { ETag: `"${fake.flowsRevision}"`, 'Flowhist-Revision': String(fake.revision()), 'Flowhist-Event': fake.idAt(fake.revision()) || '' },
        body: JSON.stringify(golden('get-flows.json', fake.flows)),
      };
    },
    'GET /credentials': () => ({ headers: { ETag: `"${fake.flowsRevision}"` }, body: golden('get-credentials.json', { whole: fake.credentials }) }),
    'POST /deploy': (r) => {
      if (r.headers['if-match'] && r.headers['if-match'] !== `"${fake.flowsRevision}"`) {
        return failure(409, 'conflict', 'flows are at a newer revision', { currentRevision: fake.flowsRevision });
      }
      if (r.json.credentials) fake.credentials = r.json.credentials;
      const revision = fake.append({ flows: r.json.flows });
      return { body: golden('deploy.json', { revision, aggregateRevision: revision, flowsRevision: revision }) };
    },
    'PUT /credentials': (r) => {
      fake.credentials = r.json;
      const revision = fake.append({ flows: fake.flows });
      return { headers: { ETag: `"${revision}"` }, body: golden('put-credentials.json', { revision, aggregateRevision: revision, flowsRevision: revision }) };
    },
    'GET /settings': () => ({ body: golden('get-settings.json', { whole: fake.settings }) }),
    'PUT /settings': (r) => {
      fake.settings = r.json;
      const revision = fake.append();
      return { body: golden('put-settings.json', { revision, aggregateRevision: revision, packagesRevision: undefined }) };
    },
    'GET /sessions': () => ({ body: golden('get-sessions.json', { whole: fake.sessions }) }),
    'PUT /sessions': (r) => {
      fake.sessions = r.json;
      return { body: golden('put-sessions.json') };
    },
    'GET /history/kinds': () => ({ body: golden('history-kinds.json') }),
    'GET /feed': (r, res) => feed(r, res),
    'POST /feed/ack': (r) => {
      const entries = acknowledge(r.json.revision, r.json.id);
      if (entries < 0) return conflict(r.json.worker, r.json.revision);
      return { body: golden('feed-ack.json', { acknowledged: r.json.revision, entries }) };
    },
  };

  function conflict(worker, revision) {
    const msg = `namespace ${NS} does not hold the event worker ${worker} acknowledged at revision ${revision} (Valkey lost it in a failover or was restored): reload from the head`;
    return { status: 409, body: golden('feed-ack-conflict.json', { message: msg, currentRevision: revision }) };
  }

  // acknowledge acknowledges the worker's entries up to revision and returns how
  // many it acknowledged; -1 (and the worker marked diverged) when the log
  // does not hold the event id names there.
  function acknowledge(revision, id) {
    const g = fake.group;
    if (revision > fake.revision() || (id && fake.idAt(revision) !== id)) {
      g.diverged = true;
      return -1;
    }
    if (id) g.diverged = false;
    const entries = fake.log.filter((e) => e.revision > g.acked && e.revision <= Math.min(revision, g.lastDelivered)).length;
    g.acked = Math.max(g.acked, revision);
    return entries;
  }

  fake.builtin = builtin;
  fake.builtinFeed = (r, res) => feed(r, res);

  function news(entries, ring) {
    const revision = Math.max(...entries.map((e) => e.revision));
    const fields = {
      revision,
      id: fake.idAt(revision),
      flows: entries.some((e) => e.flows),
      packages: entries.some((e) => e.packages),
      events: entries.length,
    };
    // Under a rollout policy each news names the target of the worker's
    // ring (docs/rollout.md: "The feed with a policy").
    const t = fake.targetOf(ring);
    if (t === null) return golden('feed.json', fields);
    return golden('feed-ring.json', Object.assign(fields, { target: { revision: t, id: fake.idAt(t) } }));
  }

  async function feed(r, res) {
    if (!fake.group) {
      const after = Number(r.query.after || 0);
      fake.group = { lastDelivered: after, acked: after };
    }
    if (!(fake.stream && r.query.stream === '1')) {
      const n = await nextNews(res, 0, r.query.ring);
      return n && { body: n };
    }
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    // The answer ends after the wait, as the real server's does.
    const m = /^(\d+)(ms|s)$/.exec(r.query.wait || '');
    const ms = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : 30000;
    let ended = false;
    const ender = setTimeout(() => {
      ended = true;
      for (const done of [...fake.open]) if (done.res === res) done(false);
    }, ms);
    // Entries sent on this answer are not sent again on it.
    for (let known = 0; !ended; ) {
      const n = await nextNews(res, known, r.query.ring);
      if (!n) break;
      res.write(JSON.stringify(n) + '\n');
      known = n.revision;
    }
    clearTimeout(ender);
    return res.end();
  }

  // nextNews resolves to the next news for the worker's group past known,
  // waiting for an append when there is none; null when res closed.
  async function nextNews(res, known, ring) {
    const g = fake.group;
    for (;;) {
      if (g.diverged && !res.resetSent) {
        // Once per answer: the worker acknowledges the head to end it.
        res.resetSent = true;
        return golden('feed-reset.json', { revision: fake.revision(), id: fake.idAt(fake.revision()) });
      }
      const pending = fake.log.filter((e) => e.revision > Math.max(g.acked, known) && e.revision <= g.lastDelivered);
      const fresh = fake.log.filter((e) => e.revision > g.lastDelivered);
      if (pending.length && (fake.feedMode === 'pending-first' || !fresh.length)) return news(pending, ring);
      if (fresh.length) {
        g.lastDelivered = fake.revision();
        return news(pending.concat(fresh), ring);
      }
      const woke = await new Promise((resolve) => {
        const done = (v) => {
          shared.bus.off('append', onAppend);
          res.off('close', onClose);
          fake.open.delete(done);
          resolve(v);
        };
        const onAppend = () => done(true);
        const onClose = () => done(false);
        shared.bus.on('append', onAppend);
        res.on('close', onClose);
        done.res = res;
        fake.open.add(done);
      });
      if (!woke) return null; // the client went away, or the fake stopped
    }
  }

  async function handle(req, res) {
    const u = new URL(req.url, 'http://fake');
    if (req.method === 'POST' && u.pathname === `${PREFIX}/feed`) return duplexFeed(req, res, u);
    let text = '';
    for await (const chunk of req) text += chunk;
    const path = u.pathname.startsWith(PREFIX) ? u.pathname.slice(PREFIX.length) : u.pathname;
    const rec = { method: req.method, path, query: Object.fromEntries(u.searchParams), headers: req.headers, text, at: Date.now() };
    try {
      rec.json = text ? JSON.parse(text) : undefined;
    } catch (_) {
      rec.json = undefined;
    }
    fake.requests.push(rec);
    fake.emit('request', rec);
    const key = `${req.method} ${path}`;
    const libKey = key.startsWith('GET /library/') || key.startsWith('PUT /library/');
    const handler = fake.routes.get(key) || builtin[key] || (libKey && library);
    if (!handler) return send(res, failure(404, 'not_found', `no route ${key}`));
    const out = await handler(rec, res);
    if (out && !res.headersSent) send(res, out);
  }

  // duplexFeed answers POST /feed as the real server does: the streamed
  // feed (GET /feed's route, overridden or not) while the request's body
  // carries the worker's acknowledgements, {"ack": REV} a line, each
  // recorded as a POST /feed/ack of that worker (via: 'body').
  async function duplexFeed(req, res, u) {
    const query = Object.fromEntries(u.searchParams);
    const rec = { method: 'POST', path: '/feed', query, headers: req.headers, text: '', at: Date.now() };
    fake.requests.push(rec);
    fake.emit('request', rec);
    // Without duplex, answered without reading the body, as flowhist
    // answers an unknown route.
    if (!fake.duplex) return send(res, failure(404, 'not_found', 'no such endpoint: POST /feed'));
    let buf = '';
    req.on('data', (chunk) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line) continue;
        const { ack: revision, id } = JSON.parse(line);
        const refused = fake.group && acknowledge(revision, id) < 0;
        const ack = { method: 'POST', path: '/feed/ack', via: 'body', query: {}, headers: req.headers, text: line, json: { worker: query.worker, revision, id }, at: Date.now() };
        fake.requests.push(ack);
        fake.emit('request', ack);
        // A refused acknowledgement ends the answer, as the real server's.
        if (refused) for (const done of [...fake.open]) if (done.res === res) done(false);
      }
    });
    const handler = fake.routes.get('POST /feed') || fake.routes.get('GET /feed') || builtin['GET /feed'];
    const out = await handler(rec, res);
    if (out && !res.headersSent) send(res, out);
  }

  function library(r) {
    const type = decodeURIComponent(r.path.slice('/library/'.length));
    const path = (r.query.path || '').replace(/^\/+|\/+$/g, '');
    if (r.method === 'PUT') {
      fake.library.set(`${type}:${path}`, r.json);
      const revision = fake.append();
      return { body: golden('put-library.json', { revision, aggregateRevision: revision }) };
    }
    const entry = fake.library.get(`${type}:${path}`);
    if (entry && path) return { body: golden('get-library-entry.json', { body: entry.body, meta: entry.meta || {} }) };
    const prefix = path ? path + '/' : '';
    const dirs = new Set();
    const files = [];
    for (const [k, v] of fake.library) {
      if (!k.startsWith(type + ':')) continue;
      const p = k.slice(type.length + 1);
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      if (rest.includes('/')) dirs.add(rest.split('/')[0]);
      else files.push(Object.assign({}, v.meta, { fn: rest }));
    }
    if (!dirs.size && !files.length && path) return failure(404, 'not_found', 'no such entry');
    return { body: golden('get-library-listing.json', { listing: [...[...dirs].sort(), ...files.sort((a, b) => (a.fn < b.fn ? -1 : 1))] }) };
  }

  function send(res, { status = 200, headers = {}, body }) {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    if (status === 204) {
      res.writeHead(204, headers);
      return res.end();
    }
    res.writeHead(status, Object.assign({ 'Content-Type': 'application/json' }, headers));
    res.end(text);
  }

  let server;
  const listen = (port) =>
    new Promise((resolve, reject) => {
      server = http.createServer((req, res) => {
        handle(req, res).catch((err) => {
          if (!res.headersSent) send(res, { status: 500, body: { code: 'internal', message: err.message } });
        });
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server.address().port));
    });

  fake.port = await listen(0);
  fake.url = `http://127.0.0.1:${fake.port}`;

  // stop closes the server and every connection (the state stays);
  // restart listens again on the same port.
  fake.stop = async () => {
    for (const done of [...fake.open]) done(false);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  fake.restart = () => listen(fake.port);
  fake.close = fake.stop;
  return fake;
}

// newState is a namespace's state: a log of {revision, flows, packages}
// entries and what it folds to, and the worker's consumer group.
function newState(opts) {
  return {
    bus: new EventEmitter(), // 'append' (revision)
    log: [],
    flows: [],
    flowsRevision: 0,
    credentials: {},
    settings: {},
    sessions: {},
    library: new Map(), // "type:path" -> {meta, body}
    // The worker's group; 'pending-first' answers unacknowledged entries
    // alone, as the real server does; 'all' answers pending and new
    // together.
    feedMode: opts.feedMode || 'pending-first',
    // With stream, a feed request with stream=1 is answered as the real
    // server does: one line of news per burst on the same answer. Without,
    // every answer is a single news object, as a stream the server ended
    // after its first line.
    stream: opts.stream === true,
    group: null, // {lastDelivered, acked, diverged}
  };
}

// until polls cond every few ms and resolves to its first truthy value;
// it rejects after ms.
async function until(cond, ms = 5000, what = 'a condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// captureLog returns a runtime.log stand-in that records every line.
function captureLog() {
  const lines = [];
  const at = (level) => (msg) => lines.push({ level, msg: String(msg) });
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

// fakeNodes returns a runtime.nodes stand-in with the calls the module
// needs at init (tests that look at applies pass their own).
function fakeNodes(extra) {
  return Object.assign(
    {
      setFlows: async () => {},
      getCredentials: () => undefined,
      loadFlows: async () => {},
      getNodeList: () => [],
      installModule: async () => ({}),
      uninstallModule: async () => [],
    },
    extra,
  );
}

module.exports = { startFake, until, captureLog, fakeNodes, answer, golden, failure, NS };
