'use strict';

// The History plugin's server side, without Node-RED: handlers that take
// {query, params, body, user, authInfo} and resolve to {status, body}, and
// the watcher that tells editors about new revisions. plugin/history.js
// mounts them on Node-RED's admin HTTP API; the tests call them directly.
//
// Every flowhist call goes through the admin's own client (its token stays
// on the server); what flowhist answers is passed on as it is (already
// redacted: credentials only as "changed", settings secrets removed).

const { randomUUID } = require('node:crypto');
const { CODES, MODULE_CODES, FlowhistError } = require('../lib/errors');
const { userHeader } = require('../lib/client');

const HISTORY_PARAMS = ['limit', 'cursor', 'kind', 'actor', 'since', 'until', 'node', 'project'];
const DIFF_PARAMS = ['from', 'to', 'positions', 'reverse'];
const REVISION = /^[0-9]{1,15}$/;
const READ_TIMEOUT = 15000; // ms for one read from flowhist
const REASON_MAX = 1000; // characters
// How long the scope probe's answer is trusted before asking again.
const SCOPE_TTL = 60000;
// How long flowhist's list of history kinds is kept before asking again
// (it changes only with a flowhist upgrade).
const KINDS_TTL = 10 * 60000;

// RESTORE_DENIED are the reasons config gives the editor for offering no
// restore (restoreDenied; '' when it offers one).
const RESTORE_DENIED = Object.freeze({ PERMISSION: 'permission', UNAVAILABLE: 'unavailable', SCOPE: 'scope' });

// hasPermission is Node-RED's rule (editor-api/lib/auth/permissions.js):
// "*", the permission itself, or "read"/"write" for any *.read/*.write.
function hasPermission(scope, permission) {
  if (Array.isArray(scope)) return scope.some((s) => hasPermission(s, permission));
  if (scope === '*' || scope === permission) return true;
  if (scope === 'read' || scope === '*.read') return /^((.+)\.)?read$/.test(permission);
  if (scope === 'write' || scope === '*.write') return /^((.+)\.)?write$/.test(permission);
  return false;
}

// userCanDeploy reports whether the request's user may write flows. With
// adminAuth off there is no user and everyone may.
function userCanDeploy(req, adminAuth) {
  if (!adminAuth) return true;
  const scope = req.authInfo && req.authInfo.scope !== undefined ? req.authInfo.scope : req.user && req.user.permissions;
  return !!req.user && hasPermission(scope, 'flows.write');
}

function bad(message) {
  return { status: 400, body: { code: CODES.INVALID, message } };
}

// fromError turns a flowhist client error into an answer: flowhist's 4xx
// as it is (its code and message), anything else 503. flowhist's 401 is
// about the admin's token, not the editor user's login: 502, so that no
// one takes it for an expired Node-RED session.
function fromError(err) {
  const status = err && err.httpStatus;
  const message = String((err && err.message) || err).replace(/^flowhist: /, '');
  if (status === 401) {
    return { status: 502, body: { code: CODES.UNAUTHORIZED, message: `flowhist refused the admin's token (settings.flowhist.token): ${message}` } };
  }
  if (status >= 400 && status < 500) return { status, body: { code: err.code || CODES.INVALID, message } };
  if (err && err.code === MODULE_CODES.NOT_READY) return { status: 503, body: { code: CODES.UNAVAILABLE, message } };
  return { status: 503, body: { code: CODES.UNAVAILABLE, message: `flowhist did not answer: ${message}` } };
}

// query builds a query string from the allowed keys of q (strings only).
function query(q, keys) {
  const out = new URLSearchParams();
  for (const k of keys) {
    const v = q && q[k];
    if (typeof v === 'string' && v !== '') out.set(k, v);
  }
  const s = out.toString();
  return s ? '?' + s : '';
}

class HistoryRoutes {
  // opts: state (() => the storage's pluginState()), adminAuth (bool),
  // log, events (Node-RED's RED.events, optional), applyTimeout (ms),
  // pageSize (revisions per page in the sidebar, default 50).
  constructor(opts) {
    this.state = opts.state;
    this.pageSize = opts.pageSize || 50;
    this.adminAuth = !!opts.adminAuth;
    this.log = opts.log;
    this.events = opts.events;
    this.applyTimeout = opts.applyTimeout === undefined ? 15000 : opts.applyTimeout;
    this.scope = null; // {ok, at}: the last probe of the token's scope
    this.kindList = null; // {kinds, at}: flowhist's history kinds
  }

