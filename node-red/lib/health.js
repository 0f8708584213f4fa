'use strict';

// A worker's health, as a staged rollout's gate reads it (flowhist's
// docs/rollout.md: PUT …/workers/{worker}/health).
//
// What is counted, each since the worker last applied a revision:
//   - started: Node-RED started the flows (flows:started, runtime-state
//     'start') and reported no missing types or modules (runtime-state
//     with error missing-types / missing-modules);
//   - failedTypes: types of nodes whose constructor threw (Node-RED logs
//     those at level error with the node's id and type while the flows
//     start);
//   - errors: entries logged at level error (node.error(), a function node
//     that throws, the runtime's own errors), and uncaught exceptions;
//   - restarts: starts of this process at the same revision, counted in a
//     file in the userDir (an uncaught exception is written there before
//     Node-RED exits, and counted as an error at the next start);
//   - probes: the ring's gate's HTTP probes (from GET …/rollout/policy),
//     GET on this Node-RED's own HTTP server every `every`, the latest
//     result of each.
//
// Health never decides: it reports and flowhist's gate judges. Reports go
// after each flows load, once at start, and every `report` of the ring's
// gate while a policy exists (the feed's news carry a target).

const fs = require('node:fs');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const { probe } = require('./client');

const LEVEL_ERROR = 20; // @node-red/util log.ERROR
const PROBE_TIMEOUT = 2000; // ms for one probe
const MAX_LIST = 100; // failedTypes, missingTypes
const MAX_TYPE = 214; // characters of one type
const MAX_TEXT = 500; // characters of message and a probe's error
const SETTLE = 300; // ms after a load before its first report
const UNSTARTED_WAIT = 10000; // ms a report waits for Node-RED to say whether the flows started

// parseDuration reads a Go duration string ("1s", "50ms", "1m30s") into
// ms; def when absent or unreadable.
function parseDuration(s, def) {
  if (typeof s !== 'string' || s === '') return def;
  const unit = { h: 3600000, m: 60000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };
  let ms = 0;
  let rest = s;
  const part = /^([0-9]+(?:\.[0-9]+)?)(h|ms|m|s|us|µs|ns)/;
  while (rest !== '') {
    const m = part.exec(rest);
    if (!m) return def;
    ms += parseFloat(m[1]) * unit[m[2]];
    rest = rest.slice(m[0].length);
  }
  return ms;
}

// gateOf is the gate of ring in policy: the ring's own, or the last
// ring's when the policy does not list it (docs/rollout.md).
function gateOf(policy, ring) {
  const rings = policy && Array.isArray(policy.rings) ? policy.rings : [];
  if (rings.length === 0) return null;
  const r = rings.find((x) => x && x.name === ring) || rings[rings.length - 1];
  return (r && r.gate) || {};
}

class Health {
  // opts: client, ring, workerId, log, runtime (Node-RED's: events, log),
  // settings (Node-RED's: userDir, uiPort, uiHost, httpNodeRoot, https),
  // now (clock, for tests).
  constructor(opts) {
    this.client = opts.client;
    this.ring = opts.ring || 'default';
    this.workerId = opts.workerId;
    this.log = opts.log;
    this.runtime = opts.runtime || {};
    this.settings = opts.settings || {};
    this.now = opts.now || Date.now;
    this.interval = 5000; // the gate's report interval
    this.staged = false; // the last news carried a target: a policy exists
    this.targetId = null; // the last target's id (the policy is re-read when it changes)
    this.revision = null; // the position whose flows run, counted since
    this.id = null;
    this.appliedAt = null;
    this.state = 'unknown'; // 'started' | 'stopped' | 'unknown'
    this.missing = [];
    this.failedTypes = new Set();
    this.errors = 0;
    this.message = '';
    this.restarts = 0;
    this.probes = []; // [{path, status, every}] of the ring's gate
    this.results = new Map(); // path -> {status, ok, error}
    this.probeTimers = [];
    this.reportTimer = null;
    this.soon = null;
    this.stopped = false;
    this.previous = null; // the starts file as this process found it
    this.file = this.settings.userDir ? path.join(this.settings.userDir, `.flowhist-health-${this.workerId}.json`) : null;
    this.detach = [];
  }

