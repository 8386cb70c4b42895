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

module.exports = { setup };
