'use strict';

// node-red-storage-flowhist: Node-RED's storage module on flowhist.
//
//   storageModule: require('node-red-storage-flowhist'),
//   credentialSecret: process.env.NODE_RED_CREDENTIAL_SECRET,
//   flowhist: { url, token, namespace, role: 'admin' | 'worker', workerId }
//   (url: one flowhist URL, or a list of replicas' URLs: an array, or one
//   string with commas)
//
// This file wires the parts in lib/: the HTTP client, the admin's writes,
// the feed follower (a worker's and the admin's: both apply what others
// wrote), applying a revision, a worker's packages, settings and the
// library.

const { parseConfig } = require('./lib/config');
const { createLogger } = require('./lib/log');
const { Client } = require('./lib/client');
const { MODULE_CODES } = require('./lib/errors');
const { readFlows, readCredentials } = require('./lib/flows');
const { Admin } = require('./lib/admin');
const { Follower } = require('./lib/worker');
const { SharedSettings, LocalSettings } = require('./lib/settings');
const { Applier } = require('./lib/apply');
const { Packages } = require('./lib/packages');
const { Library } = require('./lib/library');
const { Projects, projectsFacade } = require('./lib/projects');
const { credentialFingerprint } = require('./lib/fingerprint');
const { Health } = require('./lib/health');

function workerRefusal(what) {
  const err = new Error(`flowhist: this Node-RED is a worker (role 'worker'); ${what}`);
  err.code = MODULE_CODES.WORKER;
  return err;
}

