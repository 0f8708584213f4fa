'use strict';

// HTTP access to one flowhist namespace, with retries.
//
// A request is retried, with exponential backoff, on network errors,
// timeouts and 5xx answers until retryFor has passed; a 4xx answer is final.
// Errors are FlowhistError: httpStatus and code come from flowhist's
// {"code", "message"} body. They deliberately have no `status` property:
// Node-RED's Admin API would send that status to the editor (a 409 there
// opens the editor's merge dialog, which compares with the runtime's own
// flows, not flowhist's).

const { backoffDelay, sleep } = require('./backoff');

class FlowhistError extends Error {
  constructor(message, props) {
    super(message);
    this.name = 'FlowhistError';
    Object.assign(this, props);
  }
}

// isRetryable reports whether a failed request may succeed when repeated.
function isRetryable(err) {
  return err instanceof FlowhistError && (err.httpStatus === undefined || err.httpStatus >= 500);
}

// parseRevision reads a revision from an ETag ("12", W/"12") or a
// Flowhist-Revision header; null when absent or malformed.
function parseRevision(v) {
  if (v === null || v === undefined) return null;
  const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(String(v));
  return m ? Number(m[1]) : null;
}

class Client {
  // opts: url, namespace, token, retryFor, retryDelay, retryMaxDelay,
  // requestTimeout, log.
  constructor(opts) {
    this.base = `${opts.url}/v1/namespaces/${encodeURIComponent(opts.namespace)}`;
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
    this.closer.abort(new FlowhistError('flowhist: the storage module was closed', { code: 'flowhist_closed' }));
  }

  get closed() {
    return this.closer.signal.aborted;
  }

  // request sends method path (relative to the namespace) and resolves to
  // {status, headers, text} for any 2xx/3xx answer.
  // opts: json (body, sent as JSON), headers, retry (default true),
  // timeout (ms, default requestTimeout, for the whole answer), signal (an
  // extra abort signal), onLine (async (line) => …: the answer is read as it
  // comes, one call per non-empty line, awaited in order; text is then '').
  async request(method, path, opts = {}) {
    const retry = opts.retry !== false;
    const deadline = Date.now() + this.retryFor;
    for (let attempt = 0; ; attempt++) {
      let err;
      try {
        return await this.once(method, path, opts);
      } catch (e) {
        err = e;
      }
      if (this.closed || (opts.signal && opts.signal.aborted) || !retry || !isRetryable(err)) throw err;
      const delay = backoffDelay(attempt, this.retryDelay, this.retryMaxDelay);
      if (Date.now() + delay > deadline) {
        err.message += ` (gave up after ${Math.round((Date.now() - (deadline - this.retryFor)) / 1000)} s of retries)`;
        throw err;
      }
      if (attempt === 0 && this.log) this.log.warn(`${err.message}; retrying`);
      await sleep(delay, this.closer.signal);
    }
  }

  // once sends one request; a network error, timeout or HTTP error rejects.
  async once(method, path, opts) {
    const headers = Object.assign({}, opts.headers);
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
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
      res = await fetch(this.base + path, { method, headers, body, signal: ac.signal });
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
      throw new FlowhistError(`flowhist: ${what}: ${reason}`, { code: 'flowhist_unavailable' });
    } finally {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', onAbort);
    }
    if (res.status >= 400) {
      let info = {};
      try {
        info = JSON.parse(text) || {};
      } catch (_) {
        // not flowhist's JSON (a proxy's page): keep the status only
      }
      const code = typeof info.code === 'string' && info.code ? info.code : `http_${res.status}`;
      const message = typeof info.message === 'string' && info.message ? info.message : res.statusText || 'error';
      const props = { httpStatus: res.status, code };
      if (info.currentRevision !== undefined) props.currentRevision = info.currentRevision;
      throw new FlowhistError(`flowhist: ${what}: HTTP ${res.status} ${code}: ${message}`, props);
    }
    return { status: res.status, headers: res.headers, text };
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
  let buf = '';
  const each = async (line) => {
    if (signal.aborted) throw signal.reason || new Error('aborted');
    await onLine(line);
  };
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line) await each(line);
      }
    }
    buf = (buf + decoder.decode()).trim();
    if (buf) await each(buf);
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseJSON(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FlowhistError(`flowhist: ${what}: the answer is not JSON (${e.message})`, { code: 'flowhist_bad_answer' });
  }
}

// describeNetworkError names the cause of a failed fetch (undici hides it in
// err.cause, e.g. ECONNREFUSED).
function describeNetworkError(e) {
  const c = e && e.cause;
  if (c && (c.message || c.code)) return c.message || c.code;
  return (e && e.message) || String(e);
}

module.exports = { Client, FlowhistError, parseRevision, parseJSON };
