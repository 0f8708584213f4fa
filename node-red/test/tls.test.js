'use strict';

// TLS to flowhist: a private CA (settings.flowhist.ca) and a client
// certificate (cert, key), against a real https server that requires one,
// for plain requests and for the duplex feed.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');
const { Client } = require('../lib/client');
const { parseConfig } = require('../lib/config');

const dir = path.join(__dirname, 'testdata', 'tls');
const pem = (f) => fs.readFileSync(path.join(dir, f));
const NS = 'tls-test';

// startHTTPS starts an https server that requires a client certificate from
// the test CA and answers GET …/flows with the certificate's CN, and POST
// …/feed with one line.
async function startHTTPS(t) {
  const srv = https.createServer({ cert: pem('server.pem'), key: pem('server-key.pem'), ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (req, res) => {
    const cn = req.socket.getPeerCertificate().subject.CN;
    if (req.method === 'POST' && req.url.startsWith(`/v1/namespaces/${NS}/feed`)) {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.end(JSON.stringify({ revision: 1, events: 1, cn }) + '\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', ETag: '"1"' });
    res.end(JSON.stringify([{ id: 'n1', type: 'tab', label: cn }]));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }));
  return `https://127.0.0.1:${srv.address().port}`;
}

function client(t, url, tls) {
  const c = new Client({ url, namespace: NS, retryFor: 0, retryDelay: 1, retryMaxDelay: 1, requestTimeout: 5000, tls });
  t.after(() => c.close());
  return c;
}

test('with ca, cert and key from settings (paths), requests and the duplex feed reach an https flowhist that requires a client certificate', async (t) => {
  const url = await startHTTPS(t);
  const cfg = parseConfig({ credentialSecret: 'x', flowhist: { url, namespace: NS, role: 'worker', workerId: 'edge-1', ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'client.pem'), key: path.join(dir, 'client-key.pem') } });
  const c = client(t, url, cfg.tls);
  const res = await c.request('GET', '/flows');
  assert.equal(JSON.parse(res.text)[0].label, 'edge-1');
  const lines = [];
  await c.duplex('/feed?worker=edge-1&stream=1', { onLine: (l) => lines.push(JSON.parse(l).cn) });
  assert.deepEqual(lines, ['edge-1']);
});

test('PEM text works as well as a path', async (t) => {
  const url = await startHTTPS(t);
  const cfg = parseConfig({ credentialSecret: 'x', flowhist: { url, namespace: NS, role: 'worker', workerId: 'w', ca: pem('ca.pem').toString(), cert: pem('client.pem'), key: pem('client-key.pem').toString() } });
  const res = await client(t, url, cfg.tls).request('GET', '/flows');
  assert.equal(res.status, 200);
});

test('without the CA the server certificate is refused; without a client certificate the server refuses', async (t) => {
  const url = await startHTTPS(t);
  await assert.rejects(client(t, url, undefined).request('GET', '/flows', { retry: false }), (e) => /certificate/i.test(e.message));
  await assert.rejects(client(t, url, { ca: pem('ca.pem') }).request('GET', '/flows', { retry: false }), (e) => e.name === 'FlowhistError');
});

test('settings errors name the option and never show a PEM', () => {
  const base = { url: 'https://127.0.0.1:1', namespace: NS, role: 'worker', workerId: 'w' };
  assert.throws(() => parseConfig({ credentialSecret: 'x', flowhist: Object.assign({}, base, { cert: pem('client.pem') }) }), /settings\.flowhist\.cert and settings\.flowhist\.key go together/);
  assert.throws(() => parseConfig({ credentialSecret: 'x', flowhist: Object.assign({}, base, { ca: '/nonexistent/ca.pem' }) }), /settings\.flowhist\.ca: cannot read/);
  assert.throws(() => parseConfig({ credentialSecret: 'x', flowhist: Object.assign({}, base, { ca: 42 }) }), /settings\.flowhist\.ca must be PEM/);
  assert.equal(parseConfig({ credentialSecret: 'x', flowhist: base }).tls, undefined);
});
