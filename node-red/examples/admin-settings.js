// Node-RED admin (the flow editor) on flowhist. Used by docker-compose.yml;
// copy it for your own setup. Every value comes from the environment.
module.exports = {
    uiPort: process.env.PORT || 1880,
    flowFile: 'flows.json', // unused: flows live in flowhist
    storageModule: require('node-red-storage-flowhist'),
    // The module's editor plugin (the History sidebar): Node-RED loads
    // plugins from the userDir's node_modules or from nodesDir, and in the
    // image the module is on NODE_PATH instead.
    nodesDir: [require('path').dirname(require.resolve('node-red-storage-flowhist'))],
    // The same secret on the admin and every worker: it encrypts credentials.
    credentialSecret: process.env.NODE_RED_CREDENTIAL_SECRET,
    flowhist: {
        url: process.env.FLOWHIST_URL || 'http://127.0.0.1:8080',
        token: process.env.FLOWHIST_TOKEN, // scope deploy (admin to offer Restore in the History sidebar) and assert_users: true, to record editor users
        namespace: process.env.FLOWHIST_NAMESPACE || 'prod',
        role: 'admin',
        // The admin follows the log too (a rollback, another admin's
        // deploy): its feed consumer needs a stable id (a container's host
        // name is not).
        workerId: process.env.FLOWHIST_ADMIN_ID || 'admin',
    },
    adminAuth: {
        type: 'credentials',
        // user admin, password "password": generate your own hash with
        //   node -e "console.log(require('bcryptjs').hashSync(process.argv[1], 8))" 'your password'
        users: [{ username: 'admin', password: '$2b$08$edJ7p6pLEtRe92gh3xUj9OrMCt9Zf84xlslUKB0h6dizjQ6WCl.FS', permissions: '*' }],
    },
    diagnostics: { enabled: false },
};
