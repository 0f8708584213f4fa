'use strict';

// Reads and validates settings.flowhist (and the settings it depends on).
// Every error names the option to fix; none repeats a secret.

const os = require('node:os');
const { MODULE_CODES } = require('./errors');
const { tlsOptions } = require('./tls');

const ROLES = ['admin', 'worker'];
const RELOADS = ['nodes', 'full'];

// MAX_NAME and NAME are the rule flowhist applies to namespaces and worker
// ids (domain.ValidateNamespace in domain/namespace.go): 1 to 64 letters,
// digits, '_', '.' or '-', not starting with '.' or '-'. This is the
// module's one copy; test/names.test.js checks it against the Go rule's
// cases (test/testdata/names.json) and its length.
const MAX_NAME = 64;
const NAME = new RegExp(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,${MAX_NAME - 1}}$`);

// validName reports whether s may name a namespace or a worker.
function validName(s) {
  return typeof s === 'string' && NAME.test(s);
}

const DEFAULTS = {
  retryFor: 120000, // ms a save or read keeps retrying network errors and 5xx
  retryDelay: 200, // ms before the first retry, doubling…
  retryMaxDelay: 5000, // …up to this
  requestTimeout: 30000, // ms for one HTTP request (a feed request gets feedWait on top)
  credentialsDelay: 2000, // ms to wait for the saveFlows that follows saveCredentials
  feedWait: 30000, // ms one feed request stays open on the server
  packagesRetryDelay: 2000, // ms before retrying a failed package sync, doubling…
  packagesRetryMaxDelay: 60000, // …up to this
};

// OPTIONS are every settings.flowhist option: the module's and its History
// plugin's (history, historyPageSize).
const OPTIONS = ['url', 'namespace', 'role', 'token', 'workerId', 'ring', 'reload', 'packages', 'history', 'historyPageSize', 'ca', 'cert', 'key', ...Object.keys(DEFAULTS)];

// defaultAdminId is the admin's feed consumer: admin-<host>-<port>, cut to
// the id rules (two admins on one host differ by port).
function defaultAdminId(settings) {
  const host = os.hostname().replace(/[^A-Za-z0-9_.-]/g, '-');
  const port = settings && (typeof settings.uiPort === 'number' || typeof settings.uiPort === 'string') ? `-${settings.uiPort}` : '';
  const id = `admin-${host}`.slice(0, MAX_NAME - port.length) + port;
  return id.replace(/[^A-Za-z0-9_.-]/g, '-');
}

function fail(msg) {
  const err = new Error('flowhist: ' + msg);
  err.code = MODULE_CODES.CONFIG;
  return err;
}

// parseURLs reads flowhist.url: one URL, several (an array, or one string
// with commas, as an environment variable gives them), each flowhist's base
// URL. Several are replicas on one Valkey: the client uses one at a time
// and moves to the next when it stops answering.
function parseURLs(v) {
  const missing = "settings.flowhist.url is missing: set it to the flowhist server's base URL, e.g. 'http://127.0.0.1:8080' (or a list of replicas' URLs)";
  let list;
  if (typeof v === 'string') list = v.split(',');
  else if (Array.isArray(v)) list = v;
  else throw fail(missing);
  list = list.map((u) => (typeof u === 'string' ? u.trim() : u)).filter((u) => u !== '');
  if (list.length === 0) throw fail(missing);
  const out = [];
  for (const [i, u] of list.entries()) {
    const name = Array.isArray(v) || list.length > 1 ? `settings.flowhist.url[${i}]` : 'settings.flowhist.url';
    if (typeof u !== 'string') throw fail(`${name} must be a string URL such as http://127.0.0.1:8080`);
    let url;
    try {
      url = new URL(u);
    } catch (_) {
      throw fail(`${name} is not a URL: use e.g. http://127.0.0.1:8080`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw fail(`${name} must start with http:// or https://, not ${url.protocol}//`);
    }
    if (url.username || url.password) {
      throw fail(`${name} must not contain a user or password: put the token in settings.flowhist.token`);
    }
    if (url.search || url.hash) {
      throw fail(`${name} must not have a query or fragment`);
    }
    const base = url.href.replace(/\/+$/, '');
    if (out.includes(base)) throw fail(`${name} ${base} is listed twice`);
    out.push(base);
  }
  return out;
}