// createStorage returns a fresh storage module. Node-RED uses the one this
// package exports; tests make their own.
function createStorage() {
  let s = null; // {config, log, client, admin, follower, applier, packages, settings, library}

  function state() {
    if (!s) throw new Error('flowhist: the storage module was used before init');
    return s;
  }

  async function close() {
    const cur = s;
    s = null;
    if (!cur) return;
    if (cur.admin) cur.admin.close();
    if (cur.follower) await cur.follower.stop();
    if (cur.packages) await cur.packages.stop();
    if (cur.health) cur.health.stop();
    cur.client.close();
  }

  // Node-RED checks for these with hasOwnProperty: they must be own
  // properties of the exported object.
  const storage = {
    async init(settings, runtime) {
      await close();
      const config = parseConfig(settings);
      const log = createLogger(runtime && runtime.log);
      // The admin reports its credential secret's fingerprint (never the
      // secret): a promotion copies credentials only between namespaces
      // with the same one.
      const fingerprint = config.role === 'admin' ? credentialFingerprint(config.credentialSecret) : undefined;
      const client = new Client(Object.assign({ log, credentialFingerprint: fingerprint }, config));
      const next = { config, log, client, library: new Library(client) };
      const nodes = runtime && runtime.nodes;
      const need = config.reload === 'full' ? ['loadFlows'] : ['loadFlows', 'setFlows', 'getCredentials'];
      for (const fn of need) {
        if (!nodes || typeof nodes[fn] !== 'function') {
          throw new Error(`flowhist: runtime.nodes.${fn} is missing: this Node-RED version cannot apply flows from flowhist (try flowhist.reload: 'full')`);
        }
      }
      // A worker names its ring on every read of the flows: with a rollout
      // policy flowhist answers the ring's target, not the head.
      const ring = config.role === 'worker' ? config.ring : undefined;
      next.ring = ring;
      next.applier = new Applier({
        client,
        ring,
        nodes,
        mode: config.reload,
        credentialSecret: config.credentialSecret,
        onRead: (r) => {
          if (next.follower) next.follower.identify(r.revision, r.event);
          if (next.health) next.health.applied(r.revision, r.event);
          if (next.admin) {
            next.admin.read(r.flowsRevision);
            next.admin.credentialsRead();
          }
        },
      });
      const followerOpts = {
        client,
        log,
        workerId: config.workerId,
        feedWait: config.feedWait,
        requestTimeout: config.requestTimeout,
        retryDelay: config.retryDelay,
        retryMaxDelay: config.retryMaxDelay,
      };
      if (config.role === 'admin') {
        next.admin = new Admin({
          client,
          log,
          credentialsDelay: config.credentialsDelay,
          onWrote: (rev) => next.follower.wrote(rev),
        });
        next.settings = new SharedSettings(client);
        if (settings && settings.editorTheme && settings.editorTheme.projects && settings.editorTheme.projects.enabled === true) {
          next.projects = new Projects({ client, log, settings, runtime });
          await next.projects.init();
          next.projectsApi = next.projects.api();
        }
        // The admin applies revisions it did not write (a rollback, another
        // admin's deploy) between its own writes; a revision its own write
        // already covers is skipped. Packages news is the admin's own.
        next.follower = new Follower(Object.assign(followerOpts, {
          who: `admin (feed consumer ${config.workerId})`,
          recover: () => nodes.loadFlows(true),
          reload: (target) =>
            next.admin.apply(async () => {
              if (target !== undefined && next.follower.loadedOr() >= target) {
                return { skipped: true, revision: next.follower.loaded };
              }
              const revision = await next.applier.apply();
              log.info(`applied namespace revision ${revision === undefined ? target : revision}, written elsewhere (reload: ${config.reload})`);
              return { skipped: false, revision };
            }),
        }));
      } else {
        if (config.packages) {
          const ok = nodes && typeof nodes.installModule === 'function' && typeof nodes.uninstallModule === 'function';
          if (!ok) throw new Error('flowhist: runtime.nodes.installModule is missing: this Node-RED cannot install packages (set flowhist.packages: false)');
          next.packages = new Packages({
            client,
            nodes,
            log,
            runtimeLog: runtime && runtime.log,
            workerId: config.workerId,
            retryDelay: config.packagesRetryDelay,
            retryMaxDelay: config.packagesRetryMaxDelay,
          });
        }
        next.follower = new Follower(Object.assign(followerOpts, {
          ring: config.ring,
          onTarget: (t) => next.health && next.health.target(t),
          reload: () => {
            if (next.health) next.health.loading();
            return next.applier.apply();
          },
          recover: () => {
            if (next.health) next.health.loading();
            return nodes.loadFlows(true);
          },
          onPackages: next.packages ? (rev) => next.packages.kick(rev) : undefined,
        }));
        next.settings = new LocalSettings(client, log);
        // Staged rollout: this worker's health, reported to flowhist after
        // each apply and periodically (lib/rollout.js).
        next.health = new Health({ client, log, ring: config.ring, workerId: config.workerId, runtime, settings });
        next.health.attach();
      }
      s = next;
      const who = config.role === 'worker' ? `worker ${config.workerId}` : 'admin';
      log.info(`${who} of namespace ${config.namespace} at ${config.urls.join(', ')} (reload: ${config.reload})`);
    },

    async getFlows() {
      const cur = state();
      if (cur.projects) {
        // Projects on (lib/projects.js): the active project's files and
        // flowhist are reconciled; without an active project, flowhist
        // alone answers as below.
        const flows = await cur.projects.load(
          async () => {
            const fh = await readFlows(cur.client);
            cur.admin.read(fh.flowsRevision);
            if (cur.follower) cur.follower.read(fh.revision, fh.event);
            return fh;
          },
          async (f, c) => {
            if (c !== undefined) cur.admin.saveCredentials(c);
            await cur.admin.saveFlows(f);
          },
        );
        if (flows) return flows;
      }
      let r;
      try {
        r = await readFlows(cur.client, cur.ring);
      } catch (err) {
        if (cur.follower) cur.follower.readFailed(err);
        throw err;
      }
      if (cur.admin) cur.admin.read(r.flowsRevision);
      // A worker's first load: its modules match the admin's before its
      // flows start, so no node waits for a missing type.
      if (cur.packages && !cur.packagesStarted) {
        cur.packagesStarted = true;
        await cur.packages.startup(r.revision === null ? 0 : r.revision);
      }
      if (cur.follower) cur.follower.read(r.revision, r.event);
      if (cur.health) cur.health.applied(r.revision, r.event);
      return r.flows;
    },

    async saveFlows(flows, user) {
      const cur = state();
      // Node-RED handing back the flows an apply gave it: they came from
      // flowhist, nothing to write.
      if (cur.applier.suppressFlows(flows)) {
        // Applied from flowhist (a rollback): the project's files follow.
        if (cur.projects) await cur.projects.saveFlows(flows, user);
        return;
      }
      if (!cur.admin) throw workerRefusal('deploy through the admin');
      await cur.admin.saveFlows(flows, user);
      if (cur.projects) await cur.projects.saveFlows(flows, user);
    },

    async getCredentials() {
      const cur = state();
      const fromProject = cur.projects && cur.projects.getCredentials();
      const creds = fromProject !== undefined && fromProject !== null ? fromProject : await readCredentials(cur.client, cur.ring);
      if (cur.admin) cur.admin.credentialsRead();
      return creds;
    },

    async saveCredentials(credentials) {
      const cur = state();
      if (cur.applier.suppressCredentials(credentials, !!cur.admin)) {
        if (cur.projects) await cur.projects.saveCredentials(credentials);
        return;
      }
      if (!cur.admin) throw workerRefusal('deploy through the admin');
      cur.admin.saveCredentials(credentials);
      if (cur.projects) await cur.projects.saveCredentials(credentials);
    },

    async getSettings() {
      const cur = state();
      const settings = await cur.settings.getSettings();
      return cur.projects ? cur.projects.withSecrets(settings) : settings;
    },

    async saveSettings(settings) {
      const cur = state();
      return cur.settings.saveSettings(cur.projects ? cur.projects.withoutSecrets(settings) : settings);
    },

    async getSessions() {
      return state().settings.getSessions();
    },

    async saveSessions(sessions) {
      return state().settings.saveSessions(sessions);
    },

    async getLibraryEntry(type, path) {
      return state().library.getLibraryEntry(type, path);
    },

    async saveLibraryEntry(type, path, meta, body) {
      const cur = state();
      if (!cur.admin) throw workerRefusal('save library entries through the admin');
      return cur.library.saveLibraryEntry(type, path, meta, body);
    },

    // pluginState is the History plugin's (plugin/history.js) view of this
    // instance: {config, client, follower, …}, or null before init.
    pluginState: () => s,

    // projects is Node-RED's Projects API (editorTheme.projects.enabled on
    // the admin; lib/projects.js). It must exist before init: Node-RED
    // looks for it first.
    projects: projectsFacade(() => s && s.projectsApi),

    // close stops following the feed, drops a pending credentials flush and
    // aborts requests in flight. Node-RED never calls it; tests and
    // embedding applications may. init may be called again afterwards.
    close,
  };
  return storage;
}

module.exports = createStorage();
module.exports.createStorage = createStorage;
