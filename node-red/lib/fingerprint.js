'use strict';

// The credential secret's fingerprint (docs/promotion.md): how flowhist
// tells whether two namespaces encrypt their credentials with the same
// secret, so a promotion may copy the encrypted blob, without ever seeing
// the secret.
//
// It is sha256("flowhist credential fingerprint\n" + credentialSecret),
// 64 lower-case hex digits. Why it does not reveal the secret: sha256 is
// one-way (finding an input for a given hash is a preimage search), so
// the only way back is to guess secrets and hash each guess; a secret of
// Node-RED's recommended strength (a long random string) is out of reach
// of guessing, a short or dictionary word is not, which is why the README
// asks for a random one. The fixed label makes the fingerprint differ from
// anything Node-RED itself derives from the secret (its cipher key is
// sha256(credentialSecret) alone), so the fingerprint is never the key,
// and a table of hashes of common words made for another purpose does not
// apply.

const { createHash } = require('node:crypto');

const LABEL = 'flowhist credential fingerprint\n';

// credentialFingerprint is the fingerprint of secret (Node-RED's
// credentialSecret), or undefined when there is none to report (false:
// credentials stored in clear).
function credentialFingerprint(secret) {
  if (typeof secret !== 'string' || secret === '') return undefined;
  return createHash('sha256').update(LABEL + secret, 'utf8').digest('hex');
}

module.exports = { credentialFingerprint };
