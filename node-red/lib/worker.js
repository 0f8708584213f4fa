'use strict';

// A worker follows its namespace through flowhist's feed and reloads its
// flows in-process when they change.
//
// The feed is this worker's consumer group (worker:<id>) on the namespace's
// log, created at the revision the worker restored at start-up, so nothing
// deployed between restore and subscribe is missed. Each poll answers the
// newest revision delivered and whether any delivered entry changed flows
// or credentials; entries delivered but not acknowledged (a worker that
// died mid-reload) come back first. The worker compares revisions rather
// than trusting that it saw every message: it reloads only when a delivered
// flows change is newer than what it runs, coalesces a burst into one more
// reload to the newest, and acknowledges only after the reload succeeded.
// Network errors and 5xx answers are retried forever with backoff.
//
// Positions name the event, not just its number: each news line carries
// the id of the event at its revision, GET /flows names the one it read
// (Flowhist-Event), and the worker sends the id with each acknowledgement
// ({"ack": REV, "id": ID}) and with the revision it asks after (afterId).
// A failover that loses a write can give its revision number to another
// event; then flowhist refuses the acknowledgement and answers a reset
// ({"reset": true, "revision": HEAD, "id": …}): the worker reloads
// everything at the head (flows and credentials with a full restart, and
// its packages), logs it once, and acknowledges the head.
//
// The feed is one streamed request, POST …/feed: news comes as lines of
// the answer, and the worker's acknowledgements go as lines of the
// request's own body, {"ack": REV, "id": ID}, while the answer streams (the
// client's duplex request). A deploy costs flowhist a line to each worker
// and a line back, not a request per acknowledgement. An acknowledgement
// made when no feed answer is open goes as POST …/feed/ack; a flowhist
// without POST …/feed (404, 405) is followed with GET …/feed?stream=1 and
// POST …/feed/ack. Every request goes through the client (lib/client.js),
// which moves between flowhist replicas.
//
// A worker names its ring (ring=R on the feed and its reads). Under a
// staged rollout policy each news names the target of the worker's ring
// ({revision, id}: the flows it must run, which may be older than the
// head): the worker reloads when the target's id differs from the event
// its flows were read at (Flowhist-Event), whatever `flows` says, and
// acknowledges the news as usual (flowhist's docs/rollout.md).

const { backoffDelay, sleep } = require('./backoff');
const { parseJSON } = require('./client');
const { FlowhistError, MODULE_CODES } = require('./errors');

class Follower {
  // opts: client, log, workerId, who (how the log names this follower),
  // recover (() => Promise: loads the flows after a failed start-up load;
  // default reload),
  // reload ((target) => Promise: applies flowhist's flows to Node-RED,
  // resolving to the namespace revision applied, or to undefined when the
  // storage module's getFlows saw it), onPackages ((revision) => void: a
  // packages change was delivered; optional), feedWait, requestTimeout,
  // retryDelay, retryMaxDelay.
  constructor(opts) {
    Object.assign(this, {
      client: opts.client,
      log: opts.log,
      workerId: opts.workerId,
      who: opts.who || `worker ${opts.workerId}`,
      onPackages: opts.onPackages,
      ring: opts.ring, // a worker's ring; the admin has none and follows the head
      onTarget: opts.onTarget, // (target|null) => void: told each news's target
      reloadFlows: opts.reload,
      // recover loads the flows when Node-RED's start-up load failed (then
      // there are no running flows to diff against): loadFlows(true).
      recoverFlows: opts.recover || opts.reload,
      feedWait: opts.feedWait,
      requestTimeout: opts.requestTimeout,
      retryDelay: opts.retryDelay,
      retryMaxDelay: opts.retryMaxDelay,
    });
    this.started = false;
    this.stopped = false;
    this.stopper = new AbortController();
    this.stoppedPromise = new Promise((resolve) => this.stopper.signal.addEventListener('abort', resolve, { once: true }));
    this.loaded = null; // namespace revision of the flows this worker runs
    this.loadedId = null; // its event's id, when known
    this.seen = 0; // newest revision the feed delivered
    this.seenId = null; // its event's id
    this.readAt = null; // {revision, id}: what the last GET /flows named
    this.resetting = false; // a reset is being applied (logged once)
    this.wanted = 0; // newest delivered revision that changed flows or credentials
    this.target = null; // {revision, id}: the ring's target under a rollout policy
    this.packagesSeen = 0;
    this.ownReload = false; // a reload of ours is reading the flows
    this.lastRead = undefined; // the namespace revision that reload read
    this.loop = null;
    this.reloading = null;
    this.recovering = null;
    this.duplex = opts.duplex !== false; // follow with POST …/feed
    this.send = null; // (line) => bool: writes a line on the open feed request's body
  }

