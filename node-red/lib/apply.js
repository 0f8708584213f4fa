'use strict';

// Applying a namespace revision to the running Node-RED, the admin's and
// the workers' alike.
//
// reload 'nodes' (the default) applies it as the editor's "modified nodes"
// deploy does: runtime.nodes.setFlows(flows, credentials, 'nodes'). Node-RED
// diffs the new flows against the ones it runs and stops and starts only
// the nodes that changed and what depends on them; untouched flows keep
// serving. A node whose credentials changed carries them (node.credentials),
// which is how Node-RED's diff sees a credentials-only change. setFlows
// then hands the flows and credentials to storage to save: the storage
// module drops those saves (see suppress), they came from flowhist.
// Node-RED computes the revision it shows the editor (a hash of the flows)
// and emits the runtime-deploy event with it, so an open editor offers its
// usual "flows changed on the server" dialog and its next deploy is based
// on these flows.
//
// reload 'full' is Node-RED's "Restart Flows": runtime.nodes.loadFlows(true)
// reads the flows through the storage module and restarts every node.

const crypto = require('node:crypto');
const { isDeepStrictEqual } = require('node:util');
const { readFlows, readCredentials } = require('./flows');
const { FlowhistError, MODULE_CODES } = require('./errors');

// decryptCredentials opens Node-RED's {"$": "<iv hex><base64>"} with
// credentialSecret as Node-RED does (aes-256-ctr, key sha256(secret)).
// Credentials saved unencrypted (credentialSecret: false) are returned as
// they are.
function decryptCredentials(creds, secret) {
  if (!creds || typeof creds !== 'object') return {};
  if (typeof creds.$ !== 'string') return creds;
  if (typeof secret !== 'string' || secret === '') {
    throw new FlowhistError('flowhist: the credentials are encrypted but settings.credentialSecret is not set', { code: MODULE_CODES.CONFIG });
  }
  try {
    const key = crypto.createHash('sha256').update(secret).digest();
    const iv = Buffer.from(creds.$.substring(0, 32), 'hex');
    const decipher = crypto.createDecipheriv('aes-256-ctr', key, iv);
    const text = decipher.update(creds.$.substring(32), 'base64', 'utf8') + decipher.final('utf8');
    return JSON.parse(text);
  } catch (e) {
    throw new FlowhistError(
      'flowhist: the credentials in flowhist cannot be decrypted with this credentialSecret: set the same credentialSecret as the admin',
      { code: 'credentials_load_failed' },
    );
  }
}

function isEmpty(v) {
  return v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0);
}

class Applier {
  // opts: client, nodes (runtime.nodes), mode ('nodes' | 'full'),
  // credentialSecret, log, onRead ({flowsRevision, revision}: told what
  // each apply read).
  constructor(opts) {
    this.client = opts.client;
    this.nodes = opts.nodes;
    this.mode = opts.mode;
    this.ring = opts.ring; // a worker's: reads name it
    this.secret = opts.credentialSecret;
    this.onRead = opts.onRead || (() => {});
    // While set, the storage module's saveFlows / saveCredentials are
    // Node-RED handing back what this apply gave it: not written.
    this.applying = null; // {flowsJSON}
  }

  // suppressFlows reports whether a saveFlows(flows) is this apply's own
  // (the same flows, while applying): then it must not be written.
  suppressFlows(flows) {
    return this.applying !== null && JSON.stringify(flows) === this.applying.flowsJSON;
  }

  // suppressCredentials reports whether a saveCredentials(creds) is this
  // apply's own: while applying, credentials that decrypt to the ones the
  // apply gave Node-RED (with exact, only those: an editor's deploy saving
  // other credentials meanwhile is not dropped). Without exact, any while
  // applying (a worker, which saves nothing else).
  suppressCredentials(creds, exact) {
    if (this.applying === null) return false;
    if (!exact) return true;
    try {
      return isDeepStrictEqual(decryptCredentials(creds, this.secret), this.applying.creds);
    } catch (_) {
      return false;
    }
  }

  // apply brings the runtime to flowhist's current flows and resolves to
  // the namespace revision it applied (undefined in 'full' mode: then the
  // storage module's getFlows sees it).
  async apply() {
    if (this.mode === 'full') {
      await this.nodes.loadFlows(true);
      return undefined;
    }
    const r = await readFlows(this.client, this.ring);
    const encrypted = await readCredentials(this.client, this.ring);
    const creds = decryptCredentials(encrypted, this.secret);
    const flows = structuredClone(r.flows);
    for (const n of flows) {
      if (!n || typeof n !== 'object' || typeof n.id !== 'string') continue;
      const now = creds[n.id];
      const was = typeof this.nodes.getCredentials === 'function' ? this.nodes.getCredentials(n.id) : undefined;
      if (isEmpty(now) && isEmpty(was)) continue;
      if (!isDeepStrictEqual(now, was)) n.credentials = isEmpty(now) ? {} : structuredClone(now);
    }
    this.applying = { flowsJSON: JSON.stringify(r.flows), creds };
    try {
      await this.nodes.setFlows(flows, structuredClone(creds), 'nodes');
    } finally {
      this.applying = null;
    }
    this.onRead(r);
    return r.revision === null ? undefined : r.revision;
  }
}

module.exports = { Applier, decryptCredentials };
