'use strict';

// HTTP access to one flowhist namespace, with retries and, given several
// flowhist replicas' URLs, failover between them.
//
// Requests go to the current URL. When it stops answering, the client makes
// the next URL current (round robin, so after the last comes the first
// again) and the request moves with it. "Stops answering" is:
//
//   - refused: the connection could not be made (ECONNREFUSED, a name that
//     does not resolve, an unreachable host, a connect timeout). The request
//     was never sent, so any request, even a non-idempotent write, is sent
//     to the next URL.
//   - lost: the connection broke (reset, closed mid-answer), no answer came
//     within the timeout, or a proxy answered 502, 503 or 504. The request
//     may have been processed: only idempotent requests are sent again (a
//     GET; a PUT, which replaces; a POST with an Idempotency-Key, as the
//     admin's deploys carry; an acknowledgement of the feed; or a request
//     marked idempotent). Any other write fails with the error, and the
//     next request goes to the next URL.
//
// Other URLs are tried at once, each once; after a round of them the
// request is retried with exponential backoff, on network errors, timeouts
// and 5xx answers (500 from flowhist is retried on the same URL: another
// replica on the same Valkey would answer the same) until retryFor has
// passed; a 4xx answer is final. The client stays on a URL that answers:
// it does not go back to the first one when it returns.
//
// The worker's feed is one streamed request, POST …/feed (duplex below):
// news comes as lines of the answer, and acknowledgements go as lines of
// the request's own body while the answer streams (HTTP/1.1 full duplex,
// which fetch cannot do: node:http there). It moves between URLs by the
// same rules.
//
// Errors are FlowhistError (lib/errors.js): httpStatus, code and
// currentRevision come from flowhist's {"code", "message"} body.

const http = require('node:http');
const https = require('node:https');
const { backoffDelay, sleep } = require('./backoff');
const { FlowhistError, MODULE_CODES, fromAnswer } = require('./errors');
const { agentFetch } = require('./tls');

// isRetryable reports whether a failed request may succeed when repeated:
// an outage, or a limit of the token (429) that lifts after a while.
function isRetryable(err) {
  return err instanceof FlowhistError && (err.httpStatus === undefined || err.httpStatus >= 500 || err.httpStatus === 429);
}

// Network error codes (err.cause.code of a failed fetch, err.code of a
// node:http request) that mean the connection was never made: nothing was
// sent.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

// Statuses a proxy or load balancer in front of a replica answers when the
// replica is gone; flowhist answers 503 when it cannot reach Valkey.
const GONE = new Set([502, 503, 504]);

// POSTs that are idempotent by flowhist's protocol: acknowledging up to a
// revision twice acknowledges it once.
const IDEMPOTENT_POSTS = new Set(['/feed/ack']);

// isIdempotent reports whether sending method path again cannot do twice
// what the first one did.
function isIdempotent(method, path, opts) {
  if (opts.idempotent === true) return true;
  if (method === 'POST' && IDEMPOTENT_POSTS.has(path.split('?')[0])) return true;
  if (['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'].includes(method)) return true;
  const h = opts.headers || {};
  return Object.keys(h).some((k) => k.toLowerCase() === 'idempotency-key' && h[k]);
}

// parseRevision reads a revision from an ETag ("12", W/"12") or a
// Flowhist-Revision header; null when absent or malformed.
function parseRevision(v) {
  if (v === null || v === undefined) return null;
  const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(String(v));
  return m ? Number(m[1]) : null;
}