  // attach listens to the runtime's events and log, reads the starts
  // file and the policy. Called once at init.
  attach() {
    const events = this.runtime.events;
    if (events && typeof events.on === 'function') {
      const onEvent = (ev) => this.runtimeEvent(ev);
      const onStarted = () => {
        this.state = 'started';
        if (this.revision !== null) this.reportSoon();
      };
      events.on('runtime-event', onEvent);
      events.on('flows:started', onStarted);
      this.detach.push(() => events.removeListener('runtime-event', onEvent), () => events.removeListener('flows:started', onStarted));
    }
    const rlog = this.runtime.log;
    if (rlog && typeof rlog.addHandler === 'function') {
      const handler = new EventEmitter();
      handler.on('log', (msg) => this.logged(msg));
      rlog.addHandler(handler);
      this.detach.push(() => typeof rlog.removeHandler === 'function' && rlog.removeHandler(handler));
    }
    const onUncaught = (err) => {
      // Node-RED logs it and exits: the next start counts it (once).
      this.save({ uncaught: true });
    };
    process.on('uncaughtException', onUncaught);
    this.detach.push(() => process.removeListener('uncaughtException', onUncaught));
    this.previous = this.load();
    this.readPolicy();
  }

  runtimeEvent(ev) {
    if (!ev || ev.id !== 'runtime-state') return;
    const p = ev.payload || {};
    if (p.state === 'start') {
      this.state = 'started';
      this.missing = [];
    } else if (p.error === 'missing-types' || p.error === 'missing-modules') {
      this.state = 'stopped';
      const list = Array.isArray(p.types) ? p.types : Array.isArray(p.modules) ? p.modules.map((m) => (m && m.module) || m) : [];
      this.missing = list.slice(0, MAX_LIST).map((t) => String(t).slice(0, MAX_TYPE));
      this.reportSoon();
    } else if (p.state === 'stop' && !p.deploy && p.error) {
      this.state = 'stopped';
    }
  }

  logged(msg) {
    if (!msg || msg.level !== LEVEL_ERROR) return;
    const m = msg.msg;
    const text = typeof m === 'string' ? m : '';
    if (text.startsWith('[flowhist]')) return; // about flowhist, not the flows
    this.errors++;
    // A node whose constructor threw is logged with its id and type while
    // the flows start.
    if (msg.id && msg.type && this.state !== 'started' && this.failedTypes.size < MAX_LIST) {
      this.failedTypes.add(String(msg.type).slice(0, MAX_TYPE));
    }
    // Which node, not what it said: an error's text may quote anything the
    // flows hold (a password in a URL), and the report leaves the worker.
    this.message = (msg.type ? `last error from a ${msg.type} node ${JSON.stringify(String(msg.name || msg.id || ''))}` : 'last error logged by the runtime').slice(0, MAX_TEXT);
  }

  load() {
    if (!this.file) return null;
    try {
      const f = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      return f && typeof f === 'object' ? f : null;
    } catch (_) {
      return null;
    }
  }

  save(extra = {}) {
    if (!this.file || this.revision === null) return;
    const body = { revision: this.revision, id: this.id, applied: this.appliedAt, restarts: this.restarts, errors: this.errors, ...extra };
    try {
      fs.writeFileSync(this.file, JSON.stringify(body));
    } catch (err) {
      if (this.log) this.log.debug(`could not write ${this.file}: ${err.message}`);
    }
  }

  // loading is told before the follower loads another position: what the
  // load logs (a node that fails to start) counts against the new one.
  loading() {
    this.counting = true;
    this.state = 'unknown';
    this.reset();
  }

  reset() {
    this.restarts = 0;
    this.errors = 0;
    this.failedTypes.clear();
    this.message = '';
    this.results.clear();
    this.appliedAt = this.now();
  }

  // applied is told each flows load (its Flowhist-Revision and
  // Flowhist-Event). Counting starts again at a new position; the first
  // load after a start at the position the starts file names is a restart.
  applied(revision, id) {
    if (typeof revision !== 'number' || this.stopped) return;
    id = typeof id === 'string' && id ? id : null;
    const prev = this.previous;
    this.previous = null;
    const same = (r, i) => r === revision && (i || null) === id;
    if (prev && same(prev.revision, prev.id)) {
      this.restarts = (Number.isSafeInteger(prev.restarts) ? prev.restarts : 0) + 1;
      this.errors = (Number.isSafeInteger(prev.errors) ? prev.errors : 0) + (prev.uncaught ? 1 : 0);
      if (prev.uncaught) this.message = 'the process ended on an uncaught exception';
      this.appliedAt = typeof prev.applied === 'number' ? prev.applied : this.now();
    } else if (!same(this.revision, this.id) && !this.counting) {
      this.reset();
    }
    this.counting = false;
    this.revision = revision;
    this.id = id;
    this.save();
    this.reportSoon();
  }

  // target is told the target of each news (null without a policy).
  target(t) {
    const staged = !!(t && typeof t === 'object');
    const id = staged ? t.id : null;
    const changed = staged !== this.staged || id !== this.targetId;
    this.staged = staged;
    this.targetId = id;
    if (changed) this.readPolicy();
  }

