'use strict';
// Promises a guest sends to Node through a Reference to a Node function or
// object (`{arguments: {promise: true}}`, `set(..., {promise: true})`), and
// promised results of such calls (`{result: {promise: true}}`).
const test = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const ivm = require('../lib');

const { withLibrary } = require('./support/isolate');

// A Node function that records what it gets: [is a real Node promise, promise].
function recorder(global, name) {
  const calls = [];
  global.setSync(name, new ivm.Reference((...args) => {
    calls.push(args);
    return args.length;
  }));
  return calls;
}

test('apply/applySync/applyIgnored with {arguments: {promise: true}} give Node real promises', { timeout: 10000 }, async (t) => {
  const { context, global } = withLibrary(t);
  const calls = recorder(global, 'hf');
  context.evalSync('hf.applySync(undefined, [Promise.resolve(1), 2], {arguments: {promise: true}})');
  await context.eval('hf.apply(undefined, [Promise.resolve({a: 2})], {arguments: {promise: true, copy: true}})');
  context.evalSync('hf.applyIgnored(undefined, [Promise.resolve("x")], {arguments: {promise: true}})');
  while (calls.length < 3) await new Promise(setImmediate);
  for (const args of calls) for (const p of args) assert.ok(p instanceof Promise);
  assert.deepEqual(await Promise.all(calls[0]), [1, 2]);
  assert.deepEqual(await calls[1][0], { a: 2 });
  assert.equal(await calls[2][0], 'x');
});

test('a pending guest promise settles the Node promise later, with its copied result or its error', { timeout: 10000 }, async (t) => {
  const { context, global } = withLibrary(t);
  const calls = recorder(global, 'hf');
  context.evalSync(`
    globalThis.settle = {};
    const a = new Promise((res) => { settle.ok = res; });
    const b = new Promise((res, rej) => { settle.fail = rej; });
    hf.applySync(undefined, [a, b], {arguments: {promise: true, copy: true}});
  `);
  const [a, b] = calls[0];
  context.evalSync('settle.ok({rows: [1, 2]}); settle.fail(new RangeError("no rows"))');
  assert.deepEqual(await a, { rows: [1, 2] });
  await assert.rejects(b, (e) => e instanceof RangeError && e.message === 'no rows');
});

test('the other flags apply to the settled value, as in isolated-vm', { timeout: 10000 }, async (t) => {
  const { context, global } = withLibrary(t);
  const calls = recorder(global, 'hf');
  context.evalSync('hf.applySync(undefined, [Promise.resolve({a: 1})], {arguments: {promise: true}})');
  await assert.rejects(calls[0][0], { message: 'A non-transferable value was passed' });
  context.evalSync('hf.applySync(undefined, [Promise.resolve({a: 1})], {arguments: {promise: true, reference: true}})');
  const ref = await calls[1][0];
  assert.ok(ref instanceof ivm.Reference);
  assert.deepEqual(ref.copySync(), { a: 1 });
  context.evalSync('hf.applySync(undefined, [Promise.resolve([3])], {arguments: {promise: true, externalCopy: true}})');
  assert.deepEqual((await calls[2][0]).copy(), [3]);
  // A plain value is a resolved promise; without the flag a promise is refused.
  context.evalSync('hf.applySync(undefined, [5], {arguments: {promise: true}})');
  assert.equal(await calls[3][0], 5);
  assert.throws(() => context.evalSync('hf.applySync(undefined, [Promise.resolve(1)])'), {
    name: 'TypeError',
    message: 'A non-transferable value was passed',
  });
});

test('set(key, promise, {promise: true}) and {result: {promise: true}} on References to Node values', { timeout: 10000 }, async (t) => {
  const { context, global } = withLibrary(t);
  const obj = {};
  global.setSync('ho', new ivm.Reference(obj));
  context.evalSync('ho.setSync("k", Promise.resolve(3), {promise: true})');
  assert.ok(obj.k instanceof Promise);
  assert.equal(await obj.k, 3);
  global.setSync('later', new ivm.Reference(async (n) => (await n) * 2));
  const r = await context.eval('later.apply(undefined, [21], {result: {promise: true}})', { promise: true });
  assert.equal(r, 42);
  assert.equal(
    await context.eval('later.applySyncPromise(undefined, [Promise.resolve(4)], {arguments: {promise: true}})'),
    8,
  );
});

test('the Node promise rejects with "Promise was abandoned" when the guest isolate dies first', { timeout: 10000 }, async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  let held;
  context.global.setSync('hold', new ivm.Reference((p) => {
    held = p;
  }));
  context.evalSync('hold.applySync(undefined, [new Promise(() => {})], {arguments: {promise: true}})');
  assert.ok(held instanceof Promise);
  isolate.dispose();
  await assert.rejects(held, { message: 'Promise was abandoned' });
});

test('guest promises to Node racing with dispose never crash the host', { timeout: 60000 }, () => {
  const script = `
    const ivm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    (async () => {
      const outcomes = new Set();
      for (let i = 0; i < 40; i++) {
        const iso = new ivm.Isolate({ memoryLimit: 16 });
        const ctx = iso.createContextSync();
        ctx.global.setSync('ivm', ivm);
        const got = [];
        ctx.global.setSync('hf', new ivm.Reference((p) => { got.push(p.then((v) => 'ok', (e) => e.message)); }));
        const run = ctx.eval('for (let j = 0; j < 50; j++) hf.applyIgnored(undefined, [new Promise((r) => Promise.resolve().then(() => r({j})))], {arguments: {promise: true, copy: true}}); hf.apply(undefined, [new Promise(() => {})], {arguments: {promise: true}})').catch(() => {});
        if (i % 2) await new Promise(setImmediate);
        iso.dispose();
        await run;
        for (const o of await Promise.all(got)) {
          if (o !== 'ok' && !/abandoned|disposed/.test(o)) throw new Error('unexpected outcome: ' + o);
          outcomes.add(o);
        }
      }
      console.log('ok', [...outcomes].sort().join('|'));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50000 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ok /);
});
