// Node-RED admin (the flow editor) on flowhist. Used by docker-compose.yml,
// node-red/Dockerfile and deploy/kubernetes; copy it for your own setup.
// Every value comes from the environment; no password ships in this file.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

// bcryptjs comes with Node-RED: found from the settings file's folder
// (NODE_PATH) or else from Node-RED's own modules.
function bcrypt() {
    try {
        return require('bcryptjs');
    } catch (_) {
        return require.main.require('bcryptjs');
    }
}

// Passwords anyone can guess, or whose hash was published (an earlier
// version of this file gave user admin the password "password"): the admin
// refuses to start with any of them.
const KNOWN_PASSWORDS = ['password', 'admin', 'changeme', 'node-red', 'nodered', '123456'];

const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

// adminPasswordHash is the bcrypt hash of the editor user admin's password:
// NODE_RED_ADMIN_PASSWORD_HASH (from a Secret), else the hash kept in the
// userDir by an earlier start, else a new one-time password, generated
// now and printed once; only its hash is kept (NODE_RED_ADMIN_PASSWORD_FILE,
// default <userDir>/.admin-password-hash, mode 0600). Throws, so Node-RED
// does not start, on a hash that is not bcrypt or is one of a known
// password.
function adminPasswordHash(env) {
    const b = bcrypt();
    const file = env.NODE_RED_ADMIN_PASSWORD_FILE || path.join(env.NODE_RED_USER_DIR || '/data', '.admin-password-hash');
    let hash = (env.NODE_RED_ADMIN_PASSWORD_HASH || '').trim();
    let from = 'NODE_RED_ADMIN_PASSWORD_HASH';
    if (!hash) {
        from = file;
        try {
            hash = fs.readFileSync(file, 'utf8').trim();
        } catch (err) {
            if (err.code !== 'ENOENT') throw new Error(`admin password: cannot read ${file}: ${err.message}`);
        }
    }
    if (!hash) {
        const password = crypto.randomBytes(18).toString('base64url');
        hash = b.hashSync(password, 10);
        try {
            // wx: never overwrite a hash another start wrote meanwhile.
            fs.writeFileSync(file, hash + '\n', { mode: 0o600, flag: 'wx' });
        } catch (err) {
            throw new Error(`admin password: cannot keep the generated password's hash in ${file} (${err.message}): set NODE_RED_ADMIN_PASSWORD_FILE to a writable path, or NODE_RED_ADMIN_PASSWORD_HASH`);
        }
        console.log([
            '',
            '  Node-RED editor: user "admin", generated one-time password: ' + password,
            '  It is shown only now; only its hash is kept, in ' + file + '.',
            '  To choose your own, set NODE_RED_ADMIN_PASSWORD_HASH to its bcrypt hash (delete that file for a new one).',
            '',
        ].join('\n'));
    }
    if (!BCRYPT_HASH.test(hash)) {
        throw new Error(`admin password: ${from} is not a bcrypt hash; make one with: node -e "console.log(require('bcryptjs').hashSync(process.argv[1], 10))" 'your password'`);
    }
    for (const p of KNOWN_PASSWORDS) {
        if (b.compareSync(p, hash)) {
            throw new Error(`admin password: ${from} is the hash of "${p}", a publicly known password: refused. Set NODE_RED_ADMIN_PASSWORD_HASH to the hash of another, or unset it for a generated one`);
        }
    }
    return hash;
}

module.exports = {
    uiPort: process.env.PORT || 1880,
    flowFile: 'flows.json', // unused: flows live in flowhist
    storageModule: require('node-red-storage-flowhist'),
    // The module's editor plugin (the History sidebar): Node-RED loads
    // plugins from the userDir's node_modules or from nodesDir, and in the
    // image the module is on NODE_PATH instead.
    nodesDir: [path.dirname(require.resolve('node-red-storage-flowhist'))],
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
        users: [{ username: 'admin', password: adminPasswordHash(process.env), permissions: '*' }],
    },
    diagnostics: { enabled: false },
};

// For the tests (node-red/test/examples.test.js); Node-RED ignores it.
Object.defineProperty(module.exports, 'adminPasswordHash', { value: adminPasswordHash, enumerable: false });
