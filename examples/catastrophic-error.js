'use strict';
// What a host sees when a guest exhausts its memory.
//
//   node examples/catastrophic-error.js           the memory limit stops a bomb (the usual case)
//   node examples/catastrophic-error.js --fatal   a single native operation that V8 cannot
//                                                 interrupt runs out of memory (takes ~30 s)
const ivm = require('..');

const isolate = new ivm.Isolate({
  memoryLimit: 32,
  onCatastrophicError(message) {
    // The isolate is already disposed and its thread parked; the host lives.
    // A production host would log this and plan a restart of the process.
    console.error(`onCatastrophicError: ${message}`);
  },
});
const context = isolate.createContextSync();

const bomb = process.argv.includes('--fatal')
  ? 'const a = []; a.length = 2 ** 32 - 1; a.fill(0)'
  : 'const a = []; for (;;) a.push({ x: Math.random() })';

context.eval(bomb).then(
  () => console.log('finished?'),
  (err) => {
    console.log(`${err.constructor.name} (${err.code}): ${err.message}`);
    console.log(`isolate.isDisposed: ${isolate.isDisposed}`);
    console.log(`host still runs: ${[1, 2, 3].map((x) => x * 2)}`);
  },
);