  // read is told the namespace revision of every successful GET /flows.
  // The first one (Node-RED's start-up load) starts following from there.
  // event is the id of the event at revision (Flowhist-Event), if named.
  read(revision, event) {
    this.identify(revision, event);
    if (this.ownReload) {
      this.lastRead = revision;
      return;
    }
    if (revision !== null) {
      this.loaded = revision; // start-up, or "Restart Flows"
      this.loadedId = this.idOf(revision);
    }
    if (!this.started) this.start(revision === null ? 0 : revision);
  }

  // identify is told the event id a read of the flows named (an apply
  // reads them without Node-RED's getFlows).
  identify(revision, event) {
    if (typeof revision === 'number') this.readAt = { revision, id: typeof event === 'string' && event ? event : null };
  }

  // idOf is the event id at revision as far as this worker knows: what the
  // feed or the last read of the flows named; null when unknown.
  idOf(revision) {
    if (this.readAt && this.readAt.revision === revision && this.readAt.id) return this.readAt.id;
    if (revision === this.seen && this.seenId) return this.seenId;
    return null;
  }

  // wrote is told the namespace revision of a write this Node-RED made (the
  // admin's deploy): its runtime already runs it, so that revision is
  // acknowledged when delivered, not applied again.
  wrote(revision) {
    if (typeof revision === 'number' && revision > this.loadedOr()) {
      this.loaded = revision;
      this.loadedId = this.idOf(revision);
    }
  }

  // readFailed is told when a GET /flows failed. If Node-RED's start-up load
  // failed, the worker has no flows: keep reloading until flowhist answers,
  // then follow.
  readFailed(err) {
    if (this.started || this.recovering || this.ownReload || this.stopped) return;
    this.log.warn(`could not load the flows; retrying until flowhist answers: ${err.message}`);
    this.recovering = (async () => {
      await null; // so that the assignment above happens before the end below
      for (let attempt = 0; !this.stopped && !this.started; attempt++) {
        if (!(await this.pause(attempt))) break;
        try {
          await this.reloadOnce(undefined, this.recoverFlows);
        } catch (e) {
          this.log.debug(`loading the flows failed again: ${e.message}`);
          continue;
        }
        this.start(this.loaded === null ? 0 : this.loaded);
      }
      this.recovering = null;
    })();
  }

  start(after) {
    if (this.started || this.stopped) return;
    this.started = true;
    if (this.loaded === null) this.loaded = after;
    this.log.info(`${this.who} follows the namespace from revision ${after}`);
    this.loop = this.poll();
  }

  async poll() {
    let failing = false;
    let attempt = 0;
    const answered = () => {
      if (failing) this.log.info('the feed answers again; following');
      failing = false;
      attempt = 0;
    };
    let quick = 0; // answers in a row that ended at once with no news
    while (!this.stopped) {
      try {
        const since = Date.now();
        const news = await this.follow(answered);
        quick = news || Date.now() - since >= Math.min(1000, this.feedWait / 2) ? 0 : quick + 1;
        // A flowhist shutting down ends feeds at once: do not ask again in
        // a tight loop.
        if (quick > 0 && !(await this.pause(quick - 1))) break;
      } catch (err) {
        if (this.stopped) break;
        if (!failing) this.log.warn(`following the feed failed; retrying until it answers: ${err.message}`);
        else this.log.debug(`the feed still fails: ${err.message}`);
        const first = !failing;
        failing = true;
        // The replica followed went away and the client moved to the next
        // URL: ask that one at once. A second failure in a row waits.
        if (first && err.failover && this.client.urls.length > 1) continue;
        if (!(await this.pause(attempt++))) break;
      }
    }
  }

