'use strict';
// Calls with a receiver or options take short paths: `apply` with up to four
// arguments and options that need no promise passes the arguments as
// arguments of one native call (lib/index.js Reference#applyWith), the
// isolate runs it, and `eval`/`run` without a script origin, without a boxed
// job (native/src/engine/isolate.rs `Work`); `runSync(context)` has a native
// call of its own, and so do calls of guest functions handed to Node as
// functions. Each case is checked against the general path: five arguments,
// an object to copy or a `promise` option still take it.
const test = require('node:test');
const assert = require('node:assert/strict');

const ivm = require('../lib');
const { setup } = require('./support/isolate');

const GUEST = `
  globalThis.sloppyThis = function () { return this === globalThis ? 'global' : typeof this; };
  globalThis.strictThis = function () { 'use strict'; return this === null ? 'null' : this === undefined ? 'undefined' : typeof this === 'object' ? JSON.stringify(this) : this; };
  globalThis.sum = (a, b, c, d, e) => (a ?? 0) + (b ?? 0) + (c ?? 0) + (d ?? 0) + (e ?? 0);
  globalThis.make = (n) => ({ n, list: [n, n + 1], nested: { s: 'x'.repeat(n) } });
  globalThis.id = (x) => x;
  globalThis.kind = (x) => typeof x;
  globalThis.spin = () => { for (;;) {} };
  globalThis.fn = () => function inner(a) { return a * 2; };
  globalThis.calls = 0;
  globalThis.count = (k) => { calls += k; };
`;

function refs(t) {
  const s = setup(t);
  s.context.evalSync(GUEST);
  const ref = (name) => s.global.getSync(name, { reference: true });
  return { ...s, ref };
}

// What a call throws, as comparable fields.
function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return { cls: e.constructor.name, message: e.message, boundary: String(e.stack).includes('<isolated-vm boundary>') };
  }
  assert.fail('did not throw');
}

test('a receiver crosses by the default rules: null, primitives, and a Reference', (t) => {
  const { ref, context } = refs(t);
  assert.equal(ref('sloppyThis').applySync(null, []), 'global');
  assert.equal(ref('sloppyThis').applySync(undefined, []), 'global');
  assert.equal(ref('strictThis').applySync(null, []), 'null');
  assert.equal(ref('strictThis').applySync(undefined, []), 'undefined');
  assert.equal(ref('strictThis').applySync('str', []), 'str');
  assert.equal(ref('strictThis').applySync(7, [1, 2]), 7);
  assert.equal(ref('strictThis').applySync(true, []), true);
  // A Reference receiver arrives as a Reference; derefInto() sends the value.
  context.evalSync('globalThis.recv = {k: 1}');
  const recv = context.global.getSync('recv', { reference: true });
  assert.equal(ref('strictThis').applySync(recv, []), '{}');
  assert.equal(ref('strictThis').applySync(recv, [1, 2, 3, 4, 5]), '{}');
  assert.equal(ref('strictThis').applySync(recv.derefInto(), []), '{"k":1}');
  assert.equal(ref('strictThis').applySync(recv.derefInto(), [1, 2, 3, 4, 5]), '{"k":1}');
  // A Node object as receiver cannot cross, on either path.
  const fast = thrown(() => ref('strictThis').applySync({}, []));
  const general = thrown(() => ref('strictThis').applySync({}, [1, 2, 3, 4, 5]));
  assert.deepEqual(fast, general);
  assert.equal(fast.cls, 'TypeError');
});

test('up to four arguments and the general path give the same results', (t) => {
  const { ref } = refs(t);
  const sum = ref('sum');
  assert.equal(sum.applySync(null, []), 0);
  assert.equal(sum.applySync(null, [1]), 1);
  assert.equal(sum.applySync(null, [1, 2, 3, 4]), 10);
  assert.equal(sum.applySync(null, [1, 2, 3, 4, 5]), 15);
  assert.equal(sum.applySync(null, ['a', 'b']), 'ab000');
  assert.equal(sum.applySync(null, [1n, 2n, 0n, 0n, 0n]), 3n);
  assert.equal(sum.applySync(null, [1, 2], { timeout: 1000 }), 3);
  assert.equal(sum.applySync(null, [1, 2], { arguments: { copy: true } }), 3);
  assert.equal(sum.applySync(null, [1, 2], { result: { copy: true } }), 3);
  // A hole reads as undefined.
  assert.equal(sum.applySync(null, [, 2]), 2); // eslint-disable-line no-sparse-arrays
});

