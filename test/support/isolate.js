'use strict';
// Shared by the test files: an isolate and a context that are disposed when
// the test ends.
const ivm = require('../../lib');

function setup(t, options) {
  const isolate = new ivm.Isolate(options);
  t.after(() => {
    if (!isolate.isDisposed) isolate.dispose();
  });
  const context = isolate.createContextSync();
  return { isolate, context, global: context.global };
}

// An isolate whose global has the library as `ivm`.
function withLibrary(t, options) {
  const s = setup(t, options);
  s.global.setSync('ivm', ivm);
  return s;
}

// isolated-vm's refusal of a sync call into another isolate from async code.
const ASYNC_TO_SYNC =
  'Calling a synchronous isolated-vm function on a non-default isolate from within an asynchronous isolated-vm function is not allowed.';

module.exports = { setup, withLibrary, ASYNC_TO_SYNC };
