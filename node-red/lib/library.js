'use strict';

// Node-RED's library (functions, templates, flows, …) in flowhist.
//
// Mirrors Node-RED's own file-system library where the contract leaves a
// choice: a missing directory asked for as "" or "dir/" lists as empty, and
// flows entries are stored with a ".json" suffix (found with or without it).

const { FlowhistError, CODES, MODULE_CODES } = require('./errors');

function forbidden(path) {
  const err = new Error(`flowhist: library path ${JSON.stringify(path)} contains '..'`);
  err.code = CODES.FORBIDDEN;
  return err;
}

function notFound(type, path) {
  const err = new Error(`flowhist: library ${type} has no entry ${JSON.stringify(path)}`);
  err.code = CODES.NOT_FOUND;
  return err;
}

function checkPath(path) {
  if (typeof path !== 'string') throw new TypeError('flowhist: library path must be a string');
  if (path.split(/[\\/]/).includes('..')) throw forbidden(path);
}

function entryPath(type, path) {
  return `/library/${encodeURIComponent(type)}?path=${encodeURIComponent(path)}`;
}

class Library {
  constructor(client) {
    this.client = client;
  }

  // getLibraryEntry resolves to an entry's body (a string) or a directory's
  // listing (sub-directory names, then {fn, ...meta}); a missing entry
  // rejects with code "not_found".
  async getLibraryEntry(type, path) {
    checkPath(path);
    try {
      return await this.get(type, path);
    } catch (err) {
      if (err.httpStatus !== 404) throw err;
      if (path === '' || path.endsWith('/')) return [];
      if (type === 'flows' && !path.endsWith('.json')) {
        try {
          return await this.get(type, path + '.json');
        } catch (e) {
          if (e.httpStatus !== 404) throw e;
        }
      }
      throw notFound(type, path);
    }
  }

  async get(type, path) {
    const { body } = await this.client.getJSON(entryPath(type, path));
    if (body && typeof body.body === 'string') return body.body;
    if (body && Array.isArray(body.listing)) return body.listing;
    throw new FlowhistError(`flowhist: GET /library/${type}: the answer has neither "body" nor "listing"`, { code: MODULE_CODES.BAD_ANSWER });
  }

  async saveLibraryEntry(type, path, meta, body) {
    checkPath(path);
    if (type === 'flows' && !path.endsWith('.json')) path += '.json';
    await this.client.request('PUT', entryPath(type, path), {
      json: { meta: meta || {}, body: typeof body === 'string' ? body : JSON.stringify(body) },
    });
  }
}

module.exports = { Library, checkPath };