class Client {
  // opts: urls (flowhist replicas' base URLs; or url, one), namespace,
  // token, retryFor, retryDelay, retryMaxDelay, requestTimeout, log, tls
  // (node:tls options: ca, cert, key, for https:// URLs),
  // credentialFingerprint (an admin's: lib/fingerprint.js, sent with every
  // request as Flowhist-Credential-Fingerprint; flowhist records it on
  // writes).
  constructor(opts) {
    this.tls = opts.tls;
    this.credentialFingerprint = opts.credentialFingerprint;
    this.fetch = opts.tls ? agentFetch(opts.tls) : fetch;
    this.urls = opts.urls && opts.urls.length ? opts.urls.slice() : [opts.url];
    this.bases = this.urls.map((u) => `${u}/v1/namespaces/${encodeURIComponent(opts.namespace)}`);
    this.current = 0; // index of the URL requests go to
    this.answered = true; // the current URL answered since the last move
    this.token = opts.token;
    this.retryFor = opts.retryFor;
    this.retryDelay = opts.retryDelay;
    this.retryMaxDelay = opts.retryMaxDelay;
    this.requestTimeout = opts.requestTimeout;
    this.log = opts.log;
    this.closer = new AbortController();
  }

  // close aborts every request in flight and every retry wait.
  close() {
    this.closer.abort(new FlowhistError('flowhist: the storage module was closed', { code: MODULE_CODES.CLOSED }));
    if (this.fetch.close) this.fetch.close();
  }

  get closed() {
    return this.closer.signal.aborted;
  }

  // url is the flowhist URL requests go to now.
  get url() {
    return this.urls[this.current];
  }

  // failover makes the URL after at current, unless another request moved
  // on from at already. err says why at was left. A move away from a URL
  // that answered is a warning; the moves that follow while none answers
  // (an outage of every replica, which the retries report) are debug.
  failover(at, err) {
    if (this.urls.length < 2 || this.current !== at) return;
    this.current = (at + 1) % this.urls.length;
    const level = this.answered ? 'warn' : 'debug';
    this.answered = false;
    if (this.log) this.log[level](`flowhist at ${this.urls[at]} does not answer (${err.reason || err.message}); using ${this.urls[this.current]}`);
  }

  // request sends method path (relative to the namespace) and resolves to
  // {status, headers, text} for any 2xx/3xx answer.
  // opts: json (body, sent as JSON), headers, retry (default true: with
  // false, a failed request is still sent once to each other URL when the
  // rules above allow, but not retried after a wait), idempotent (true: may
  // be sent again whatever its method), timeout (ms, default
  // requestTimeout, for the whole answer), signal (an extra abort signal),
  // onLine (async (line) => …: the answer is read as it comes, one call per
  // non-empty line, awaited in order; text is then ''; once a line was
  // handled, a broken answer is not sent again), namespace (another
  // namespace than the client's: path is relative to it; a promotion's
  // target).
  async request(method, path, opts = {}) {
    const retry = opts.retry !== false;
    const idempotent = isIdempotent(method, path, opts);
    const deadline = Date.now() + this.retryFor;
    let handled = false;
    const o = opts.onLine
      ? Object.assign({}, opts, {
          onLine: (line) => {
            handled = true;
            return opts.onLine(line);
          },
        })
      : opts;
    let tried = 1; // URLs tried since the last wait
    for (let attempt = 0; ; ) {
      const at = this.current;
      let err;
      try {
        return await this.once(at, method, path, o);
      } catch (e) {
        err = e;
      }
      if (this.closed || (opts.signal && opts.signal.aborted)) throw err;
      if (err.failover) this.failover(at, err);
      // Sending again is safe when nothing was sent, or sending twice
      // does what sending once did.
      const again = !handled && isRetryable(err) && (err.failover === 'refused' || idempotent);
      if (!again) throw err;
      if (err.failover && tried < this.urls.length) {
        tried++;
        continue; // the next URL, at once
      }
      if (!retry) throw err;
      const delay = backoffDelay(attempt, this.retryDelay, this.retryMaxDelay);
      if (Date.now() + delay > deadline) {
        err.message += ` (gave up after ${Math.round((Date.now() - (deadline - this.retryFor)) / 1000)} s of retries)`;
        throw err;
      }
      if (attempt === 0 && this.log) this.log.warn(`${err.message}; retrying`);
      await sleep(delay, this.closer.signal);
      attempt++;
      tried = 1;
    }
  }

