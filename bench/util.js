'use strict';
// Small helpers shared by the scenarios and the runner.

const now = () => process.hrtime.bigint();

// Milliseconds elapsed since `t0` (a bigint from `now()`).
const msSince = (t0) => Number(now() - t0) / 1e6;

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Full host GC, repeated so finalizers and weak callbacks get a chance to run.
async function settle() {
  for (let i = 0; i < 3; i++) {
    if (typeof global.gc === 'function') global.gc();
    await sleep(20);
  }
}

// Runs `fn` `warmup` times untimed, then `iterations` times; returns
// microseconds per call.
function timeSyncLoop(fn, warmup, iterations) {
  for (let i = 0; i < warmup; i++) fn();
  const t0 = now();
  for (let i = 0; i < iterations; i++) fn();
  return (msSince(t0) * 1000) / iterations;
}

async function timeAsyncLoop(fn, warmup, iterations) {
  for (let i = 0; i < warmup; i++) await fn();
  const t0 = now();
  for (let i = 0; i < iterations; i++) await fn();
  return (msSince(t0) * 1000) / iterations;
}

module.exports = { now, msSince, median, sleep, settle, timeSyncLoop, timeAsyncLoop };
