'use strict';
// Async and ignored calls do not wait for their callee, so a guest looping on
// them faster than the callee runs them used to grow the callee's queue in
// the host's memory without end (2 million `evalIgnored` calls into a nested
// isolate held 1 GB after 3 s; a slow Node Callback called in a loop, the
// same). Past 100,000 waiting calls a new one is refused with a RangeError,
// and once the queue drains calls work again.
const test = require('node:test');
const assert = require('node:assert/strict');

const ivm = require('../lib');
const { setup, withLibrary } = require('./support/isolate');

test('a guest flooding a slow Node Callback is refused past 100,000 waiting calls', { timeout: 120000 }, (t) => {
  const { context } = setup(t, { memoryLimit: 32 });
  let slow = true;
  let calls = 0;
  const busy = () => {
    calls++;
    // 100 µs of work for each of the first 30,000 calls of a flood: Node
    // runs ~10,000 a second, the guest makes ~25 times as many.
    if (slow && calls <= 30000) for (const end = process.hrtime.bigint() + 100000n; process.hrtime.bigint() < end; );
  };
  context.global.setSync('ignored', new ivm.Callback(busy, { ignored: true }));
  context.global.setSync('later', new ivm.Callback(busy, { async: true }));
  const flood = (name) => context.evalSync(`{
    let made = 0, error = null;
    for (let i = 0; i < 300000; i++) {
      try { ${name}(i); made++; } catch (e) { error = e.name + ': ' + e.message; break; }
    }
    [made, error] }`, { copy: true });
  for (const name of ['ignored', 'later']) {
    slow = true;
    calls = 0;
    const [made, error] = flood(name);
    assert.equal(error, 'RangeError: Too many calls into Node are pending (100000): wait for some to settle before making more');
    assert.ok(made >= 100000 && made < 300000, `made ${made}`);
    slow = false;
  }
  // The queue drains (Node runs the calls from its event loop), and calls
  // work again.
  return (async () => {
    for (;;) {
      const r = context.evalSync('try { ignored(1); "ok" } catch (e) { e.name }');
      if (r === 'ok') break;
      assert.equal(r, 'RangeError');
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
});

test('a guest flooding a busy nested isolate is refused past 100,000 waiting calls', { timeout: 120000 }, (t) => {
  const { context } = withLibrary(t, { memoryLimit: 32 });
  const r = context.evalSync(`{
    const inner = new ivm.Isolate({ memoryLimit: 8 });
    const ctx = inner.createContextSync();
    // Keeps the inner isolate busy while the calls queue up behind it.
    ctx.evalIgnored('for (;;);', { timeout: 5000 });
    let made = 0, error = null;
    for (let i = 0; i < 300000; i++) {
      try { ctx.evalIgnored('1'); made++; } catch (e) { error = e.name + ': ' + e.message; break; }
    }
    let rejected = null;
    ctx.eval('1').catch((e) => { rejected = e.message; });
    inner.dispose();
    [made, error] }`, { copy: true });
  assert.deepEqual(r[1], 'RangeError: Too many calls into this isolate are pending (100000): wait for some to settle before making more');
  assert.ok(r[0] >= 99999 && r[0] < 300000, `made ${r[0]}`);
});
