'use strict';

// Node-RED's runtime settings (node registry, users, …) and editor sessions.
//
// The admin reads and writes them in flowhist. A worker reads the shared
// settings but keeps its own saves in memory: Node-RED saves settings at
// every start (the node registry after loading the nodes, instanceId when
// there is none, _credentialSecret when it generates one), so refusing would
// stop a worker from starting, and writing would let a worker overwrite the
// admin's settings. A worker's sessions stay in its memory too.

const { isDeepStrictEqual } = require('node:util');
const { FlowhistError, MODULE_CODES } = require('./errors');
const { userHeader } = require('./client');

// withoutSecret drops _credentialSecret: the key to every credential is never
// sent (flowhist would drop it anyway).
function withoutSecret(settings) {
  if (!settings || !Object.prototype.hasOwnProperty.call(settings, '_credentialSecret')) return settings;
  const copy = Object.assign({}, settings);
  delete copy._credentialSecret;
  return copy;
}

async function getObject(client, path) {
  const { body } = await client.getJSON(path);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new FlowhistError(`flowhist: GET ${path}: the answer is not a JSON object`, { code: MODULE_CODES.BAD_ANSWER });
  }
  return body;
}

// preferenceUser is the editor user whose preferences a settings save
// records, or undefined: Node-RED saves a user's preferences (editor view,
// the open sidebar tab) as a whole settings save whose only change is that
// user's entry of the users section, and tells the storage module nobody's
// name. Anything else (start-up, the node registry, two users at once, the
// anonymous user "_") is Node-RED's own save, made as the admin's token.
function preferenceUser(before, after) {
  if (!before || !after) return undefined;
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  keys.delete('_credentialSecret');
  for (const k of keys) {
    if (k !== 'users' && !isDeepStrictEqual(before[k], after[k])) return undefined;
  }
  const was = before.users || {};
  const now = after.users || {};
  const changed = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((u) => !isDeepStrictEqual(was[u], now[u]));
  if (changed.length !== 1 || changed[0] === '_' || changed[0] === '') return undefined;
  return changed[0];
}

class SharedSettings {
  constructor(client) {
    this.client = client;
    this.last = undefined; // the settings as last read or saved
  }

  async getSettings() {
    const settings = await getObject(this.client, '/settings');
    this.last = structuredClone(settings);
    return settings;
  }

  async saveSettings(settings) {
    const body = withoutSecret(settings);
    const user = preferenceUser(this.last, body);
    await this.client.request('PUT', '/settings', { json: body, headers: user === undefined ? {} : userHeader(user) });
    this.last = structuredClone(body);
  }

  getSessions() {
    return getObject(this.client, '/sessions');
  }

  async saveSessions(sessions) {
    await this.client.request('PUT', '/sessions', { json: sessions });
  }
}

class LocalSettings {
  constructor(client, log) {
    this.client = client;
    this.log = log;
    this.shared = {}; // as last read from flowhist
    this.changed = {}; // top-level keys this worker set differently
    this.removed = new Set(); // top-level keys this worker deleted
    this.sessions = {};
    this.told = false;
  }

  // getSettings returns flowhist's settings with this worker's own changes
  // on top.
  async getSettings() {
    this.shared = await getObject(this.client, '/settings');
    const out = Object.assign({}, this.shared, structuredClone(this.changed));
    for (const k of this.removed) delete out[k];
    return out;
  }

  async saveSettings(settings) {
    if (!this.told) {
      this.told = true;
      this.log.info('worker settings are not shared: this worker keeps its settings changes (node registry, instanceId, …) in memory only');
    }
    for (const k of Object.keys(settings)) {
      this.removed.delete(k);
      if (isDeepStrictEqual(settings[k], this.shared[k])) delete this.changed[k];
      else this.changed[k] = structuredClone(settings[k]);
    }
    for (const k of Object.keys(this.shared)) {
      if (!Object.prototype.hasOwnProperty.call(settings, k)) {
        this.removed.add(k);
        delete this.changed[k];
      }
    }
    for (const k of Object.keys(this.changed)) {
      if (!Object.prototype.hasOwnProperty.call(settings, k)) delete this.changed[k];
    }
  }

  async getSessions() {
    return structuredClone(this.sessions);
  }

  async saveSessions(sessions) {
    this.sessions = structuredClone(sessions || {});
  }
}

module.exports = { SharedSettings, LocalSettings, withoutSecret, preferenceUser };