  // follow reads one feed answer, streamed (stream=1): a line of news per
  // burst, each handled before the next is read, until flowhist ends the
  // answer after the wait. A deploy then costs flowhist one write to this
  // worker instead of an answer and a new poll. answered is called once
  // flowhist has answered. It resolves to whether any news came.
  async follow(answered) {
    let news = false;
    const after = this.loaded === null ? 0 : this.loaded;
    const wait = this.feedWait % 1000 === 0 ? `${this.feedWait / 1000}s` : `${Math.ceil(this.feedWait)}ms`;
    const afterId = after > 0 && this.loadedId ? `&afterId=${encodeURIComponent(this.loadedId)}` : '';
    const ring = this.ring ? `&ring=${encodeURIComponent(this.ring)}` : '';
    const path = `/feed?worker=${encodeURIComponent(this.workerId)}${ring}&after=${after}${afterId}&wait=${wait}&stream=1`;
    const onLine = async (line) => {
      answered();
      news = true;
      await this.handle(parseNews(line));
    };
    let probing = false; // POST /feed got no answer: does GET /feed get one?
    if (this.duplex) {
      try {
        await this.client.duplex(path, {
          onLine,
          onOpen: (send) => (this.send = send),
          timeout: this.feedWait + this.requestTimeout,
          signal: this.stopper.signal,
        });
        answered();
        return news;
      } catch (err) {
        if (!news && err.noAnswer) {
          probing = true;
        } else if (news || !(err.httpStatus === 404 || err.httpStatus === 405)) {
          throw err;
        } else {
          this.duplex = false;
          this.log.info('flowhist has no POST /feed: following with GET /feed and acknowledging with POST /feed/ack');
        }
      } finally {
        this.send = null;
      }
    }
    await this.client.request('GET', path, {
      retry: false,
      timeout: this.feedWait + this.requestTimeout,
      signal: this.stopper.signal,
      onLine,
    });
    answered();
    if (probing) {
      // flowhist answers a feed request's headers at once; GET had them
      // and POST did not: something in between holds request bodies until
      // they end.
      this.duplex = false;
      this.log.warn(
        'POST /feed got no answer within requestTimeout while GET /feed did: a proxy between here and flowhist holds request bodies until they end ' +
          '(nginx: proxy_request_buffering off, proxy_http_version 1.1 to fix); following with GET /feed and acknowledging with POST /feed/ack',
      );
    }
    return news;
  }

  async handle(news) {
    if (news.reset) return this.reset(news);
    const rev = news.revision;
    this.log.debug(`feed: news up to revision ${rev}${news.flows ? ', flows changed' : ''}`);
    const fresh = rev > this.seen;
    if (fresh || rev === this.seen) {
      this.seen = rev;
      this.seenId = news.id;
    }
    if (news.packages && rev > this.packagesSeen) {
      this.packagesSeen = rev;
      if (this.onPackages) this.onPackages(rev);
    }
    if (this.ring) this.staged(news);
    if (news.flows && rev > this.loadedOr() && rev > this.wanted) this.wanted = rev;
    if (this.needsReload() || this.reloading) {
      this.ensureReloading(); // it acknowledges when done
      // A repeat of what was delivered (the group hands back unacknowledged
      // entries first) means nothing new: wait for the reload rather than
      // poll in a tight loop.
      if (!fresh) await Promise.race([this.reloading, this.stoppedPromise]);
      return;
    }
    await this.ack(rev);
  }

  // staged notes a news's target (a rollout policy); a target gone (the
  // policy removed) means the head again: reload at it.
  staged(news) {
    const t = news.target;
    if (t) {
      this.target = t;
    } else if (this.target) {
      this.target = null;
      if (news.revision > this.wanted) this.wanted = news.revision;
      this.loaded = Math.min(this.loadedOr(), news.revision - 1);
    }
    if (this.onTarget) this.onTarget(this.target);
  }

  // needsReload: the flows run are not what this worker must run: under a
  // rollout, its ring's target; otherwise the newest delivered flows change.
  needsReload() {
    if (this.target) return this.loadedId !== this.target.id;
    return this.wanted > this.loadedOr();
  }

  // reset: flowhist's log does not hold what this worker runs (Valkey lost
  // a write it had been told of). Everything is reloaded at the head:
  // flows and credentials with a full restart, packages, then the head is
  // acknowledged. Logged once per reset, however many reset lines come.
  async reset(news) {
    const rev = news.revision;
    if (!this.resetting) {
      this.log.warn(
        `flowhist's log no longer holds revision ${this.loadedOr() < 0 ? this.seen : Math.max(this.loadedOr(), this.seen)} that this worker was told of ` +
          `(Valkey lost a write in a failover or was restored): reloading flows, credentials and packages at revision ${rev}`,
      );
    }
    this.resetting = true;
    if (this.ring) this.staged(news);
    this.seen = rev;
    this.seenId = news.id;
    this.loaded = null;
    this.loadedId = null;
    this.wanted = rev;
    this.packagesSeen = rev;
    if (this.onPackages) this.onPackages(rev);
    this.ensureReloading();
    await Promise.race([this.reloading, this.stoppedPromise]);
  }

