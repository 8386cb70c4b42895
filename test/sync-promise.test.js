'use strict';
// Reference.applySyncPromise: a guest running asynchronously blocks on a Node
// promise; the threading rules around it.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');

const { setup } = require('./support/isolate');

function later(ms, value, fail) {
  return new Promise((resolve, reject) => setTimeout(() => (fail ? reject(value) : resolve(value)), ms));
}

test('a guest running async gets the settled value of a Node promise', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  await global.set('fetch', new ivm.Reference(async (x) => {
    await later(5);
    // Objects are refused as results (isolated-vm's default transfer rules).
    return JSON.stringify({ got: x, list: [1, 2] });
  }));
  const r = await context.eval('fetch.applySyncPromise(undefined, ["a"])');
  assert.equal(r, '{"got":"a","list":[1,2]}');
  // A plain (non-promise) result is delivered as it is.
  await global.set('plain', new ivm.Reference((a, b) => a + b));
  assert.equal(await context.eval('plain.applySyncPromise(undefined, [2, 3])'), 5);
});

test('a rejection is thrown in the guest with its class and message', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  await global.set('fail', new ivm.Reference(() => later(1, new RangeError('nope'), true)));
  await global.set('throwsNow', new ivm.Reference(() => { throw new TypeError('at once'); }));
  const r = await context.eval(
    'const out = []; for (const f of [fail, throwsNow]) { try { f.applySyncPromise(); } catch (e) { out.push(e.constructor.name + ":" + e.message); } } out.join()',
  );
  assert.equal(r, 'RangeError:nope,TypeError:at once');
});

test('from Node itself, and with result options, it is refused', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  const ref = new ivm.Reference(async () => 1);
  assert.throws(() => ref.applySyncPromise(undefined, []), { message: 'This function may not be called from the default thread' });
  const fn = await context.eval('(function () {})', { reference: true });
  assert.throws(() => fn.applySyncPromise(), { message: 'This function may not be called from the default thread' });
  assert.throws(() => ref.applySyncPromise(undefined, [], { result: { copy: true } }), {
    name: 'TypeError',
    message: '`result` options are not available for `applySyncPromise`',
  });
  await global.set('f', ref);
  const r = await context.eval('try { f.applySyncPromise(undefined, [], { result: { copy: true } }) } catch (e) { e.name + ": " + e.message }');
  assert.equal(r, 'TypeError: `result` options are not available for `applySyncPromise`');
});

test('under a sync call it is refused instead of deadlocking Node', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  let called = 0;
  global.setSync('f', new ivm.Reference(async () => ++called));
  const r = context.evalSync('try { f.applySyncPromise(); "ran" } catch (e) { e.message }');
  assert.equal(r, 'This function may not be called from the default thread');
  assert.equal(called, 0);
});

test('while the guest waits, sync calls from Node into it still run', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  await context.eval('globalThis.counter = 0');
  await global.set('work', new ivm.Reference(async () => {
    // Node calls into the blocked isolate while its promise is pending.
    const seen = context.evalSync('++counter');
    await later(2);
    return seen + context.evalSync('++counter');
  }));
  assert.equal(await context.eval('work.applySyncPromise() + ":" + counter'), '3:2');
});

test('a timeout ends the wait and the isolate stays usable', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  await global.set('never', new ivm.Reference(() => new Promise(() => {})));
  const start = Date.now();
  await assert.rejects(context.eval('never.applySyncPromise()', { timeout: 50 }), { message: 'Script execution timed out.' });
  assert.ok(Date.now() - start < 2000);
  assert.equal(await context.eval('1 + 1'), 2);
});

// Disposes `isolate` once its guest waits in applySyncPromise on a Node
// promise that never settles; the call must settle.
async function disposeWhileWaiting(isolate, context) {
  let entered;
  const inside = new Promise((r) => { entered = r; });
  await context.global.set('never', new ivm.Reference(() => {
    entered();
    return new Promise(() => {});
  }));
  const call = context.eval('never.applySyncPromise()');
  await inside;
  isolate.dispose();
  await assert.rejects(call, { message: 'Isolate was disposed during execution' });
}

test('disposing the isolate while it waits settles the call', { timeout: 10000 }, async (t) => {
  const { isolate, context } = setup(t);
  await disposeWhileWaiting(isolate, context);
});

test('a dispose that lands before the guest starts waiting still settles the call', { timeout: 30000 }, async () => {
  // Regression: the guest's wait read the kill counter after Node had already
  // run the function and disposed, and then waited forever.
  for (let i = 0; i < 30; i++) {
    const isolate = new ivm.Isolate();
    await disposeWhileWaiting(isolate, isolate.createContextSync());
  }
});

test('100 dispose races during applySyncPromise never crash the host', { timeout: 60000 }, () => {
  const script = `
    const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    (async () => {
      let settled = 0;
      for (let i = 0; i < 100; i++) {
        const isolate = new ivm.Isolate({ memoryLimit: 16 });
        const context = isolate.createContextSync();
        context.global.setSync('wait', new ivm.Reference(() => new Promise((r) => setImmediate(r, i))));
        const calls = [0, 1, 2].map(() => context.eval('let s = 0; for (let j = 0; j < 3; j++) s += wait.applySyncPromise(); s').then(() => 1, (e) => {
          if (!/disposed/.test(e.message)) throw e;
          return 1;
        }));
        await new Promise((r) => (i % 2 ? setImmediate(r) : r()));
        isolate.dispose();
        for (const c of calls) settled += await c;
      }
      console.log('settled', settled);
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50000 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /settled 300/);
});