  // once sends one request to URL number at; a network error, timeout or
  // HTTP error rejects, with failover 'refused' or 'lost' when that URL
  // stopped answering (see the top of this file).
  async once(at, method, path, opts) {
    const headers = this.headers(opts.headers);
    let body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] = 'application/json';
    }
    const what = `${method} ${path.split('?')[0]}`;
    const ac = new AbortController();
    const signals = [this.closer.signal, opts.signal].filter(Boolean);
    const onAbort = (ev) => ac.abort(ev.target.reason);
    for (const s of signals) if (s.aborted) throw s.reason;
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timeout = opts.timeout === undefined ? this.requestTimeout : opts.timeout;
    let timer;
    const arm = () => {
      timer = setTimeout(() => {
        timedOut = true;
        ac.abort();
      }, timeout);
    };
    arm();
    let res;
    let text;
    let lineErr; // what onLine threw: passed on as it is
    try {
      const base = opts.namespace === undefined ? this.bases[at] : `${this.urls[at]}/v1/namespaces/${encodeURIComponent(opts.namespace)}`;
      res = await this.fetch(base + path, { method, headers, body, signal: ac.signal });
      if (at === this.current && !GONE.has(res.status)) this.answered = true;
      if (opts.onLine && res.status < 400) {
        text = '';
        await readLines(res.body, ac.signal, async (line) => {
          // The timeout is for flowhist's answer, not for the handler (a
          // worker's reload may take longer): paused meanwhile, then full.
          clearTimeout(timer);
          try {
            await opts.onLine(line);
          } catch (e) {
            lineErr = e;
            throw e;
          }
          arm();
        });
      } else {
        text = await res.text();
      }
    } catch (e) {
      if (lineErr) throw lineErr;
      for (const s of signals) if (s.aborted) throw s.reason;
      const reason = timedOut ? `no answer within ${timeout} ms` : describeNetworkError(e);
      const failover = !timedOut && NOT_SENT.has(networkCode(e)) ? 'refused' : 'lost';
      throw this.gone(at, what, reason, failover);
    } finally {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', onAbort);
    }
    if (res.status >= 400) throw this.answerError(at, what, res.status, res.statusText, text);
    return { status: res.status, headers: res.headers, text };
  }

  // duplex sends POST path (relative to the namespace) as a stream both
  // ways, the worker's feed: the answer is read as it comes, one
  // opts.onLine(line) call per non-empty line, awaited in order, while
  // the request's body stays open for lines of the caller's. Once the
  // answer has begun (a 2xx), opts.onOpen(send) is called: send(line)
  // writes line (and a newline) on the body and returns true, or returns
  // false when the answer is over (flowhist stops reading the body then;
  // a line written as the answer ends is lost). It resolves when flowhist
  // ends the answer. opts: timeout (ms, default requestTimeout, for the
  // answer, paused while a line is handled), signal.
  //
  // As request does with retry false: a failed duplex request that had no
  // line handled goes to each other URL at once when the current one
  // stopped answering. The answer's headers must come within
  // requestTimeout (flowhist sends them at once): without them the error
  // has noAnswer, as with a proxy that holds request bodies until they
  // end. What onLine throws rejects (as a FlowhistError: one of another
  // kind with code flowhist_unavailable) and does not move the client.
  async duplex(path, opts) {
    let handled = false;
    const o = Object.assign({}, opts, {
      onLine: (line) => {
        handled = true;
        return opts.onLine(line);
      },
    });
    for (let tried = 1; ; tried++) {
      const at = this.current;
      try {
        return await this.duplexOnce(at, path, o);
      } catch (err) {
        if (this.closed || (opts.signal && opts.signal.aborted)) throw err;
        if (err.failover) this.failover(at, err);
        if (handled || !err.failover || tried >= this.urls.length) throw err;
      }
    }
  }

  // duplexOnce sends one duplex request to URL number at (node:http:
  // fetch cannot write a body while it reads the answer).
  duplexOnce(at, path, opts) {
    const url = new URL(this.bases[at] + path);
    const what = `POST ${path.split('?')[0]}`;
    const headers = this.headers({ 'Content-Type': 'application/x-ndjson', 'Transfer-Encoding': 'chunked' });
    const timeout = opts.timeout === undefined ? this.requestTimeout : opts.timeout;
    const signals = [this.closer.signal, opts.signal].filter(Boolean);
    for (const s of signals) if (s.aborted) return Promise.reject(s.reason);
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, Object.assign({ method: 'POST', headers, agent: false }, url.protocol === 'https:' ? this.tls : undefined));
      let timer;
      let noAnswer;
      let settled = false;
      let answer = null;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => fail(this.gone(at, what, `no answer within ${timeout} ms`, 'lost')), timeout);
      };
      const onAbort = (ev) => fail(ev.target.reason);
      const finish = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(noAnswer);
        for (const s of signals) s.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else {
          req.end();
          resolve();
        }
      };
      const fail = (err) => finish(err || new Error('aborted'));
      const send = (line) => {
        if (settled || req.destroyed || !req.writable || !answer || answer.complete) return false;
        req.write(line + '\n');
        return true;
      };
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
      arm();
      noAnswer = setTimeout(() => {
        const err = this.gone(at, what, `no answer within ${this.requestTimeout} ms`, 'lost');
        err.noAnswer = true;
        fail(err);
      }, this.requestTimeout);
      req.on('error', (e) => {
        // A line written as flowhist closed a whole answer: the answer's
        // end is read as usual, the line is lost.
        if (settled || (answer && answer.complete)) return;
        fail(this.gone(at, what, e.message || e.code, NOT_SENT.has(e.code) && !answer ? 'refused' : 'lost'));
      });
      // handled hands a line on; what handling it throws is not the
      // replica's doing.
      const handled = async (line) => {
        try {
          await opts.onLine(line);
        } catch (e) {
          if (e instanceof FlowhistError) throw e;
          throw new FlowhistError(`flowhist: ${what}: ${e && e.message}`, { code: MODULE_CODES.UNAVAILABLE });
        }
      };
      req.on('response', async (res) => {
        clearTimeout(noAnswer);
        try {
          if (at === this.current && !GONE.has(res.statusCode)) this.answered = true;
          res.setEncoding('utf8'); // a character split between chunks stays whole
          if (res.statusCode >= 400) {
            let text = '';
            for await (const chunk of res) text += chunk;
            throw this.answerError(at, what, res.statusCode, res.statusMessage, text);
          }
          answer = res;
          if (opts.onOpen) opts.onOpen(send);
          const lines = new Lines();
          for await (const chunk of res) {
            if (settled) return;
            for (const line of lines.add(chunk)) {
              clearTimeout(timer);
              await handled(line);
              if (settled) return;
              arm();
            }
          }
          // The answer broke off (the replica died, or the connection).
          if (!res.complete) throw this.gone(at, what, 'the answer broke off', 'lost');
          for (const line of lines.end()) await handled(line);
          finish();
        } catch (e) {
          if (settled) return;
          if (e instanceof FlowhistError || signals.some((s) => s.reason === e)) fail(e);
          else fail(this.gone(at, what, (e && (e.message || e.code)) || String(e), 'lost'));
        }
      });
      req.flushHeaders();
    });
  }

  // headers are a request's headers: extra, the token, and the channel.
  headers(extra) {
    // The history says what was done through Node-RED (its editor, the
    // admin's storage calls), as the CLI's requests say cli.
    const h = Object.assign({ 'Flowhist-Channel': 'node-red' }, extra);
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    if (this.credentialFingerprint) h['Flowhist-Credential-Fingerprint'] = this.credentialFingerprint;
    return h;
  }

  // gone is the error of a request to URL number at that got no answer
  // (failover 'refused': never sent; 'lost': it may have been).
  gone(at, what, reason, failover) {
    return new FlowhistError(`flowhist: ${what}: ${reason}`, { code: MODULE_CODES.UNAVAILABLE, failover, reason, url: this.urls[at] });
  }

  // answerError is the error of an HTTP error answer from URL number at;
  // a proxy's "gone" status moves the client on.
  answerError(at, what, status, statusText, text) {
    const err = fromAnswer(what, status, statusText, text);
    if (GONE.has(status)) Object.assign(err, { failover: 'lost', reason: `HTTP ${status}`, url: this.urls[at] });
    return err;
  }

  // getJSON fetches path and parses its JSON body.
  async getJSON(path, opts) {
    const res = await this.request('GET', path, opts);
    return { res, body: parseJSON(res.text, `GET ${path.split('?')[0]}`) };
  }
}

