'use strict';
// A clone made inside an isolate may take at most 4 times the isolate's
// memory limit (at least 64 MB): native/src/engine/serializer_cap.rs. V8's
// serializer writes a string each time it meets it, so before the cap an
// array holding one 64 MB string 8 times came out of a 32 MB isolate as
// 512 MB, and arguments lists could repeat a string without bound: enough
// of that ends the host. Past the cap the copy fails with a RangeError and
// the isolate keeps working.
const test = require('node:test');
const assert = require('node:assert/strict');

const ivm = require('../lib');
const { setup, withLibrary } = require('./support/isolate');

const OOM = { name: 'RangeError', message: 'Data cannot be cloned, out of memory.' };
// A 32 MB (2^25 characters) rope: a few KB of heap until it is flattened.
const ROPE = "let s = 'ab'; for (let i = 0; i < 24; i++) s += s;";

test('a copy out of an isolate past 4 times its limit is a RangeError', { timeout: 60000 }, (t) => {
  const { isolate, context } = setup(t, { memoryLimit: 32 });
  // A small array of strings (copied element by element) and an object
  // (through the serializer).
  const run = (code, options) => context.evalSync(`{ ${ROPE} ${code} }`, options);
  assert.throws(() => run('new Array(8).fill(s)', { copy: true }), OOM);
  assert.throws(() => run('({ list: new Array(8).fill(s) })', { copy: true }), OOM);
  assert.throws(() => run('new Array(8).fill(s)', { externalCopy: true }), OOM);
  assert.equal(context.evalSync('1 + 1'), 2);
  // Within the cap, the same data copies.
  assert.equal(run('[s]', { copy: true })[0].length, 2 ** 25);
  assert.ok(!isolate.isDisposed);
});

test('arguments that repeat a long string past the cap are refused', { timeout: 60000 }, (t) => {
  const { context } = withLibrary(t, { memoryLimit: 32 });
  let calls = 0;
  context.global.setSync('hostFn', new ivm.Reference((...a) => { calls++; return a.length; }));
  context.global.setSync('cb', (...a) => { calls++; return a.length; });
  const r = context.evalSync(`${ROPE}
    const many = new Array(20).fill(s);
    const out = [];
    const attempt = (f) => { try { out.push(String(f())); } catch (e) { out.push(e.name + ': ' + e.message); } };
    attempt(() => hostFn.applySync(undefined, many));
    attempt(() => hostFn.applySync(undefined, many, { arguments: { copy: true } }));
    attempt(() => cb(...many));
    attempt(() => new ivm.ExternalCopy(many).copy().length);
    attempt(() => cb(s));
    out`, { copy: true });
  const oom = 'RangeError: Data cannot be cloned, out of memory.';
  assert.deepEqual(r, [oom, oom, oom, oom, '1']);
  assert.equal(calls, 1);
});

test('a single string past the cap is a RangeError too', { timeout: 60000 }, (t) => {
  const { isolate, context } = withLibrary(t, { memoryLimit: 32 });
  // A rope of 2^28 characters: a few KB of the guest's heap, 256 MB copied.
  const BIG = "let s = 'ab'; for (let i = 0; i < 27; i++) s += s;";
  assert.throws(() => context.evalSync(`{ ${BIG} s }`), OOM);
  assert.equal(
    context.evalSync(`{ ${BIG} try { new ivm.ExternalCopy(s); 'made' } catch (e) { e.name + ': ' + e.message } }`),
    'RangeError: Data cannot be cloned, out of memory.',
  );
  assert.equal(context.evalSync(`{ ${ROPE} s }`).length, 2 ** 25);
  assert.ok(!isolate.isDisposed);
});
