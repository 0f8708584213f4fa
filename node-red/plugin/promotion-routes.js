'use strict';

// The History sidebar's promotion routes (docs/promotion.md), on Node-RED's
// admin HTTP API beside the history routes (plugin/history.js mounts
// them), guarded by Node-RED's own auth:
//
//   GET  flowhist/promotion                      flows.read   this namespace's policy, what this user may do
//   POST flowhist/promotion/preview              flows.read   {to, rev?}: the dry run, and whether the target wants review
//   POST flowhist/promotion/promote              flows.write  {to, rev, expectedHead, reason, request}
//   GET  flowhist/promotion/requests             flows.read   the pending requests into this namespace
//   POST flowhist/promotion/requests/:id/approve flows.write  {reason?}
//   POST flowhist/promotion/requests/:id/reject  flows.write  {reason?}
//
// Promotions go only to the targets this namespace's policy names
// (promotionTargets): the editor cannot be used to write to any other
// namespace the admin's token happens to cover. Each write names the
// editor user (Flowhist-User, the admin's token asserts it): flowhist
// records who requested, approved or rejected, and refuses a requester's
// own approval with a message the sidebar shows as it is.

const { randomUUID } = require('node:crypto');
const { CODES } = require('../lib/errors');
const { userHeader } = require('../lib/client');
const { HistoryRoutes, userCanDeploy } = require('./routes');

const TIMEOUT = 15000; // ms for one call to flowhist
const REASON_MAX = 1000; // characters
const ID = /^[0-9A-Za-z_-]{1,100}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function bad(message) {
  return { status: 400, body: { code: CODES.INVALID, message } };
}

function forbidden(message) {
  return { status: 403, body: { code: CODES.FORBIDDEN, message } };
}

// userOf is the editor user's name ('' without adminAuth).
function userOf(req) {
  return req.user && typeof req.user.username === 'string' ? req.user.username : '';
}

// reasonOf is the trimmed reason of a body, or an answer refusing it.
function reasonOf(b, required) {
  const reason = typeof b.reason === 'string' ? b.reason.trim() : '';
  if (required && !reason) return { refusal: bad('a reason is required: the request shows it to the approver') };
  if (reason.length > REASON_MAX) return { refusal: bad(`the reason is longer than ${REASON_MAX} characters`) };
  return { reason };
}

// policyTargets is the list of promotion targets of a policy answer.
function policyTargets(p) {
  return Array.isArray(p && p.promotionTargets) ? p.promotionTargets.filter((t) => typeof t === 'string' && NAME.test(t)) : [];
}

// expectedHead is the preview's targetHead as the editor sent it back, with
// only its known fields, or null when it is not one.
function expectedHead(h) {
  const count = (v) => Number.isSafeInteger(v) && v >= 0;
  if (!h || typeof h !== 'object' || !count(h.revision) || typeof h.id !== 'string') return null;
  if (h.flowsRevision !== undefined && !count(h.flowsRevision)) return null;
  if (h.hash !== undefined && typeof h.hash !== 'string') return null;
  const out = { revision: h.revision, id: h.id };
  if (h.flowsRevision !== undefined) out.flowsRevision = h.flowsRevision;
  if (h.hash !== undefined) out.hash = h.hash;
  return out;
}

class PromotionRoutes extends HistoryRoutes {
  // wrap answers flowhist's refusals (4xx but 401, which is about the
  // admin's token) with flowhist's own message alone: the sidebar shows it
  // to the user as it is ("you requested this promotion: another person
  // approves it"), without the request line of the module's error.
  wrap(fn) {
    return super.wrap(async () => {
      try {
        return await fn();
      } catch (err) {
        const status = err && err.httpStatus;
        if (status >= 400 && status < 500 && status !== 401 && typeof err.answer === 'string') {
          return { status, body: { code: err.code, message: err.answer } };
        }
        throw err;
      }
    });
  }

  async call(method, path, opts = {}) {
    const s = this.current();
    const res = await s.client.request(method, path, Object.assign({ retry: false, timeout: TIMEOUT }, opts));
    return JSON.parse(res.text);
  }

  policy(namespace) {
    return this.call('GET', '/policy', namespace === undefined ? {} : { namespace });
  }

  // userWrite are the headers of a write by the request's user: one
  // Idempotency-Key, and the user flowhist records.
  userWrite(req) {
    const headers = { 'Idempotency-Key': randomUUID() };
    const user = userOf(req);
    if (user) Object.assign(headers, userHeader(user));
    return headers;
  }

  // target checks that to is one of this namespace's promotion targets.
  async target(to) {
    if (typeof to !== 'string' || !NAME.test(to)) return { refusal: bad('to must be a namespace name') };
    const targets = policyTargets(await this.policy());
    if (!targets.includes(to)) return { refusal: forbidden(`${to} is not a promotion target of this namespace (its policy's promotionTargets)`) };
    return {};
  }