  // ensureReloading runs the one reload loop: reload until the flows loaded
  // are at least the newest delivered flows change, then acknowledge
  // everything delivered.
  ensureReloading() {
    if (this.reloading) return;
    this.reloading = (async () => {
      await null; // so that the assignment above happens before the end below
      let attempt = 0;
      while (!this.stopped) {
        if (this.needsReload()) {
          const target = this.wanted;
          const want = this.target; // under a rollout: the position to run
          try {
            // A reset restarts everything (recover: Node-RED's full
            // load), not only the nodes that differ from what runs.
            await this.reloadOnce(target, this.resetting ? this.recoverFlows : this.reloadFlows);
          } catch (err) {
            this.log.warn(`reloading the flows for revision ${target} failed; retrying: ${err.message}`);
            if (!(await this.pause(attempt++))) break;
            continue;
          }
          if (want ? this.loadedId !== want.id : this.loaded < target) {
            // flowhist answered an older state than it announced (a replica
            // still projecting): read again shortly.
            this.log.debug(`read revision ${this.loaded}, expected ${target}; reloading again`);
            if (!(await this.pause(attempt++))) break;
          } else {
            attempt = 0;
            if (this.lastSkipped) this.log.debug(`revision ${target} is this instance's own write: nothing to apply`);
            else this.log.info(`reloaded the flows at revision ${this.loaded}`);
          }
          continue;
        }
        const upTo = this.seen;
        try {
          await this.ack(upTo);
          if (this.resetting) this.log.info(`reset done: running revision ${this.loaded} as flowhist's log holds it`);
          this.resetting = false;
        } catch (err) {
          // The group hands the entries back on the next poll, and the
          // comparison acknowledges them then.
          if (!this.stopped) this.log.warn(`acknowledging revision ${upTo} failed: ${err.message}`);
        }
        if (!this.needsReload()) break;
      }
      this.reloading = null;
    })();
  }

  // reloadOnce restarts Node-RED's flows from flowhist and records the
  // revision read (target when flowhist sent none).
  async reloadOnce(target, how = this.reloadFlows) {
    this.ownReload = true;
    this.lastRead = undefined;
    let applied;
    try {
      applied = await how(target);
    } finally {
      this.ownReload = false;
    }
    // reload may answer {revision, skipped}: skipped when nothing needed
    // applying (the admin's own write covered the target).
    let skipped = false;
    if (applied && typeof applied === 'object') {
      skipped = applied.skipped === true;
      applied = applied.revision;
    }
    this.lastSkipped = skipped;
    const got = typeof applied === 'number' ? applied : this.lastRead;
    // Under a rollout the target may be older than what ran (a rollback's
    // base): what was read is what runs.
    if (typeof got === 'number') this.loaded = this.target ? got : Math.max(this.loadedOr(), got);
    else if (target !== undefined) this.loaded = target;
    this.loadedId = this.loaded === null ? null : this.idOf(this.loaded);
  }

  // ack acknowledges rev, naming its event when known: on the open feed
  // request's body when there is one, else with a request of its own.
  async ack(rev) {
    const id = this.idOf(rev);
    const line = id ? { ack: rev, id } : { ack: rev };
    if (this.send && this.send(JSON.stringify(line))) return;
    const json = { worker: this.workerId, revision: rev };
    if (id) json.id = id;
    await this.client.request('POST', '/feed/ack', {
      json,
      retry: false,
      signal: this.stopper.signal,
    });
  }

  loadedOr() {
    return this.loaded === null ? -1 : this.loaded;
  }

  // pause waits out the backoff for attempt; false when stopped meanwhile.
  async pause(attempt) {
    try {
      await sleep(backoffDelay(attempt, this.retryDelay, this.retryMaxDelay), this.stopper.signal, true);
      return !this.stopped;
    } catch (_) {
      return false;
    }
  }

  // stop ends following: aborts the poll in flight and waits for the loops
  // (a reload already running inside Node-RED is waited for).
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.stopper.abort(new FlowhistError('flowhist: the worker stopped following', { code: MODULE_CODES.CLOSED }));
    await Promise.allSettled([this.loop, this.reloading, this.recovering].filter(Boolean));
  }
}

// parseNews reads one line of the feed.
function parseNews(line) {
  const body = parseJSON(line, 'GET /feed');
  if (!body || !Number.isSafeInteger(body.revision) || body.revision < 0) {
    throw new FlowhistError('flowhist: GET /feed: the answer has no revision', { code: MODULE_CODES.BAD_ANSWER });
  }
  const id = typeof body.id === 'string' && EVENT_ID.test(body.id) ? body.id : null;
  const t = body.target;
  const target =
    t && typeof t === 'object' && Number.isSafeInteger(t.revision) && t.revision >= 0 && typeof t.id === 'string' && EVENT_ID.test(t.id) ? { revision: t.revision, id: t.id } : null;
  return { revision: body.revision, id, flows: body.flows === true, packages: body.packages === true, reset: body.reset === true, target };
}

// EVENT_ID is what an event id may look like (a UUID); anything else is
// not sent back.
const EVENT_ID = /^[0-9A-Fa-f-]{1,64}$/;

module.exports = { Follower };
