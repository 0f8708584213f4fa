'use strict';

// A worker's installed node modules follow the admin's.
//
// The admin's node registry is in the shared settings (settings.nodes:
// {module: {version, pending_version, user, …}}): its user-installed
// modules, at the version on the admin's disk (pending_version after an
// upgrade waiting for a restart), are what a worker must have. A sync
// compares them with the worker's own registry (runtime.nodes.getNodeList)
// and makes one change at a time through Node-RED's own install path, the
// one the palette manager uses (runtime.nodes.installModule(name, version),
// runtime.nodes.uninstallModule(name)): npm install in the userDir, then
// the new node types are registered and flows waiting for them start.
//
// A sync runs before the worker's flows start (in its first getFlows) and
// again on each packages news of the feed. A change that fails (npm cannot
// install that version, a module still in use) never stops the worker: one
// warning line names the module, the version and the error, the other
// changes still run, and the sync is retried with backoff until it
// succeeds. After each sync the worker reports its package state to
// flowhist (PUT /workers/{id}/packages), shown by GET /workers.

const { backoffDelay, sleep } = require('./backoff');
const { FlowhistError, MODULE_CODES } = require('./errors');

// wanted reads the user modules from settings (the admin's registry):
// Map name → version ('' when the registry has none).
function wanted(settings) {
  const out = new Map();
  const reg = settings && settings.nodes;
  if (!reg || typeof reg !== 'object') return out;
  for (const [name, m] of Object.entries(reg)) {
    if (!m || m.user !== true) continue;
    out.set(name, String(m.pending_version || m.version || ''));
  }
  return out;
}

// installed reads the user modules Node-RED has loaded, at the version on
// disk: Map name → version. Whether a module is the user's, and its
// versions, are the module's (getModuleInfo), not its node sets'.
function installed(nodes) {
  const out = new Map();
  const list = typeof nodes.getNodeList === 'function' ? nodes.getNodeList() : [];
  const modules = new Set();
  for (const n of list || []) if (n && typeof n.module === 'string') modules.add(n.module);
  for (const name of modules) {
    const m = typeof nodes.getModuleInfo === 'function' ? nodes.getModuleInfo(name) : null;
    if (!m || m.user !== true) continue;
    out.set(name, String(m.pending_version || m.version || ''));
  }
  return out;
}

// self is this module's own name. It is in Node-RED's palette (its editor
// plugin makes it a user module), but it is what runs the sync: each
// instance's operator installs it, and a sync never installs, upgrades or
// removes it.
const self = require('../package.json').name;

// plan lists the changes that make have match want, removals last (a flow
// that used a removed module has been redeployed without it first).
function plan(want, have) {
  want = new Map([...want].filter(([name]) => name !== self));
  have = new Map([...have].filter(([name]) => name !== self));
  const steps = [];
  for (const [name, version] of [...want].sort()) {
    if (!have.has(name)) steps.push({ op: 'install', module: name, version });
    else if (version && have.get(name) !== version) steps.push({ op: 'upgrade', module: name, version, from: have.get(name) });
  }
  for (const [name, version] of [...have].sort()) {
    if (!want.has(name)) steps.push({ op: 'remove', module: name, version });
  }
  return steps;
}

// npmError runs fn (an install through Node-RED) and, when it fails, adds
// npm's own error to the error's message. Node-RED's installer rejects with
// only "Install failed" and logs npm's output as a warning: that output is
// read from Node-RED's log (runtime.log.addHandler) while fn runs.
async function withNpmError(runtimeLog, fn) {
  const lines = [];
  const canListen = runtimeLog && typeof runtimeLog.addHandler === 'function' && typeof runtimeLog.removeHandler === 'function';
  const handler = {
    emit(_, msg) {
      if (msg && typeof msg.msg === 'string') lines.push(msg.msg);
    },
  };
  if (canListen) runtimeLog.addHandler(handler);
  try {
    return await fn();
  } catch (err) {
    const npm = lines
      .join('\n')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^npm (error|ERR!) /.test(l) && !/complete log of this run|A complete log/i.test(l))
      .map((l) => l.replace(/^npm (error|ERR!) /, ''))
      .slice(0, 3);
    if (npm.length && err && typeof err.message === 'string') err.message += ` (npm: ${npm.join('; ')})`;
    throw err;
  } finally {
    if (canListen) runtimeLog.removeHandler(handler);
  }
}

