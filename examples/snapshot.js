'use strict';
// Startup snapshots: load a library once, start every isolate with it.
//   node examples/snapshot.js
const ivm = require('..');

// Runs on a thread of its own (bounded: 30 s and 128 MB by default).
const snapshot = ivm.Isolate.createSnapshot(
  [
    {
      code: `
        const rates = { EUR: 1, USD: 1.08, GBP: 0.85 };
        globalThis.convert = (amount, from, to) => Math.round((amount / rates[from]) * rates[to] * 100) / 100;
      `,
      filename: 'currency.js',
    },
  ],
  // Warm-up: runs once so `convert` is compiled into the snapshot, then discarded.
  'convert(10, "EUR", "USD")',
);

const isolate = new ivm.Isolate({ snapshot, memoryLimit: 32 });
const context = isolate.createContextSync();
console.log('10 EUR in USD:', context.evalSync('convert(10, "EUR", "USD")'));

// Every context of the isolate starts from the snapshot, independently.
const other = isolate.createContextSync();
other.evalSync('globalThis.convert = null');
console.log('still there in the first context:', context.evalSync('typeof convert'));

// Errors in snapshot scripts say where they happened.
try {
  ivm.Isolate.createSnapshot([{ code: 'let ok = 1;\nundefinedFunction()', filename: 'broken.js' }]);
} catch (e) {
  console.log('snapshot failed:', e.message);
}

// A snapshot is only accepted by the process that made it.
const bytes = new Uint8Array(snapshot.copy());
bytes[bytes.length - 1] ^= 1;
try {
  new ivm.Isolate({ snapshot: new ivm.ExternalCopy(bytes.buffer) });
} catch (e) {
  console.log('tampered snapshot:', e.message.split(':')[0]);
}
isolate.dispose();
