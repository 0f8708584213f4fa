'use strict';

// The module's error vocabulary: flowhist's codes, which the module passes
// on as they come (test/errors.test.js checks them against domain/error.go),
// and the module's own, each for a failure that happens on this side of
// the wire. Every error the module makes is a FlowhistError with one of
// them in `code`.

// CODES are flowhist's error codes: the "code" of its error answers
// (domain/error.go), and what the History plugin's routes answer the
// editor with.
const CODES = Object.freeze({
  INVALID: 'invalid', // the request is malformed; nothing was changed
  NOT_FOUND: 'not_found', // the thing asked for does not exist
  CONFLICT: 'conflict', // an expected revision is stale
  UNAUTHORIZED: 'unauthorized', // no or unknown credentials
  FORBIDDEN: 'forbidden', // known credentials, out of scope
  TOO_LARGE: 'too_large', // the request body is larger than allowed
  TOO_MANY: 'too_many', // a limit of the token or namespace is reached; retry after a while
  UNAVAILABLE: 'unavailable', // flowhist or its Valkey did not answer; retry
  CORRUPT: 'corrupt', // stored data fails its own checksum
  CANCELED: 'canceled', // the caller went away before the answer
  INTERNAL: 'internal', // a bug or an unexpected failure
});

// MODULE_CODES are the module's own codes.
const MODULE_CODES = Object.freeze({
  UNAVAILABLE: 'flowhist_unavailable', // no answer: refused, broken off or timed out
  BAD_ANSWER: 'flowhist_bad_answer', // an answer the module cannot read
  CLOSED: 'flowhist_closed', // the module (or its follower) was stopped
  CONFIG: 'flowhist_config', // settings.flowhist or credentialSecret is wrong
  CONFLICT: 'flowhist_conflict', // a deploy based on flows someone else replaced
  NOT_READY: 'flowhist_not_ready', // the History plugin asked before init
  WORKER: 'flowhist_worker', // a write asked of a worker
});

// FlowhistError is every error of the module. props are copied onto it:
// code (one of the above, or http_<status> for an answer without
// flowhist's JSON), httpStatus, currentRevision (with a conflict), and
// for a flowhist that stopped answering, failover ('refused' or 'lost'),
// reason and url. It deliberately has no `status`: Node-RED's Admin API
// would send that status to the editor (a 409 there opens the editor's
// merge dialog, which compares with the runtime's own flows, not
// flowhist's).
class FlowhistError extends Error {
  constructor(message, props) {
    super(message);
    this.name = 'FlowhistError';
    Object.assign(this, props);
  }
}

// fromAnswer is the FlowhistError of an HTTP error answer: flowhist's
// {"code", "message", "currentRevision"} body, or (a proxy's page) the
// status alone. what names the request ("GET /flows").
function fromAnswer(what, status, statusText, text) {
  let info = {};
  try {
    info = JSON.parse(text) || {};
  } catch (_) {
    // not flowhist's JSON (a proxy's page): keep the status only
  }
  const code = typeof info.code === 'string' && info.code ? info.code : `http_${status}`;
  const message = typeof info.message === 'string' && info.message ? info.message : statusText || 'error';
  // answer is flowhist's own message, for a caller that words the error
  // for its reader (the admin's refused deploy).
  const props = { httpStatus: status, code, answer: message };
  if (info.currentRevision !== undefined) props.currentRevision = info.currentRevision;
  return new FlowhistError(`flowhist: ${what}: HTTP ${status} ${code}: ${message}`, props);
}

module.exports = { CODES, MODULE_CODES, FlowhistError, fromAnswer };
