'use strict';

// The History sidebar's rollout view, server side: the current staged
// rollout and the operator's promote and abort (flowhist's docs/rollout.md),
// on Node-RED's admin HTTP API beside the history routes:
//
//   GET  flowhist/rollout          flows.read   flowhist GET /rollout, and
//                                               whether this user may act
//   POST flowhist/rollout/promote  flows.write  POST /rollout/promote
//   POST flowhist/rollout/abort    flows.write  POST /rollout/abort
//
// Acting needs both the editor user's deploy permission and the admin
// scope on the admin's flowhist token (the same probe as a restore). What
// flowhist answers is passed on as it is; the editor shows it as text.

const { randomUUID } = require('node:crypto');
const { CODES } = require('../lib/errors');
const { userHeader } = require('../lib/client');
const { userCanDeploy } = require('./routes');

const ACTIONS = ['promote', 'abort'];
const REASON_MAX = 500; // characters, as flowhist takes them
const TIMEOUT = 15000; // ms for one call to flowhist

class RolloutRoutes {
  // history is the plugin's HistoryRoutes: its flowhist client, errors
  // and the token's scope probe are shared.
  constructor(history) {
    this.history = history;
  }

  // GET flowhist/rollout: {rollout (flowhist's status, null from a
  // flowhist without rollouts), canAct}.
  async status(req) {
    const h = this.history;
    return h.wrap(async () => {
      const s = h.current();
      let rollout = null;
      try {
        rollout = (await s.client.getJSON('/rollout', { retry: false, timeout: TIMEOUT })).body;
      } catch (err) {
        if (err.httpStatus !== 404) throw err;
      }
      let canAct = false;
      if (rollout && rollout.active && userCanDeploy(req, h.adminAuth)) {
        try {
          canAct = await h.canRollback();
        } catch (_) {
          canAct = false;
        }
      }
      return { status: 200, body: { rollout, canAct } };
    });
  }

  // POST flowhist/rollout/:action {reason}: promote or abort by this
  // editor user.
  async act(req) {
    const h = this.history;
    const action = req.params && req.params.action;
    if (!ACTIONS.includes(action)) return { status: 404, body: { code: CODES.NOT_FOUND, message: `no rollout action ${String(action).slice(0, 40)}: use promote or abort` } };
    const b = req.body || {};
    const reason = typeof b.reason === 'string' ? b.reason.trim() : '';
    if (action === 'abort' && !reason) return { status: 400, body: { code: CODES.INVALID, message: 'a reason is required: the history shows who aborted and why' } };
    if (reason.length > REASON_MAX) return { status: 400, body: { code: CODES.INVALID, message: `the reason is longer than ${REASON_MAX} characters` } };
    if (!userCanDeploy(req, h.adminAuth)) {
      return { status: 403, body: { code: CODES.FORBIDDEN, message: `${action === 'abort' ? 'aborting' : 'promoting'} a rollout needs the flows.write permission (deploy)` } };
    }
    return h.wrap(async () => {
      if (!(await h.canRollback())) {
        return { status: 403, body: { code: CODES.FORBIDDEN, message: `the admin's flowhist token lacks the admin scope a rollout ${action} needs` } };
      }
      const s = h.current();
      const headers = { 'Idempotency-Key': randomUUID() };
      const user = req.user && typeof req.user.username === 'string' ? req.user.username : '';
      if (user) Object.assign(headers, userHeader(user));
      const res = await s.client.request('POST', `/rollout/${action}`, { json: reason ? { reason } : {}, headers, retry: false, timeout: TIMEOUT });
      // The user and the reason quoted: a line break in either cannot
      // forge a log line of its own.
      if (h.log) h.log.info(`history: ${user ? JSON.stringify(user) : 'an editor user'} ${action === 'abort' ? 'aborted' : 'promoted'} the rollout${reason ? ': ' + JSON.stringify(reason) : ''}`);
      return { status: 200, body: JSON.parse(res.text) };
    });
  }
}

// mount adds the routes to Node-RED's httpAdmin beside the history's.
function mount(app, auth, history) {
  const routes = new RolloutRoutes(history);
  const send = (fn) => async (req, res) => {
    const out = await fn.call(routes, req);
    res.status(out.status).json(out.body);
  };
  app.get('/flowhist/rollout', auth.needsPermission('flows.read'), send(routes.status));
  app.post('/flowhist/rollout/:action', auth.needsPermission('flows.write'), send(routes.act));
  return routes;
}

module.exports = { RolloutRoutes, mount };
