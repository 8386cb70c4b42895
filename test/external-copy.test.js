'use strict';
// ExternalCopy on the Node side: copies that live outside any heap.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { setup } = require('./support/isolate');

test('copy() gives a fresh structured clone each time', { timeout: 10000 }, () => {
  const src = { a: [1, 2], d: new Date(3), m: new Map([[1, 'x']]), u: new Uint16Array([1, 2, 3]).subarray(1) };
  src.self = src;
  const ec = new ivm.ExternalCopy(src);
  const a = ec.copy();
  const b = ec.copy();
  assert.notEqual(a, b);
  assert.equal(a.self, a);
  assert.equal(a.d.getTime(), 3);
  assert.equal(a.m.get(1), 'x');
  assert.ok(a.u instanceof Uint16Array);
  assert.deepEqual([...a.u], [2, 3]);
  assert.equal(a.u.byteOffset, 2);
  ec.release();
});

test('primitives, and the errors isolated-vm gives', { timeout: 10000 }, () => {
  assert.equal(new ivm.ExternalCopy('str').copy(), 'str');
  assert.equal(new ivm.ExternalCopy(10n ** 20n).copy(), 10n ** 20n);
  assert.ok(Object.is(new ivm.ExternalCopy(-0).copy(), -0));
  assert.throws(() => new ivm.ExternalCopy(Symbol('s')), { name: 'TypeError', message: 'Unsupported type' });
  assert.throws(() => new ivm.ExternalCopy({}, { transferList: [1] }), {
    name: 'TypeError',
    message: 'Non-ArrayBuffer passed in `transferList`',
  });
  assert.throws(() => new ivm.ExternalCopy({ f() {} }), { name: 'TypeError', message: /could not be cloned/ });
});

test('release(): every later use throws "Copy has been released"', { timeout: 10000 }, () => {
  const ec = new ivm.ExternalCopy({ a: 1 });
  ec.release();
  assert.throws(() => ec.copy(), { message: 'Copy has been released' });
  assert.throws(() => ec.copyInto(), { message: 'Copy has been released' });
  assert.throws(() => ec.release(), { message: 'Copy has been released' });
});

test('totalExternalSize follows live copies', { timeout: 10000 }, () => {
  const before = ivm.ExternalCopy.totalExternalSize;
  const ec = new ivm.ExternalCopy(new Uint8Array(100000));
  assert.ok(ivm.ExternalCopy.totalExternalSize >= before + 100000);
  ec.release();
  assert.equal(ivm.ExternalCopy.totalExternalSize, before);
});

test('transferOut and transferList detach the source ArrayBuffers', { timeout: 10000 }, () => {
  const ab = new ArrayBuffer(16);
  new Uint8Array(ab)[3] = 7;
  const ec = new ivm.ExternalCopy(ab, { transferOut: true });
  assert.equal(ab.byteLength, 0);
  assert.equal(new Uint8Array(ec.copy())[3], 7);
  const inner = new ArrayBuffer(8);
  const ec2 = new ivm.ExternalCopy({ inner }, { transferList: [inner] });
  assert.equal(inner.byteLength, 0);
  assert.equal(ec2.copy().inner.byteLength, 8);
});

test('copyInto() materialises in a guest, once', { timeout: 10000 }, (t) => {
  const { context, global } = setup(t);
  const ec = new ivm.ExternalCopy({ list: [1, 2, 3], buf: new Float64Array([1.5]) });
  global.setSync('data', ec.copyInto());
  assert.equal(context.evalSync('data.list.length + data.buf[0]'), 4.5);
  const into = ec.copyInto();
  context.evalClosureSync('globalThis.again = $0', [into]);
  assert.throws(() => global.setSync('twice', into), {
    message: 'The return value of `copyInto()` should only be used once',
  });
  assert.equal(context.evalSync('again.list[2]'), 3);
});

test('{externalCopy: true} results come back as ExternalCopy', { timeout: 10000 }, async (t) => {
  const { context, global } = setup(t);
  const e = context.evalSync('({ a: 1 })', { externalCopy: true });
  assert.ok(e instanceof ivm.ExternalCopy);
  assert.deepEqual(e.copy(), { a: 1 });
  const p = await context.eval('[1, 2]', { externalCopy: true });
  assert.deepEqual(p.copy(), [1, 2]);
  context.evalSync('globalThis.o = { k: "v" }');
  assert.deepEqual(global.getSync('o', { externalCopy: true }).copy(), { k: 'v' });
});