test('result options without promise: copy, reference, externalCopy and the default', (t) => {
  const { ref } = refs(t);
  const make = ref('make');
  const expected = { n: 3, list: [3, 4], nested: { s: 'xxx' } };
  assert.deepEqual(make.applySync(null, [3], { result: { copy: true } }), expected);
  const r = make.applySync(null, [3], { result: { reference: true } });
  assert.ok(r instanceof ivm.Reference);
  assert.deepEqual(r.copySync(), expected);
  const e = make.applySync(null, [3], { result: { externalCopy: true } });
  assert.ok(e instanceof ivm.ExternalCopy);
  assert.deepEqual(e.copy(), expected);
  // By default an object comes back as a Reference.
  assert.ok(make.applySync(null, [3]) instanceof ivm.Reference);
  // With the same options on the general path (five arguments).
  assert.deepEqual(make.applySync(null, [3, 0, 0, 0, 0], { result: { copy: true } }), expected);
  // promise: the general path, settled later.
  return make.applySync(null, [3], { result: { copy: true, promise: true } }).then((v) => assert.deepEqual(v, expected));
});

test('arguments to copy: primitives go the short way, objects the general one, with equal results', (t) => {
  const { ref } = refs(t);
  const id = ref('id');
  assert.equal(id.applySync(null, ['s'], { arguments: { copy: true } }), 's');
  assert.deepEqual(id.applySync(null, [{ a: [1] }], { arguments: { copy: true }, result: { copy: true } }), { a: [1] });
  // Without copy an object argument cannot cross, whichever path.
  const fast = thrown(() => id.applySync(null, [{ a: 1 }]));
  const general = thrown(() => id.applySync(null, [{ a: 1 }, 0, 0, 0, 0]));
  assert.deepEqual(fast, general);
  // Under reference, even a primitive argument is a Reference in the guest.
  assert.equal(ref('kind').applySync(null, [5], { arguments: { reference: true } }), 'object');
  assert.equal(ref('kind').applySync(null, [5], { arguments: { copy: true } }), 'number');
});

test('a timeout on the short path stops the call, and the isolate goes on', (t) => {
  const { ref } = refs(t);
  const e = thrown(() => ref('spin').applySync(null, [], { timeout: 20 }));
  assert.equal(e.message, 'Script execution timed out.');
  assert.equal(ref('sum').applySync(null, [2, 3], { timeout: 1000 }), 5);
  return assert.rejects(ref('spin').apply(undefined, [1], { timeout: 20 }), { message: 'Script execution timed out.' });
});

test('bad options are refused as before, on the short path too', async (t) => {
  const { ref } = refs(t);
  const sum = ref('sum');
  assert.throws(() => sum.applySync(null, [1], { timeout: -1 }), { name: 'TypeError', message: '`timeout` must be a non-negative 32-bit number' });
  assert.throws(() => sum.applySync(null, [1], { timeout: 'x' }), { name: 'TypeError', message: '`timeout` must be a 32-bit number' });
  assert.throws(() => sum.applySync(null, [1], { result: { copy: true, reference: true } }), {
    name: 'TypeError',
    message: 'Only one of `copy`, `externalCopy`, or `reference` may be set',
  });
  assert.throws(() => sum.applySync(null, [1], 'x'), { name: 'TypeError' });
  // Async calls reject for bad options, as isolated-vm's do.
  await assert.rejects(sum.apply(null, [1], { timeout: -1 }), { name: 'TypeError' });
  assert.throws(() => sum.applyIgnored(null, [1], { timeout: -1 }), { name: 'TypeError' });
});

test('released references and disposed isolates fail the same way on both paths', async (t) => {
  const { ref, isolate } = refs(t);
  const sum = ref('sum');
  sum.release();
  const fast = thrown(() => sum.applySync(null, [1]));
  const general = thrown(() => sum.applySync(null, [1, 2, 3, 4, 5]));
  assert.deepEqual(fast, general);
  assert.equal(fast.message, 'Reference has been released');
  await assert.rejects(sum.apply(null, [1], { timeout: 10 }), { message: 'Reference has been released' });
  assert.throws(() => sum.applyIgnored(null, [1]), { message: 'Reference has been released' });

  const live = ref('id');
  isolate.dispose();
  const d1 = thrown(() => live.applySync(null, [1], { result: { copy: true } }));
  const d2 = thrown(() => live.applySync(null, [1, 2, 3, 4, 5], { result: { copy: true } }));
  assert.deepEqual(d1, d2);
  assert.equal(d1.message, 'Isolate is disposed');
  await assert.rejects(live.apply(null, [1], { timeout: 10 }), { message: 'Isolate is disposed' });
});

test('async and ignored calls with a receiver or options run in order', async (t) => {
  const { ref, context } = refs(t);
  assert.equal(await ref('strictThis').apply('r', [], { timeout: 1000 }), 'r');
  assert.deepEqual(await ref('make').apply(null, [1], { result: { copy: true } }), { n: 1, list: [1, 2], nested: { s: 'x' } });
  const count = ref('count');
  for (let i = 1; i <= 10; i++) count.applyIgnored(null, [i], { timeout: 1000 });
  // Async and ignored calls keep their order: this eval runs after them.
  assert.equal(await context.eval('calls'), 55);
});