  // current returns the storage state, or throws a "not ready" error.
  current() {
    const s = this.state();
    if (!s || !s.client) {
      const err = new Error('flowhist: the storage module is not started');
      err.code = MODULE_CODES.NOT_READY;
      throw err;
    }
    return s;
  }

  async read(path) {
    const s = this.current();
    const { body } = await s.client.getJSON(path, { retry: false, timeout: READ_TIMEOUT });
    return { status: 200, body };
  }

  // wrap runs fn and turns its errors into answers.
  async wrap(fn) {
    try {
      return await fn();
    } catch (err) {
      const out = fromError(err);
      if (out.status >= 500 && this.log) this.log.warn(`history: ${out.body.message}`);
      return out;
    }
  }

  // canRollback asks flowhist whether the admin's token may roll back:
  // POST /rollback with an empty body is refused 403 without the admin
  // scope, and 400 (it needs "to" and a reason) with it. It changes
  // nothing either way. The answer is kept for SCOPE_TTL.
  async canRollback() {
    if (this.scope && Date.now() - this.scope.at < SCOPE_TTL) return this.scope.ok;
    const s = this.current();
    let ok;
    try {
      await s.client.request('POST', '/rollback', { json: {}, retry: false, timeout: READ_TIMEOUT });
      ok = true; // not expected: an empty rollback is invalid
    } catch (err) {
      if (err.httpStatus === 400 || err.httpStatus === 409) ok = true;
      else if (err.httpStatus === 401 || err.httpStatus === 403) ok = false;
      else throw err;
    }
    this.scope = { ok, at: Date.now() };
    return ok;
  }

  // kinds resolves to flowhist's history kinds (GET /history/kinds, kept
  // for KINDS_TTL), or null when flowhist did not say: then a kind filter
  // goes to flowhist unchecked, and its own 400 reaches the editor.
  async kinds() {
    if (this.kindList && Date.now() - this.kindList.at < KINDS_TTL) return this.kindList.kinds;
    try {
      const { body } = await this.current().client.getJSON('/history/kinds', { retry: false, timeout: READ_TIMEOUT });
      if (!body || !Array.isArray(body.kinds) || !body.kinds.every((k) => typeof k === 'string')) throw new FlowhistError('flowhist: GET /history/kinds: the answer has no list of kinds', { code: MODULE_CODES.BAD_ANSWER });
      this.kindList = { kinds: body.kinds, at: Date.now() };
      return body.kinds;
    } catch (err) {
      if (this.log) this.log.warn(`history: could not read flowhist's history kinds: ${err.message}`);
      return null;
    }
  }

  // GET flowhist/config: what this editor user may do.
  async config(req) {
    return this.wrap(async () => {
      const s = this.current();
      const deploy = userCanDeploy(req, this.adminAuth);
      let scope = false;
      let asked = true;
      try {
        scope = await this.canRollback();
      } catch (err) {
        asked = false;
        if (this.log) this.log.warn(`history: could not tell whether the flowhist token may roll back: ${err.message}`);
      }
      let why = '';
      if (!deploy) why = RESTORE_DENIED.PERMISSION;
      else if (!asked) why = RESTORE_DENIED.UNAVAILABLE;
      else if (!scope) why = RESTORE_DENIED.SCOPE;
      const kinds = (await this.kinds()) || [];
      return {
        status: 200,
        body: { enabled: true, namespace: s.config.namespace, canRestore: deploy && scope, restoreDenied: why, kinds, pageSize: this.pageSize },
      };
    });
  }

  async history(req) {
    const q = req.query || {};
    return this.wrap(async () => {
      const kinds = q.kind !== undefined ? await this.kinds() : null;
      if (kinds && !String(q.kind).split(',').every((k) => kinds.includes(k))) {
        return bad(`kind must be one or more of ${kinds.join(', ')}`);
      }
      return this.read('/history' + query(q, HISTORY_PARAMS));
    });
  }

  async revision(req) {
    const rev = req.params && req.params.rev;
    if (!REVISION.test(String(rev))) return bad('the revision must be a number');
    return this.wrap(() => this.read(`/revisions/${rev}`));
  }