class Packages {
  // opts: client, nodes (runtime.nodes), log, runtimeLog (Node-RED's own
  // log, to read npm's errors), workerId, retryDelay, retryMaxDelay (ms,
  // the backoff between failed syncs).
  constructor(opts) {
    this.client = opts.client;
    this.runtimeLog = opts.runtimeLog;
    this.nodes = opts.nodes;
    this.log = opts.log;
    this.workerId = opts.workerId;
    this.retryDelay = opts.retryDelay;
    this.retryMaxDelay = opts.retryMaxDelay;
    this.stopper = new AbortController();
    this.wantRev = -1; // newest revision a sync was asked for
    this.doneRev = -1; // newest revision a sync completed for
    this.running = null;
  }

  // sync makes the installed modules match flowhist's now and reports the
  // result; it resolves to that result ({ok, failed}) and never rejects.
  async sync(revision) {
    let want;
    try {
      const { body } = await this.client.getJSON('/settings');
      want = wanted(body);
    } catch (err) {
      if (this.stopper.signal.aborted) return { ok: false, failed: null };
      this.log.warn(`packages: could not read the admin's modules from flowhist: ${err.message}`);
      return { ok: false, failed: { module: '', version: '', error: err.message } };
    }
    const steps = plan(want, installed(this.nodes));
    let failed = null;
    for (const s of steps) {
      if (this.stopper.signal.aborted) break;
      try {
        if (s.op === 'remove') {
          this.log.info(`packages: removing ${s.module} (the admin removed it)`);
          await this.nodes.uninstallModule(s.module);
        } else {
          this.log.info(`packages: ${s.op === 'install' ? 'installing' : `upgrading ${s.from} to`} ${s.module}@${s.version || 'latest'}`);
          await withNpmError(this.runtimeLog, () => this.nodes.installModule(s.module, s.version || undefined));
        }
      } catch (err) {
        const msg = (err && err.message) || String(err);
        const code = err && err.code !== undefined ? ` (${err.code})` : '';
        this.log.warn(`packages: ${s.op} ${s.module}@${s.version || 'latest'} failed${code}: ${msg}; this worker keeps running and retries`);
        if (!failed) failed = { module: s.module, version: s.version, error: `${s.op} failed${code}: ${msg}` };
      }
    }
    const now = installed(this.nodes);
    const ok = !failed && plan(want, now).length === 0;
    if (!ok && !failed) failed = { module: '', version: '', error: 'the installed modules still differ from the admin\'s after the sync' };
    await this.report(revision, ok, failed, now);
    if (ok && steps.length) this.log.info(`packages: in step with the admin at revision ${revision}`);
    return { ok, failed };
  }

  // report sends the state to flowhist; a failure is logged, not thrown.
  async report(revision, ok, failed, now) {
    const body = {
      revision,
      ok,
      module: failed ? failed.module : '',
      version: failed ? failed.version : '',
      error: failed ? failed.error : '',
      packages: [...now].sort().map(([name, version]) => ({ name, version })),
    };
    try {
      await this.client.request('PUT', `/workers/${encodeURIComponent(this.workerId)}/packages`, {
        json: body,
        retry: false,
        signal: this.stopper.signal,
      });
    } catch (err) {
      if (!this.stopper.signal.aborted) this.log.debug(`packages: reporting the state to flowhist failed: ${err.message}`);
    }
  }

  // kick asks for a sync at revision (news of a packages change): the one
  // loop runs syncs until one succeeds for the newest revision asked.
  kick(revision) {
    if (revision > this.wantRev) this.wantRev = revision;
    if (this.running || this.stopper.signal.aborted) return this.running;
    this.running = (async () => {
      await null;
      let attempt = 0;
      while (!this.stopper.signal.aborted && this.wantRev > this.doneRev) {
        const rev = this.wantRev;
        const r = await this.sync(rev);
        if (r.ok) {
          this.doneRev = Math.max(this.doneRev, rev);
          attempt = 0;
          continue;
        }
        try {
          await sleep(backoffDelay(attempt++, this.retryDelay, this.retryMaxDelay), this.stopper.signal, true);
        } catch (_) {
          break;
        }
      }
      this.running = null;
    })();
    return this.running;
  }

  // startup runs one sync before the flows start; when it fails, the loop
  // keeps retrying in the background and the flows start anyway.
  async startup(revision) {
    const r = await this.sync(revision);
    if (r.ok) this.doneRev = Math.max(this.doneRev, revision);
    else this.kick(revision);
  }

  async stop() {
    this.stopper.abort(new FlowhistError('flowhist: the worker stopped', { code: MODULE_CODES.CLOSED }));
    if (this.running) await this.running;
  }
}

module.exports = { Packages, wanted, installed, plan, withNpmError };