// readLines calls onLine with each non-empty line of a body as it arrives
// (the last one may lack its newline), until the body ends or signal
// aborts: then it rejects, and lines already read are not handled. (An
// undici body aborted while nobody reads it can leave a later read pending
// for ever, so the abort is raced rather than left to the body.)
async function readLines(body, signal, onLine) {
  if (!body) return;
  const aborted = new Promise((_, reject) => {
    const fail = () => reject(signal.reason || new Error('aborted'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => {}); // raced below; not every call awaits it
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const lines = new Lines();
  const each = async (line) => {
    if (signal.aborted) throw signal.reason || new Error('aborted');
    await onLine(line);
  };
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) break;
      for (const line of lines.add(decoder.decode(value, { stream: true }))) await each(line);
    }
    for (const line of lines.add(decoder.decode())) await each(line);
    for (const line of lines.end()) await each(line);
  } finally {
    reader.cancel().catch(() => {});
  }
}

// Lines splits text that comes in pieces into its non-empty lines, trimmed.
class Lines {
  constructor() {
    this.buf = '';
  }

  // add returns the lines that text completes.
  add(text) {
    this.buf += text;
    const parts = this.buf.split('\n');
    this.buf = parts.pop();
    return parts.map((l) => l.trim()).filter(Boolean);
  }