  async diff(req) {
    const q = req.query || {};
    for (const k of ['from', 'to']) if (!REVISION.test(String(q[k]))) return bad(`${k} must be a revision number`);
    return this.wrap(() => this.read('/diff' + query(q, DIFF_PARAMS)));
  }

  async nodeHistory(req) {
    const id = req.params && req.params.id;
    if (typeof id !== 'string' || id === '' || id.length > 200) return bad('the node id must be 1 to 200 characters');
    return this.wrap(() => this.read(`/nodes/${encodeURIComponent(id)}/history` + query(req.query, ['limit', 'cursor'])));
  }

  // POST flowhist/restore {revision, reason}: a rollback through flowhist
  // by this editor user; answers once the admin runs it (or after
  // applyTimeout, with applied false).
  async restore(req) {
    const b = req.body || {};
    if (!Number.isSafeInteger(b.revision) || b.revision < 1) return bad('revision must be a positive whole number');
    const reason = typeof b.reason === 'string' ? b.reason.trim() : '';
    if (!reason) return bad('a reason is required: the history shows who restored and why');
    if (reason.length > REASON_MAX) return bad(`the reason is longer than ${REASON_MAX} characters`);
    if (!userCanDeploy(req, this.adminAuth)) {
      return { status: 403, body: { code: CODES.FORBIDDEN, message: 'restoring needs the flows.write permission (deploy)' } };
    }
    return this.wrap(async () => {
      if (!(await this.canRollback())) {
        return { status: 403, body: { code: CODES.FORBIDDEN, message: "the admin's flowhist token lacks the admin scope a rollback needs" } };
      }
      const s = this.current();
      const headers = { 'Idempotency-Key': randomUUID() };
      const user = req.user && typeof req.user.username === 'string' ? req.user.username : '';
      if (user) Object.assign(headers, userHeader(user));
      let res;
      try {
        res = await s.client.request('POST', '/rollback', { json: { to: b.revision, reason }, headers, timeout: READ_TIMEOUT });
      } catch (err) {
        if (err.httpStatus === 403) this.scope = null;
        throw err;
      }
      const out = JSON.parse(res.text);
      const applied = out.noop ? true : await this.waitApplied(s, out.revision);
      // The user and the reason quoted: a line break in either cannot
      // forge a log line of its own.
      if (this.log) this.log.info(`history: ${user ? JSON.stringify(user) : 'an editor user'} restored revision ${b.revision} (${out.noop ? 'already current' : 'revision ' + out.revision}): ${JSON.stringify(reason)}`);
      return { status: 200, body: Object.assign({}, out, { applied }) };
    });
  }

  // waitApplied resolves to true once the admin's runtime has loaded
  // revision (its feed applies it), false after applyTimeout.
  waitApplied(s, revision) {
    const done = () => {
      const f = s.follower;
      return !!f && typeof f.loaded === 'number' && f.loaded >= revision;
    };
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (v) => {
        clearInterval(tick);
        clearTimeout(timer);
        if (this.events) this.events.off('flows:started', check);
        resolve(v);
      };
      const check = () => done() && finish(true);
      // The apply ends with Node-RED's flows:started; the poll of a field
      // in memory covers a runtime that emits nothing.
      if (this.events) this.events.on('flows:started', check);
      const tick = setInterval(check, 50);
      const timer = setTimeout(() => finish(done()), this.applyTimeout);
    });
  }
}

// Watcher calls publish(revision) when the admin's feed has seen a newer
// namespace revision (its follower's `seen`), checked every interval ms in
// memory: no request to flowhist.
class Watcher {
  constructor(opts) {
    this.state = opts.state;
    this.publish = opts.publish;
    this.interval = opts.interval || 500;
    this.last = null;
    this.timer = null;
  }

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), this.interval);
    if (this.timer.unref) this.timer.unref();
  }

  check() {
    const s = this.state();
    const f = s && s.follower;
    const seen = f && typeof f.seen === 'number' ? f.seen : null;
    if (seen === null || seen < 0) return;
    if (this.last === null) {
      this.last = seen; // what editors load first
      return;
    }
    if (seen > this.last) {
      this.last = seen;
      this.publish(seen);
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

module.exports = { HistoryRoutes, Watcher, hasPermission, userCanDeploy, RESTORE_DENIED };