// parseConfig returns the validated options. settings is what Node-RED passes
// to init (its settings.js values are properties of it).
function parseConfig(settings) {
  const o = settings && settings.flowhist;
  if (!o || typeof o !== 'object') {
    throw fail("settings.flowhist is missing: add flowhist: { url: 'http://127.0.0.1:8080', namespace: 'prod', role: 'admin' } to settings.js");
  }
  // An option misspelt (workerID for workerId) would leave its default in
  // force without a word: two workers on one host would share a consumer.
  for (const k of Object.keys(o)) {
    if (OPTIONS.includes(k)) continue;
    const near = OPTIONS.find((n) => n.toLowerCase() === k.toLowerCase());
    throw fail(`settings.flowhist.${k} is not an option${near ? `: did you mean ${near}?` : ''} (options: ${OPTIONS.join(', ')})`);
  }
  const urls = parseURLs(o.url);
  if (typeof o.namespace !== 'string' || o.namespace === '') {
    throw fail("settings.flowhist.namespace is missing: name this Node-RED deployment, e.g. 'prod' (the same on the admin and its workers)");
  }
  if (!validName(o.namespace)) {
    throw fail(`settings.flowhist.namespace ${JSON.stringify(o.namespace)} is invalid: use 1 to ${MAX_NAME} letters, digits, '_', '.' or '-', not starting with '.' or '-'`);
  }
  if (o.role === undefined || o.role === null || o.role === '') {
    throw fail("settings.flowhist.role is missing: set 'admin' on the instance with the editor, 'worker' on the others");
  }
  if (!ROLES.includes(o.role)) {
    throw fail(`settings.flowhist.role ${JSON.stringify(String(o.role))} is invalid: use 'admin' or 'worker'`);
  }
  if (o.token !== undefined && o.token !== null && (typeof o.token !== 'string' || o.token === '')) {
    throw fail('settings.flowhist.token must be a non-empty string (or left out when flowhist needs none)');
  }
  // workerId names this instance's consumer of the feed: a worker's, and
  // the admin's too (the admin follows the log to apply what others wrote).
  const unset = o.workerId === undefined || o.workerId === null || o.workerId === '';
  const workerId = unset ? (o.role === 'worker' ? os.hostname() : defaultAdminId(settings)) : o.workerId;
  if (!validName(workerId)) {
    throw fail(`settings.flowhist.workerId ${JSON.stringify(String(workerId))}${o.workerId ? '' : ' (the host name)'} is invalid: set a stable id of 1 to ${MAX_NAME} letters, digits, '_', '.' or '-'`);
  }
  // ring names the rollout ring this instance follows (a staged rollout
  // reaches the rings in the order the namespace's policy lists them).
  const ring = o.ring === undefined || o.ring === null || o.ring === '' ? 'default' : o.ring;
  if (!validName(ring)) {
    throw fail(`settings.flowhist.ring ${JSON.stringify(String(ring))} is invalid: use 1 to ${MAX_NAME} letters, digits, '_', '.' or '-' (e.g. 'canary'; default 'default')`);
  }
  const reload = o.reload === undefined || o.reload === null ? 'nodes' : o.reload;
  if (!RELOADS.includes(reload)) {
    throw fail(`settings.flowhist.reload ${JSON.stringify(String(reload))} is invalid: use 'nodes' (restart only what changed, the default) or 'full' (restart every flow)`);
  }
  if (o.packages !== undefined && o.packages !== null && typeof o.packages !== 'boolean') {
    throw fail('settings.flowhist.packages must be true (workers install the admin\'s modules, the default) or false');
  }
  // Node-RED would otherwise generate _credentialSecret and save it through
  // saveSettings; flowhist never stores that secret, so the credentials could
  // not be decrypted after a restart or on any worker.
  const secret = settings.credentialSecret;
  if (!(typeof secret === 'string' && secret !== '') && secret !== false) {
    throw fail('settings.credentialSecret is not set: set the same credentialSecret on the admin and every worker (e.g. credentialSecret: process.env.NODE_RED_CREDENTIAL_SECRET, and export that variable). flowhist does not store a generated _credentialSecret');
  }
  const cfg = {
    url: urls[0],
    urls,
    token: o.token || undefined,
    namespace: o.namespace,
    role: o.role,
    workerId,
    ring,
    reload,
    packages: o.packages !== false,
    credentialSecret: secret,
    // A private CA's certificate, a client certificate and its key
    // (PEM text or file paths), for flowhist's listen_tls.
    tls: tlsOptions(o, fail),
  };
  for (const [name, def] of Object.entries(DEFAULTS)) {
    const v = o[name];
    if (v === undefined || v === null) {
      cfg[name] = def;
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw fail(`settings.flowhist.${name} must be a number of milliseconds ≥ 0 (default ${def})`);
    } else {
      cfg[name] = v;
    }
  }
  if (cfg.retryDelay === 0) cfg.retryDelay = 1;
  if (cfg.retryMaxDelay < cfg.retryDelay) cfg.retryMaxDelay = cfg.retryDelay;
  return cfg;
}

module.exports = { parseConfig, validName, MAX_NAME, DEFAULTS };