  // readPolicy reads the ring's gate: its probes and report interval.
  async readPolicy() {
    if (this.stopped) return;
    let policy = null;
    try {
      const { body } = await this.client.getJSON('/rollout/policy', { retry: false });
      policy = body;
    } catch (err) {
      if (err.httpStatus !== 404 && this.log) this.log.debug(`could not read the rollout policy: ${err.message}`);
      if (err.httpStatus !== 404) return;
    }
    if (this.stopped) return;
    const gate = gateOf(policy, this.ring);
    this.interval = gate ? parseDuration(gate.report, 5000) : 5000;
    if (gate) this.staged = true;
    this.setProbes(gate && Array.isArray(gate.probes) ? gate.probes : []);
    this.schedule();
  }

  setProbes(list) {
    const probes = list
      .filter((p) => p && typeof p.path === 'string' && p.path.startsWith('/') && !p.path.startsWith('//'))
      .map((p) => ({ path: p.path, status: Number.isSafeInteger(p.status) ? p.status : 200, every: Math.max(50, parseDuration(p.every, 5000)) }));
    if (JSON.stringify(probes) === JSON.stringify(this.probes)) return;
    for (const t of this.probeTimers) clearInterval(t);
    this.probeTimers = [];
    this.probes = probes;
    this.results.clear();
    for (const p of probes) {
      const t = setInterval(() => this.runProbe(p), p.every);
      if (t.unref) t.unref();
      this.probeTimers.push(t);
      this.runProbe(p);
    }
  }

  // schedule reports every interval while a policy exists.
  schedule() {
    clearInterval(this.reportTimer);
    this.reportTimer = null;
    if (this.stopped || !this.staged) return;
    this.reportTimer = setInterval(() => this.report(), this.interval);
    if (this.reportTimer.unref) this.reportTimer.unref();
  }

  // base is this Node-RED's own HTTP nodes' URL.
  base() {
    const s = this.settings;
    const scheme = s.https ? 'https' : 'http';
    let host = typeof s.uiHost === 'string' && s.uiHost !== '' && s.uiHost !== '0.0.0.0' && s.uiHost !== '::' ? s.uiHost : '127.0.0.1';
    if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
    const port = s.uiPort || 1880;
    const root = (typeof s.httpNodeRoot === 'string' ? s.httpNodeRoot : '/').replace(/\/+$/, '');
    return `${scheme}://${host}:${port}${root}`;
  }

  async runProbe(p) {
    try {
      const status = await probe(this.base() + p.path, Math.min(PROBE_TIMEOUT, Math.max(p.every, 500)));
      this.results.set(p.path, { status, ok: status === p.status, error: '' });
    } catch (err) {
      this.results.set(p.path, { status: 0, ok: false, error: String(err.message || err).slice(0, MAX_TEXT) });
    }
  }

  // body is one report, as PUT …/workers/{worker}/health takes it.
  body() {
    return {
      ring: this.ring,
      revision: this.revision,
      id: this.id || '',
      applied: new Date(this.appliedAt || this.now()).toISOString(),
      started: this.state === 'started' && this.missing.length === 0 && this.failedTypes.size === 0,
      failedTypes: [...this.failedTypes],
      missingTypes: this.missing,
      errors: this.errors,
      restarts: this.restarts,
      probes: this.probes.filter((p) => this.results.has(p.path)).map((p) => Object.assign({ path: p.path }, this.results.get(p.path))),
      message: this.message,
    };
  }

  // reportSoon reports once the flows had a moment to start and each probe
  // an answer.
  reportSoon() {
    if (this.soon || this.stopped) return;
    this.soon = setTimeout(async () => {
      await Promise.all(this.probes.map((p) => this.runProbe(p)));
      this.soon = null;
      await this.report();
    }, SETTLE);
    if (this.soon.unref) this.soon.unref();
  }

  async report() {
    if (this.stopped || this.revision === null) return;
    // Until Node-RED said whether the flows started (flows:started reports
    // at once), unless it never says.
    if (this.state === 'unknown' && this.now() - this.appliedAt < UNSTARTED_WAIT) return;
    try {
      await this.client.request('PUT', `/workers/${encodeURIComponent(this.workerId)}/health`, { json: this.body(), retry: false });
    } catch (err) {
      if (this.log) this.log.debug(`the health report failed: ${err.message}`);
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.soon);
    clearInterval(this.reportTimer);
    for (const t of this.probeTimers) clearInterval(t);
    this.probeTimers = [];
    for (const off of this.detach) off();
    this.detach = [];
  }
}

module.exports = { Health, parseDuration, gateOf, LEVEL_ERROR };
