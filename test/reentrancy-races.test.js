'use strict';
// The re-entrancy and dispose cases of the transfer model, each run 100
// times, each test bounded by its own timeout: a deadlock is a failed test,
// never a hung run. (Node -> guest -> Node -> guest re-entrancy and the
// chain through Callbacks are in callbacks.test.js.)
const test = require('node:test');
const assert = require('node:assert/strict');

const ivm = require('../lib');
const { setup, withLibrary } = require('./support/isolate');

const DURING = 'Isolate was disposed during execution';
const T = { timeout: 60_000 };

test('a chain across three isolates made by a guest, back into the first, 100 times', T, (t) => {
  const { context } = withLibrary(t);
  context.evalSync(`
    globalThis.b = new ivm.Isolate();
    globalThis.bc = b.createContextSync();
    globalThis.c = new ivm.Isolate();
    globalThis.cc = c.createContextSync();
    globalThis.hits = 0;
    // c calls back into the first isolate, which is blocked in b, which is
    // blocked in c.
    cc.global.setSync('home', new ivm.Reference((n) => { hits++; return n * 10; }));
    cc.evalSync('globalThis.leaf = (n) => home.applySync(undefined, [n]) + 1');
    bc.global.setSync('leafRef', cc.global.getSync('leaf', { reference: true }));
    bc.evalSync('globalThis.mid = (n) => leafRef.applySync(undefined, [n]) + 1');
    globalThis.mid = bc.global.getSync('mid', { reference: true });
  `);
  for (let i = 0; i < 100; i++) {
    assert.equal(context.evalSync(`mid.applySync(undefined, [${i}])`), i * 10 + 2);
  }
  assert.equal(context.evalSync('hits'), 100);
});

test('a Node function that throws inside a guest\'s Reference.applySync, 100 times', T, (t) => {
  const { context, global } = setup(t);
  global.setSync('thrower', new ivm.Reference((n) => {
    if (n % 2) throw new RangeError(`odd ${n}`);
    throw new Error(`even ${n}`);
  }));
  for (let i = 0; i < 100; i++) {
    const r = context.evalSync(`try { thrower.applySync(undefined, [${i}]); 'no' } catch (e) { e.constructor.name + ': ' + e.message }`);
    assert.equal(r, i % 2 ? `RangeError: odd ${i}` : `Error: even ${i}`);
  }
  // Uncaught, it reaches Node as the same class.
  assert.throws(() => context.evalSync('thrower.applySync(undefined, [3])'), (e) => e instanceof RangeError && e.message === 'odd 3');
});

test('disposing an isolate blocked in Reference.applySync settles the call, 100 times (sync and async outer calls)', T, async () => {
  for (let i = 0; i < 100; i++) {
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    const context = isolate.createContextSync();
    context.global.setSync('kill', new ivm.Reference(() => isolate.dispose()));
    if (i % 2 === 0) {
      assert.throws(
        () => context.evalSync('kill.applySync(undefined, []); for (;;);'),
        (e) => e instanceof ivm.IsolateDisposedError && e.message === DURING,
      );
    } else {
      await assert.rejects(
        context.eval('kill.applySync(undefined, []); for (;;);'),
        (e) => e instanceof ivm.IsolateDisposedError && e.message === DURING,
      );
    }
    assert.equal(isolate.isDisposed, true);
  }
});

test('disposing an isolate blocked in applySyncPromise settles every call, 100 times', T, async () => {
  for (let i = 0; i < 100; i++) {
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    const context = isolate.createContextSync();
    // The guest (under an async outer call) blocks in applySyncPromise on a
    // Node promise that only settles after dispose(); dispose() comes once
    // the Node function has been called, so the guest is waiting.
    let release;
    const gate = new Promise((r) => { release = r; });
    context.global.setSync('wait', new ivm.Reference(() => {
      setImmediate(() => {
        isolate.dispose();
        release(7);
      });
      return gate;
    }));
    const calls = [
      context.eval('wait.applySyncPromise(undefined, []); for (;;);'),
      context.eval('1 + 1'),
    ];
    const [first, second] = await Promise.allSettled(calls);
    assert.equal(first.status, 'rejected');
    assert.equal(first.reason.message, DURING);
    assert.ok(first.reason instanceof ivm.IsolateDisposedError);
    // Queued behind it: it never ran.
    assert.equal(second.status, 'rejected');
    assert.match(second.reason.message, /^Isolate (is|was) disposed/);
  }
});
