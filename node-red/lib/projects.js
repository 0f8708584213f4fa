'use strict';

// Node-RED Projects on the admin, with flowhist as the source of truth for
// what runs.
//
// The git side is Node-RED's own: this delegates every Projects call to
// Node-RED's file storage projects module (the repositories live in the
// admin's userDir/projects exactly as with Node-RED's own storage). What is
// added:
//
// - every deploy of the active project is written to the project's files
//   (so git sees it) and appended to flowhist with the project's name on
//   the event (the Flowhist-Project header on the admin's writes);
// - a switch to another project (create, open, clone) appends the active
//   project change and the new project's flows and credentials: workers run
//   them, and never need the project's files or git;
// - a git operation that changes the flow files (pull, checkout, revert,
//   merge) is appended likewise;
// - at start-up the admin restores the active project flowhist recorded,
//   and where flowhist's flows differ from the project's files (a rollback,
//   an import since), writes flowhist's version into the files, so that git
//   shows it as an uncommitted change to review.
// - each project's credentialSecret (Node-RED keeps it in the settings'
//   projects section) stays in the admin's userDir (.config.projects.json,
//   as with Node-RED's own storage) and never reaches flowhist: settings
//   saves drop it, settings reads put it back.

const fs = require('node:fs');
const path = require('node:path');
const { isDeepStrictEqual } = require('node:util');

// Calls of Node-RED's projects API that may change the active project's
// flow files; the next load takes the files, not flowhist.
const CHANGES_FILES = new Set([
  'setActiveProject', 'createProject', 'initialiseProject', 'updateProject', 'revertFile', 'pull',
  'resolveMerge', 'abortMerge', 'setBranch', 'deleteProject',
]);