  // GET flowhist/promotion: {namespace, protected, targets, promotesFrom,
  // canDeploy}.
  async promotion(req) {
    return this.wrap(async () => {
      const p = await this.policy();
      return {
        status: 200,
        body: {
          namespace: this.current().config.namespace,
          protected: p.protected === true,
          targets: policyTargets(p),
          promotesFrom: Array.isArray(p.promotesFrom) ? p.promotesFrom.filter((x) => typeof x === 'string') : [],
          canDeploy: userCanDeploy(req, this.adminAuth),
        },
      };
    });
  }

  // POST flowhist/promotion/preview {to, rev?}: {preview, review}; review
  // is true when the target takes this promotion only as a request.
  async preview(req) {
    const b = req.body || {};
    if (b.rev !== undefined && (!Number.isSafeInteger(b.rev) || b.rev < 1)) return bad('rev must be a positive whole number');
    return this.wrap(async () => {
      const t = await this.target(b.to);
      if (t.refusal) return t.refusal;
      const body = { from: this.current().config.namespace, dryRun: true };
      if (b.rev !== undefined) body.rev = b.rev;
      const preview = await this.call('POST', '/promotions', { namespace: b.to, json: body });
      const tp = await this.policy(b.to);
      return { status: 200, body: { preview, review: tp.protected === true && tp.directPromotions !== true } };
    });
  }

  // POST flowhist/promotion/promote {to, rev, expectedHead, reason,
  // request}: applies the previewed promotion (conditional on the head
  // the preview showed), or records a request for review.
  async promote(req) {
    const b = req.body || {};
    if (!Number.isSafeInteger(b.rev) || b.rev < 1) return bad('rev must be the previewed source revision');
    const head = expectedHead(b.expectedHead);
    if (!head) return bad('expectedHead must be the target head the preview showed ({revision, flowsRevision, id, hash})');
    const request = b.request === true;
    const r = reasonOf(b, request);
    if (r.refusal) return r.refusal;
    if (!userCanDeploy(req, this.adminAuth)) return forbidden('promoting needs the flows.write permission (deploy)');
    return this.wrap(async () => {
      const t = await this.target(b.to);
      if (t.refusal) return t.refusal;
      const json = { from: this.current().config.namespace, rev: b.rev, expectedHead: head, request };
      if (r.reason) json.reason = r.reason;
      const out = await this.call('POST', '/promotions', { namespace: b.to, json, headers: this.userWrite(req) });
      const user = userOf(req);
      if (this.log) this.log.info(`promotion: ${user ? JSON.stringify(user) : 'an editor user'} ${request ? 'requested' : 'promoted'} revision ${b.rev} to ${b.to}${r.reason ? ': ' + JSON.stringify(r.reason) : ''}`);
      return { status: request ? 201 : 200, body: out };
    });
  }

  // GET flowhist/promotion/requests: the pending requests into this
  // namespace, newest first.
  async requests() {
    return this.wrap(async () => ({ status: 200, body: await this.call('GET', '/promotions?state=pending') }));
  }

  approve(req) {
    return this.decide(req, 'approve');
  }

  reject(req) {
    return this.decide(req, 'reject');
  }

  // decide approves or rejects request :id as the editor user.
  async decide(req, action) {
    const id = req.params && req.params.id;
    if (typeof id !== 'string' || !ID.test(id)) return bad('the request id must be 1 to 100 letters, digits, - or _');
    const r = reasonOf(req.body || {}, false);
    if (r.refusal) return r.refusal;
    if (!userCanDeploy(req, this.adminAuth)) return forbidden(`to ${action} a promotion needs the flows.write permission (deploy)`);
    return this.wrap(async () => {
      const json = r.reason ? { reason: r.reason } : {};
      const out = await this.call('POST', `/promotions/${encodeURIComponent(id)}/${action}`, { json, headers: this.userWrite(req) });
      const user = userOf(req);
      if (this.log) this.log.info(`promotion: ${user ? JSON.stringify(user) : 'an editor user'} ${action === 'approve' ? 'approved' : 'rejected'} request ${id}`);
      return { status: 200, body: out };
    });
  }
}

// ROUTES are the routes on Node-RED's httpAdmin (plugin/history.js mounts
// them behind Node-RED's auth): method, path, permission, handler.
const ROUTES = Object.freeze([
  ['get', '/flowhist/promotion', 'flows.read', 'promotion'],
  ['post', '/flowhist/promotion/preview', 'flows.read', 'preview'],
  ['post', '/flowhist/promotion/promote', 'flows.write', 'promote'],
  ['get', '/flowhist/promotion/requests', 'flows.read', 'requests'],
  ['post', '/flowhist/promotion/requests/:id/approve', 'flows.write', 'approve'],
  ['post', '/flowhist/promotion/requests/:id/reject', 'flows.write', 'reject'],
]);

module.exports = { PromotionRoutes, ROUTES };
