'use strict';

// The admin's writes of flows and credentials.
//
// Node-RED saves one deploy as saveCredentials(creds) then saveFlows(flows):
// the credentials wait here and go out with the flows as one POST /deploy,
// so no reader ever sees new credentials with old flows. Credentials saved
// alone are flushed with PUT /credentials after credentialsDelay.
//
// Every write names the flows revision this admin last read or wrote
// (If-Match): if anyone else deployed since (another admin, a rollback from
// the CLI), flowhist answers 409 and the deploy fails in the editor with a
// message saying to reload, instead of silently overwriting their work.
// Each save has one Idempotency-Key, reused by all its retries, so a retry
// after a lost answer never deploys twice.

const { randomUUID } = require('node:crypto');
const { parseRevision, parseJSON } = require('./client');
const { FlowhistError, MODULE_CODES } = require('./errors');

class Admin {
  // opts: client, log, credentialsDelay (ms), onWrote ((revision) => void:
  // told the namespace revision of each write; optional).
  constructor(opts) {
    this.client = opts.client;
    this.log = opts.log;
    this.credentialsDelay = opts.credentialsDelay;
    this.onWrote = opts.onWrote || (() => {});
    // applied counts the revisions from the log applied to this runtime. A
    // deploy Node-RED handed over before one was applied is based on the
    // flows that apply replaced: it fails as a conflict, as it would have
    // if flowhist had been first.
    this.applied = 0;
    // base is the flows revision this admin last read or wrote: 0 (an empty
    // namespace) until the first read.
    this.base = 0;
    // pending holds credentials not yet in flowhist: saved by Node-RED and
    // waiting for their saveFlows, or left by a failed deploy (Node-RED
    // considers them saved, so the next deploy must carry them).
    this.pending = undefined;
    this.timer = null;
    // writes run one at a time, in call order, so each uses the base the
    // previous one left.
    this.queue = Promise.resolve();
  }

  // read records the flows revision of a GET /flows: the base of the next
  // write.
  read(flowsRevision) {
    if (flowsRevision !== null) this.base = flowsRevision;
  }

  // credentialsRead is told when Node-RED loads the credentials (right after
  // the flows), replacing whatever it had in memory: credentials still
  // pending are obsolete.
  credentialsRead() {
    this.cancelFlush();
    this.pending = undefined;
  }

  saveCredentials(credentials) {
    this.pending = credentials;
    this.cancelFlush();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushCredentials().catch(() => {}); // logged inside
    }, this.credentialsDelay);
  }

  async saveFlows(flows, user) {
    this.cancelFlush();
    const credentials = this.pending;
    this.pending = undefined;
    const username = user && typeof user.username === 'string' && user.username ? user.username : undefined;
    const applied = this.applied;
    try {
      await this.enqueue(() => {
        if (this.applied !== applied) {
          throw conflict({ currentRevision: this.base });
        }
        return this.deploy(flows, credentials, username);
      });
    } catch (err) {
      // Keep the credentials for the next deploy unless newer ones came.
      if (credentials !== undefined && this.pending === undefined) this.pending = credentials;
      throw err;
    }
  }

  async deploy(flows, credentials, username) {
    const body = { flows };
    if (credentials !== undefined) body.credentials = credentials;
    if (username !== undefined) body.user = username;
    const res = await this.write('POST', '/deploy', body);
    const out = parseJSON(res.text, 'POST /deploy');
    this.advance(out, res);
    if (out && typeof out.revision === 'number') this.onWrote(out.revision);
    this.log.info(`deployed flows revision ${this.base} (namespace revision ${out.revision})${username ? ' by ' + username : ''}`);
  }

  // flushCredentials sends credentials that no saveFlows took.
  async flushCredentials() {
    const credentials = this.pending;
    if (credentials === undefined) return;
    this.pending = undefined;
    try {
      await this.enqueue(async () => {
        const res = await this.write('PUT', '/credentials', credentials);
        const out = parseJSON(res.text, 'PUT /credentials');
        this.advance(out, res);
        if (out && typeof out.revision === 'number') this.onWrote(out.revision);
        this.log.info(`saved credentials (flows revision ${this.base})`);
      });
    } catch (err) {
      if (this.pending === undefined) this.pending = credentials;
      this.log.error(`saving credentials failed; the next deploy will carry them: ${err.message}`);
      throw err;
    }
  }

  // write sends one conditional, idempotent save, retried per the client.
  async write(method, path, body) {
    const key = randomUUID();
    try {
      return await this.client.request(method, path, {
        json: body,
        headers: { 'If-Match': `"${this.base}"`, 'Idempotency-Key': key },
      });
    } catch (err) {
      if (err.httpStatus === 409) throw conflict(err);
      if (err.httpStatus === 403) throw refused(err);
      throw err;
    }
  }

  // advance moves base to the flows revision a write produced (credentials
  // are part of the flows aggregate, so saving them moves it too).
  advance(out, res) {
    const rev = [out && out.flowsRevision, out && out.aggregateRevision, parseRevision(res.headers.get('etag'))]
      .find((v) => typeof v === 'number' && Number.isFinite(v));
    if (rev !== undefined) this.base = rev;
  }

  // apply runs fn (applying a revision from the log to this runtime) between
  // writes, never during one, and records that the runtime's flows changed.
  // fn resolves to {skipped, revision}; a skipped apply changed nothing.
  async apply(fn) {
    return this.enqueue(async () => {
      const out = await fn();
      if (!out.skipped) this.applied++;
      return out;
    });
  }

  enqueue(fn) {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  cancelFlush() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  close() {
    this.cancelFlush();
  }
}

// conflict turns flowhist's 409 into the error Node-RED shows the editor
// user as "Deploy failed: …".
function conflict(err) {
  const at = err.currentRevision !== undefined ? ` (now at revision ${err.currentRevision})` : '';
  return new FlowhistError(
    `flowhist: the flows were changed by someone else${at} since this editor loaded them, so this deploy was not saved. ` +
      'Reload the flows in the editor (Deploy menu → Restart Flows, then reload the page) and deploy your changes again.',
    { code: MODULE_CODES.CONFLICT, httpStatus: 409, currentRevision: err.currentRevision },
  );
}

// refused turns flowhist's 403 into the error the editor user reads as
// "Deploy failed: {…"message":"flowhist refused this deploy: protected:
// promote from staging. …"}": Node-RED's Admin API answers {code, message}
// and the editor shows that answer's text in a notification, which takes
// HTML (RED.notify sets innerHTML): flowhist's message is escaped. A
// protected namespace (docs/promotion.md) answers so; so does a token
// without the deploy scope.
function refused(err) {
  const why = escapeHTML(err.answer || err.message);
  return new FlowhistError(`flowhist refused this deploy: ${why}. Nothing was saved.`, { code: err.code, httpStatus: 403 });
}

const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

module.exports = { Admin };
