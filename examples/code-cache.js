'use strict';
// Compile a large script once, keep V8's code cache, and compile it again
// from the cache in a fresh isolate (as a server restarting workers would).
//
//   node examples/code-cache.js
const ivm = require('..');

// About 1 MB of small functions.
const source = Array.from({ length: 9000 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i % 7}; }`).join('\n') + '\nf8999(1)';

function compile(options) {
  const isolate = new ivm.Isolate();
  const t0 = process.hrtime.bigint();
  const script = isolate.compileScriptSync(source, { filename: 'file:///big.js', ...options });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const context = isolate.createContextSync();
  const result = script.runSync(context);
  isolate.dispose();
  return { script, ms, result };
}

const cold = compile({ produceCachedData: true });
const cache = cold.script.cachedData; // ExternalCopy<ArrayBuffer>; persist it in trusted storage only
console.log(`cold compile  ${cold.ms.toFixed(1)} ms, cache ${cache.copy().byteLength} bytes, result ${cold.result}`);

const warm = compile({ cachedData: cache });
console.log(`cached compile ${warm.ms.toFixed(1)} ms, rejected: ${warm.script.cachedDataRejected}, result ${warm.result}`);

// Data made for another source is rejected; the script still compiles and runs.
const other = new ivm.Isolate();
const script = other.compileScriptSync('6 * 7', { cachedData: cache });
console.log(`other source: rejected ${script.cachedDataRejected}, result ${script.runSync(other.createContextSync())}`);
other.dispose();
