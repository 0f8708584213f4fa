'use strict';

// The one HTTP client: its plain requests and the duplex feed read error
// answers alike, and the duplex feed moves between replicas as requests do.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Client } = require('../lib/client');
const { startFake, failure, NS } = require('./fake-flowhist');

const TOKEN = 'tok-client-0123456789abcdef';

async function setup(t, n = 1) {
  const fakes = [await startFake({ stream: true })];
  for (let i = 1; i < n; i++) fakes.push(await startFake({ stream: true, shareWith: fakes[0] }));
  const c = new Client({ urls: fakes.map((f) => f.url), namespace: NS, token: TOKEN, retryFor: 500, retryDelay: 1, retryMaxDelay: 5, requestTimeout: 2000 });
  t.after(async () => {
    c.close();
    for (const f of fakes) await f.close();
  });
  return { fakes, c };
}

const FEED = '/feed?worker=w1&after=0&wait=100ms&stream=1';

test('a request and the duplex feed read an error answer alike, currentRevision included', async (t) => {
  const { fakes, c } = await setup(t);
  const conflict = () => failure(409, 'conflict', 'flows changed since it was read', { currentRevision: 5 });
  fakes[0].route('POST /feed', conflict);
  fakes[0].route('GET /feed', conflict);
  const want = { name: 'FlowhistError', httpStatus: 409, code: 'conflict', currentRevision: 5 };
  await assert.rejects(c.duplex(FEED, { onLine: () => {} }), want);
  await assert.rejects(c.request('GET', FEED, { retry: false }), want);
});

test('the duplex feed hands each line on in order and sends lines on its body while the answer is open', async (t) => {
  const { fakes, c } = await setup(t);
  const [fake] = fakes;
  fake.append({ flows: [{ id: 'a' }] });
  const got = [];
  let send = null;
  await c.duplex(FEED, {
    onOpen: (s) => (send = s),
    onLine: async (line) => {
      got.push(JSON.parse(line).revision);
      assert.equal(send(JSON.stringify({ ack: 1 })), true, 'send while the answer is open');
      await fake.waitFor((r) => r.path === '/feed/ack' && r.via === 'body', 2000, 'the ack on the body');
    },
  });
  assert.deepEqual(got, [1]);
  assert.equal(send(JSON.stringify({ ack: 2 })), false, 'send after the answer ended');
  const feed = fake.requests.find((r) => r.method === 'POST' && r.path === '/feed');
  assert.equal(feed.headers.authorization, `Bearer ${TOKEN}`);
});

test('a duplex feed refused by one replica goes to the next at once; a 4xx does not move', async (t) => {
  const { fakes, c } = await setup(t, 2);
  const [a, b] = fakes;
  await a.stop();
  await c.duplex(FEED, { onLine: () => {} });
  assert.equal(c.url, b.url);
  b.route('POST /feed', () => failure(403, 'forbidden', 'token reader lacks the read scope'));
  await assert.rejects(c.duplex(FEED, { onLine: () => {} }), { httpStatus: 403, code: 'forbidden' });
  assert.equal(c.url, b.url);
});
