'use strict';
// JSPI (WebAssembly.Suspending / WebAssembly.promising) is not available in
// isolates: each call suspended through it holds a stack of its own (a ~1 MB
// memory map and its guard page) outside any limit, and ~32,000 pending ones
// (a few MB of heap) used up the process's memory maps, after which the
// host's next allocation aborted the process.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { setup, withLibrary } = require('./support/isolate');

const PROBE = `[typeof WebAssembly.Suspending, typeof WebAssembly.promising, typeof WebAssembly.Module, typeof WebAssembly.Memory].join()`;
const EXPECTED = 'undefined,undefined,function,function';

test('no JSPI in any context: first, later, and in isolates made by guests', { timeout: 30000 }, (t) => {
  const { isolate, context } = withLibrary(t);
  assert.equal(context.evalSync(PROBE), EXPECTED);
  assert.equal(isolate.createContextSync().evalSync(PROBE), EXPECTED);
  context.global.setSync('PROBE', PROBE);
  assert.equal(context.evalSync('const inner = new ivm.Isolate(); inner.createContextSync().evalSync(PROBE)'), EXPECTED);
  // The rest of WebAssembly works.
  assert.equal(context.evalSync('WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))'), true);
});

test('no JSPI in contexts of an isolate made from a snapshot', { timeout: 30000 }, (t) => {
  const snapshot = ivm.Isolate.createSnapshot([{ code: 'globalThis.x = 1' }]);
  const { context } = setup(t, { snapshot });
  assert.equal(context.evalSync('x + 1'), 2);
  assert.equal(context.evalSync(PROBE), EXPECTED);
});