// nodeRedModule requires one of Node-RED's own modules, from the Node-RED
// that loaded this storage module.
function nodeRedModule(id) {
  const tries = [];
  if (require.main && typeof require.main.require === 'function') tries.push(() => require.main.require(id));
  tries.push(() => require(id));
  let last;
  for (const t of tries) {
    try {
      return t();
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`flowhist: Projects need Node-RED's ${id}, which cannot be loaded: ${last && last.message}`);
}

class Projects {
  // opts: client, log, settings (Node-RED's), runtime.
  constructor(opts) {
    Object.assign(this, { client: opts.client, log: opts.log, settings: opts.settings, runtime: opts.runtime });
    this.lfs = null; // Node-RED's localfilesystem projects module
    this.filesChanged = false; // a Projects call may have changed the flow files
    this.credentials = undefined; // what the next getCredentials answers
    this.recorded = undefined; // the active project flowhist has
  }

  async init() {
    const base = '@node-red/runtime/lib/storage/localfilesystem/';
    this.lfs = nodeRedModule(base + 'projects');
    const fileSettings = nodeRedModule(base + 'settings');
    // Node-RED's projects module reads the active project from the
    // userDir's .config.projects.json at init: write what flowhist has.
    const [{ body: shared }, { body: project }] = await Promise.all([
      this.client.getJSON('/settings'),
      this.client.getJSON('/project'),
    ]);
    this.recorded = (project && project.name) || '';
    const section = this.withSecrets(Object.assign({}, shared)).projects || { projects: {} };
    if (this.recorded) section.activeProject = this.recorded;
    fs.mkdirSync(this.settings.userDir, { recursive: true });
    fs.writeFileSync(this.localFile(), JSON.stringify(section, null, 4));
    await fileSettings.init(this.settings);
    await this.lfs.init(this.settings, this.runtime);
    // Every write of the admin names the active project.
    const request = this.client.request.bind(this.client);
    this.client.request = (method, p, o = {}) => {
      const name = this.activeName();
      if (method === 'GET' || !name) return request(method, p, o);
      return request(method, p, Object.assign({}, o, { headers: Object.assign({ 'Flowhist-Project': name }, o.headers) }));
    };
  }

  localFile() {
    return path.join(this.settings.userDir, '.config.projects.json');
  }

  // localSecrets reads the projects' secrets kept in the userDir.
  localSecrets() {
    try {
      const local = JSON.parse(fs.readFileSync(this.localFile(), 'utf8'));
      const out = {};
      for (const [name, p] of Object.entries((local && local.projects) || {})) {
        if (p && typeof p.credentialSecret === 'string') out[name] = p.credentialSecret;
      }
      return out;
    } catch {
      return {};
    }
  }

  // withoutSecrets returns settings to send to flowhist: the projects'
  // credentialSecrets moved into the userDir's .config.projects.json.
  withoutSecrets(settings) {
    const projects = settings && settings.projects && settings.projects.projects;
    if (!projects || typeof projects !== 'object') return settings;
    const secrets = this.localSecrets();
    const stripped = {};
    let found = false;
    for (const [name, p] of Object.entries(projects)) {
      if (p && typeof p.credentialSecret === 'string') {
        secrets[name] = p.credentialSecret;
        const copy = Object.assign({}, p);
        delete copy.credentialSecret;
        stripped[name] = copy;
        found = true;
      } else {
        stripped[name] = p;
      }
    }
    if (!found) return settings;
    const local = Object.assign({}, settings.projects, { projects: {} });
    for (const [name, p] of Object.entries(projects)) local.projects[name] = Object.assign({}, p, secrets[name] !== undefined ? { credentialSecret: secrets[name] } : {});
    fs.writeFileSync(this.localFile(), JSON.stringify(local, null, 4), { mode: 0o600 });
    return Object.assign({}, settings, { projects: Object.assign({}, settings.projects, { projects: stripped }) });
  }

  // withSecrets puts the projects' secrets kept in the userDir back into
  // settings read from flowhist.
  withSecrets(settings) {
    const projects = settings && settings.projects && settings.projects.projects;
    if (!projects || typeof projects !== 'object') return settings;
    const secrets = this.localSecrets();
    const merged = {};
    for (const [name, p] of Object.entries(projects)) {
      merged[name] = secrets[name] !== undefined && p && p.credentialSecret === undefined ? Object.assign({}, p, { credentialSecret: secrets[name] }) : p;
    }
    return Object.assign({}, settings, { projects: Object.assign({}, settings.projects, { projects: merged }) });
  }

  activeName() {
    const p = this.lfs && this.lfs.getActiveProject();
    if (!p) return '';
    return typeof p === 'string' ? p : p.name || '';
  }

  // api is what Node-RED's runtime calls as storage.projects.
  api() {
    const out = {};
    for (const [name, fn] of Object.entries(this.lfs)) {
      if (typeof fn !== 'function' || ['init', 'getFlows', 'saveFlows', 'getCredentials', 'saveCredentials'].includes(name)) continue;
      out[name] = (...args) => {
        if (CHANGES_FILES.has(name)) this.filesChanged = true;
        return fn.apply(this.lfs, args);
      };
    }
    out.ssh = this.lfs.ssh;
    return out;
  }

  // load is the admin's getFlows with Projects on. fromFlowhist reads
  // flowhist's flows ({flows, flowsRevision}); deploy(flows, credentials)
  // appends a deploy. It resolves to the flows Node-RED runs, or null when
  // no project is active (then flowhist alone answers, as without
  // Projects).
  async load(fromFlowhist, deploy) {
    const diskFlows = await this.lfs.getFlows(); // loads the project at start-up; throws project_empty & co.
    const name = this.activeName();
    if (!name) {
      this.credentials = undefined;
      return null;
    }
    const diskCreds = await this.lfs.getCredentials();
    const fh = await fromFlowhist();
    const fhCreds = await this.readCredentials();
    const { body: project } = await this.client.getJSON('/project');
    const recorded = (project && project.name) || '';
    const filesChanged = this.filesChanged;
    this.filesChanged = false;
    const same = isDeepStrictEqual(diskFlows, fh.flows) && isDeepStrictEqual(diskCreds || {}, fhCreds || {});
    if (recorded !== name) {
      // A switch: the project's files are what runs now.
      await this.client.request('PUT', '/project', { json: { name } });
      this.recorded = name;
      if (!same) await deploy(diskFlows, diskCreds);
      this.log.info(`project ${name} activated${same ? '' : ': its flows deployed'}`);
      this.credentials = diskCreds;
      return diskFlows;
    }
    if (same) {
      this.credentials = diskCreds;
      return diskFlows;
    }
    if (filesChanged) {
      // pull, checkout, revert, merge: the files changed under git.
      await deploy(diskFlows, diskCreds);
      this.log.info(`project ${name}: the flow files changed in git; deployed them`);
      this.credentials = diskCreds;
      return diskFlows;
    }
    // Start-up, or Restart Flows: flowhist is newer (a rollback, an
    // import). Its version goes into the files, for git to show.
    await this.lfs.saveFlows(fh.flows);
    if (fhCreds) await this.lfs.saveCredentials(fhCreds);
    this.log.warn(`project ${name}: flowhist's flows differ from the project's files (a rollback or an import since they were written); wrote flowhist's version into the files: review and commit it in the editor's Projects history`);
    this.credentials = fhCreds || {};
    return fh.flows;
  }

  async readCredentials() {
    const { body } = await this.client.getJSON('/credentials');
    return body && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length ? body : undefined;
  }

  // getCredentials answers what load decided; undefined when no project is
  // active (then flowhist answers).
  getCredentials() {
    return this.credentials;
  }

  // saveFlows and saveCredentials write a deploy of the active project into
  // its files too, after flowhist took it.
  async saveFlows(flows, user) {
    if (this.activeName()) await this.lfs.saveFlows(flows, user);
  }

  async saveCredentials(credentials) {
    if (this.activeName()) {
      this.credentials = credentials;
      await this.lfs.saveCredentials(credentials);
    }
  }
}

// PROJECT_METHODS are the names Node-RED's runtime may call on
// storage.projects; the module exports them before init, as Node-RED
// checks for the object before it calls init.
const PROJECT_METHODS = [
  'listProjects', 'getActiveProject', 'setActiveProject', 'getProject', 'deleteProject', 'createProject',
  'initialiseProject', 'updateProject', 'getFiles', 'getFile', 'revertFile', 'stageFile', 'unstageFile', 'commit',
  'getFileDiff', 'getCommits', 'getCommit', 'push', 'pull', 'getStatus', 'resolveMerge', 'abortMerge', 'getBranches',
  'deleteBranch', 'setBranch', 'getBranchStatus', 'getRemotes', 'addRemote', 'removeRemote', 'updateRemote',
  'getFlowFilename', 'flowFileExists', 'getCredentialsFilename', 'getGlobalGitUser',
];

// projectsFacade returns the object exported as storage.projects: it calls
// through to current() (the Projects api of the initialised admin), and
// answers "no project" before then or on a worker.
function projectsFacade(current) {
  const facade = {};
  for (const name of PROJECT_METHODS) {
    facade[name] = (...args) => {
      const api = current();
      if (!api || typeof api[name] !== 'function') {
        if (name === 'getActiveProject') return null;
        if (name === 'flowFileExists') return false;
        const err = new Error('flowhist: Projects are available on the admin only, with editorTheme.projects.enabled');
        err.code = 'not_available';
        throw err;
      }
      return api[name](...args);
    };
  }
  Object.defineProperty(facade, 'ssh', { enumerable: true, get: () => (current() || {}).ssh });
  return facade;
}

module.exports = { Projects, projectsFacade };
