'use strict';

// TLS to flowhist with a private CA or a client certificate
// (settings.flowhist.ca, cert, key). The global fetch takes no TLS
// options, so such a client's requests go through node:https with an
// agent of its own, answered as fetch answers (a web Response).

const fs = require('node:fs');
const https = require('node:https');
const { Readable } = require('node:stream');

// readPEM reads a PEM option: its text (a string holding "-----BEGIN" or a
// Buffer) or a path to a file holding it. fail(msg) makes the config error.
function readPEM(name, v, fail) {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v;
  if (Array.isArray(v) && name === 'ca') return v.map((x, i) => readPEM(`ca[${i}]`, x, fail));
  if (typeof v !== 'string' || v === '') {
    throw fail(`settings.flowhist.${name} must be PEM text or the path of a PEM file`);
  }
  if (v.includes('-----BEGIN')) return v;
  try {
    return fs.readFileSync(v);
  } catch (e) {
    // The path only: a PEM's text never reaches a message.
    throw fail(`settings.flowhist.${name}: cannot read ${JSON.stringify(v)} (${e.code || e.message})`);
  }
}

// tlsOptions is the TLS part of the validated config (undefined: none).
function tlsOptions(o, fail) {
  const ca = readPEM('ca', o.ca, fail);
  const cert = readPEM('cert', o.cert, fail);
  const key = readPEM('key', o.key, fail);
  if ((cert === undefined) !== (key === undefined)) {
    throw fail('settings.flowhist.cert and settings.flowhist.key go together: set both (a client certificate and its key) or neither');
  }
  if (ca === undefined && cert === undefined) return undefined;
  const out = { minVersion: 'TLSv1.2' };
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) Object.assign(out, { cert, key });
  return out;
}

// NULL_BODY are the statuses a Response may not have a body with.
const NULL_BODY = new Set([101, 204, 205, 304]);

// agentFetch returns a fetch for url, init ({method, headers, body,
// signal}) through node:https with the TLS options tls (and node:http for
// an http:// URL).
function agentFetch(tls) {
  const agent = new https.Agent(Object.assign({ keepAlive: true }, tls));
  const f = (url, init) =>
    new Promise((resolve, reject) => {
      const u = new URL(url);
      if (u.protocol !== 'https:') {
        fetch(url, init).then(resolve, reject);
        return;
      }
      const req = https.request(u, { method: init.method, headers: init.headers, agent, signal: init.signal });
      req.on('error', reject);
      req.on('response', (res) => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
        }
        const body = NULL_BODY.has(res.statusCode) ? null : Readable.toWeb(res);
        if (body === null) res.resume();
        resolve(new Response(body, { status: res.statusCode, statusText: res.statusMessage || '', headers }));
      });
      req.end(init.body);
    });
  // close ends the agent's kept-alive connections.
  f.close = () => agent.destroy();
  return f;
}

module.exports = { tlsOptions, agentFetch };