test('runSync(context) and runSync(context, options) agree, errors included', (t) => {
  const { isolate, context } = setup(t);
  const script = isolate.compileScriptSync('globalThis.n = (globalThis.n ?? 0) + 1; ({n})');
  assert.equal(script.runSync(context), undefined);
  assert.deepEqual(script.runSync(context, { copy: true }), { n: 2 });
  assert.deepEqual(script.runSync(context, { copy: true, timeout: 1000 }), { n: 3 });
  assert.equal(isolate.compileScriptSync('6 * 7').runSync(context), 42);
  const r = script.runSync(context, { reference: true });
  assert.ok(r instanceof ivm.Reference);

  // A context of another isolate.
  const other = new ivm.Isolate();
  t.after(() => other.dispose());
  const otherContext = other.createContextSync();
  assert.deepEqual(thrown(() => script.runSync(otherContext)), thrown(() => script.runSync(otherContext, {})));
  assert.equal(thrown(() => script.runSync(otherContext)).message, 'Invalid context');
  // Not a Context at all.
  assert.throws(() => script.runSync({}), { name: 'TypeError', message: '`run` requires parameter 1 to be a Context' });

  // A released context, then a released script too: the context is named first.
  const spare = isolate.createContextSync();
  spare.release();
  const c1 = thrown(() => script.runSync(spare));
  assert.deepEqual(c1, thrown(() => script.runSync(spare, {})));
  assert.equal(c1.message, 'Context is released');
  assert.equal(c1.boundary, false);
  const gone = isolate.compileScriptSync('1');
  gone.release();
  assert.deepEqual(thrown(() => gone.runSync(spare)), c1);
  const s1 = thrown(() => gone.runSync(context));
  assert.deepEqual(s1, thrown(() => gone.runSync(context, {})));
  assert.equal(s1.message, 'Script has been released');

  // Errors thrown by the script carry the boundary, as before.
  const bad = isolate.compileScriptSync('throw new RangeError("no")');
  const e = thrown(() => bad.runSync(context));
  assert.deepEqual(e, thrown(() => bad.runSync(context, {})));
  assert.deepEqual(e, { cls: 'RangeError', message: 'no', boundary: true });

  isolate.dispose();
  assert.equal(thrown(() => script.runSync(context)).message, 'Isolate is disposed');
});

test('a timeout on run and eval without a boxed job', (t) => {
  const { isolate, context } = setup(t);
  const loop = isolate.compileScriptSync('for (;;) {}');
  assert.throws(() => loop.runSync(context, { timeout: 20 }), { message: 'Script execution timed out.' });
  assert.throws(() => context.evalSync('for (;;) {}', { timeout: 20 }), { message: 'Script execution timed out.' });
  assert.deepEqual(context.evalSync('({a: [1]})', { copy: true, timeout: 1000 }), { a: [1] });
  assert.ok(context.evalSync('({a: [1]})', { reference: true }) instanceof ivm.Reference);
  return context.evalSync('Promise.resolve(5)', { promise: true }).then((v) => assert.equal(v, 5));
});

test('guest functions handed to Node: primitive arguments go the short way, objects the general one', (t) => {
  const { context } = refs(t);
  const sum = context.global.getSync('sum');
  const make = context.global.getSync('make');
  const id = context.global.getSync('id');
  assert.equal(typeof sum, 'function');
  assert.equal(sum(1, 2, 3, 4), 10);
  assert.equal(sum(1, 2, 3, 4, 5), 15);
  assert.deepEqual(make(2), { n: 2, list: [2, 3], nested: { s: 'xx' } });
  assert.deepEqual(id({ o: [1] }), { o: [1] });
  // A function result comes back as a function.
  const inner = context.global.getSync('fn')();
  assert.equal(typeof inner, 'function');
  assert.equal(inner(21), 42);
  // Errors thrown in the guest: the same on both paths.
  context.evalSync('globalThis.boom = (x) => { throw new TypeError("boom " + typeof x); }');
  const boom = context.global.getSync('boom');
  assert.deepEqual(thrown(() => boom(1)), { cls: 'TypeError', message: 'boom number', boundary: true });
  assert.deepEqual(thrown(() => boom({})), { cls: 'TypeError', message: 'boom object', boundary: true });
});

test('guest functions handed to Node fail the same way on both paths once the isolate is gone', (t) => {
  const { context, isolate } = refs(t);
  const sum = context.global.getSync('sum');
  assert.equal(sum(1), 1);
  isolate.dispose();
  assert.deepEqual(thrown(() => sum(1)), thrown(() => sum({})));
  assert.equal(thrown(() => sum(1)).message, 'Isolate is disposed');
}, { timeout: 30000 });
