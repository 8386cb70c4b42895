'use strict';
// Sync calls travel as call records posted in the callee's one-slot lane
// (native/src/engine/record.rs); a busy lane sends the call to the sync
// queue. These tests drive the cases where the lane is busy, or where a
// caller gives its record up while the callee still runs the call.
const test = require('node:test');
const assert = require('node:assert/strict');

const { setup, withLibrary } = require('./support/isolate');

test('a guest that gives up its wait (its own call timed out) leaves the callee usable, many times', { timeout: 60000 }, (t) => {
  const { context } = withLibrary(t);
  context.evalSync('globalThis.b = new ivm.Isolate(); globalThis.bc = b.createContextSync();');
  for (let i = 0; i < 30; i++) {
    // The outer call times out while the guest waits on its record in b's
    // lane: the record is handed to b, which frees it when the killed call
    // ends.
    assert.throws(() => context.evalSync('bc.evalSync("for (;;) {}")', { timeout: 20 }), {
      message: 'Script execution timed out.',
    });
    assert.equal(context.evalSync(`bc.evalSync("${i} + 1")`), i + 1);
  }
  // Node's own sync calls into the guest are unaffected.
  assert.equal(context.evalSync('1 + 1'), 2);
});

test('a sync call made while the lane holds the caller\'s own outer call goes through the queue', { timeout: 30000 }, (t) => {
  const { context } = setup(t);
  let inner = 0;
  // Inside the outer evalSync (which holds the lane), the Node function
  // calls back into the same isolate synchronously, several levels deep.
  context.global.setSync('back', (n) => {
    inner++;
    return n > 0 ? context.evalSync(`back(${n - 1}) + 1`) : 0;
  });
  for (let i = 0; i < 50; i++) {
    assert.equal(context.evalSync('back(5)'), 5);
    assert.equal(context.evalSync(`${i} * 2`), i * 2);
  }
  assert.equal(inner, 50 * 6);
});

test('sync calls keep their results apart when evalSync and applySync alternate with changing code', { timeout: 30000 }, (t) => {
  const { context } = setup(t);
  const f = context.evalSync('(a, b) => a * 10 + b', { reference: true });
  for (let i = 0; i < 2000; i++) {
    assert.equal(context.evalSync(i % 3 === 0 ? '7' : `${i}`), i % 3 === 0 ? 7 : i);
    assert.equal(f.applySync(undefined, [i, 3]), i * 10 + 3);
  }
});

test('the same code evaluated in two contexts in turn runs in each one\'s global', { timeout: 30000 }, (t) => {
  const { isolate, context } = setup(t);
  const other = isolate.createContextSync();
  context.evalSync('globalThis.x = 1');
  other.evalSync('globalThis.x = 2');
  for (let i = 0; i < 100; i++) {
    assert.equal(context.evalSync('x'), 1);
    assert.equal(other.evalSync('x'), 2);
  }
  // A context released between two runs of the same code fails as released.
  other.release();
  assert.throws(() => other.evalSync('x'));
  assert.equal(context.evalSync('x'), 1);
});

test('evaluating the same code again redeclares nothing silently: a second top-level let throws, the isolate lives', { timeout: 30000 }, (t) => {
  const { isolate, context } = setup(t);
  assert.equal(context.evalSync('let q = 1; q'), 1);
  // The same source twice in a row (the isolate reuses its compiled script):
  // V8's own SyntaxError, as for a fresh script.
  for (let i = 0; i < 3; i++) {
    assert.throws(() => context.evalSync('let q = 1; q'), { name: 'SyntaxError', message: "Identifier 'q' has already been declared" });
  }
  assert.equal(context.evalSync('const k = 2; k'), 2);
  assert.throws(() => context.evalSync('const k = 2; k'), { name: 'SyntaxError' });
  assert.equal(context.evalSync('var v = (typeof v === "number" ? v : 0) + 1; v'), 1);
  assert.equal(context.evalSync('var v = (typeof v === "number" ? v : 0) + 1; v'), 2);
  assert.equal(isolate.isDisposed, false);
  assert.equal(context.evalSync('q + k + v'), 5);
});
