'use strict';
// Guest code awaiting work that V8 finishes in its own tasks (an async wasm
// compile, an Atomics.waitAsync timeout) goes on while Node awaits it: the
// isolate runs V8's tasks and then the microtasks they queued. Before, such
// a promise stayed pending until some later call ran the microtasks.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { setup } = require('./support/isolate');

// (module (func (export "f") (result i32) i32.const 42))
const MODULE = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 7, 5, 1, 1, 0x66, 0, 0, 10, 6, 1, 4, 0, 0x41, 42, 0x0b];

test('await WebAssembly.instantiate / compile inside an async eval', { timeout: 20000 }, async (t) => {
  const { context } = setup(t);
  context.global.setSync('bytes', new ivm.ExternalCopy(new Uint8Array(MODULE).buffer).copyInto());
  const r = await context.eval(
    `(async () => {
      const { instance } = await WebAssembly.instantiate(bytes);
      const module = await WebAssembly.compile(bytes);
      const again = await WebAssembly.instantiate(module);
      return instance.exports.f() + again.exports.f();
    })()`,
    { promise: true },
  );
  assert.equal(r, 84);
});

test('Atomics.waitAsync times out while Node awaits the guest', { timeout: 20000 }, async (t) => {
  const { context } = setup(t);
  const t0 = process.hrtime.bigint();
  const r = await context.eval(
    '(async () => await Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30).value)()',
    { promise: true },
  );
  assert.equal(r, 'timed-out');
  assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 >= 30);
});

test('a guest promise settled by a V8 task reaches Node through a Reference call', { timeout: 20000 }, async (t) => {
  const { context } = setup(t);
  context.global.setSync('bytes', new ivm.ExternalCopy(new Uint8Array(MODULE).buffer).copyInto());
  const fn = context.evalSync(
    '(async (n) => { const { instance } = await WebAssembly.instantiate(bytes); return instance.exports.f() + n; })',
    { reference: true },
  );
  const r = await fn.apply(undefined, [1], { result: { promise: true } });
  assert.equal(r, 43);
});
