'use strict';
// Lengths that say nothing of size. A sparse array can have length 2^32 - 1
// and one element, and a guest's rope string can be longer than Node allows.
// Code that read an arguments list up to its length, or made room for that
// many, hung or aborted the host: a guest's `hostFn.applySync(undefined,
// sparse)` aborted the process (a 200 GB allocation in Rust). Each case must
// end quickly with a RangeError, or copy the array as it is, and leave the
// host and the isolate working.
const test = require('node:test');
const assert = require('node:assert/strict');

const ivm = require('../lib');
const { setup, withLibrary } = require('./support/isolate');

const SPARSE = 'const sparse = []; sparse[2 ** 32 - 2] = 1;';
const TOO_MANY = '`arguments` must have at most 65535 elements';

function sparse() {
  const a = [];
  a[2 ** 32 - 2] = 1;
  return a;
}

test('a guest passing a sparse arguments array gets a RangeError', { timeout: 30000 }, (t) => {
  const { context } = withLibrary(t, { memoryLimit: 32 });
  context.global.setSync('hostFn', new ivm.Reference(function () { return arguments.length; }));
  const r = context.evalSync(`${SPARSE}
    const out = [];
    const attempt = (f) => { try { out.push(String(f())); } catch (e) { out.push(e.name + ': ' + e.message); } };
    attempt(() => hostFn.applySync(undefined, sparse));
    const inner = new ivm.Isolate({ memoryLimit: 8 }).createContextSync();
    attempt(() => inner.evalClosureSync('return arguments.length', sparse));
    const fn = inner.evalSync('(function () { return arguments.length })', { reference: true });
    attempt(() => fn.applySync(undefined, sparse));
    attempt(() => new ivm.ExternalCopy(new ArrayBuffer(1), { transferList: sparse }).copy().byteLength);
    attempt(() => hostFn.applySync(undefined, [1, 2, 3]));
    out`, { copy: true });
  assert.deepEqual(r, [
    `RangeError: ${TOO_MANY}`,
    `RangeError: ${TOO_MANY}`,
    `RangeError: ${TOO_MANY}`,
    'RangeError: `transferList` must have at most 1048576 elements',
    '3',
  ]);
});

test('Node passing a sparse arguments array gets a RangeError', { timeout: 30000 }, async (t) => {
  const { context } = setup(t, { memoryLimit: 32 });
  const fn = context.evalSync('(function () { return arguments.length })', { reference: true });
  const range = { name: 'RangeError', message: TOO_MANY };
  assert.throws(() => context.evalClosureSync('return 1', sparse()), range);
  assert.throws(() => fn.applySync(undefined, sparse()), range);
  assert.throws(() => fn.applySync(undefined, sparse(), { arguments: { copy: true } }), range);
  await assert.rejects(fn.apply(undefined, sparse()), range);
  await assert.rejects(context.evalClosure('return 1', sparse()), range);
  // A Reference to a Node function, called from Node.
  assert.throws(() => new ivm.Reference(() => 1).applySync(undefined, sparse()), range);
  // 65535 arguments are fine.
  assert.equal(fn.applySync(undefined, new Array(65535).fill(0)), 65535);
});

test('sparse arrays of length 2^32 - 1 copy quickly both ways', { timeout: 30000 }, (t) => {
  const { context } = setup(t, { memoryLimit: 32 });
  context.global.setSync('s', sparse(), { copy: true });
  assert.equal(context.evalSync('s.length + " " + s[2 ** 32 - 2]'), '4294967295 1');
  assert.equal(new ivm.ExternalCopy(sparse()).copy().length, 2 ** 32 - 1);
  context.global.setSync('cb', new ivm.Callback(() => sparse()));
  assert.equal(context.evalSync('cb().length'), 2 ** 32 - 1);
  const back = context.evalSync(`${SPARSE} sparse`, { copy: true });
  assert.equal(back.length, 2 ** 32 - 1);
  assert.equal(back[2 ** 32 - 2], 1);
});

test('a guest string longer than Node allows is a RangeError', { timeout: 60000 }, (t) => {
  // 256 MB: the clone cap (1 GB here, test/clone-cap.test.js) lets the
  // string through to Node's own limit.
  const { isolate, context } = setup(t, { memoryLimit: 256 });
  // A rope: 2^28 two-byte code units in a few KB of the guest's heap.
  assert.throws(() => context.evalSync("let s = 'a\\u1234'; for (let i = 0; i < 27; i++) s += s; s"), {
    name: 'RangeError',
    message: 'Invalid string length',
  });
  assert.equal(context.evalSync('1 + 1'), 2);
  assert.ok(!isolate.isDisposed);
});

test('createSnapshot refuses a sparse scripts array at once', { timeout: 30000 }, () => {
  const scripts = [];
  scripts[2 ** 32 - 2] = { code: '1' };
  assert.throws(() => ivm.Isolate.createSnapshot(scripts), { name: 'TypeError', message: '`scripts[0]` must be an object' });
});