  // end returns the last line, which had no newline.
  end() {
    const last = this.buf.trim();
    this.buf = '';
    return last ? [last] : [];
  }
}

function parseJSON(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FlowhistError(`flowhist: ${what}: the answer is not JSON (${e.message})`, { code: MODULE_CODES.BAD_ANSWER });
  }
}

// networkCode is the system or undici error code behind a failed fetch.
function networkCode(e) {
  for (let c = e; c; c = c.cause) if (typeof c.code === 'string' && c.code) return c.code;
  return '';
}

// describeNetworkError names the cause of a failed fetch (undici hides it in
// err.cause, e.g. ECONNREFUSED).
function describeNetworkError(e) {
  const c = e && e.cause;
  if (c && (c.message || c.code)) return c.message || c.code;
  return (e && e.message) || String(e);
}

// userHeader is the Flowhist-User header naming an editor user. A header
// carries bytes, and fetch refuses a character past Latin-1 ("李"): the name
// goes as its UTF-8 bytes, which flowhist reads as UTF-8.
function userHeader(user) {
  return { 'Flowhist-User': Buffer.from(user, 'utf8').toString('latin1') };
}

// probe is a health probe of a rollout (lib/health.js): GET url (this
// Node-RED's own HTTP server, not flowhist) and resolve to the answer's
// status, whatever it is; a network error or no answer within timeout ms
// rejects. The body is read and dropped; no token or header of flowhist's
// is sent.
async function probe(url, timeout) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeout);
  try {
    const res = await fetch(url, { method: 'GET', signal: ac.signal, redirect: 'manual' });
    await res.arrayBuffer();
    return res.status;
  } catch (e) {
    throw new Error(ac.signal.aborted ? `no answer within ${timeout} ms` : describeNetworkError(e));
  } finally {
    clearTimeout(timer);
  }
}

module.exports = { Client, parseRevision, parseJSON, isIdempotent, userHeader, probe };
