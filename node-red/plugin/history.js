'use strict';

// The History sidebar's server side: Node-RED loads this file as the
// plugin "flowhist-history" (package.json "node-red".plugins) and the
// editor part from history.html beside it.
//
// Routes on Node-RED's admin HTTP API, guarded by Node-RED's own auth:
//
//   GET  flowhist/config               flows.read   what this user may do
//   GET  flowhist/history              flows.read   flowhist GET /history
//   GET  flowhist/revisions/:rev       flows.read   GET /revisions/{rev}
//   GET  flowhist/diff                 flows.read   GET /diff
//   GET  flowhist/nodes/:id/history    flows.read   GET /nodes/{id}/history
//   POST flowhist/restore              flows.write  POST /rollback
//   …and the rollout view's (plugin/rollout-routes.js)
//
// and the comms topic "flowhist/revision" ({revision}) when the admin's
// feed sees a new revision. Active only on an admin (flowhist.role
// 'admin') with the storage module in use; settings.flowhist.history:
// false turns it off.

const { HistoryRoutes, Watcher } = require('./routes');
const promotion = require('./promotion-routes');

const TOPIC = 'flowhist/revision';

module.exports = function (RED) {
  const settings = RED.settings || {};
  const o = settings.flowhist;
  const storage = settings.storageModule;
  const log = RED.log;
  if (!o || typeof o !== 'object' || o.role !== 'admin') return; // a worker, or not this storage
  if (o.history === false) {
    log.info('flowhist: the History sidebar is turned off (flowhist.history: false)');
    return;
  }
  if (!storage || typeof storage.pluginState !== 'function') {
    log.warn('flowhist: the History sidebar needs storageModule: require(\'node-red-storage-flowhist\'); it is off');
    return;
  }
  const app = RED.httpAdmin;
  if (!app || typeof app.get !== 'function') return; // httpAdminRoot: false: no editor
  const state = () => {
    const s = storage.pluginState();
    return s && s.config && s.config.role === 'admin' ? s : null;
  };
  let pageSize = 50;
  if (o.historyPageSize !== undefined) {
    if (Number.isSafeInteger(o.historyPageSize) && o.historyPageSize >= 1 && o.historyPageSize <= 1000) pageSize = o.historyPageSize;
    else log.warn('flowhist: historyPageSize must be a whole number from 1 to 1000; using 50');
  }
  const routes = new HistoryRoutes({ state, adminAuth: !!settings.adminAuth, log, events: RED.events, pageSize });
  mount(app, RED.auth, routes, new promotion.PromotionRoutes({ state, adminAuth: !!settings.adminAuth, log }));
  require('./rollout-routes').mount(app, RED.auth, routes); // the rollout view
  const watcher = new Watcher({ state, publish: (revision) => RED.comms.publish(TOPIC, { revision }, false) });
  watcher.start();
};

// mount adds the routes to an express app (Node-RED's httpAdmin), and
// promotion's (plugin/promotion-routes.js) when given.
function mount(app, auth, routes, promotionRoutes) {
  const send = (fn, r = routes) => async (req, res) => {
    const out = await fn.call(r, req);
    res.status(out.status).json(out.body);
  };
  const read = auth.needsPermission('flows.read');
  const write = auth.needsPermission('flows.write');
  app.get('/flowhist/config', read, send(routes.config));
  app.get('/flowhist/history', read, send(routes.history));
  app.get('/flowhist/revisions/:rev', read, send(routes.revision));
  app.get('/flowhist/diff', read, send(routes.diff));
  app.get('/flowhist/nodes/:id/history', read, send(routes.nodeHistory));
  app.post('/flowhist/restore', write, send(routes.restore));
  if (promotionRoutes) {
    for (const [method, path, permission, fn] of promotion.ROUTES) app[method](path, auth.needsPermission(permission), send(promotionRoutes[fn], promotionRoutes));
  }
}

module.exports.mount = mount;
module.exports.TOPIC = TOPIC;
