'use strict';

// The module's logger: Node-RED's runtime.log when init received one,
// console otherwise. Every line starts with "[flowhist]". Callers pass
// messages only: never tokens, credentials or settings contents.

const PREFIX = '[flowhist] ';

function createLogger(target) {
  const out = target && typeof target.info === 'function' ? target : console;
  const at = (level) => (msg) => {
    const fn = typeof out[level] === 'function' ? out[level] : out.info;
    fn.call(out, PREFIX + msg);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

module.exports = { createLogger };
