'use strict';

// Exponential backoff with jitter, and a sleep that ends early when its
// signal aborts.

// backoffDelay returns the wait before retry number attempt (0-based):
// min doubled per attempt up to max, then a random 50–100 % of that so that
// many clients retrying at once spread out.
function backoffDelay(attempt, min, max) {
  const d = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + Math.random() * (d / 2));
}

// sleep resolves after ms, or rejects with signal.reason as soon as signal
// aborts. With unref the timer does not keep the process alive.
function sleep(ms, signal, unref = false) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (unref && typeof timer.unref === 'function') timer.unref();
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
}

module.exports = { backoffDelay, sleep };
