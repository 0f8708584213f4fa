'use strict';

// Reading flows and credentials: the same for the admin and workers.

const { parseRevision } = require('./client');
const { FlowhistError, MODULE_CODES } = require('./errors');

// readFlows resolves to {flows, flowsRevision, revision, event}: the plain array
// Node-RED expects, the flows revision (ETag: what a deploy's If-Match
// names) and the namespace revision (Flowhist-Revision: where a worker's
// feed starts).
// ring (a worker's) asks for the ring's target under a rollout policy.
async function readFlows(client, ring) {
  const { res, body } = await client.getJSON('/flows' + ringQuery(ring));
  if (!Array.isArray(body)) {
    throw new FlowhistError('flowhist: GET /flows: the answer is not a JSON array of nodes', { code: MODULE_CODES.BAD_ANSWER });
  }
  return {
    flows: body,
    flowsRevision: parseRevision(res.headers.get('etag')),
    revision: parseRevision(res.headers.get('flowhist-revision')),
    // The id of the event at revision (a worker names it in its feed
    // position and acknowledgements); null from an older flowhist.
    event: res.headers.get('flowhist-event'),
  };
}

// readCredentials resolves to the credentials object as Node-RED saved it
// (normally {"$": "<encrypted>"}), {} when there are none.
async function readCredentials(client, ring) {
  const { body } = await client.getJSON('/credentials' + ringQuery(ring));
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new FlowhistError('flowhist: GET /credentials: the answer is not a JSON object', { code: MODULE_CODES.BAD_ANSWER });
  }
  return body;
}

// ringQuery is the ring= query a worker adds to its reads and feed.
function ringQuery(ring, sep = '?') {
  return typeof ring === 'string' && ring !== '' ? `${sep}ring=${encodeURIComponent(ring)}` : '';
}

module.exports = { readFlows, readCredentials, ringQuery };
