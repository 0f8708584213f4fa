// Node-RED worker on flowhist: runs the flows, never edits them. Used by
// docker-compose.yml; copy it for your own setup.
module.exports = {
    uiPort: process.env.PORT || 1880,
    storageModule: require('node-red-storage-flowhist'),
    credentialSecret: process.env.NODE_RED_CREDENTIAL_SECRET, // the admin's
    flowhist: {
        url: process.env.FLOWHIST_URL || 'http://127.0.0.1:8080',
        token: process.env.FLOWHIST_TOKEN, // scope read, bound to this worker's id (auth.tokens[].workers)
        namespace: process.env.FLOWHIST_NAMESPACE || 'prod',
        role: 'worker',
        workerId: process.env.FLOWHIST_WORKER_ID, // stable per worker; default: the host name
        ring: process.env.FLOWHIST_RING || 'default', // staged rollout: e.g. 'canary' on the workers that get a deploy first
    },
    httpAdminRoot: false, // no editor on workers
    diagnostics: { enabled: false },
};
